"""Events API listeners: which of what Slack sends becomes a job."""
from __future__ import annotations

from refdesk.errors import BadRequest
from refdesk.models import StaffEditJob, StaffReplyJob
from refdesk.slack.router import router


def _in_a_thread(message: dict) -> bool:
    return bool(message.get("thread_ts")) and message.get("thread_ts") != message.get("ts")


@router.event("message")
@router.event("message", subtype="thread_broadcast")
def thread_reply(event: dict, envelope: dict) -> StaffReplyJob | None:
    """A person's reply in a thread (top-level messages are not conversations). A reply also
    sent to the channel ("Also send to #channel") arrives once, as `thread_broadcast`, and is
    relayed like any reply: the relay stores each Slack message once, by its ts."""
    if not _in_a_thread(event):
        return None
    if not all(isinstance(event.get(name), str) for name in ("user", "text", "ts", "channel")):
        raise BadRequest("message event missing user, text, ts or channel")
    return StaffReplyJob(event_id=envelope["event_id"], channel=event["channel"], user=event["user"],
                         text=event["text"], ts=event["ts"], thread_ts=event["thread_ts"])


@router.event("message", subtype="file_share")
def reply_with_files(event: dict, envelope: dict) -> StaffReplyJob | None:
    """A reply with files attached: its text is relayed, the files are not (they are private to
    the workspace); the job carries how many there were so the librarian can be told."""
    if not _in_a_thread(event):
        return None
    files = event.get("files")
    if not all(isinstance(event.get(name), str) for name in ("user", "ts", "channel")) or not isinstance(files, list):
        raise BadRequest("file_share event missing user, ts, channel or files")
    text = event.get("text") or ""
    if not isinstance(text, str):
        raise BadRequest("file_share event text is not a string")
    return StaffReplyJob(event_id=envelope["event_id"], channel=event["channel"], user=event["user"],
                         text=text, ts=event["ts"], thread_ts=event["thread_ts"], files=len(files))


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
