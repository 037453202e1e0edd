"""Sending a stored outbound message to the patron, and showing the outcome on its Slack message:
used by the relay (replies, quick replies, the desk's own lines), by Claim and Transfer
(refdesk.assignment) and by Block (refdesk.blocking)."""
from __future__ import annotations

import dataclasses

from aws_lambda_powertools import Logger

from refdesk import channels, contact_card, delivery_status, file_links, jobs, live, retry, store
from refdesk.errors import DeliveryFailed, NotFound
from refdesk.models import (Author, Conversation, Delivery, DeliveryOutcomeJob, Message, OutcomeReactionJob, Receipt,
                            ReplyTo)
from refdesk.observability import count
from refdesk.slack import api as slack

logger = Logger(child=True)

QUESTION_READ = 10  # messages read to find the patron's question: it is the first


def _question(conversation_id: str) -> str:
    """The patron's first message: the question a follow-up's answer quotes."""
    return next((stored.text for stored in store.messages.list_after(conversation_id, limit=QUESTION_READ)
                 if stored.author is Author.PATRON), "")


def send_to_patron(conversation: Conversation, reply_to: ReplyTo, message: Message, sender: str) -> bool:
    """Send a stored outbound message through the patron's channel (or the one it hands the reply
    on to: a web follow-up's e-mail address or phone number), resuming after the parts already
    sent, and show the outcome on the Slack message as a reaction. 📤 means every text handed to
    Twilio, which reports each one's delivery later (refdesk.delivery_status: ✅ or ❌ then); ✅
    means handed to SES or Slack, or, for an open web chat with no contact, stored for the widget;
    ❌ and a note mean the patron cannot be reached (DeliveryFailed: also a reply after a web chat
    with no contact was closed). Each part is recorded with the provider's id for its reports.
    Returns whether it was handed over. Other errors are raised: the queue retries."""
    live.push_message(conversation, message)  # web chat: to the widget whatever the route; a failed push is no failure
    conversation_id = conversation.conversation_id
    channel, address = channels.route(conversation.channel, reply_to.address, is_open=conversation.is_open)
    extra = {"department": message.department} if message.department else {}
    if sender and getattr(channel, "quotes_question", False):  # an e-mailed answer, far from its form
        extra["question"] = _question(conversation_id)
    traits = getattr(channel, "traits", None)  # none: a channel handed the reply on (a follow-up's e-mail)
    text, media = file_links.for_patron(conversation_id, message, shows_files=bool(traits and traits.shows_files),
                                        sends_pictures=bool(traits and traits.sends_pictures))
    parts = channel.compose(sender, text, **extra)
    unsent = range(message.parts_sent, len(parts))
    stored = message
    try:
        for index in unsent:
            receipt = contact_card.send_part(channel, conversation, message, address, parts[index], index,
                                             media) or Receipt()
            # The last part's write records the hand-over too: one write per part (and the
            # provider's id), none more.
            handed_over = {"delivery": Delivery.ACCEPTED if receipt.reports_delivery else Delivery.SENT} \
                if index == len(parts) - 1 else {}
            stored = store.messages.handed_over(conversation_id, message, index, receipt,
                                                delivery_status.HANDED_OVER if receipt.reports_delivery else "",
                                                **handed_over)
    except DeliveryFailed as failure:
        store.messages.update(conversation_id, message, delivery=Delivery.FAILED, failure=failure.message)
        logger.warning("delivery failed for good", extra={"conversation_id": conversation_id, "code": failure.code})
        count("DeliveryFailures")
        show_outcome(conversation_id, conversation.slack_channel, conversation.slack_ts,
                      dataclasses.replace(message, delivery=Delivery.FAILED, failure=failure.message))
        return False
    if not unsent:  # no parts (a desk line a follow-up's contact does not get), or all sent before a crash
        handed_over_all = Delivery.ACCEPTED if message.part_status else Delivery.SENT
        store.messages.update(conversation_id, message, delivery=handed_over_all)
        stored = dataclasses.replace(message, delivery=handed_over_all)
    count("MessagesRelayed")
    show_outcome(conversation_id, conversation.slack_channel, conversation.slack_ts, stored)
    delivery_status.settle(conversation_id, stored)  # reports that came before the last part's write
    logger.info("reply handed over", extra={"conversation_id": conversation_id, "parts": len(parts)})
    return True


