"""De-identified transcripts of closed conversations, kept in S3 only when the library turns them
on (KeepTranscripts, off by default as in LibraryH3lp) and only for TranscriptRetentionDays (the
bucket's lifecycle rule).

A transcript is a small JSON object: the channel, when the conversation opened, was first
answered and closed, the READ level and topic once recorded, and the messages the patron saw
(internal notes left out) with their times, the patron shown as "Patron", staff by first name,
the desk's own lines as "Library", and every text redacted (`refdesk.redaction`: phone numbers,
e-mail addresses, card numbers …) and cleared of the patron's known contact and name, and of the
names given in the conversation (`names_given`): the patron's own ("my name is Priya", "I'm
Priya.", "this is Priya from …", a sign-off "Thanks, Priya" or "- Priya") and a librarian's
greeting that echoes one ("Hi Priya,"). Those rules are kept conservative: a name is a
capitalised word where a name goes, never a common word ("I'm Looking…", "This is The…"), and
"I'm" or "this is" take it only at the end of a clause ("I'm looking for…" and "This is for a
class" are left alone); a librarian's own first name is never taken for the patron's. It holds
no conversation id, patron hash, label or address, and its key is the date and a random id:

  transcripts/{yyyy}/{mm}/{dd}/{random}.json

The key is chosen once per conversation (`store.transcripts.key`, kept on the conversation), so a retried close, or writing again when READ or a topic is recorded,
replaces the same object: one transcript per conversation. A patron's delete removes it, every
version (`remove`, refdesk.erasure); otherwise the bucket's lifecycle deletes it
TranscriptRetentionDays after it was written (unset: RetentionDays, as the conversation)."""
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
NAME_MASK = "[name]"

# A name: one or two capitalised words ("Priya", "Jane Rivers", "O'Neil", "Zoë").
_WORD = r"[A-ZÀ-ÖØ-Þ](?:['’][A-ZÀ-ÖØ-Þ])?[a-zß-öø-ÿ]+(?:-[A-ZÀ-ÖØ-Þ]?[a-zß-öø-ÿ]+)?"
_NAME = rf"(?P<name>{_WORD}(?:[ ]{_WORD})?)"
# Where a clause ends after a name ("I'm Priya." "this is Priya from the book club").
_CLAUSE_END = r"(?=\s*(?:[,.!?;:)\n]|$)|\s+(?i:from|here|again|and|with|at)\b)"
# Said by the patron: an introduction, or a sign-off at the end of a line.
_PATRON_GIVES = [
    re.compile(rf"\b(?i:my name is|my name's|call me)\s+{_NAME}"),
    re.compile(rf"\b(?i:i'm|i’m|i am|im|this is|it's|it’s)\s+{_NAME}{_CLAUSE_END}"),
    re.compile(rf"\b(?i:thanks|thank you|thx|cheers|best|regards|best regards|kind regards|many thanks|sincerely)"
               rf"[,!.]?\s+{_NAME}[ \t.!]*$", re.MULTILINE),
    re.compile(rf"(?:^|\s)[-–—~]\s*{_NAME}[ \t.!]*$", re.MULTILINE),
]
# Said by a librarian: a greeting that names the patron ("Hi Priya,", "Thanks Priya!").
_LIBRARIAN_ECHOES = [
    re.compile(rf"\b(?i:hi|hello|hey|dear|good morning|good afternoon|good evening|thanks|thank you)"
               rf",?\s+{_NAME}(?=\s*[,!.:;?\n]|\s*$)"),
]
# Capitalised words that stand where a name could but are not one.
NOT_NAMES = frozenset("""
    A An The This That These It Its I My Our Your Not No Yes So Just Still Also Only Here There Back Again All
    Everyone Everybody Folks Team Library Librarian Sure Sorry Fine Good Great Glad Happy Okay Ok Done Ready
    Looking Trying Wondering Hoping Asking Calling Texting Writing Working Reading Doing Going Getting Having
    Interested New Very Really Currently Bye Welcome Thanks Thank Please Hi Hello Hey Both
    Monday Tuesday Wednesday Thursday Friday Saturday Sunday Today Tomorrow Tonight Morning Afternoon Evening
    January February March April June July August September October November December
    """.split())


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


def remove(conversation_id: str) -> None:
    """Delete the conversation's transcript, every version of it (the bucket keeps a rewritten
    one's old version a day): a patron's delete (refdesk.erasure), before the conversation's
    records, which hold its key, go. Nothing to do when none was written. Safe to run again."""
    bucket = get_settings().transcript_bucket
    key = store.transcripts.chosen_key(conversation_id) if bucket else ""
    if not key:
        return
    s3 = clients.get("s3")
    listed = s3.list_object_versions(Bucket=bucket, Prefix=key)
    versions = [{"Key": version["Key"], "VersionId": version["VersionId"]}
                for version in (*listed.get("Versions", ()), *listed.get("DeleteMarkers", ())) if version["Key"] == key]
    if versions:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": versions, "Quiet": True})
    logger.info("transcript removed", extra={"versions": len(versions)})


def render(conversation: Conversation, reply_to: ReplyTo, messages) -> dict:
    """The de-identified transcript (a dict ready for JSON)."""
    known = [value for value in (reply_to.address, reply_to.name) if value and len(value) >= 3]
    shown = [message for message in messages if message.visibility is Visibility.PATRON]  # staff notes stay out
    staff = {message.author_name.split()[0] for message in shown
             if message.author is Author.LIBRARIAN and message.author_name}
    names = names_given(shown, staff)
    lines = []
    for message in shown:
        who = PATRON if message.author is Author.PATRON else \
            (message.author_name.split()[0] if message.author_name else LIBRARY) \
            if message.author is Author.LIBRARIAN else LIBRARY
        lines.append({"at": message.at, "from": who, "text": deidentify(message.text, known, names)})
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


def names_given(messages, staff: set[str] = frozenset()) -> set[str]:
    """Each word of the names the patron gave and a librarian's greetings echoed, but the
    librarians' own first names (`staff`): a patron thanking Amanda does not make her the patron."""
    found = set()
    for message in messages:
        rules = _PATRON_GIVES if message.author is Author.PATRON else \
            _LIBRARIAN_ECHOES if message.author is Author.LIBRARIAN else ()
        for rule in rules:
            for match in rule.finditer(message.text):
                words = match.group("name").split()
                if words[0] not in NOT_NAMES:
                    found.update(word for word in words if word not in NOT_NAMES)
    return found - set(staff)


def deidentify(text: str, known: list[str] = (), names: set[str] = frozenset()) -> str:
    """The patron's own contact and name (when they gave them) masked, and the names given in the
    conversation (whole words, as written), then the redaction rules."""
    for value in known:
        text = re.sub(re.escape(value), "[patron]", text, flags=re.IGNORECASE)
    for name in sorted(names, key=len, reverse=True):
        text = re.sub(rf"(?<![\w\[]){re.escape(name)}(?![\w\]])", NAME_MASK, text)
    return _redact(text)


def _redact(text: str) -> str:
    from refdesk.redaction import redact

    return redact(text).text
