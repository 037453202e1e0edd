"""Reveal: a librarian sees the original of a patron message that Slack shows redacted
(refdesk.redaction). The original comes from the stored message, goes to the librarian who
pressed the button and no one else (chat.postEphemeral), and the press is recorded first
(store.reveals: who, when, which message). Run by the dispatcher (models.RevealJob)."""
from __future__ import annotations

from aws_lambda_powertools import Logger

from refdesk import staff, store
from refdesk.errors import NotFound
from refdesk.models import Author, Message, RevealJob
from refdesk.slack import api as slack
from refdesk.slack.text import escape

logger = Logger(child=True)

HEADER = ":eyes: Only you can see this: what the patron wrote, unredacted. Your reveal is recorded."
GONE = "The original of this message is no longer kept."
MAX_TEXT = 3500


def reveal(job: RevealJob) -> None:
    if not slack.is_library_member(job.user):  # verified at the edge; asked again before patron words are shown
        slack.tell(job.channel, job.user, staff.refusal(), thread_ts=job.root_ts)
        return
    message = _patron_message(job)
    if message is None:
        slack.tell(job.channel, job.user, GONE, thread_ts=job.root_ts)
        return
    store.reveals.record(job.conversation_id, message.message_id, job.user, job.action_ts)
    original = escape(message.text)
    if len(original) > MAX_TEXT:
        original = original[:MAX_TEXT] + "…"
    slack.tell(job.channel, job.user, f"{HEADER}\n>>> {original}", thread_ts=job.root_ts)
    logger.info("patron message revealed", extra={"conversation_id": job.conversation_id, "user": job.user})


def _patron_message(job: RevealJob) -> Message | None:
    """The stored patron message posted as `message_ts` in this conversation's thread, or None
    when the conversation or the message is gone (retention, the patron's "delete") or the
    button does not belong to this thread."""
    try:
        conversation = store.conversations.get(job.conversation_id)
    except NotFound:
        return None
    if conversation.slack_channel != job.channel or conversation.slack_ts != job.root_ts:
        return None
    after, first = "", None
    while True:
        page = store.messages.list_after(job.conversation_id, after=after)
        for message in page:
            if message.author is not Author.PATRON:
                continue
            if message.slack_ts == job.message_ts:
                return message
            first = first or message
        if job.message_ts == conversation.slack_ts and first is not None:
            return first  # the card shows the first patron message (its slack_ts may not be stored yet)
        if len(page) < 100:
            return None
        after = page[-1].sort_key
