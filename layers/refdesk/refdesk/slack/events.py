"""Events API listeners: which of what Slack sends becomes a job.

A message from a member of another organisation in a Slack Connect channel (not the staff
channel) is a patron's: it goes through `conversations.accept`, as an SMS or a web chat message
does (one conditional write and one SendMessage), and the listener returns no job of its own.
Everything else is staff-side: a staff-thread message carries its author's team as verified here
(refdesk.staff); one without it never reaches a patron (refdesk.relay). Each listener declares
the shape of its event (refdesk.slack.payloads), checked by the router before it runs."""
from __future__ import annotations

from refdesk import conversations, erasure, staff
from refdesk.channels import slack_connect as partner
from refdesk.errors import BadRequest
from refdesk.models import HomeOpenedJob, PatronEditJob, StaffEditJob, StaffReplyJob
from refdesk.observability import count
from refdesk.slack import payloads
from refdesk.slack.router import router

MAX_FILES = 10  # a reply's files copied for the patron: as many as Slack's message composer shares at once


def _in_a_thread(message: dict) -> bool:
    return bool(message.get("thread_ts")) and message.get("thread_ts") != message.get("ts")


@router.event("message", shape=payloads.MessageEvent)
@router.event("message", subtype="thread_broadcast", shape=payloads.MessageEvent)
def thread_reply(event: dict, envelope: dict) -> StaffReplyJob | None:
    """A person's reply in a thread (top-level messages are not conversations). A reply also
    sent to the channel ("Also send to #channel") arrives once, as `thread_broadcast`, and is
    relayed like any reply: the relay stores each Slack message once, by its ts. A Slack
    Connect partner's message (top-level or in a thread) is a patron's."""
    if partner.from_partner(event, envelope):
        return _accept_partner_message(event)
    if not _in_a_thread(event):
        return None
    if not event.get("user") or not event.get("ts") or "text" not in event:
        raise BadRequest("message event missing user, text or ts")
    return StaffReplyJob(event_id=envelope["event_id"], channel=event["channel"], user=event["user"],
                         text=event["text"], ts=event["ts"], thread_ts=event["thread_ts"],
                         actor_team=staff.of_message(event, envelope))


@router.event("message", subtype="file_share", shape=payloads.MessageEvent)
def reply_with_files(event: dict, envelope: dict) -> StaffReplyJob | None:
    """A reply with files attached: the job carries the files' ids, and the dispatcher copies them
    for the patron (refdesk.attachments: they are private to the workspace). A Slack Connect
    partner's message with files is a patron's (the files are mentioned to staff)."""
    if partner.from_partner(event, envelope):
        return _accept_partner_message(event)
    if not _in_a_thread(event):
        return None
    if not event.get("user") or not event.get("ts") or "files" not in event:
        raise BadRequest("file_share event missing user, ts or files")
    file_ids = [str(shared.get("id") or "") for shared in event["files"]]
    return StaffReplyJob(event_id=envelope["event_id"], channel=event["channel"], user=event["user"],
                         text=event.get("text") or "", ts=event["ts"], thread_ts=event["thread_ts"],
                         file_ids=tuple(file_id for file_id in file_ids if file_id.isalnum())[:MAX_FILES],
                         actor_team=staff.of_message(event, envelope))


def _accept_partner_message(event: dict) -> None:
    """A Slack Connect patron's message, claimed and queued by `conversations.accept` (which
    enqueues the job itself: nothing is returned for the webhook to queue)."""
    message = partner.CHANNEL.parse(event)
    if message is None:
        return None
    if erasure.is_request(message):  # "delete": the dispatcher erases the partner's conversations
        erasure.request(message)
        return None
    conversations.accept(message, sent_at=partner.sent_at(event))  # timed from the partner's own send
    count("PatronMessageAccepted", channel=partner.NAME)
    return None


@router.event("message", subtype="message_changed", shape=payloads.MessageChanged)
def edited(event: dict, envelope: dict) -> StaffEditJob | PatronEditJob | None:
    current = event.get("message")
    if not current or not current.get("edited"):
        return None  # link previews and other Slack-made changes, not a librarian's edit
    if partner.from_partner(event, envelope, current):
        return _partner_edit_job("message_changed", event, current, envelope)
    return _edit_job("message_changed", event, current, envelope)


@router.event("message", subtype="message_deleted", shape=payloads.MessageChanged)
def deleted(event: dict, envelope: dict) -> StaffEditJob | PatronEditJob | None:
    previous = event.get("previous_message") or {}
    if partner.from_partner(event, envelope, previous):
        return _partner_edit_job("message_deleted", event, previous, envelope)
    return _edit_job("message_deleted", event, previous, envelope)


def _partner_edit_job(subtype: str, event: dict, message: dict, envelope: dict) -> PatronEditJob:
    """A Slack Connect patron edited or deleted a message: staff are told in the conversation's
    thread (the dispatcher finds it from the session the message was claimed in)."""
    channel, ts = event["channel"], message.get("ts")
    root = message.get("thread_ts") or ts
    if not ts:
        raise BadRequest(f"{subtype} event without the message's ts")
    return PatronEditJob(event_id=envelope["event_id"], channel=partner.NAME,
                         session_id=partner.session_of(channel, root), message_id=partner.message_id_of(channel, ts),
                         subtype=subtype, source_channel=channel, source_ts=ts)


def _edit_job(subtype: str, event: dict, message: dict, envelope: dict) -> StaffEditJob | None:
    if message.get("bot_id") or not _in_a_thread(message):
        return None
    return StaffEditJob(event_id=envelope["event_id"], subtype=subtype, channel=event["channel"],
                        user=message.get("user", ""), thread_ts=message["thread_ts"])


@router.event("app_home_opened", shape=payloads.AppHomeOpened)
def home_opened(event: dict, envelope: dict) -> HomeOpenedJob | None:
    """A librarian opened the app's Home tab (refdesk.slack.home): published by the dispatcher.
    The Messages tab sends the same event with tab "messages": nothing to do."""
    if event.get("tab", "home") != "home":
        return None
    return HomeOpenedJob(event_id=envelope["event_id"], user=event["user"])
