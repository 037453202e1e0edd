"""The web chat API behind the widget: sessions with a bearer token (only its hash is
stored), idempotent sends, cheap polling, rate limits."""
from __future__ import annotations

import base64
import secrets
import time

from refdesk import conversations, identity, store
from refdesk.errors import BadRequest, NotFound, PayloadTooLarge

MAX_TEXT = 2000
MAX_FIELD = 200
SESSION_LIFETIME = 24 * 3600
# (requests, per seconds). A library computer lab shares one address, so the per-address
# limits leave room for many patrons; a single session is held tighter.
SESSIONS_PER_ADDRESS = (30, 3600)
SENDS_PER_SESSION = (12, 60)
SENDS_PER_ADDRESS = (120, 60)
POLLS_PER_SESSION = (60, 60)


def _limit(scope: str, key: str, rule: tuple[int, int]) -> None:
    limit, window = rule
    store.count_hit(scope, key, window_seconds=window, limit=limit)


def _address_key(source_ip: str) -> str:
    # Counted by keyed hash: the table never holds a patron's IP address.
    return identity.keyed_hash("ip", source_ip)


def create_session(source_ip: str) -> dict:
    _limit("sessions-ip", _address_key(source_ip), SESSIONS_PER_ADDRESS)
    session_id, token = identity.new_id("s"), secrets.token_urlsafe(32)
    store.create_session(session_id, identity.token_hash(token), identity.new_id("c"),
                         identity.patron_id("web", session_id), int(time.time()) + SESSION_LIFETIME)
    return {"session_id": session_id, "token": token}


def _text_field(body: dict, name: str, limit: int, required: bool = False) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string")
    value = value.strip()
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: half an emoji
        raise BadRequest(f"{name} is not valid Unicode") from exc
    if required and not value:
        raise BadRequest(f"{name} is empty")
    if len(value) > limit:
        raise PayloadTooLarge(f"{name} is over {limit} characters")
    return value


def post_message(session_id: str, token: str, body: dict, source_ip: str) -> dict:
    text = _text_field(body, "text", MAX_TEXT, required=True)
    client_id = _text_field(body, "client_id", 100, required=True)
    contact = _text_field(body, "contact", MAX_FIELD)
    name = _text_field(body, "name", MAX_FIELD)
    _check_id(session_id)
    # Counted per token hash: requests with a wrong token cannot use up the patron's allowance.
    _limit("sends-session", identity.token_hash(token), SENDS_PER_SESSION)
    _limit("sends-ip", _address_key(source_ip), SENDS_PER_ADDRESS)
    message = conversations.PatronMessage(
        channel="web", message_id=client_id, patron_id=identity.patron_id("web", session_id),
        label=f"Web ···{session_id[-4:]}", text=text, reply_address=contact, follow_up=bool(contact),
        patron_name=name)
    conversations.accept_web(session_id, identity.token_hash(token), message)
    return {"message_id": client_id, "client_id": client_id}


def list_messages(session_id: str, token: str, after: str) -> dict:
    _check_id(session_id)
    session = store.get_session(session_id, identity.token_hash(token))
    _limit("polls-session", session_id, POLLS_PER_SESSION)
    cursor = _decode_cursor(after)
    items = store.list_messages(session["conversation_id"], after=cursor, visibility="patron")
    return {
        "messages": [{"id": item["message_id"], "from": item["author"], "name": item.get("author_name"),
                      "text": item["text"], "client_id": item.get("client_id"), "at": item["at"]}
                     for item in items],
        "cursor": _encode_cursor(items[-1]["sk"]) if items else after,
        "status": "closed" if session.get("closed_at") else "open",
    }


def _check_id(session_id: str) -> None:
    if not (session_id.startswith("s") and session_id[1:].isalnum() and len(session_id) < 64):
        raise NotFound("no such chat session")


def _encode_cursor(sort_key: str) -> str:
    return base64.urlsafe_b64encode(sort_key.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    if not cursor:
        return ""
    try:
        sort_key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError as exc:
        raise BadRequest("bad cursor") from exc
    if not sort_key.startswith("MSG#"):
        raise BadRequest("bad cursor")
    return sort_key
