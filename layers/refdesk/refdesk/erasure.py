"""Patron control: a patron deletes their conversations with the library, now.

How a patron asks, on each channel:
  SMS            a text that is exactly DELETE (any case, surrounding spaces ignored). It is not
                 one of Twilio's keywords (STOP, HELP, ... stay Twilio's), so it reaches RefDesk.
  Slack Connect  a partner's message that is exactly "delete", in a conversation's shared thread
                 (or at the top level of the shared channel).
  Web chat       the widget's "Delete this conversation": DELETE /chat/sessions/{id} with the
                 session's bearer token (refdesk.webchat.delete_session).

The webhook half (`is_request`, `request`) only recognises the request and queues an
`ErasePatronJob`: one conditional write (the request, with the address the confirmation goes to:
never on the queue) and one SendMessage. The widget's request is one read (the token) and one
SendMessage, and its answer is the confirmation.

The dispatcher half (`erase`) finds the patron's conversations through the ByPatron index (by
keyed hash, never a scan) and deletes them first, Slack or no Slack: every item of each
conversation (messages, markers, REPLY_TO, invitations, ...), its thread lookup, its session's
hold on it, its de-identified transcript (every version, when KeepTranscripts wrote one); the
patron's web sessions, contact-card record and "seen before" record (statistics keep only counters
that identify no one). An SMS or Slack Connect session keeps only the ids of
the messages claimed in it, for a day (store.sessions.erase), so that a replayed MessageSid or
Slack event is a duplicate, not the erased question in a new conversation. Then the confirmation
goes out on the same channel, once: the request keeps only `done_at` afterwards, so a
redelivered job does nothing twice. A later DELETE finds nothing left and is confirmed again.

The staff thread is edited as separate work, queued before the records go (they hold the
timestamps it needs) and run after: one `RemoveFromSlackJob` per post (the card and the bot's
posts of the patron's messages become REMOVED by chat.update), then one for a note in the thread,
since librarians' own replies cannot be edited by the bot. Where the patron read the replies in
Slack (a Slack Connect shared thread, `Traits.replies_thread`), the bot's posts of each
librarian's reply there are edited too, one `RemoveSentReplyJob` per reply, each finding its
posts by their metadata (their ts are not stored). Each is retried on its own with
refdesk.retry's backoff, so a Slack outage delays the edits but never the deletion, and a job
given up is that one edit in the dead-letter queue, never the erasure. A retry redoes only its
own edit (to the same words); the note, whose answer may be lost after it was posted, is looked
for before it is posted again.

Kept: an SMS patron's STOP record (it is what keeps the desk from texting a number that opted
out) and a block staff placed (a masked label, never the address). Nothing here logs patron
text, addresses or hashes."""
from __future__ import annotations

from aws_lambda_powertools import Logger

from refdesk import channels, jobs, store
from refdesk.errors import DeliveryFailed, NotFound
from refdesk.models import (Author, Conversation, ErasePatronJob, InboundMessage, Message, RemoveFromSlackJob,
                            RemoveSentReplyJob, Visibility)
from refdesk.observability import count
from refdesk.store.table import now_iso

logger = Logger(child=True)

# True when the widget shows it (the erasure is queued) and when the dispatcher sends it (the
# records are gone, the staff thread's edits may still be waiting for Slack).
CONFIRMATION = ("Your conversations with the library are being deleted, from our records and from what library "
                "staff see.")
REMOVED = "[removed at the patron's request]"
THREAD_NOTE = (":wastebasket: This conversation was removed at the patron's request: RefDesk has deleted its "
               "records, and the card and the patron's messages in this thread are edited to read "
               f"\u201c{REMOVED}\u201d. Librarians' replies in this thread can't be edited by RefDesk; "
               "delete your own if they quote the patron.")
# chat.update answers that retrying cannot change: the post is gone, or the bot may no longer edit it.
GONE = frozenset({"message_not_found", "cant_update_message", "channel_not_found", "is_archived", "not_in_channel",
                  "edit_window_closed"})


