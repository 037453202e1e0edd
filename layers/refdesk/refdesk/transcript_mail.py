""""E-mail me this conversation" (issue 19, item 3): once a web chat has ended, the patron may have
what they saw of it e-mailed to an address they type, at most SENDS_PER_SESSION times.

The webhook (refdesk.webchat.email_transcript) checks the address, parks it on the session item
(store.transcript_requests) and queues a job with references only (`request`); the dispatcher
reads it, sends the transcript once through SES (refdesk.channels.email) and forgets it (`send`).
The address is never on the queue, in a log, or kept after the send (at most as long as the
session item if the send never happens: the patron's delete removes it with the session).

The e-mail is plain text: every message the patron could see (staff notes left out), in order,
with its time in the library's time zone, the patron as "You", librarians by first name, then
the library's signature as on every e-mail reply."""
from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from aws_lambda_powertools import Logger

from refdesk import identity, jobs, store
from refdesk.channels import email
from refdesk.errors import BadRequest, DeliveryFailed
from refdesk.models import Author, Message, TranscriptMailJob, Visibility
from refdesk.observability import count
from refdesk.settings import get_settings
from refdesk.shapes import check

logger = Logger(child=True)

SENDS_PER_SESSION = 2
PAGE = 100  # messages read per Query page


class TranscriptBody(TypedDict):
    """The body of POST /chat/sessions/{id}/transcript (refdesk.shapes checks it)."""
    email: str


def address_of(body: Any) -> str:
    """The e-mail address the body names; BadRequest (never quoting it) when it is not one."""
    address = email.address(check(body, TranscriptBody, "body")["email"])
    if not address:
        raise BadRequest("email must be an e-mail address, such as name@example.org")
    return address


def request(session_id: str, token_hash: str, address: str) -> None:
    """Park the address and queue the send (two AWS calls). Raises as
    store.transcript_requests.park does: NotFound, Forbidden, Conflict (still open), RateLimited."""
    request_id = identity.new_id("t")
    conversation_id = store.transcript_requests.park(session_id, token_hash, request_id, address,
                                                     limit=SENDS_PER_SESSION)
    jobs.enqueue(TranscriptMailJob(conversation_id=conversation_id, session_id=session_id, request_id=request_id))
    count("TranscriptMailRequested")


def send(job: TranscriptMailJob) -> None:
    """The dispatcher's half: the transcript to the parked address, once, then the address
    forgotten. Nothing to do when it is gone (sent already, or the patron deleted the chat). An
    address SES refuses for good is forgotten too: trying again cannot help."""
    address = store.transcript_requests.address(job.session_id, job.request_id)
    if not address:
        return
    messages = _patron_visible(job.conversation_id)
    settings = get_settings()
    try:
        email.CHANNEL.send(address, email.CHANNEL.compose("", text(messages))[0],
                           title=f"Your conversation with {settings.library_name or 'the library'}")
    except DeliveryFailed as refused:
        logger.warning("transcript not e-mailed", extra={"conversation_id": job.conversation_id,
                                                         "code": refused.code})
        count("TranscriptMailRefused")
    else:
        logger.info("transcript e-mailed", extra={"conversation_id": job.conversation_id,
                                                  "messages": len(messages)})
        count("TranscriptMailSent")
    store.transcript_requests.forget(job.session_id, job.request_id)


def _patron_visible(conversation_id: str) -> list[Message]:
    messages: list[Message] = []
    while True:
        page = store.messages.list_after(conversation_id, after=messages[-1].sort_key if messages else "",
                                         visibility=Visibility.PATRON, limit=PAGE)
        messages += page
        if len(page) < PAGE:
            return messages


def text(messages: list[Message]) -> str:
    """The conversation as the e-mail's text: a heading with the day, then one paragraph a message."""
    settings = get_settings()
    zone = ZoneInfo(settings.library_timezone)
    times = [datetime.fromisoformat(message.at.replace("Z", "+00:00")).astimezone(zone) for message in messages]
    library = settings.library_name or email.DEFAULT_NAME
    day = f", {times[0]:%A} {times[0].day} {times[0]:%B %Y}" if times else ""
    lines = [f"Your conversation with {library}{day}:"] + [f"{at:%H:%M} {_who(message, library)}: {message.text}"
                                                          for message, at in zip(messages, times)]
    return "\n\n".join(lines)


def _who(message: Message, library: str) -> str:
    if message.author is Author.PATRON:
        return "You"
    if message.author is Author.LIBRARIAN:
        return message.author_name.split()[0] if message.author_name.strip() else "Librarian"
    return library
