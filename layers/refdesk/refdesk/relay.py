"""The relay between patron channels and the staff thread, run by the dispatcher for each job:
patron messages stored and shown to staff, librarians' replies sent to the patron, edits
explained, conversations closed. Safe to run again: each step checks what is already done."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

from aws_lambda_powertools import Logger

from refdesk import assignment, blocking, channels, contact_card, pictures, store, waiting
from refdesk.errors import Conflict, DeliveryFailed, NotFound
from refdesk.models import (Author, CloseJob, Conversation, Delivery, InboundMessage, Job, Message, PatronEditJob,
                            PatronMessageJob, ReplyTo, StaffEditJob, StaffReplyJob, Visibility)
from refdesk.settings import get_settings
from refdesk.slack import api as slack
from refdesk.slack import cards
from refdesk.slack.text import is_internal, plain_text
from refdesk.store.table import now_iso
from refdesk import departments  # departments invited into a conversation; their members' replies credited
from refdesk.models import QuickReplyJob
from refdesk import assessment  # READ/topic, ratings, daily counts and transcripts at close

logger = Logger(child=True)


def deliver_patron_message(job: PatronMessageJob) -> None:
    """Store the message and show it to staff: as the root card of a new conversation, or as a
    reply in its thread. Safe to run again: each step checks what is already done.

    The job is a reference: the message waits on its session item (parked by the webhook's
    claim) and is removed from there once stored and shown. A retry after that, or after a
    close stored it, finds the stored message instead (its pictures, never stored, are then
    not shown)."""
    parked = None if job.message else store.sessions.pending(job.session_id, job.message_id)
    message = job.message or (parked.message if parked else _stored_patron_message(job))
    if message is None:  # never parked, or its conversation's lifetime is over
        logger.info("patron message no longer held", extra={"conversation_id": job.conversation_id})
        return
    if not blocking.intercept(job, message):  # a blocked patron: answered once per block, never shown
        _show_to_staff(job, message)
    if parked:
        store.sessions.unpark(job.session_id, parked)


def _stored_patron_message(job: PatronMessageJob) -> InboundMessage | None:
    """The message of a job whose parked copy is gone, as it was stored in the conversation."""
    stored = store.messages.get(job.conversation_id, job.message_id)
    if stored is None:
        return None
    try:
        conversation = store.conversations.get(job.conversation_id)
    except NotFound:
        return None
    reply_to = store.conversations.get_reply_to(job.conversation_id)
    return InboundMessage(channel=conversation.channel, message_id=job.message_id, session_id=conversation.anchor,
                          patron_id=conversation.patron_id, label=conversation.label, text=stored.text,
                          reply_address=reply_to.address, follow_up=conversation.follow_up,
                          patron_name=reply_to.name)


def _store_patron_message(conversation_id: str, message: InboundMessage,
                          at: str) -> tuple[Conversation, ReplyTo, Message]:
    """The conversation (created by its first message), where replies go, and the message, stored."""
    conversation = store.conversations.ensure(conversation_id, message)
    reply_to = ReplyTo(address=message.reply_address, name=message.patron_name)
    if message.reply_address:
        store.conversations.save_reply_to(conversation_id, reply_to)
    stored, _ = store.messages.put(conversation_id, Message(
        message_id=message.message_id, at=at, author=Author.PATRON, text=message.text,
        client_id=message.message_id))
    return conversation, reply_to, stored


def _show_to_staff(job: PatronMessageJob, message: InboundMessage) -> None:
    conversation_id = job.conversation_id
    conversation, reply_to, stored = _store_patron_message(conversation_id, message, job.at)
    assignment.patron_waiting(conversation, job)  # the waiting queue; the patron's place, once per wait
    if stored.slack_ts:  # posted by an earlier attempt; its pictures may not all be shown yet
        if conversation.after_hours and stored.slack_ts == conversation.slack_ts:
            _tell_after_hours(conversation, reply_to)
        pictures.show(conversation.slack_channel, conversation.slack_ts, conversation_id, stored, message.media)
        return
    if conversation.slack_ts:
        channel, thread_ts = conversation.slack_channel, conversation.slack_ts
        ts = slack.post_patron_text(channel, thread_ts, conversation.label, message.text,
                                    reveal=conversation_id)  # redacted, with Reveal (refdesk.redaction)
    else:
        channel = get_settings().slack_staff_channel
        opening = waiting.closed_until(job.at)  # opened outside opening hours: the card says so
        if opening is not None:
            store.nudges.mark_after_hours(conversation_id, opening or "again")
            conversation = dataclasses.replace(conversation, after_hours=opening or "again")
        text, blocks, overflow = cards.root_card(conversation, message.text, reply_to)
        ts = thread_ts = slack.post(channel, text, blocks)
        store.conversations.set_slack_root(conversation_id, channel, ts)
        for more in overflow:
            slack.post(channel, "(continued)", more, thread_ts=ts)
    store.messages.update(conversation_id, stored, slack_ts=ts)
    logger.info("patron message posted", extra={"conversation_id": conversation_id})
    if conversation.after_hours and ts == thread_ts:
        _tell_after_hours(conversation, reply_to)
    pictures.show(channel, thread_ts, conversation_id, stored, message.media)


def _tell_after_hours(conversation: Conversation, reply_to: ReplyTo) -> None:
    """The after-hours reply (AfterHoursText, with when the desk opens), once per conversation."""
    stored, _ = store.messages.put(conversation.conversation_id, Message(
        message_id=f"after-hours-{conversation.conversation_id}", at=now_iso(), author=Author.SYSTEM,
        text=waiting.after_hours_text(conversation.after_hours), delivery=Delivery.PENDING))
    if stored.delivery is Delivery.PENDING:
        _send_to_patron(conversation, reply_to, stored, "")


FILES_NOT_SENT = ("The patron doesn't get files or pictures from Slack: only the text of your reply was "
                  "relayed. Describe the file, or share a public link, if they need it.")
ONLY_FILES = ("Files and pictures aren't sent to the patron, so nothing reached them. Reply with text (a "
              "description, or a public link) to answer.")


def relay_staff_reply(job: StaffReplyJob) -> None:
    """A librarian's reply in a conversation thread goes to the patron, unless it is a note.
    Slack's markup becomes plain text (emoji, mentions, links); files attached in Slack are
    not sent, and the librarian is told so privately."""
    conversation_id = store.conversations.for_thread(job.channel, job.thread_ts)
    if not conversation_id or job.user == slack.bot_user_id():
        return
    if job.outsider or not slack.is_library_member(job.user):
        _keep_from_patron(job)
        return
    text = plain_text(job.text, name_of=slack.first_name)
    if not text.strip():
        if job.files:
            slack.tell(job.channel, job.user, ONLY_FILES, thread_ts=job.thread_ts)
        return
    internal = is_internal(text)
    name = slack.first_name(job.user)
    department = "" if internal else departments.credit(conversation_id, job.user)  # "Sam (IT)"
    stored, created = store.messages.put(conversation_id, Message(
        message_id=f"slack-{job.ts}", at=_slack_time(job.ts), author=Author.LIBRARIAN, author_name=name,
        author_user=job.user, text=text, slack_ts=job.ts, department=department,
        visibility=Visibility.INTERNAL if internal else Visibility.PATRON,
        delivery=Delivery.INTERNAL if internal else Delivery.PENDING))
    if internal:
        if created:
            slack.react(job.channel, job.ts, slack.INTERNAL)
        return
    assignment.on_staff_reply(conversation_id, job, created)  # the first reply claims; the assignee is told
    if stored.delivery is not Delivery.PENDING:
        return
    _send_to_patron(store.conversations.get(conversation_id), store.conversations.get_reply_to(conversation_id),
                    stored, name)
    if job.files:  # after the ✅/❌, once: a retry finds the message no longer pending
        slack.tell(job.channel, job.user, FILES_NOT_SENT, thread_ts=job.thread_ts)


def _keep_from_patron(job: StaffReplyJob) -> None:
    """Only members of the library's own Slack team answer patrons. A message in a staff thread
    from anyone else (possible when the staff channel is itself a Slack Connect channel) is
    never sent to the patron, nor stored in the conversation; it gets the internal :lock: so
    staff can see it stayed with them."""
    logger.info("message from outside the library's team kept from the patron", extra={"thread_ts": job.thread_ts})
    slack.react(job.channel, job.ts, slack.INTERNAL)


def _send_to_patron(conversation: Conversation, reply_to: ReplyTo, message: Message, sender: str) -> None:
    """Send a stored outbound message through the patron's channel (or the one it hands the reply
    on to: a web follow-up's e-mail address or phone number), resuming after the parts already
    sent, and show the outcome on the Slack message as a reaction. ✅ means handed to SES, Twilio
    or Slack, or, for a live web chat with no contact, stored for the widget; ❌ and a note mean
    the patron cannot be reached (DeliveryFailed). Other errors are raised: the queue retries."""
    conversation_id = conversation.conversation_id
    channel, address = channels.route(conversation.channel, reply_to.address)
    parts = channel.compose(sender, message.text, message.department) if message.department else \
        channel.compose(sender, message.text)
    try:
        for index in range(message.parts_sent, len(parts)):
            contact_card.send_part(channel, conversation, message, address, parts[index], index)
            store.messages.update(conversation_id, message, parts_sent=index + 1)
    except DeliveryFailed as failure:
        store.messages.update(conversation_id, message, delivery=Delivery.FAILED)
        logger.warning("delivery failed for good", extra={"conversation_id": conversation_id, "code": failure.code})
        if message.slack_ts:
            slack.react(conversation.slack_channel, message.slack_ts, slack.FAILED)
            slack.post(conversation.slack_channel, f":warning: Not delivered to the patron ({failure.message}). "
                       "Retrying will not help.", thread_ts=conversation.slack_ts)
        return
    store.messages.update(conversation_id, message, delivery=Delivery.SENT)
    if message.slack_ts:
        slack.react(conversation.slack_channel, message.slack_ts, slack.SENT)
    logger.info("reply delivered", extra={"conversation_id": conversation_id, "parts": len(parts)})


def send_quick_reply(job: QuickReplyJob) -> None:
    """A quick reply chosen from the card: posted in the thread by the bot, credited to the
    librarian who chose it, stored as their message and sent to the patron like their reply
    (✅/❌ on the post). The same click retried resumes; a second click within a minute is
    not sent again (store.invitations.claim_quick_reply)."""
    from refdesk import deskconfig

    conversation_id = store.conversations.for_thread(job.channel, job.root_ts)
    if not conversation_id:
        return
    conversation = store.conversations.get(conversation_id)
    reply = deskconfig.get().quick_reply(job.reply_id)
    if reply is None or not conversation.is_open:
        slack.tell(job.channel, job.user, "That quick reply is no longer configured." if reply is None else
                   "This conversation is closed; the quick reply was not sent.", thread_ts=job.root_ts)
        return
    if not store.invitations.claim_quick_reply(conversation_id, reply.id, job.action_ts):
        slack.tell(job.channel, job.user, f"\u201c{reply.label}\u201d was just sent in this conversation; it "
                   "was not sent again.", thread_ts=job.root_ts)
        return
    name = slack.first_name(job.user)
    stored, _ = store.messages.put(conversation_id, Message(
        message_id=f"quick-{job.root_ts}-{job.action_ts}", at=now_iso(), author=Author.LIBRARIAN,
        author_name=name, author_user=job.user, text=reply.text, delivery=Delivery.PENDING))
    if stored.delivery is not Delivery.PENDING:
        return
    if not stored.slack_ts:
        text, blocks = cards.quick_reply_post(reply.label, reply.text, job.user)
        ts = slack.post(job.channel, text, blocks, thread_ts=job.root_ts)
        store.messages.update(conversation_id, stored, slack_ts=ts)
        stored = dataclasses.replace(stored, slack_ts=ts)
    _send_to_patron(conversation, store.conversations.get_reply_to(conversation_id), stored, name)


def handle_staff_edit(job: StaffEditJob) -> None:
    """Edits and deletions in Slack cannot reach a patron who already has the text: say so to
    the librarian instead of relaying anything."""
    conversation_id = store.conversations.for_thread(job.channel, job.thread_ts)
    if not conversation_id or not job.user or job.user == slack.bot_user_id():
        return
    action = "Edits" if job.subtype == "message_changed" else "Deletions"
    slack.tell(job.channel, job.user, f"{action} in Slack don't reach the patron, who already has the "
               "original. Reply again in the thread to correct it.", thread_ts=job.thread_ts)


def handle_patron_edit(job: PatronEditJob) -> None:
    """A patron edited or deleted a message of an open conversation (Slack Connect): the patron's
    channel cannot take it back from staff, so staff are told in the thread, with a link to the
    edited message in the shared channel (its text stays in Slack: no patron text crosses the
    queue). Messages of closed conversations, or never received, are left alone."""
    conversation_id = store.sessions.conversation_holding(job.session_id, job.message_id)
    if not conversation_id:
        return
    conversation = store.conversations.get(conversation_id)
    if not conversation.is_open or store.blocks.get(conversation.patron_id):  # a blocked patron reaches no one
        return
    if not conversation.slack_ts:  # the message's own job has not posted the card yet: retried
        raise RuntimeError("the conversation has no staff thread yet")
    if job.subtype == "message_changed":
        link = slack.permalink(job.source_channel, job.source_ts)
        slack.post(conversation.slack_channel, f":pencil2: The patron edited a message in the shared channel: "
                   f"<{link}|read it there>. What they first wrote is still shown in this thread.",
                   thread_ts=conversation.slack_ts)
    else:
        slack.post(conversation.slack_channel, ":wastebasket: The patron deleted one of their messages. What "
                   "they first wrote is still shown in this thread.", thread_ts=conversation.slack_ts)
    logger.info("patron edit shown to staff", extra={"conversation_id": conversation_id, "subtype": job.subtype})


def close(job: CloseJob) -> None:
    """A resumable sequence: store the state, count it, update the card, send the closing line,
    offer a rating, shorten the items' lives, record that all is done. Every step is idempotent,
    so when one fails (Slack or Twilio down) the job's retry redoes nothing that was done and
    finishes the rest; only a press on a close that had finished is told it was already closed."""
    conversation = store.conversations.get(job.conversation_id)
    if conversation.is_open:
        _store_parked(conversation)
        try:
            conversation = store.conversations.close(job.conversation_id, job.user,
                                                     channels.get(conversation.channel).release,
                                                     retention_seconds=get_settings().retention_seconds)
        except Conflict:  # closed meanwhile (another press): that close's steps are finished below
            conversation = store.conversations.get(job.conversation_id)
    elif conversation.close_finished_at:
        slack.tell(job.channel, job.user, "That conversation was already closed.")
        return
    assessment.closed(conversation)  # daily counts and the de-identified transcript, each once
    question = next((message.text for message in store.messages.list_after(conversation.conversation_id)
                     if message.author is Author.PATRON), "")
    reply_to = store.conversations.get_reply_to(conversation.conversation_id)
    text, blocks, _ = cards.root_card(conversation, question, reply_to)
    slack.update(conversation.slack_channel, conversation.slack_ts, f"[closed] {text}",
                 assessment.closed_card(conversation, blocks))  # with READ 1-6 and the topic menu
    closing = get_settings().closing_text(conversation.channel)
    if closing:
        stored, _ = store.messages.put(conversation.conversation_id, Message(
            message_id=f"close-{conversation.conversation_id}", at=now_iso(), author=Author.SYSTEM, text=closing,
            delivery=Delivery.PENDING))
        if stored.delivery is Delivery.PENDING:  # a retry resumes after the parts already sent
            _send_to_patron(conversation, reply_to, stored, "")
    assessment.offer_rating(conversation)  # Slack Connect: 1-5 in the shared thread, once
    store.conversations.retire(conversation.conversation_id)  # its items expire RetentionDays after the close
    store.conversations.finish_close(conversation.conversation_id)
    logger.info("conversation closed", extra={"conversation_id": conversation.conversation_id})


def _store_parked(conversation: Conversation) -> None:
    """Patron messages still parked on the session are stored in the conversation before the
    close releases the session (an SMS or Slack Connect session is deleted). Their own jobs,
    when they run, find them stored and show them in the thread."""
    for parked in store.sessions.all_pending(conversation.anchor):
        _store_patron_message(conversation.conversation_id, parked.message, parked.at)
        store.sessions.unpark(conversation.anchor, parked)


def report_undeliverable(job: Job, attempts: int) -> None:
    """The last attempt failed: the job goes to the dead-letter queue; tell the thread."""
    logger.error("job failed its last attempt", extra={"kind": job.kind, "attempts": attempts,
                                                       "conversation_id": getattr(job, "conversation_id", None)})
    if isinstance(job, PatronMessageJob) and job.media:
        pictures.report_unshown(job.conversation_id, attempts)
    if not isinstance(job, StaffReplyJob):
        return
    slack.react(job.channel, job.ts, slack.FAILED)
    slack.post(job.channel, f":warning: This reply was not delivered after {attempts} attempts. "
               "It is kept in the dead-letter queue for the administrator.", thread_ts=job.thread_ts)


def _slack_time(ts: str) -> str:
    return datetime.fromtimestamp(float(ts), timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
