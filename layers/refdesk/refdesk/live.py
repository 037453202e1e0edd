"""The web chat's live connection: the API Gateway WebSocket API's events (functions/live) and the
dispatcher's pushes. The contract the widget relies on is in refdesk.channels.web.

* $connect checks the session's bearer token (only its hash is stored), that the session is
  neither expired nor ended, and takes one of its MAX_CONNECTIONS slots (store.connections). A
  refusal is a 401 or 403 answer, which API Gateway turns into a refused handshake.
* A client's frame is at most MAX_FRAME_BYTES of JSON: a ping is answered with a pong, anything
  else with an error frame, never with a 5xx.
* The dispatcher pushes every message the patron sees, as it is stored (delivery.send_to_patron),
  and the chat's changes of status (assignment), to the session's open connections, and a new
  place in line to every web chat the line moved for (`push_places_in_line`). A connection
  API Gateway no longer has (410 Gone) is removed; any other failure is logged by its type and
  the delivery goes on: the message is stored, and the widget reads it when it reconnects."""
from __future__ import annotations

import json
import time

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from refdesk import clients, identity, store
from refdesk.channels import web
from refdesk.errors import Forbidden, NotFound
from refdesk.models import Conversation, Message

logger = Logger(child=True)

# A tab, and a reload or a reconnect made before API Gateway noticed the old connection was gone.
MAX_CONNECTIONS = 3
CONNECTION_LIFETIME = 2 * 3600  # API Gateway closes every connection after 2 hours
MAX_FRAME_BYTES = 1024
# A push made after $connect answered but before API Gateway finished the handshake gets 410
# too: a connection this young is kept.
HANDSHAKE_SECONDS = 5
# Places further back are not pushed (the widget reads its place whenever a connection opens);
# no desk's line is this long.
LINE_LIMIT = 100


def connect(session_id: str, token: str, connection_id: str) -> dict:
    """$connect: 200 takes a slot for the connection; 401/403 refuse the handshake."""
    if not (session_id and token and connection_id):
        return _refused(401, "unauthorized", "live_url carries the session and its token")
    try:
        web.check_session_id(session_id)
        session = store.sessions.get(session_id, identity.token_hash(token))
    except (NotFound, Forbidden):
        return _refused(403, "forbidden", "no such chat session, or not its token")
    if session.get("closed_at"):
        return _refused(403, "closed", "this chat has ended")
    if not store.connections.open_slot(session_id, connection_id, limit=MAX_CONNECTIONS,
                                       lifetime=CONNECTION_LIFETIME):
        return _refused(403, "too_many_connections", f"at most {MAX_CONNECTIONS} connections per chat")
    logger.info("live connection opened")
    return {"statusCode": 200}


def disconnect(connection_id: str) -> dict:
    """$disconnect: the connection's slot is free again."""
    if connection_id:
        store.connections.close(connection_id)
    return {"statusCode": 200}


def answer(body) -> dict:
    """A client's frame (the ping and $default routes answer it): the frame sent back."""
    return {"statusCode": 200, "body": _frame(_answer_frame(body))}


def _answer_frame(body) -> dict:
    if isinstance(body, str) and len(body.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES:
        return _error("too_large", f"a frame is at most {MAX_FRAME_BYTES} bytes")
    try:
        frame = json.loads(body) if isinstance(body, str) else None
    except (ValueError, RecursionError):
        frame = None
    if not isinstance(frame, dict):
        return _error("not_json", "a frame is a JSON object")
    if frame.get("type") == "ping":
        return {"type": "pong"}
    return _error("unknown_type", 'the only frame a client sends is {"type": "ping"}')


def push_message(conversation: Conversation, message: Message) -> None:
    """A message the patron sees, just stored, to a web chat's open connections (other channels
    have none). The closing line is the last message of a chat: the closed status follows it."""
    if conversation.channel != web.CHANNEL.name:
        return
    frames = [{"type": "message", "message": web.message_view(conversation.conversation_id, message)}]
    if not conversation.is_open:
        frames.append(_status(conversation, None))
    _push(conversation, frames)


def push_status(conversation: Conversation, queue: dict | None) -> None:
    """A web chat's new place in line, or who took it: GET …/messages's `status` and `queue`."""
    if conversation.channel == web.CHANNEL.name:
        _push(conversation, [_status(conversation, queue)])


def push_places_in_line(left: Conversation) -> None:
    """`left` has just left the waiting line (claimed, answered, transferred or closed): each web
    chat still waiting behind it has moved up one, and its open connections get the new place.
    One Query of the line, then one of the connections of each web chat behind (push_status);
    SMS and Slack Connect patrons were told their place once, by text, and hear nothing more.
    Nothing at all when `left` never waited."""
    if not left.waiting_since:
        return
    arrived = (left.waiting_since, left.conversation_id)  # the line's order (store.queue)
    # The index may still list `left` for a moment (GSI reads are eventually consistent).
    line = [waiting for waiting in store.queue.waiting(LINE_LIMIT) if waiting.conversation_id != left.conversation_id]
    for place, waiting in enumerate(line, start=1):
        if (waiting.waiting_since, waiting.conversation_id) > arrived:
            push_status(waiting, {"state": "waiting", "position": place})


def _status(conversation: Conversation, queue: dict | None) -> dict:
    return {"type": "status", "status": "open" if conversation.is_open else "closed", "queue": queue}


def _push(conversation: Conversation, frames: list[dict]) -> None:
    connections = store.connections.of_session(conversation.anchor)
    data = [_frame(frame).encode() for frame in frames]
    for connection in connections:
        try:
            for frame in data:
                clients.get("live").post_to_connection(ConnectionId=connection.connection_id, Data=frame)
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code != "GoneException":
                logger.warning("live push failed", extra={"conversation_id": conversation.conversation_id,
                                                          "error": code})
            elif connection.connected_at <= time.time() - HANDSHAKE_SECONDS:
                store.connections.remove(conversation.anchor, connection)
        except BotoCoreError as error:  # the endpoint unreachable or slow
            logger.warning("live push failed", extra={"conversation_id": conversation.conversation_id,
                                                      "error": type(error).__name__})


def _frame(frame: dict) -> str:
    return json.dumps(frame, separators=(",", ":"))


def _error(code: str, message: str) -> dict:
    return {"type": "error", "code": code, "message": message}


def _refused(status: int, code: str, message: str) -> dict:
    logger.info("live connection refused", extra={"code": code})
    return {"statusCode": status, "body": json.dumps({"error": {"code": code, "message": message}})}
