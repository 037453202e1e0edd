"""Button listeners: which presses become jobs."""
from __future__ import annotations

import json

from refdesk.errors import BadRequest
from refdesk.models import CloseJob
from refdesk.slack.router import router

CLOSE_ACTION = "close_conversation"


@router.action(CLOSE_ACTION)
def close(action: dict, payload: dict) -> CloseJob | None:
    if not action.get("value"):
        return None
    user, channel, container, message = (_object(payload, name) for name in ("user", "channel", "container",
                                                                              "message"))
    return CloseJob(conversation_id=str(action["value"]), user=str(user.get("id", "")),
                    channel=str(channel.get("id") or container.get("channel_id", "")),
                    root_ts=str(container.get("message_ts") or message.get("ts", "")),
                    action_ts=str(action.get("action_ts", "")))


def _object(payload: dict, name: str) -> dict:
    value = payload.get(name)
    return value if isinstance(value, dict) else {}


def parse_payload(form: dict[str, str]) -> dict:
    """Interactivity posts one form field, `payload`, holding JSON."""
    try:
        payload = json.loads(form.get("payload") or "")
    except (ValueError, RecursionError) as exc:
        raise BadRequest("payload field missing or not JSON") from exc
    if not isinstance(payload, dict):
        raise BadRequest("payload is not an object")
    return payload
