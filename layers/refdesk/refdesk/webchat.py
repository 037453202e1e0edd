"""The web chat widget's API (functions/webchat): sessions, sending, reading by cursor, and
"Delete this conversation", with the rate limits that keep abuse cheap. The channel behind it,
and the contract the widget relies on (the live connection's frames), are in
refdesk.channels.web."""
from __future__ import annotations

import base64
import secrets
import time
from typing import Any, Mapping
from urllib.parse import urlencode

from refdesk import conversations, erasure, identity, store
from refdesk.channels.web import CHANNEL, check_session_id, message_view
from refdesk.errors import BadRequest
from refdesk.models import Visibility
from refdesk.settings import get_settings

SESSION_LIFETIME = 24 * 3600
# (requests, per seconds). A library computer lab shares one address, so the per-address
# limits leave room for many patrons; a single session is held tighter.
SESSIONS_PER_ADDRESS = (30, 3600)
SENDS_PER_SESSION = (12, 60)
SENDS_PER_ADDRESS = (120, 60)
# Polls that read something: from the start, or finding messages after their cursor (see
# list_messages).
POLLS_PER_SESSION = (60, 60)


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


def create_session(source_ip: str) -> dict:
    _limit("sessions-ip", _address_key(source_ip), SESSIONS_PER_ADDRESS)
    session_id, token = identity.new_id("s"), secrets.token_urlsafe(32)
    store.sessions.create(session_id, identity.token_hash(token), identity.new_id("c"),
                          identity.patron_id(CHANNEL.name, session_id), int(time.time()) + SESSION_LIFETIME)
    return {"session_id": session_id, "token": token, "live_url": _live_url(session_id, token)}


def _live_url(session_id: str, token: str) -> str | None:
    base = get_settings().live_url
    return f"{base}?{urlencode({'session': session_id, 'token': token})}" if base else None


def post_message(session_id: str, token: str, body: Mapping[str, Any], source_ip: str) -> dict:
    message = CHANNEL.parse(body, session_id)
    check_session_id(session_id)
    # Counted per token hash: requests with a wrong token cannot use up the patron's allowance.
    _limit("sends-session", identity.token_hash(token), SENDS_PER_SESSION)
    _limit("sends-ip", _address_key(source_ip), SENDS_PER_ADDRESS)
    conversations.accept(message, credential=identity.token_hash(token))
    return {"message_id": message.message_id, "client_id": message.message_id}


def list_messages(session_id: str, token: str, after: str) -> dict:
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
        "messages": [message_view(message) for message in messages],
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


def _encode_cursor(sort_key: str) -> str:
    return base64.urlsafe_b64encode(sort_key.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    if not cursor:
        return ""
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError as exc:
        raise BadRequest("bad cursor") from exc
