"""The typed contracts that cross module and queue boundaries: conversations, messages, the
inbound message every channel produces, and one job type per kind of work for the dispatcher."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar


class Status(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Author(StrEnum):
    PATRON = "patron"
    LIBRARIAN = "librarian"
    SYSTEM = "system"


class Visibility(StrEnum):
    PATRON = "patron"  # the patron sees it (and the widget lists it)
    INTERNAL = "internal"  # staff only: a note


class Delivery(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    INTERNAL = "internal"


def _from_item(cls, item: dict):
    """A dataclass from a table item: unknown attributes ignored, missing ones defaulted."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{name: value for name, value in item.items() if name in names})


@dataclass(frozen=True)
class Conversation:
    conversation_id: str
    patron_id: str
    channel: str
    anchor: str  # the session whose item points at this conversation while it is open
    label: str  # how staff see the patron: "SMS ···4321"
    status: Status = Status.OPEN
    follow_up: bool = False
    created_at: str = ""
    slack_channel: str = ""
    slack_ts: str = ""  # the root card: the staff thread
    claimed_by: str = ""
    first_reply_at: str = ""
    closed_at: str = ""
    closed_by: str = ""

    @classmethod
    def from_item(cls, item: dict) -> "Conversation":
        conversation = _from_item(cls, item)
        return dataclasses.replace(conversation, status=Status(conversation.status))

    @property
    def is_open(self) -> bool:
        return self.status is Status.OPEN


@dataclass(frozen=True)
class ReplyTo:
    """Where replies go. Kept apart from the conversation, which only knows the patron's hash."""

    address: str = ""
    name: str = ""


@dataclass(frozen=True)
class Message:
    message_id: str  # the idempotency key: MessageSid, client_id, slack-{ts}, close-{conversation}
    at: str
    author: Author
    text: str
    visibility: Visibility = Visibility.PATRON
    author_name: str = ""
    author_user: str = ""
    client_id: str = ""
    slack_ts: str = ""
    delivery: Delivery | None = None
    parts_sent: int = 0
    media_shown: int = 0  # a patron's pictures (MMS) shown in the thread or explained, in order
    sort_key: str = ""  # set once stored: the message's place in its conversation

    @classmethod
    def from_item(cls, item: dict) -> "Message":
        message = _from_item(cls, {**item, "sort_key": item.get("sk", "")})
        return dataclasses.replace(
            message, author=Author(message.author), visibility=Visibility(message.visibility),
            delivery=Delivery(message.delivery) if message.delivery else None, parts_sent=int(message.parts_sent),
            media_shown=int(message.media_shown))

    def to_item(self) -> dict:
        item = {name: value for name, value in dataclasses.asdict(self).items()
                if value not in ("", None) and name != "sort_key"}
        item["parts_sent"] = self.parts_sent
        return item


@dataclass(frozen=True)
class InboundMessage:
    """A patron's message as its channel parsed it; the same shape for every channel."""

    channel: str
    message_id: str  # the channel's idempotency key: Twilio MessageSid, the widget's client_id
    session_id: str  # the anchor: the session whose open conversation the message joins
    patron_id: str  # keyed hash of channel and address: counts patrons, identifies no one
    label: str  # how staff see the patron
    text: str
    reply_address: str = ""  # phone number, or the contact left in the offline form
    follow_up: bool = False
    patron_name: str = ""  # only when the patron gives one (offline form)
    # Pictures and files the patron sent (MMS): (URL, content type) pairs. The dispatcher
    # fetches and shows them in the thread; they are never stored. Jobs queued before this
    # field existed load with none.
    media: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        # A job body holds JSON lists: back to tuples, so the message stays hashable.
        object.__setattr__(self, "media", tuple((str(url), str(kind)) for url, kind in self.media))


# --- jobs: the only things that cross the queue ------------------------------------------

def thread_group(channel: str, thread_ts: str) -> str:
    """The FIFO group of everything that happens in one staff thread."""
    return f"thread:{channel}:{thread_ts}"


@dataclass(frozen=True)
class Job:
    kind: ClassVar[str]

    @property
    def group(self) -> str:
        """The FIFO group: jobs in one group run in order."""
        raise NotImplementedError

    @property
    def idempotency_key(self) -> str:
        """Two deliveries with the same key are one job (the queue drops the second)."""
        raise NotImplementedError

    def to_body(self) -> str:
        return json.dumps({"kind": self.kind, **dataclasses.asdict(self)})


@dataclass(frozen=True)
class PatronMessageJob(Job):
    kind: ClassVar[str] = "patron_message"
    message: InboundMessage
    conversation_id: str
    at: str  # when the webhook accepted it

    @property
    def group(self) -> str:
        return self.conversation_id

    @property
    def idempotency_key(self) -> str:
        return f"{self.message.channel}:{self.message.message_id}"


@dataclass(frozen=True)
class ThreadEventJob(Job):
    """Something a person did in a staff thread, from a Slack event."""

    event_id: str
    channel: str
    thread_ts: str

    @property
    def group(self) -> str:
        return thread_group(self.channel, self.thread_ts)

    @property
    def idempotency_key(self) -> str:
        return self.event_id


@dataclass(frozen=True)
class StaffReplyJob(ThreadEventJob):
    kind: ClassVar[str] = "staff_reply"
    user: str
    text: str
    ts: str
    files: int = 0  # files attached in Slack (file_share): never sent to the patron; the librarian is told
    outsider: bool = False  # the event shows the author is not of the library's Slack team: never relayed


@dataclass(frozen=True)
class StaffEditJob(ThreadEventJob):
    kind: ClassVar[str] = "staff_edit"
    subtype: str  # message_changed or message_deleted
    user: str


@dataclass(frozen=True)
class PatronEditJob(Job):
    """A patron edited or deleted a message they sent (Slack Connect): staff are told in the thread."""

    kind: ClassVar[str] = "patron_edit"
    event_id: str
    channel: str  # the patron channel (refdesk.channels), e.g. slack_connect
    session_id: str  # the session the message was claimed in
    message_id: str  # the patron's message, as it was claimed
    subtype: str  # message_changed or message_deleted
    text: str = ""  # the message as it reads now (edits)

    @property
    def group(self) -> str:
        return f"session:{self.session_id}"

    @property
    def idempotency_key(self) -> str:
        return self.event_id


@dataclass(frozen=True)
class CloseJob(Job):
    kind: ClassVar[str] = "close"
    conversation_id: str
    user: str
    channel: str
    root_ts: str = ""  # the card's ts: same FIFO group as the thread's replies
    action_ts: str = ""

    @property
    def group(self) -> str:
        # A reply sent just before Close reaches the patron before the closing line.
        return thread_group(self.channel, self.root_ts) if self.root_ts else self.conversation_id

    @property
    def idempotency_key(self) -> str:
        return f"{self.conversation_id}:{self.action_ts}"


JOB_TYPES: dict[str, type[Job]] = {job.kind: job for job in (PatronMessageJob, StaffReplyJob, StaffEditJob, CloseJob,
                                                              PatronEditJob)}


def job_from_body(body: str) -> Job:
    """The job a queue message carries. Raises ValueError for anything else."""
    data = json.loads(body)
    job_type = JOB_TYPES.get(data.pop("kind", None)) if isinstance(data, dict) else None
    if job_type is None:
        raise ValueError("not a RefDesk job")
    if job_type is PatronMessageJob:
        data["message"] = InboundMessage(**data["message"])
    return job_type(**data)

