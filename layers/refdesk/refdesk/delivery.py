"""Sending a stored outbound message to the patron, and showing the outcome on its Slack message:
used by the relay (replies, quick replies, the desk's own lines), by Claim and Transfer
(refdesk.assignment) and by Block (refdesk.blocking)."""
from __future__ import annotations

import dataclasses

from aws_lambda_powertools import Logger

from refdesk import channels, contact_card, jobs, live, retry, store
from refdesk.errors import DeliveryFailed
from refdesk.models import Conversation, Delivery, Message, OutcomeReactionJob, ReplyTo
from refdesk.observability import count
from refdesk.slack import api as slack

logger = Logger(child=True)


def send_to_patron(conversation: Conversation, reply_to: ReplyTo, message: Message, sender: str) -> bool:
    """Send a stored outbound message through the patron's channel (or the one it hands the reply
    on to: a web follow-up's e-mail address or phone number), resuming after the parts already
    sent, and show the outcome on the Slack message as a reaction. ✅ means handed to SES, Twilio
    or Slack, or, for an open web chat with no contact, stored for the widget; ❌ and a note mean
    the patron cannot be reached (DeliveryFailed: also a reply after a web chat with no contact
    was closed). Returns whether it was handed over. Other
    errors are raised: the queue retries."""
    live.push_message(conversation, message)  # web chat: to the widget whatever the route; a failed push is no failure
    conversation_id = conversation.conversation_id
    channel, address = channels.route(conversation.channel, reply_to.address, is_open=conversation.is_open)
    parts = channel.compose(sender, message.text, message.department) if message.department else \
        channel.compose(sender, message.text)
    unsent = range(message.parts_sent, len(parts))
    try:
        for index in unsent:
            contact_card.send_part(channel, conversation, message, address, parts[index], index)
            # The last part's write records the hand-over too: one write per part, none more.
            handed_over = {"delivery": Delivery.SENT} if index == len(parts) - 1 else {}
            store.messages.update(conversation_id, message, parts_sent=index + 1, **handed_over)
    except DeliveryFailed as failure:
        store.messages.update(conversation_id, message, delivery=Delivery.FAILED, failure=failure.message)
        logger.warning("delivery failed for good", extra={"conversation_id": conversation_id, "code": failure.code})
        count("DeliveryFailures")
        show_outcome(conversation_id, conversation.slack_channel, conversation.slack_ts,
                      dataclasses.replace(message, delivery=Delivery.FAILED, failure=failure.message))
        return False
    if not unsent:  # no parts (a desk line a follow-up's contact does not get), or all sent before a crash
        store.messages.update(conversation_id, message, delivery=Delivery.SENT)
    count("MessagesRelayed")
    show_outcome(conversation_id, conversation.slack_channel, conversation.slack_ts,
                  dataclasses.replace(message, delivery=Delivery.SENT))
    logger.info("reply delivered", extra={"conversation_id": conversation_id, "parts": len(parts)})
    return True


def show_outcome(conversation_id: str, channel: str, thread_ts: str, message: Message) -> None:
    """A stored message's outcome on its Slack message: ✅ handed over, ❌ and a note (posted
    once) undeliverable, :lock: a note kept from the patron. Recorded when done, so a retry
    after a failed note adds it, and one after that adds nothing. The reaction is decoration: its
    failure never fails the job (_react)."""
    if not message.slack_ts:  # a line from the desk itself (closing, after hours): no Slack message
        return
    failed = message.delivery is Delivery.FAILED
    name = slack.FAILED if failed else slack.INTERNAL if message.delivery is Delivery.INTERNAL else slack.SENT
    _react(OutcomeReactionJob(conversation_id=conversation_id, message_id=message.message_id, channel=channel,
                              ts=message.slack_ts, name=name))
    if failed:  # what staff need to know, whether or not the ❌ shows
        slack.post_note(channel, thread_ts, f":warning: Not delivered to the patron ({message.failure}). "
                        "Retrying will not help.", about=message)
    store.messages.update(conversation_id, message, outcome_shown=True)


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
