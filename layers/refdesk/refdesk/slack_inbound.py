"""What arrives from Slack (events, button presses) and which of it becomes a job."""
from __future__ import annotations

import json

from refdesk import jobs, staff
from refdesk.errors import BadRequest

EDIT_SUBTYPES = {"message_changed", "message_deleted"}


def parse_interaction(form: dict[str, str]) -> dict:
    """Interactivity posts one form field, `payload`, holding JSON."""
    try:
        payload = json.loads(form.get("payload") or "")
    except (ValueError, RecursionError) as exc:
        raise BadRequest("payload field missing or not JSON") from exc
    if not isinstance(payload, dict):
        raise BadRequest("payload is not an object")
    return payload


def thread_group(channel: str, thread_ts: str) -> str:
    """The FIFO group of everything that happens in one staff thread."""
    return f"thread:{channel}:{thread_ts}"


def job_for_event(payload: dict) -> tuple[str, dict, str] | None:
    """(kind, job, FIFO group) for an event_callback worth acting on, else None.
    Bots (including RefDesk itself) and other subtypes are ignored here, before any work."""
    event = payload.get("event")
    if not isinstance(event, dict) or not payload.get("event_id"):
        raise BadRequest("event_callback without event or event_id")
    if event.get("type") != "message" or event.get("bot_id"):
        return None
    subtype = event.get("subtype")
    channel = event.get("channel", "")
    if subtype in EDIT_SUBTYPES:
        current = event.get("message") or event.get("previous_message") or {}
        if subtype == "message_changed" and not current.get("edited"):
            return None  # link previews and other Slack-made changes, not a librarian's edit
        if not current.get("thread_ts") or current.get("bot_id") or current.get("thread_ts") == current.get("ts"):
            return None
        return jobs.STAFF_EDIT, {"subtype": subtype, "channel": channel, "user": current.get("user", ""),
                                 "thread_ts": current["thread_ts"]}, thread_group(channel, current["thread_ts"])
    if subtype or not event.get("thread_ts") or event.get("thread_ts") == event.get("ts"):
        return None
    if not all(isinstance(event.get(field), str) for field in ("user", "text", "ts")):
        raise BadRequest("message event missing user, text or ts")
    job = {"channel": channel, "user": event["user"], "text": event["text"], "ts": event["ts"],
           "thread_ts": event["thread_ts"]}
    return jobs.STAFF_REPLY, job, thread_group(channel, event["thread_ts"])


def job_for_interaction(payload: dict) -> tuple[str, dict, str, str] | None:
    """(kind, job, group, idempotency key) for a Close button press, else None."""
    if payload.get("type") != "block_actions":
        return None
    for action in payload.get("actions") or []:
        if action.get("action_id") == staff.CLOSE_ACTION and action.get("value"):
            user = (payload.get("user") or {}).get("id", "")
            channel = (payload.get("channel") or {}).get("id") or (payload.get("container") or {}).get("channel_id", "")
            job = {"conversation_id": action["value"], "user": user, "channel": channel}
            # Same FIFO group as the thread's replies: a reply sent just before Close reaches
            # the patron before the closing line.
            root_ts = (payload.get("container") or {}).get("message_ts") or (payload.get("message") or {}).get("ts", "")
            group = thread_group(channel, root_ts) if root_ts else action["value"]
            return jobs.CLOSE, job, group, f"{action['value']}:{action.get('action_ts', '')}"
    return None
