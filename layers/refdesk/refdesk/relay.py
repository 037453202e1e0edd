"""The relay between patron channels and the staff thread, run by the dispatcher for each job:
patron messages stored and shown to staff, librarians' replies sent to the patron, edits
explained, conversations closed. Safe to run again: each step checks what is already done."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from aws_lambda_powertools import Logger

from refdesk import (assignment, attachments, blocking, channels, delivery, departments, desk_lines, idle, lifecycle,
                     patron_context, pictures, staff, store, waiting)
from refdesk.errors import Conflict, NotFound, RetryLater
from refdesk.models import (Author, CloseJob, Conversation, Delivery, IdleCloseJob, InboundMessage, Job, Message,
                            PatronEditJob, PatronMessageJob, QuickReplyJob, ReplyTo, StaffEditJob, StaffReplyJob,
                            Visibility)
from refdesk.observability import count
from refdesk.settings import get_settings
from refdesk.slack import api as slack
from refdesk.slack import cards
from refdesk.slack.text import is_internal, plain_text

logger = Logger(child=True)


def deliver_patron_message(job: PatronMessageJob) -> None:
    """Store the message and show it to staff: as the root card of a new conversation, or as a
    reply in its thread. Safe to run again: each step checks what is already done.

    The job is a reference: the message waits on its session item (parked by the webhook's
    claim) and is removed from there once stored and shown. A retry after that, or after a
    close stored it, finds the stored message instead (its pictures, never stored, are then
    not shown).

    Messages parked before this one that are still there were given up (refdesk.dispatch:
    Slack down for a day): they are shown first, in order, so that the thread holds the whole
    conversation. Their own jobs, if redriven, find them stored and posted."""
    held = [] if job.message else store.sessions.all_pending(job.session_id)
    parked = next((one for one in held if one.message.message_id == job.message_id), None)
    message = job.message or (parked.message if parked else _stored_patron_message(job))
    if message is None:  # never parked, or its conversation's lifetime is over
        logger.info("patron message no longer held", extra={"conversation_id": job.conversation_id})
        return
    if not blocking.intercept(job, message):  # a blocked patron: answered once per block, never shown
        for earlier in (one for one in held if one.at < job.at):
            _show_to_staff(dataclasses.replace(job, at=earlier.at, sent_at="", media=len(earlier.message.media),
                                               message_id=earlier.message.message_id), earlier.message)
            store.sessions.unpark(job.session_id, earlier)
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
    conversation = store.conversations.ensure(conversation_id, message, at)
    reply_to = ReplyTo(address=message.reply_address, name=message.patron_name)
    if message.reply_address:
        store.conversations.save_reply_to(conversation_id, reply_to)
    stored, _ = store.messages.put(conversation_id, Message(
        message_id=message.message_id, at=at, author=Author.PATRON, text=message.text,
        client_id=message.message_id))
    return conversation, reply_to, stored


def _show_to_staff(job: PatronMessageJob, message: InboundMessage) -> None:
    conversation_id = job.conversation_id
    conversation, reply_to, stored = _store_patron_message(conversation_id, message, job.sent_at or job.at)
    assignment.patron_waiting(conversation, job)  # the waiting queue; the patron's place, once per wait
    if stored.slack_ts:  # posted by an earlier attempt; its pictures may not all be shown yet
        if conversation.after_hours and stored.slack_ts == conversation.slack_ts:
            _tell_after_hours(conversation, reply_to)
        pictures.show(conversation.slack_channel, conversation.slack_ts, conversation_id, stored, message.media)
        return
    if conversation.slack_ts:
        channel, thread_ts = conversation.slack_channel, conversation.slack_ts
        ts = slack.post_patron_text(channel, thread_ts, conversation.label, message.text,
                                    reveal=conversation_id, shows=stored)  # redacted, with Reveal (refdesk.redaction)
    else:
        channel = get_settings().slack_staff_channel
        opening = waiting.closed_until(job.at)  # opened outside opening hours: the card says so
        if opening is not None:
            store.nudges.mark_after_hours(conversation_id, opening or "again")
            conversation = dataclasses.replace(conversation, after_hours=opening or "again")
        if not conversation.context:  # where the patron is, and their earlier conversations: once
            lines = patron_context.lines(conversation)
            if lines:
                store.conversations.set_context(conversation_id, lines)
                conversation = dataclasses.replace(conversation, context=tuple(lines))
        text, blocks, overflow = cards.root_card(conversation, message.text, reply_to)
        ts = thread_ts = slack.post(channel, text, blocks, shows=stored)
        store.conversations.set_slack_root(conversation_id, channel, ts)
        for part, more in enumerate(overflow, start=1):
            slack.post(channel, "(continued)", more, thread_ts=ts, shows=stored, part=part)
    store.messages.update(conversation_id, stored, slack_ts=ts)
    logger.info("patron message posted", extra={"conversation_id": conversation_id})
    _tell_thread_if_late(channel, thread_ts, stored, "shown")
    if conversation.after_hours and ts == thread_ts:
        _tell_after_hours(conversation, reply_to)
    pictures.show(channel, thread_ts, conversation_id, stored, message.media)


def _tell_after_hours(conversation: Conversation, reply_to: ReplyTo) -> None:
    """The after-hours reply (AfterHoursText, with when the desk opens), once per conversation."""
    desk_lines.tell(conversation, f"after-hours-{conversation.conversation_id}",
                    waiting.after_hours_text(conversation.after_hours), reply_to)


# A message shown to staff, or handed to the patron, this long after it was sent was delayed by
# retries (refdesk.retry): the thread says so, so that staff read it in the right order.
LATE_AFTER = timedelta(minutes=2)


def _late_by(message: Message) -> timedelta | None:
    """How late a stored message is now, when that is more than LATE_AFTER after it was sent."""
    sent = waiting.parse_iso(message.at)
    late = datetime.now(timezone.utc) - sent if sent else None
    return late if late and late > LATE_AFTER else None


def _tell_thread_if_late(channel: str, thread_ts: str, message: Message, outcome: str) -> None:
    """A note in the thread when a message was `outcome` ("shown") more than LATE_AFTER after it
    was sent, once per message: the note is tied to it (slack.post_note)."""
    late = _late_by(message)
    if late is None:
        return
    sent = waiting.parse_iso(message.at).astimezone(ZoneInfo(get_settings().library_timezone))
    on_another_day = sent.date() != datetime.now(sent.tzinfo).date()
    when = f"{sent:%a} {sent.day} {sent:%b} {sent:%H:%M}" if on_another_day else f"{sent:%H:%M}"
    minutes = int(late.total_seconds() // 60)
    how_late = f"{minutes} min" if minutes < 120 else f"{minutes // 60} h" if minutes < 48 * 60 else \
        f"{minutes // (24 * 60)} days"
    slack.post_note(channel, thread_ts, f":hourglass: Sent at {when} (library time), {outcome} {how_late} late "
                    "— delivery was retried.", about=message)


def relay_staff_reply(job: StaffReplyJob) -> None:
    """A librarian's reply in a conversation thread goes to the patron, unless it is a note.
    Slack's markup becomes plain text (emoji, mentions, links); files attached in Slack are
    copied for the patron (refdesk.attachments), and the librarian is told privately of any that
    could not be (too large, deleted)."""
    conversation_id = store.conversations.for_thread(job.channel, job.thread_ts)
    if not conversation_id or job.user == slack.bot_user_id():
        return
    if not get_settings().is_library_team(job.actor_team) or not slack.is_library_member(job.user):
        _keep_from_patron(job)
        return
    text = plain_text(job.text, name_of=slack.first_name)
    if not text.strip() and not job.file_ids:
        return
    internal = is_internal(text)
    name = slack.first_name(job.user)
    department = "" if internal else departments.credit(conversation_id, job.user)  # "Sam (IT)"
    files, refused = (), []
    # Copied once: a retry finds the message stored with them.
    if job.file_ids and not internal and store.messages.get(conversation_id, f"slack-{job.ts}") is None:
        files, refused = attachments.keep_for_patron(conversation_id, tuple(job.file_ids))
        if not text.strip() and not files:
            _tell_files_refused(job, refused)
            return
    stored, created = store.messages.put(conversation_id, Message(
        message_id=f"slack-{job.ts}", at=_slack_time(job.ts), author=Author.LIBRARIAN, author_name=name,
        author_user=job.user, text=text, slack_ts=job.ts, department=department, files=files,
        visibility=Visibility.INTERNAL if internal else Visibility.PATRON,
        delivery=Delivery.INTERNAL if internal else Delivery.PENDING))
    if created:
        _tell_files_refused(job, refused)
    if internal:
        if not stored.outcome_shown:
            delivery.show_outcome(conversation_id, job.channel, job.thread_ts, stored)
        return
    conversation = assignment.reopen_by_reply(store.conversations.get(conversation_id), job)  # after a close
    assignment.on_staff_reply(conversation_id, job, created)  # the first reply claims; the assignee is told
    if stored.delivery is Delivery.PENDING:
        delivered = delivery.send_to_patron(conversation, store.conversations.get_reply_to(conversation_id),
                                            stored, name)
        if delivered:
            _tell_thread_if_late(job.channel, job.thread_ts, stored, "sent on to the patron")
    elif not stored.outcome_shown:  # handed over, but its reaction failed: added now
        delivery.show_outcome(conversation_id, job.channel, job.thread_ts, stored)


def _tell_files_refused(job: StaffReplyJob, refused: list[str]) -> None:
    if refused:
        slack.tell(job.channel, job.user, " ".join(refused), thread_ts=job.thread_ts)


def _keep_from_patron(job: StaffReplyJob) -> None:
    """Only members of the library's own Slack team answer patrons (refdesk.staff). A message in
    a staff thread from anyone else (possible when the staff channel is itself a Slack Connect
    channel) is never sent to the patron, nor stored in the conversation; it gets the internal
    :lock: so staff can see it stayed with them, and its author is told why."""
    logger.info("message from outside the library's team kept from the patron", extra={"thread_ts": job.thread_ts})
    count("StaffActionRefused")
    slack.react(job.channel, job.ts, slack.INTERNAL)
    slack.tell(job.channel, job.user, staff.refusal(), thread_ts=job.thread_ts)


def send_quick_reply(job: QuickReplyJob) -> None:
    """A quick reply chosen from the card: posted in the thread by the bot, credited to the
    librarian who chose it, stored as their message and sent to the patron like their reply
    (✅/❌ on the post). The same click retried resumes; a second click within a minute is
    not sent again (store.invitations.claim_quick_reply)."""
    from refdesk import canned_replies

    conversation_id = store.conversations.for_thread(job.channel, job.root_ts)
    if not conversation_id:
        return
    conversation = store.conversations.get(conversation_id)
    reply = next((reply for reply in canned_replies.all_replies() if reply.reply_id == job.reply_id), None)
    if reply is None or not conversation.is_open:
        slack.tell(job.channel, job.user, "That canned reply was deleted." if reply is None else
                   "This conversation is closed; the quick reply was not sent.", thread_ts=job.root_ts)
        return
    if not store.invitations.claim_quick_reply(conversation_id, reply.reply_id, job.action_ts):
        slack.tell(job.channel, job.user, f"\u201c{reply.label}\u201d was just sent in this conversation; it "
                   "was not sent again.", thread_ts=job.root_ts)
        return
    name = slack.first_name(job.user)
    text = canned_replies.filled(reply.text, librarian=name,
                                 patron_name=store.conversations.get_reply_to(conversation_id).name)
    stored, _ = store.messages.put(conversation_id, Message(
        message_id=f"quick-{job.root_ts}-{job.action_ts}", at=_slack_time(job.action_ts), author=Author.LIBRARIAN,
        author_name=name, author_user=job.user, text=text, delivery=Delivery.PENDING))
    if stored.delivery is not Delivery.PENDING:
        if not stored.outcome_shown:  # sent, but its reaction failed: added now
            delivery.show_outcome(conversation_id, job.channel, job.root_ts, stored)
        return
    if not stored.slack_ts:
        text, blocks = cards.quick_reply_post(reply.label, stored.text, job.user)
        ts = slack.post(job.channel, text, blocks, thread_ts=job.root_ts, shows=stored)
        store.messages.update(conversation_id, stored, slack_ts=ts)
        stored = dataclasses.replace(stored, slack_ts=ts)
    delivery.send_to_patron(conversation, store.conversations.get_reply_to(conversation_id), stored, name)


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
    if not conversation.slack_ts:  # the message's own job has not posted the card yet: waits as long as it may
        raise RetryLater("the conversation has no staff thread yet", seconds=60)
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
        except Conflict:  # closed meanwhile (another press, the idle close): its steps are finished below
            conversation = store.conversations.get(job.conversation_id)
    elif conversation.close_finished_at:
        slack.tell(job.channel, job.user, "That conversation was already closed.")
        return
    _after_close(conversation, actors=(job.user,))


def close_idle(job: IdleCloseJob) -> None:
    """The idle close (refdesk.idle): the conversation closed quietly if it is still idle (one
    conditional write with its session's release; anything that happened meanwhile keeps it open),
    then the same resumable steps as a librarian's close but for the patron's closing line and
    rating. A retry that finds it closed by the idle close finishes them; one closed by a
    librarian meanwhile is left to that close's own job."""
    try:
        conversation = store.conversations.get(job.conversation_id)
    except NotFound:  # erased meanwhile
        return
    if conversation.is_open:
        try:
            conversation = store.conversations.close(
                job.conversation_id, store.conversations.IDLE_CLOSER, channels.get(conversation.channel).release,
                retention_seconds=get_settings().retention_seconds, quiet=idle.quiet())
        except store.conversations.NotIdle:
            logger.info("conversation active again: not closed", extra={"conversation_id": job.conversation_id})
            return
        except Conflict:  # closed meanwhile
            conversation = store.conversations.get(job.conversation_id)
    if conversation.closed_by != store.conversations.IDLE_CLOSER or conversation.close_finished_at:
        return
    _after_close(conversation, actors=(conversation.claimed_by,) if conversation.claimed_by else ())


def _after_close(conversation: Conversation, actors: tuple[str, ...]) -> None:
    """A close's steps after its write, each idempotent: every view (the closed card, the Home
    tabs, the web chats behind it when it was waiting, the patron's closing line and rating offer
    but after an idle close, the daily counts: refdesk.lifecycle), then the items' lives shortened
    and all recorded done. Also on a retry."""
    idle_closed = conversation.closed_by == store.conversations.IDLE_CLOSER
    transition = lifecycle.Transition.IDLE_CLOSED if idle_closed else lifecycle.Transition.CLOSED
    lifecycle.changed(lifecycle.Changed(conversation, transition, actors=actors, left_line=not conversation.claimed_by))
    store.conversations.retire(conversation.conversation_id)  # its items expire RetentionDays after the close
    store.conversations.finish_close(conversation.conversation_id)
    logger.info("conversation closed", extra={"conversation_id": conversation.conversation_id,
                                              "transition": transition.value})


def _store_parked(conversation: Conversation) -> None:
    """Patron messages still parked on the session are stored in the conversation before the
    close releases the session (an SMS or Slack Connect one keeps only message ids). Their own jobs,
    when they run, find them stored and show them in the thread."""
    for parked in store.sessions.all_pending(conversation.anchor):
        _store_patron_message(conversation.conversation_id, parked.message, parked.at)
        store.sessions.unpark(conversation.anchor, parked)


def report_undeliverable(job: Job, attempts: int) -> None:
    """The job was given up after `attempts` attempts and is in the dead-letter queue: tell the
    thread, and a patron whose message never reached staff."""
    logger.error("job failed its last attempt", extra={"kind": job.kind, "attempts": attempts,
                                                       "conversation_id": getattr(job, "conversation_id", None)})
    if isinstance(job, PatronMessageJob):
        _report_unshown_message(job, attempts)
        return
    if not isinstance(job, StaffReplyJob):
        return
    slack.react(job.channel, job.ts, slack.FAILED)
    slack.post(job.channel, f":warning: This reply was not delivered after {attempts} attempts. "
               "It is kept in the dead-letter queue for the administrator.", thread_ts=job.thread_ts)


def _report_unshown_message(job: PatronMessageJob, attempts: int) -> None:
    """A patron message given up before it was shown (Slack unreachable for a day): the patron
    is told honestly, once per conversation and as far as their channel works, and the thread,
    if there is one yet. The message stays parked on its session: the patron's next message
    shows it first (deliver_patron_message), and a redrive finds it there too. A message that
    was shown can only have missed some of its pictures."""
    stored = store.messages.get(job.conversation_id, job.message_id)
    if stored and stored.slack_ts:
        if job.media:
            pictures.report_unshown(job.conversation_id, attempts)
        return
    conversation = store.conversations.get(job.conversation_id)
    if store.blocks.get(conversation.patron_id):  # a blocked patron's message never reaches staff anyway
        return
    try:
        desk_lines.tell(conversation, f"undelivered-{job.conversation_id}", get_settings().undelivered_text)
    except Exception as error:  # their channel may be failing too (Slack Connect is Slack)
        logger.warning("could not tell the patron their message is delayed", extra={"error": type(error).__name__})
    if conversation.slack_ts:
        slack.post(conversation.slack_channel, f":warning: A patron message could not be shown here after {attempts} "
                   "attempts. It is kept in the dead-letter queue and the administrator was alerted.",
                   thread_ts=conversation.slack_ts)


def _slack_time(ts: str) -> str:
    return datetime.fromtimestamp(float(ts), timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