# --- the webhook half ---------------------------------------------------------------------

def is_request(message: InboundMessage) -> bool:
    """Whether the patron's whole message asks to delete their conversations."""
    return not message.media and message.text.strip().casefold() in channels.traits(message.channel).delete_words


def request(message: InboundMessage) -> None:
    """Queue the erasure of the message's patron (two AWS calls). A retried delivery finds the
    request stored and queues it again; the queue's de-duplication id drops the copy."""
    request_id = store.erasures.request_id(message.channel, message.message_id)
    store.erasures.record_request(request_id, channel=message.channel, patron_id=message.patron_id,
                                  session_id=message.session_id, address=message.reply_address)
    jobs.enqueue(ErasePatronJob(channel=message.channel, patron_id=message.patron_id,
                                session_id=message.session_id, request_id=request_id))
    logger.info("erasure requested", extra={"channel": message.channel})
    count("ErasureRequested", channel=message.channel)


def request_for_session(channel: str, session_id: str, patron_id: str) -> None:
    """Queue the erasure asked for from a session whose token was just checked (the widget): one
    SendMessage. The widget's answer is the confirmation."""
    jobs.enqueue(ErasePatronJob(channel=channel, patron_id=patron_id, session_id=session_id))
    logger.info("erasure requested", extra={"channel": channel})
    count("ErasureRequested", channel=channel)


# --- the dispatcher half ------------------------------------------------------------------

def erase(job: ErasePatronJob) -> None:
    """Erase the patron's conversations, queue their removal from Slack, and confirm. Makes no
    Slack call (but a Slack Connect patron's confirmation). Safe to run again at any point."""
    address = ""
    if job.request_id:
        request_item = store.erasures.get_request(job.request_id)
        if not request_item or request_item.get("done_at"):
            logger.info("erasure already done", extra={"channel": job.channel})
            return
        address = str(request_item.get("address") or "")
    conversation_ids, session_ids = store.erasures.patron_items(job.patron_id)
    for conversation_id in conversation_ids:
        _erase_conversation(conversation_id)
    own_sessions = set(session_ids)
    if not channels.traits(job.channel).shared_session:  # a shared one goes with its conversations only
        own_sessions.add(job.session_id)
    for session_id in sorted(own_sessions):
        store.sessions.erase(session_id)
    store.erasures.delete_contact_card_record(job.patron_id)
    store.stats.forget_patron(job.patron_id)
    if job.request_id:
        if address:
            _confirm(job.channel, address)
        store.erasures.finish_request(job.request_id)
    logger.info("patron's conversations erased", extra={"channel": job.channel,
                                                       "conversations": len(conversation_ids)})
    count("PatronErased", channel=job.channel)


def _erase_conversation(conversation_id: str) -> None:
    try:
        conversation = store.conversations.get(conversation_id)
    except NotFound:  # deleted by an earlier attempt
        return
    in_slack = conversation.slack_ts or channels.traits(conversation.channel).replies_thread
    if in_slack and not store.erasures.removal_queued(conversation_id):
        _queue_removal_from_slack(conversation)
        store.erasures.remember_removal_queued(conversation_id)
    # The webhooks that take a patron's "delete" import this module: S3 and Slack's SDK, which the
    # transcript and the lifecycle's views need, are loaded by the dispatcher only, here.
    from refdesk import assessment, attachments, lifecycle, transcripts

    assessment.erased_while_open(conversation)  # counted before its messages go; the counts stay
    transcripts.remove(conversation_id)  # first: the conversation's record holds its key
    attachments.erase(conversation_id)  # the files sent both ways, whose links then answer 410
    store.stats.forget_comment(conversation_id, assessment.day_of(conversation))
    store.erasures.delete_conversation(conversation_id, anchor=conversation.anchor,
                                       slack_channel=conversation.slack_channel, slack_ts=conversation.slack_ts)
    # The Home tabs stop listing it; if it was waiting, the web chats behind it move up.
    lifecycle.changed(lifecycle.Changed(conversation, lifecycle.Transition.ERASED,
                                        left_line=conversation.is_open and not conversation.claimed_by))


