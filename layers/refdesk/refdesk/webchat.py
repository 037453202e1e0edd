"""The web chat widget's API (functions/webchat): sessions, sending, reading by cursor,
"Delete this conversation" and "E-mail me this conversation", with the rate limits that keep
abuse cheap. The channel behind it, and the contract the widget relies on (the live
connection's frames), are in refdesk.channels.web."""
from __future__ import annotations

import base64
import dataclasses
import secrets
import time
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Mapping
from urllib.parse import urlencode

from refdesk import attachments, conversations, erasure, identity, patron_context, store, transcript_mail, wake_ups
from refdesk.channels.web import CHANNEL, check_session_id, message_view
from refdesk.errors import BadRequest, chat_ended
from refdesk.models import InboundMessage, Visibility
from refdesk.settings import get_settings
from refdesk.shapes import Matches, conforms

SESSION_LIFETIME = 24 * 3600
# (requests, per seconds). A library computer lab shares one address, so the per-address
# limits leave room for many patrons; a single session is held tighter.
SESSIONS_PER_ADDRESS = (30, 3600)
SENDS_PER_SESSION = (12, 60)
SENDS_PER_ADDRESS = (120, 60)
# Polls that read something: from the start, or finding messages after their cursor (see
# list_messages).
POLLS_PER_SESSION = (60, 60)
# Transcripts e-mailed from one address (each session also has its own cap, transcript_mail).
TRANSCRIPTS_PER_ADDRESS = (20, 3600)
# Files a patron may send (refdesk.attachments): a few per chat, and an address's all together.
UPLOADS_PER_SESSION = (10, 3600)
UPLOADS_PER_ADDRESS = (60, 3600)
# The random id the widget keeps in localStorage to recognise a returning visitor (refdesk.identity
# hashes it like a phone number); anything else in its place is ignored, as if there were none.
VisitorId = Annotated[str, Matches(r"[A-Za-z0-9_-]{22,64}")]
# How long ago the patron pressed Send, by the widget's own clock (`age_ms`): older is not believed.
MAX_SEND_AGE_MS = 10 * 60 * 1000


def _limit(scope: str, key: str, rule: tuple[int, int], *, counted: bool = True) -> None:
    """Refuse past the rule; `counted=False` only checks (a read, not the counter's write)."""
    limit, window = rule
    if counted:
        store.limits.count_hit(scope, key, window_seconds=window, limit=limit)
    else:
        store.limits.check_under(scope, key, window_seconds=window, limit=limit)


def _address_key(source_ip: str) -> str:
    # Counted by keyed hash: the table never holds a patron's IP address.
    return identity.keyed_hash("ip", source_ip)


def create_session(source_ip: str, body: Mapping[str, Any] | None = None) -> dict:
    """A new chat. Its patron is the visitor the body names ({"visitor_id": …}), so that a returning
    visitor counts as a repeat patron, or else this session alone. The body's "context" (the page
    it started on, device class, language) is kept for the card as far as it checks out."""
    _limit("sessions-ip", _address_key(source_ip), SESSIONS_PER_ADDRESS)
    session_id, token = identity.new_id("s"), secrets.token_urlsafe(32)
    visitor_id = (body or {}).get("visitor_id")
    patron = visitor_id if conforms(visitor_id, VisitorId) else session_id
    store.sessions.create(session_id, identity.token_hash(token), identity.new_id("c"),
                          identity.patron_id(CHANNEL.name, patron), int(time.time()) + SESSION_LIFETIME,
                          context=patron_context.from_widget((body or {}).get("context")))
    return {"session_id": session_id, "token": token, "live_url": _live_url(session_id, token)}


def _live_url(session_id: str, token: str) -> str | None:
    base = get_settings().live_url
    return f"{base}?{urlencode({'session': session_id, 'token': token})}" if base else None


def post_message(session_id: str, token: str, body: Mapping[str, Any], source_ip: str) -> dict:
    message = CHANNEL.parse(body, session_id)
    sent_at = _sent_at(body.get("age_ms"))
    check_session_id(session_id)
    # Counted per token hash: requests with a wrong token cannot use up the patron's allowance.
    _limit("sends-session", identity.token_hash(token), SENDS_PER_SESSION)
    _limit("sends-ip", _address_key(source_ip), SENDS_PER_ADDRESS)
    # The session's patron (a returning visitor's, see create_session): one read, checking the token,
    # strongly consistent: the first message comes right after the session was made.
    session = store.sessions.get(session_id, identity.token_hash(token), consistent=True)
    if "file_id" in body:
        message = _with_upload(message, session, attachments.check_upload_id(body["file_id"]))
    message = dataclasses.replace(message, patron_id=session["patron_id"])
    conversations.accept(message, credential=identity.token_hash(token), sent_at=sent_at)
    return {"message_id": message.message_id, "client_id": message.message_id}