def show_reported(job: DeliveryOutcomeJob) -> None:
    """The dispatcher's handler of a reply's delivery as its provider reported it
    (refdesk.delivery_status): its ✅, or ❌ and note, unless shown already (a repeated job) or the
    message is gone (erased)."""
    message = store.messages.get(job.conversation_id, job.message_id)
    if message is None or message.outcome_shown or message.delivery not in (Delivery.DELIVERED, Delivery.FAILED):
        return
    try:
        conversation = store.conversations.get(job.conversation_id)
    except NotFound:
        return
    if message.delivery is Delivery.FAILED:
        count("DeliveryFailures")
    show_outcome(job.conversation_id, conversation.slack_channel, conversation.slack_ts, message)


def show_outcome(conversation_id: str, channel: str, thread_ts: str, message: Message) -> None:
    """A stored message's outcome on its Slack message: 📤 handed to Twilio, ✅ delivered (or
    handed over where nothing more is known), ❌ and a note (posted once) undeliverable, :lock: a
    note kept from the patron. Recorded when done, so a retry
    after a failed note adds it, and one after that adds nothing. The reaction is decoration: its
    failure never fails the job (_react)."""
    if not message.slack_ts:  # a line from the desk itself (closing, after hours): no Slack message
        return
    failed = message.delivery is Delivery.FAILED
    name = {Delivery.FAILED: slack.FAILED, Delivery.INTERNAL: slack.INTERNAL,
            Delivery.ACCEPTED: slack.HANDED_OVER}.get(message.delivery, slack.SENT)
    _react(OutcomeReactionJob(conversation_id=conversation_id, message_id=message.message_id, channel=channel,
                              ts=message.slack_ts, name=name))
    if failed:  # what staff need to know, whether or not the ❌ shows
        slack.post_note(channel, thread_ts, f":warning: Not delivered to the patron ({message.failure}). "
                        "Retrying will not help.", about=message)
    store.messages.outcome_shown(conversation_id, message)


def _react(reaction: OutcomeReactionJob) -> None:
    """The reaction now; when that fails for a reason trying again may mend (Slack failing or
    busy, unreachable), tried again in a job of its own, whose FIFO group is not the
    conversation's: a delivered message's job finishes whatever happens to its reaction."""
    try:
        add_reaction(reaction)
    except Exception as error:  # add_reaction raises only what trying again may mend
        logger.info("reaction failed, to be tried again apart",
                    extra={"conversation_id": reaction.conversation_id, "error": _error_code(error)})
        count("ReactionsFailed", outcome="tried_again_apart")
        jobs.enqueue(reaction)


def add_reaction(reaction: OutcomeReactionJob) -> None:
    """A stored message's reaction on its Slack message (also the dispatcher's handler of an
    OutcomeReactionJob). A failure trying again may mend is raised: the queue tries again, and
    drops the job when it gives up (refdesk.dispatch). Any other (the message deleted, the
    channel archived, the bot removed from it) is given up at once: nothing is left to do."""
    try:
        slack.react(reaction.channel, reaction.ts, reaction.name)
    except Exception as error:
        if retry.is_transient(error):
            raise
        reaction_given_up(reaction, error)


def reaction_given_up(reaction: OutcomeReactionJob, error: BaseException) -> None:
    """The message goes without its reaction: logged (the error's code, never its text) and counted."""
    logger.warning("reaction given up", extra={"conversation_id": reaction.conversation_id,
                                               "reaction": reaction.name, "error": _error_code(error)})
    count("ReactionsFailed", outcome="given_up")


def _error_code(error: BaseException) -> str:
    """Slack's error code (message_not_found, ratelimited …), else the error's type: never its
    text, which can quote a patron."""
    response = getattr(error, "response", None)
    code = response.get("error") if hasattr(response, "get") else None
    return code if isinstance(code, str) and code else type(error).__name__