def _queue_removal_from_slack(conversation: Conversation) -> None:
    """The card and the bot's posts of the patron's messages, one job each, then the note; and
    where the patron read the replies in Slack, one job per librarian's reply there."""
    replies_thread = channels.traits(conversation.channel).replies_thread
    messages = store.messages.list_after(conversation.conversation_id, limit=100_000)
    if conversation.slack_ts:
        channel, root = conversation.slack_channel, conversation.slack_ts
        posts = [root] + sorted({message.slack_ts for message in messages
                                 if message.author is Author.PATRON and message.slack_ts} - {root})
        for ts in posts:
            jobs.enqueue(RemoveFromSlackJob(channel=channel, root_ts=root, ts=ts))
        jobs.enqueue(RemoveFromSlackJob(channel=channel, root_ts=root, erased_at=now_iso()))
    address = store.conversations.get_reply_to(conversation.conversation_id).address if replies_thread else ""
    if address:
        channel, root = replies_thread(address)
        for message in messages:
            if message.author is Author.LIBRARIAN and message.visibility is Visibility.PATRON and message.parts_sent:
                jobs.enqueue(RemoveSentReplyJob(channel=channel, root_ts=root, message_id=message.message_id,
                                                at=message.at))


def remove_from_slack(job: RemoveFromSlackJob) -> None:
    """One post of an erased conversation's thread made to read REMOVED, or the thread told once."""
    from refdesk.slack import api as slack

    if job.ts:
        _update(job.channel, job.ts, _removed_blocks())
        return
    # Shown as if a stored message, so that a retry finds the note its lost answer posted.
    note = Message(message_id=f"removed-{job.root_ts}", at=job.erased_at, author=Author.SYSTEM, text=THREAD_NOTE,
                   visibility=Visibility.INTERNAL)
    slack.post(job.channel, THREAD_NOTE, thread_ts=job.root_ts, shows=note)


def remove_sent_reply(job: RemoveSentReplyJob) -> None:
    """The bot's posts of one librarian's reply in the patron's thread made to read REMOVED."""
    from slack_sdk.errors import SlackApiError

    from refdesk.slack import api as slack

    reply = Message(message_id=job.message_id, at=job.at, author=Author.LIBRARIAN, text="")
    try:
        posts = slack.posts_of(job.channel, job.root_ts, reply)
    except SlackApiError as error:
        code = str(error.response.get("error") or "")
        if code not in GONE | {"thread_not_found"}:
            raise
        logger.info("an erased conversation's shared thread could not be read", extra={"error": code})
        return
    for ts in sorted(posts.values()):
        _update(job.channel, ts, _removed_blocks())


def _removed_blocks() -> list[dict]:
    from refdesk.slack import cards

    return cards.as_dicts([cards.section(f"_{REMOVED}_")])


def _update(channel: str, ts: str, blocks: list[dict]) -> None:
    from slack_sdk.errors import SlackApiError

    from refdesk.slack import api as slack

    try:
        slack.update(channel, ts, REMOVED, blocks)
    except SlackApiError as error:
        code = str(error.response.get("error") or "")
        if code not in GONE:
            raise
        logger.info("a removed conversation's post could not be edited", extra={"error": code})


def _confirm(channel_name: str, address: str) -> None:
    channel = channels.get(channel_name)
    try:
        for part in channel.compose("", CONFIRMATION):
            channel.send(address, part)
    except DeliveryFailed as failure:  # e.g. the number texted STOP: nothing can reach them
        logger.info("erasure confirmation not delivered", extra={"channel": channel_name, "code": failure.code})