def _with_upload(message: InboundMessage, session: dict, file_id: str) -> InboundMessage:
    """The message with the file the widget uploaded for it, once its bytes prove it a picture or a
    PDF (refdesk.attachments); staff see "[sent 1 picture]" with the text, then the file itself."""
    from refdesk.channels.sms import media_note

    conversation_id = session["conversation_id"]
    kind = attachments.take_upload(conversation_id, file_id, ended=bool(session.get("closed_at")))
    media = ((attachments.upload_ref(attachments.upload_key(conversation_id, file_id)), kind),)
    return dataclasses.replace(message, media=media,
                               text="\n".join(part for part in (message.text, media_note(media, 1)) if part))


def request_upload(session_id: str, token: str, body: Any, source_ip: str) -> dict:
    """A presigned POST for one picture or PDF the patron is about to send (refdesk.attachments):
    its type and size checked first, and the chat still open."""
    kind = attachments.declared(body)
    check_session_id(session_id)
    _limit("uploads-session", identity.token_hash(token), UPLOADS_PER_SESSION)
    _limit("uploads-ip", _address_key(source_ip), UPLOADS_PER_ADDRESS)
    session = store.sessions.get(session_id, identity.token_hash(token))
    if session.get("closed_at"):
        raise chat_ended()
    file_id = identity.new_id("f")
    return {"file_id": file_id, "upload": attachments.upload_form(session["conversation_id"], file_id, kind),
            "max_bytes": attachments.MAX_BYTES}


def _sent_at(age_ms: Any) -> str:
    """When the patron pressed Send: now less the message's age by the page's own clock (so the
    device's clock skew does not matter), taken as 0 to MAX_SEND_AGE_MS; none or a malformed one is 0."""
    age = min(max(age_ms, 0), MAX_SEND_AGE_MS) if conforms(age_ms, float) else 0
    return wake_ups.iso(datetime.now(timezone.utc) - timedelta(milliseconds=age))


def list_messages(session_id: str, token: str, after: str, api_base: str = "") -> dict:
    check_session_id(session_id)
    session = store.sessions.get(session_id, identity.token_hash(token))
    cursor = _decode_cursor(after)
    # The widget's usual poll finds nothing after its cursor: refused while the session is at its
    # limit, it is not counted (the counter's write costs ten reads that check it). A read from
    # the start is counted before it is made, one that finds messages once it has.
    _limit("polls-session", session_id, POLLS_PER_SESSION, counted=not cursor)
    messages = store.messages.list_after(session["conversation_id"], after=cursor, visibility=Visibility.PATRON)
    if cursor and messages:
        _limit("polls-session", session_id, POLLS_PER_SESSION)
    return {
        "messages": [message_view(session["conversation_id"], message, api_base) for message in messages],
        "cursor": _encode_cursor(messages[-1].sort_key) if messages else after,
        "status": "closed" if session.get("closed_at") else "open",
        # The waiting queue, from the session item just read: {"state": "waiting", "position": n}
        # (one COUNT on the queue index) or {"state": "claimed", "by": "Amanda"} (no read), or null.
        "queue": store.queue.session_status(session),
    }


def delete_session(session_id: str, token: str) -> dict:
    """The widget's "Delete this conversation": the token checked (one read), the erasure queued
    (refdesk.erasure). The answer is the patron's confirmation."""
    check_session_id(session_id)
    session = store.sessions.get(session_id, identity.token_hash(token))
    erasure.request_for_session(CHANNEL.name, session_id,
                                session.get("patron_id") or identity.patron_id(CHANNEL.name, session_id))
    return {"status": "deleting", "message": erasure.CONFIRMATION}


def email_transcript(session_id: str, token: str, body: Any, source_ip: str) -> dict:
    """"E-mail me this conversation" after the chat ended: the address checked, parked and the
    send queued (refdesk.transcript_mail). The answer means queued, not yet sent."""
    address = transcript_mail.address_of(body)
    check_session_id(session_id)
    _limit("transcripts-ip", _address_key(source_ip), TRANSCRIPTS_PER_ADDRESS)
    transcript_mail.request(session_id, identity.token_hash(token), address)
    return {"status": "queued"}


def _encode_cursor(sort_key: str) -> str:
    return base64.urlsafe_b64encode(sort_key.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    if not cursor:
        return ""
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError as exc:
        raise BadRequest("bad cursor") from exc
