""""E-mail me this conversation" (issue 19, item 3): once a conversation has ended, the patron may
have what they saw of it e-mailed to an address they type, at most SENDS_PER_SESSION times: a web
patron from the widget, a Slack Connect partner from the button on the rating's post in their
shared thread (a modal, refdesk.slack.interactions).

The webhook checks the address, parks it in the table (store.transcript_requests: on the web
chat's session; for Slack Connect on an item of the request's own, which only the conversation's
patron can park, `request_by_partner`) and queues a job with references only; the dispatcher
reads it, sends the transcript once through SES (refdesk.channels.email) and forgets it (`send`).
The address is never on the queue, in a log, or kept after the send (at most as long as the
session item, or the Slack Connect request's RETRY_HORIZON_HOURS and an hour, if the send never
happens: the patron's delete removes it with the session or the conversation). A Slack Connect
partner is told, only them (an ephemeral line in their thread), once SES took it or refused it:
"Sent" or "Not sent", as the widget says, and never the address.

What may go wrong: SES or the table failing once or for an hour is the jobs queue's backoff (the
address waits, parked); SES refusing the address for good forgets it; an answer lost after SES
took the e-mail sends it again on the retry (e-mail is at least once, as every e-mail reply);
once the address is forgotten, the outcome waits until the partner was told, so a Slack failure
then sends no second e-mail (the line itself is at least once).

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

SENDS_PER_SESSION = 2  # per web chat, and per Slack Connect conversation
PAGE = 100  # messages read per Query page
SENT, REFUSED = "sent", "refused"  # a Slack Connect request's outcome, kept until its partner was told
# What the partner is told: the widget's words ("Sent", "Not sent."), and never the address.
TOLD = {SENT: "Sent: this conversation was e-mailed to the address you gave.",
        REFUSED: "Not sent: this conversation could not be e-mailed to that address."}


class TranscriptBody(TypedDict):
    """The body of POST /chat/sessions/{id}/transcript (refdesk.shapes checks it)."""
    email: str


def address_of(body: Any) -> str:
    """The e-mail address the body names; BadRequest (never quoting it) when it is not one."""
    return checked(check(body, TranscriptBody, "body")["email"])


def checked(typed: str) -> str:
    """The e-mail address `typed` is (as SES takes it); BadRequest, never quoting it, when it is not one."""
    address = email.address(typed)
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


def request_by_partner(conversation_id: str, patron_id: str, user: str, submission: str,
                       address: str) -> TranscriptMailJob | None:
    """A Slack Connect partner's request from the modal (`submission`: its view id, so that the
    same submission parks once): the address parked (one transaction), the job to queue; None
    when this submission was parked already. `patron_id` is the keyed hash of whoever submitted:
    only the conversation's patron may. Raises as store.transcript_requests.park_for_patron does."""
    request_id = f"v{submission}"
    if not store.transcript_requests.park_for_patron(conversation_id, patron_id, request_id, address,
                                                     limit=SENDS_PER_SESSION, seconds=parked_seconds()):
        return None
    count("TranscriptMailRequested")
    return TranscriptMailJob(conversation_id=conversation_id, session_id="", request_id=request_id, user=user)


def parked_seconds() -> int:
    """How long a Slack Connect request's item lives: its job's retries (RETRY_HORIZON_HOURS), and an hour."""
    return int(get_settings().retry_horizon_hours * 3600) + 3600


def send(job: TranscriptMailJob) -> None:
    """The dispatcher's half: the transcript to the parked address, once, then the address
    forgotten. Nothing to do when it is gone (sent already, or the patron deleted the chat). An
    address SES refuses for good is forgotten too: trying again cannot help. A Slack Connect
    partner is then told the outcome, once it is recorded in place of the address."""
    key = store.transcript_requests.key_of(job.conversation_id, job.session_id, job.request_id)
    address, outcome = store.transcript_requests.parked(key, job.request_id)
    if address:
        outcome = _mail(job.conversation_id, address)
        store.transcript_requests.forget(key, job.request_id, outcome if job.user else "")
    if job.user and outcome:
        _tell(job, outcome)
        store.transcript_requests.told(key, job.request_id)


def _mail(conversation_id: str, address: str) -> str:
    """SENT or REFUSED (for good); raises what may pass (throttling, SES down) for the queue's backoff."""
    messages = _patron_visible(conversation_id)
    settings = get_settings()
    try:
        email.CHANNEL.send(address, email.CHANNEL.compose("", text(messages))[0],
                           title=f"Your conversation with {settings.library_name or 'the library'}")
    except DeliveryFailed as refused:
        logger.warning("transcript not e-mailed", extra={"conversation_id": conversation_id, "code": refused.code})
        count("TranscriptMailRefused")
        return REFUSED
    logger.info("transcript e-mailed", extra={"conversation_id": conversation_id, "messages": len(messages)})
    count("TranscriptMailSent")
    return SENT


def _tell(job: TranscriptMailJob, outcome: str) -> None:
    """The partner who asked, told in their shared thread (only they see it), as the widget says it."""
    from refdesk.channels import slack_connect

    line = TOLD[outcome]
    if not slack_connect.CHANNEL.tell(store.conversations.get_reply_to(job.conversation_id).address, job.user, line):
        logger.warning("transcript outcome not told", extra={"conversation_id": job.conversation_id})


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
