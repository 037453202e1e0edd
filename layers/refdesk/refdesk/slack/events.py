"""Events API listeners: which of what Slack sends becomes a job."""
from __future__ import annotations

from refdesk.errors import BadRequest
from refdesk.models import StaffEditJob, StaffReplyJob
from refdesk.slack.router import router


def _in_a_thread(message: dict) -> bool:
    return bool(message.get("thread_ts")) and message.get("thread_ts") != message.get("ts")


@router.event("message")
def thread_reply(event: dict, envelope: dict) -> StaffReplyJob | None:
    """A person's reply in a thread (top-level messages are not conversations)."""
    if not _in_a_thread(event):
        return None
    if not all(isinstance(event.get(name), str) for name in ("user", "text", "ts", "channel")):
        raise BadRequest("message event missing user, text, ts or channel")
    return StaffReplyJob(event_id=envelope["event_id"], channel=event["channel"], user=event["user"],
                         text=event["text"], ts=event["ts"], thread_ts=event["thread_ts"])


@router.event("message", subtype="message_changed")
def edited(event: dict, envelope: dict) -> StaffEditJob | None:
    current = event.get("message")
    if not isinstance(current, dict) or not current.get("edited"):
        return None  # link previews and other Slack-made changes, not a librarian's edit
    return _edit_job("message_changed", event, current, envelope)


@router.event("message", subtype="message_deleted")
def deleted(event: dict, envelope: dict) -> StaffEditJob | None:
    return _edit_job("message_deleted", event, event.get("previous_message") or {}, envelope)


def _edit_job(subtype: str, event: dict, message: dict, envelope: dict) -> StaffEditJob | None:
    if not isinstance(message, dict) or message.get("bot_id") or not _in_a_thread(message):
        return None
    return StaffEditJob(event_id=envelope["event_id"], subtype=subtype, channel=str(event.get("channel", "")),
                        user=str(message.get("user", "")), thread_ts=str(message["thread_ts"]))
