"""De-identified transcripts of closed conversations, kept in S3 only when the library turns them
on (KeepTranscripts, off by default as in LibraryH3lp) and only for TranscriptRetentionDays (the
bucket's lifecycle rule).

A transcript is a small JSON object: the channel, when the conversation opened, was first
answered and closed, the READ level and topic once recorded, and the messages the patron saw
(internal notes left out) with their times, the patron shown as "Patron", staff by first name,
the desk's own lines as "Library", and every text redacted (`refdesk.redaction`: phone numbers,
e-mail addresses, card numbers …) and cleared of the patron's known contact and name. It holds
no conversation id, patron hash, label or address, and its key is the date and a random id:

  transcripts/{yyyy}/{mm}/{dd}/{random}.json

The key is chosen once per conversation (`store.transcripts.key`, kept on the conversation), so a retried close, or writing again when READ or a topic is recorded,
replaces the same object: one transcript per conversation."""
from __future__ import annotations

import json
import re
import secrets

from aws_lambda_powertools import Logger

from refdesk import clients, store
from refdesk.models import Author, Conversation, ReplyTo, Visibility
from refdesk.settings import get_settings
from refdesk.store.table import now_iso

logger = Logger(child=True)

PREFIX = "transcripts/"
PATRON = "Patron"
LIBRARY = "Library"


def enabled() -> bool:
    settings = get_settings()
    return settings.keep_transcripts and bool(settings.transcript_bucket)


def new_key(closed_at: str) -> str:
    """Where a transcript goes: its date (from the close) and a random id, nothing else."""
    day = (closed_at or now_iso())[:10]
    return f"{PREFIX}{day[:4]}/{day[5:7]}/{day[8:10]}/{secrets.token_hex(16)}.json"


def write(conversation: Conversation) -> str | None:
    """Write (or rewrite) the conversation's transcript; returns its key, None when transcripts
    are off (then nothing is read or written). Safe to run again: same key, same object."""
    if not enabled():
        return None
    key = store.transcripts.key(conversation.conversation_id, new_key(conversation.closed_at))
    body = render(conversation, store.conversations.get_reply_to(conversation.conversation_id),
                  store.messages.list_after(conversation.conversation_id))
    clients.get("s3").put_object(Bucket=get_settings().transcript_bucket, Key=key,
                                 Body=json.dumps(body, ensure_ascii=False, indent=1).encode(),
                                 ContentType="application/json", ServerSideEncryption="AES256")
    logger.info("transcript kept", extra={"messages": len(body["messages"])})
    return key


def render(conversation: Conversation, reply_to: ReplyTo, messages) -> dict:
    """The de-identified transcript (a dict ready for JSON)."""
    known = [value for value in (reply_to.address, reply_to.name) if value and len(value) >= 3]
    lines = []
    for message in messages:
        if message.visibility is not Visibility.PATRON:
            continue  # staff notes stay out
        who = PATRON if message.author is Author.PATRON else \
            (message.author_name.split()[0] if message.author_name else LIBRARY) \
            if message.author is Author.LIBRARIAN else LIBRARY
        lines.append({"at": message.at, "from": who, "text": deidentify(message.text, known)})
    return {
        "format": "refdesk-transcript/1",
        "channel": conversation.channel,
        "opened_at": conversation.created_at,
        "first_reply_at": conversation.first_reply_at or None,
        "closed_at": conversation.closed_at or None,
        "read_level": int(conversation.read_level) or None,
        "topic": conversation.topic or None,
        "messages": lines,
    }


def deidentify(text: str, known: list[str] = ()) -> str:
    """The patron's own contact and name (when they gave them) masked, then the redaction rules."""
    for value in known:
        text = re.sub(re.escape(value), "[patron]", text, flags=re.IGNORECASE)
    return _redact(text)


def _redact(text: str) -> str:
    from refdesk.redaction import redact

    return redact(text).text
