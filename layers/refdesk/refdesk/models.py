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
    ACCEPTED = "accepted"  # every part handed to a provider that reports delivery later (Twilio): 📤
    SENT = "sent"  # handed over, and nothing more will be known unless it bounces (SES, Slack, the widget): ✅
    DELIVERED = "delivered"  # the provider reported every part delivered: ✅
    FAILED = "failed"
    INTERNAL = "internal"


@dataclass(frozen=True)
class Receipt:
    """What a channel's send of one part answers: the provider's id for it (Twilio's MessageSid,
    SES's MessageId; "" when there is none), and whether the provider will report its delivery
    (refdesk.delivery_status)."""

    provider_id: str = ""
    reports_delivery: bool = False


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
    waiting_since: str = ""  # while waiting for a librarian (store.queue): the first unanswered message's time
    claimed_at: str = ""
    transferred_by: str = ""  # who handed it to claimed_by (a transfer), if anyone
    transferred_at: str = ""  # when; claimed_at too when the transfer took it from the waiting line
    closed_at: str = ""
    closed_by: str = ""  # who closed it; "" for the idle close (store.conversations.IDLE_CLOSER)
    active_at: str = ""  # its last message, to within an hour (store.conversations.record_activity; refdesk.idle)
    close_finished_at: str = ""  # every step of the close done (card, closing line, counts): refdesk.relay.close
    after_hours: str = ""  # opened while the desk was closed: when it next opens, as the patron was told
    read_level: int = 0  # the READ scale (1-6) staff recorded on the closed card (refdesk.assessment)
    topic: str = ""  # the topic tag staff recorded (a deskconfig topic id)
    rating: int = 0  # the patron's optional rating after close (1-5)
    reopen_ts: str = ""  # the librarian's reply (its Slack ts) that last reopened it (store.conversations.reopen)
    transfers: tuple[str, ...] = ()  # each transfer as "{from user}>{to user}", in order (the figures' transfers)
    context: tuple[str, ...] = ()  # the card's patron context lines, made once at its first post (refdesk.patron_context)

    @classmethod
    def from_item(cls, item: dict) -> "Conversation":
        conversation = _from_item(cls, item)
        return dataclasses.replace(conversation, status=Status(conversation.status),
                                   transfers=tuple(conversation.transfers), context=tuple(conversation.context))

    @property
    def is_open(self) -> bool:
        return self.status is Status.OPEN


@dataclass(frozen=True)
class ReplyTo:
    """Where replies go. Kept apart from the conversation, which only knows the patron's hash."""

    address: str = ""
    name: str = ""


# The transfer line's message id starts so (refdesk.lifecycle tells it): a response to the patron
# in the figures (refdesk.assessment), unlike the desk's other lines.
TRANSFER_LINE = "transfer-"


@dataclass(frozen=True)
class SharedFile:
    """A file a librarian shared in the thread, kept for the patron (refdesk.attachments)."""

    file_id: str  # Slack's: the copy's key
    name: str
    kind: str  # its media type, as Slack gave it
    size: int


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
    department: str = ""  # a reply by a member of an invited department: credited "Sam (IT)"
    failure: str = ""  # why delivery failed for good (DeliveryFailed), for the note in the thread
    outcome_shown: bool = False  # its reaction (✅, 📤, ❌ and the note, :lock:) is on its Slack message
    part_status: dict = dataclasses.field(default_factory=dict)  # part index -> the provider's last status
    files: tuple[SharedFile, ...] = ()  # a librarian's files, sent with the text (refdesk.attachments)
    sort_key: str = ""  # set once stored: the message's place in its conversation

    @classmethod
    def from_item(cls, item: dict) -> "Message":
        message = _from_item(cls, {**item, "sort_key": item.get("sk", "")})
        return dataclasses.replace(
            message, author=Author(message.author), visibility=Visibility(message.visibility),
            delivery=Delivery(message.delivery) if message.delivery else None, parts_sent=int(message.parts_sent),
            media_shown=int(message.media_shown),
            files=tuple(SharedFile(str(f["file_id"]), str(f["name"]), str(f["kind"]), int(f["size"]))
                        for f in message.files))

    def to_item(self) -> dict:
        item = {name: value for name, value in dataclasses.asdict(self).items()
                if value not in ("", None, ()) and name != "sort_key"}
        item.update(parts_sent=self.parts_sent, text=self.text)  # a reply of files alone has no text
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
    joins_only: bool = False  # shown only in an open conversation, never opens one (an SMS START or HELP)
    country: str = ""  # SMS: the number's country (Twilio's FromCountry, ISO 3166 alpha-2), for the card

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
    """A patron's message, by reference: the claim parked the message itself (text, reply
    address, name, pictures) on its session item (store.sessions), where the dispatcher reads
    it, so that no patron text or address waits on the queue or in the dead-letter queue."""

    kind: ClassVar[str] = "patron_message"
    conversation_id: str
    at: str  # when the webhook accepted it: its place in the waiting line
    channel: str = ""
    session_id: str = ""
    message_id: str = ""
    media: int = 0  # how many pictures or files it carries (their URLs are parked with it)
    sent_at: str = ""  # when the patron sent it, where the channel knows (Slack's ts, the widget's send): the wait's start
    # Only jobs queued before messages were parked (or built by hand) carry the message itself.
    message: InboundMessage | None = None

    def __post_init__(self):
        if self.message is not None:
            for name, value in (("channel", self.message.channel), ("session_id", self.message.session_id),
                                ("message_id", self.message.message_id), ("media", len(self.message.media))):
                object.__setattr__(self, name, getattr(self, name) or value)

    @property
    def group(self) -> str:
        return self.conversation_id

    @property
    def idempotency_key(self) -> str:
        return f"{self.channel}:{self.message_id}"

    def to_body(self) -> str:
        body = json.loads(super().to_body())
        if self.message is None:
            del body["message"]
        return json.dumps(body)


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
    file_ids: tuple[str, ...] = ()  # files attached in Slack (file_share): copied for the patron (refdesk.attachments)
    # The author's team as the edge verified it (refdesk.staff); "": not the library's, never relayed.
    actor_team: str = ""

    def __post_init__(self):
        object.__setattr__(self, "file_ids", tuple(self.file_ids))  # a job body holds a JSON list


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
    # Where the edited message is (a reference: its text stays in Slack, off the queue).
    source_channel: str = ""
    source_ts: str = ""

    @property
    def group(self) -> str:
        return f"session:{self.session_id}"

    @property
    def idempotency_key(self) -> str:
        return self.event_id


class ByStaff:
    """A staff action (a button, a menu, a modal): `actor_team` is the library team the edge
    verified its `user` belongs to (refdesk.staff); the dispatcher runs it only then."""

    user: str
    actor_team: str


class OnCard:
    """A job from a button or menu on a conversation's card: it runs in the card's thread group,
    so it comes after the replies sent before it (a reply sent just before Close reaches the
    patron before the closing line)."""

    channel: str
    root_ts: str

    @property
    def group(self) -> str:
        return thread_group(self.channel, self.root_ts) if self.root_ts else getattr(self, "conversation_id", "")


@dataclass(frozen=True)
class CloseJob(ByStaff, OnCard, Job):
    kind: ClassVar[str] = "close"
    conversation_id: str
    user: str
    channel: str
    root_ts: str = ""  # the card's ts: same FIFO group as the thread's replies
    action_ts: str = ""
    actor_team: str = ""

    @property
    def idempotency_key(self) -> str:
        return f"{self.conversation_id}:{self.action_ts}"


@dataclass(frozen=True)
class DigestJob(Job):
    """Show the desk's digest of who waits in the staff channel (refdesk.waiting): one job per
    sweep's turn (store.nudges.take_digest), never one per conversation."""

    kind: ClassVar[str] = "digest"
    swept_at: str  # the turn's conditional write: one job per turn

    @property
    def group(self) -> str:
        return "desk:digest"  # turns in order: each edits the one standing message

    @property
    def idempotency_key(self) -> str:
        return f"digest:{self.swept_at}"


@dataclass(frozen=True)
class BlockPatronJob(ByStaff, OnCard, Job):
    """The Block patron button (after its confirmation) on a conversation's card."""

    kind: ClassVar[str] = "block_patron"
    conversation_id: str
    user: str
    channel: str
    root_ts: str = ""
    action_ts: str = ""
    actor_team: str = ""

    @property
    def idempotency_key(self) -> str:
        return f"{self.conversation_id}:{self.action_ts}"


@dataclass(frozen=True)
class UnblockPatronJob(ByStaff, Job):
    """The Unblock button in the Home tab's "Blocked patrons" section."""

    kind: ClassVar[str] = "unblock_patron"
    patron_id: str
    user: str
    action_ts: str = ""
    actor_team: str = ""

    @property
    def group(self) -> str:
        return f"block:{self.patron_id}"

    @property
    def idempotency_key(self) -> str:
        return f"{self.patron_id}:{self.action_ts}"


@dataclass(frozen=True)
class ClaimJob(ByStaff, OnCard, Job):
    """A librarian pressed Claim (on the card or in the Home tab)."""

    kind: ClassVar[str] = "claim"
    conversation_id: str
    user: str
    channel: str = ""  # the card's channel and ts, when pressed on the card
    root_ts: str = ""
    action_ts: str = ""
    actor_team: str = ""

    @property
    def idempotency_key(self) -> str:
        return f"{self.conversation_id}:{self.user}:{self.action_ts}"


@dataclass(frozen=True)
class TransferJob(ByStaff, OnCard, Job):
    """A librarian picked a colleague in the card's "Transfer to…" menu."""

    kind: ClassVar[str] = "transfer"
    user: str
    to_user: str
    channel: str
    root_ts: str
    action_ts: str = ""
    actor_team: str = ""

    @property
    def idempotency_key(self) -> str:
        return f"{self.channel}:{self.root_ts}:{self.to_user}:{self.action_ts}"


@dataclass(frozen=True)
class HomeOpenedJob(Job):
    """A librarian opened the app's Home tab: publish it."""

    kind: ClassVar[str] = "home_opened"
    event_id: str
    user: str

    @property
    def group(self) -> str:
        return f"home:{self.user}"

    @property
    def idempotency_key(self) -> str:
        return self.event_id


@dataclass(frozen=True)
class InviteJob(ByStaff, OnCard, Job):
    """A librarian submitted the Invite modal: mention the department in the thread and point its
    channel at it (refdesk.departments)."""

    kind: ClassVar[str] = "invite_department"
    conversation_id: str
    department_id: str
    user: str
    submission: str  # the view's id: a retry of the same submission is the same job
    channel: str = ""  # the card's channel and ts (from the modal's private_metadata)
    root_ts: str = ""
    note: str = ""  # what the librarian asks of the department (staff only)
    actor_team: str = ""

    @property
    def idempotency_key(self) -> str:
        return f"{self.submission}:{self.department_id}"


@dataclass(frozen=True)
class QuickReplyJob(ByStaff, OnCard, Job):
    """A librarian chose a quick reply from the card's menu: sent like their own reply."""

    kind: ClassVar[str] = "quick_reply"
    reply_id: str
    user: str
    channel: str
    root_ts: str
    action_ts: str
    actor_team: str = ""

    @property
    def idempotency_key(self) -> str:
        return f"{self.channel}:{self.root_ts}:{self.reply_id}:{self.action_ts}"


JOB_TYPES: dict[str, type[Job]] = {job.kind: job for job in (PatronMessageJob, StaffReplyJob, StaffEditJob, CloseJob,
                                                              PatronEditJob, DigestJob, BlockPatronJob,
                                                              UnblockPatronJob, ClaimJob, TransferJob, HomeOpenedJob)}

JOB_TYPES.update({job.kind: job for job in (InviteJob, QuickReplyJob)})  # departments, quick replies

# Kinds an older version queued that nothing runs any more: such a job, still in the queue when
# the new version is deployed, is done (dropped), not failed into the dead-letter queue.
RETIRED_KINDS = {"nudge": "replaced by the desk's digest of who waits (refdesk.waiting)"}


class RetiredJob(ValueError):
    """A job of a kind in RETIRED_KINDS."""


def job_from_body(body: str) -> Job:
    """The job a queue message carries (fields it no longer has, from a body queued by an older
    version, are left out). Raises RetiredJob for a kind nothing runs any more, ValueError for
    anything else."""
    data = json.loads(body)
    kind = data.pop("kind", None) if isinstance(data, dict) else None
    if kind in RETIRED_KINDS:
        raise RetiredJob(kind)
    job_type = JOB_TYPES.get(kind)
    if job_type is None:
        raise ValueError("not a RefDesk job")
    if job_type is PatronMessageJob and data.get("message"):
        data["message"] = InboundMessage(**data["message"])
    return _from_item(job_type, data)


# --- assessment (refdesk.assessment): READ and topic on the closed card, the patron's rating --

@dataclass(frozen=True)
class AssessJob(ByStaff, OnCard, Job):
    """A READ level (1-6) or a topic tag chosen on a closed conversation's card."""

    kind: ClassVar[str] = "assess"
    conversation_id: str
    user: str
    channel: str
    root_ts: str
    action_ts: str = ""
    read_level: int = 0  # one of read_level, topic
    topic: str = ""
    actor_team: str = ""

    @property
    def idempotency_key(self) -> str:
        return f"{self.conversation_id}:{self.read_level}:{self.topic}:{self.action_ts}"


@dataclass(frozen=True)
class RatingJob(Job):
    """A patron's 1-5 rating of a closed conversation: from the widget (web), a text answering the
    closing line (SMS), or the buttons posted in the shared thread (Slack Connect;
    `slack_channel`/`message_ts` is that post). Rating 0 with a comment: a comment on the rating
    the same rater gave (Slack Connect's modal after the buttons)."""

    kind: ClassVar[str] = "rating"
    conversation_id: str
    rating: int
    channel: str  # the patron channel
    slack_channel: str = ""
    message_ts: str = ""
    rater: str = ""  # the keyed hash of whoever rated (the patron's, to count): Slack Connect, SMS
    comment: str = ""  # already cleaned (refdesk.assessment.clean_comment): at most 500 characters

    @property
    def group(self) -> str:
        return self.conversation_id

    @property
    def idempotency_key(self) -> str:
        # Once per conversation and rater: counted once by store.stats.record_rating, and someone
        # else's press (not counted) must not shadow the patron's.
        return f"rating{'' if self.rating else '-comment'}:{self.conversation_id}:{self.rater}"


JOB_TYPES.update({job.kind: job for job in (AssessJob, RatingJob)})


# --- erasure (refdesk.erasure): a patron's "delete" -------------------------------------------

@dataclass(frozen=True)
class ErasePatronJob(Job):
    """A patron asked to delete their conversations: SMS DELETE, a Slack Connect partner's
    "delete", the widget's "Delete this conversation". References only: the address the
    confirmation goes to waits in the request item (store.erasures), never on the queue."""

    kind: ClassVar[str] = "erase_patron"
    channel: str  # the patron channel the request came on
    patron_id: str  # the keyed hash whose conversations go
    session_id: str  # the session the request came from (deleted too)
    request_id: str = ""  # the ERASE# request (SMS, Slack Connect); "" for the widget, answered at once

    @property
    def group(self) -> str:
        return f"erase:{self.patron_id}"

    @property
    def idempotency_key(self) -> str:
        return self.request_id or f"{self.channel}:{self.session_id}"


@dataclass(frozen=True)
class RemoveFromSlackJob(Job):
    """After an erasure deleted a conversation's records: one post of its staff thread (the card,
    or the bot's post of a patron message) made to read as removed, or, without `ts`, the thread
    told once. References only (a channel and timestamps), never text."""

    kind: ClassVar[str] = "remove_from_slack"
    channel: str  # the staff channel
    root_ts: str  # the conversation's card: its thread
    ts: str = ""  # the post to edit; "" for the note in the thread
    erased_at: str = ""  # when the erasure queued it: a retried note looks for itself from then

    @property
    def group(self) -> str:
        # Its own group per thread: the edits run in order, and a job failing in the thread (a
        # reply to the erased patron) does not hold them back.
        return f"erased:{self.channel}:{self.root_ts}"

    @property
    def idempotency_key(self) -> str:
        return f"{self.channel}:{self.root_ts}:{self.ts or 'note'}"


@dataclass(frozen=True)
class RemoveSentReplyJob(Job):
    """After an erasure deleted a conversation's records: the bot's posts of one librarian's reply
    where the patron read it (a Slack Connect shared thread) made to read as removed, each part
    found by the post's metadata. References only (a channel, timestamps, the message id), never text."""

    kind: ClassVar[str] = "remove_sent_reply"
    channel: str  # the patron's Slack channel (a Slack Connect shared channel)
    root_ts: str  # the patron's thread there
    message_id: str  # the stored reply, named in its posts' metadata
    at: str  # when it was stored: its posts are no older

    @property
    def group(self) -> str:
        return f"erased:{self.channel}:{self.root_ts}"  # as RemoveFromSlackJob: in order, apart from the thread's others

    @property
    def idempotency_key(self) -> str:
        return f"{self.channel}:{self.root_ts}:{self.message_id}"


JOB_TYPES.update({job.kind: job for job in (ErasePatronJob, RemoveFromSlackJob, RemoveSentReplyJob)})


# --- delivery (refdesk.delivery): a reaction tried again apart --------------------------------

@dataclass(frozen=True)
class OutcomeReactionJob(Job):
    """A stored message's ✅, ❌ or :lock: whose first try failed for a reason trying again may
    mend (refdesk.delivery.show_outcome). References only, never text. Given up, it is dropped,
    never dead-lettered: a reaction is decoration (refdesk.dispatch)."""

    kind: ClassVar[str] = "outcome_reaction"
    conversation_id: str
    message_id: str
    channel: str  # the staff channel
    ts: str  # the Slack message it goes on
    name: str  # the reaction

    @property
    def group(self) -> str:
        # Its own group per Slack message: while it waits to be tried again, the conversation's
        # jobs (its thread's, its own) go on.
        return f"reaction:{self.channel}:{self.ts}"

    @property
    def idempotency_key(self) -> str:
        return f"{self.channel}:{self.ts}:{self.name}"


JOB_TYPES[OutcomeReactionJob.kind] = OutcomeReactionJob


@dataclass(frozen=True)
class DeliveryOutcomeJob(Job):
    """A reply whose provider reported it delivered or not (refdesk.delivery_status): its ✅, or ❌
    and note, to show on its Slack message. References only, never text."""

    kind: ClassVar[str] = "delivery_outcome"
    conversation_id: str
    message_id: str

    @property
    def group(self) -> str:
        # Not the conversation's group: a report waits for no other job of its conversation.
        return f"outcome:{self.conversation_id}"

    @property
    def idempotency_key(self) -> str:
        return f"outcome:{self.conversation_id}:{self.message_id}"


JOB_TYPES[DeliveryOutcomeJob.kind] = DeliveryOutcomeJob


# --- redaction (refdesk.redaction, refdesk.reveal): Reveal on a redacted patron message -------

@dataclass(frozen=True)
class RevealJob(ByStaff, OnCard, Job):
    """A librarian pressed Reveal on a patron message shown redacted (the card or a thread post):
    its original goes to them alone (ephemeral), and the reveal is recorded (store.reveals)."""

    kind: ClassVar[str] = "reveal"
    conversation_id: str  # the button's value
    user: str
    channel: str
    root_ts: str  # the conversation's thread (its card's ts)
    message_ts: str  # the post the button is on: the patron message's slack_ts
    action_ts: str
    actor_team: str = ""

    @property
    def idempotency_key(self) -> str:
        return f"{self.channel}:{self.message_ts}:{self.user}:{self.action_ts}"


JOB_TYPES[RevealJob.kind] = RevealJob


# --- the staff boundary (refdesk.staff) -------------------------------------------------------

@dataclass(frozen=True)
class StaffOnlyJob(Job):
    """Someone outside the library's Slack pressed a staff button: they are told, and that is all."""

    kind: ClassVar[str] = "staff_only"
    user: str
    channel: str = ""  # where they pressed it ("" in a view: nowhere to tell them)
    thread_ts: str = ""
    action_ts: str = ""

    @property
    def group(self) -> str:
        return thread_group(self.channel, self.thread_ts) if self.channel and self.thread_ts else f"refused:{self.user}"

    @property
    def idempotency_key(self) -> str:
        return f"refused:{self.user}:{self.channel}:{self.action_ts}"


JOB_TYPES[StaffOnlyJob.kind] = StaffOnlyJob


# --- the idle close (refdesk.idle) --------------------------------------------------------------

@dataclass(frozen=True)
class IdleCloseJob(OnCard, Job):
    """Close a conversation that has gone idle, quietly (refdesk.relay.close_idle): queued by the
    idle sweep, in the card's thread group so that it comes after the replies sent before it."""

    kind: ClassVar[str] = "idle_close"
    conversation_id: str
    active_at: str  # its last activity as the sweep saw it: one job per quiet spell
    channel: str = ""  # the card's, when it has one
    root_ts: str = ""

    @property
    def idempotency_key(self) -> str:
        return f"{self.conversation_id}:{self.active_at}"


JOB_TYPES[IdleCloseJob.kind] = IdleCloseJob


# --- "E-mail me this conversation" (refdesk.transcript_mail) ------------------------------------

@dataclass(frozen=True)
class TranscriptMailJob(Job):
    """A patron asked for their closed conversation by e-mail: a web patron from the widget, a Slack
    Connect partner from the modal in their shared thread. References only: the address waits in
    the table (store.transcript_requests) until the dispatcher has sent it, never on the queue."""

    kind: ClassVar[str] = "transcript_mail"
    conversation_id: str
    session_id: str  # the web chat's session, where the address is parked; "" for Slack Connect
    request_id: str  # one per request: names the parked address
    user: str = ""  # the Slack Connect partner who asked (Slack user id): told, only them, once SES answered

    @property
    def group(self) -> str:
        return self.conversation_id

    @property
    def idempotency_key(self) -> str:
        return f"{self.session_id}:{self.request_id}"


JOB_TYPES[TranscriptMailJob.kind] = TranscriptMailJob


# --- the Home tab's filter (refdesk.slack.home) -------------------------------------------------

@dataclass(frozen=True)
class HomeFilterJob(ByStaff, Job):
    """A librarian chose what their Home tab shows (every channel, one, or their own conversations):
    remembered, and their tab published again."""

    kind: ClassVar[str] = "home_filter"
    user: str
    choice: str  # one of refdesk.slack.home.filters(), checked by the listener
    action_ts: str
    actor_team: str = ""

    @property
    def group(self) -> str:
        return f"home:{self.user}"  # with their HomeOpenedJob: the last choice is the one shown

    @property
    def idempotency_key(self) -> str:
        return f"{self.user}:{self.action_ts}"


JOB_TYPES[HomeFilterJob.kind] = HomeFilterJob


@dataclass(frozen=True)
class CannedReplyJob(ByStaff, Job):
    """A librarian added, edited ("save") or deleted a canned reply on the Home tab
    (refdesk.canned_replies). Its label and text are the library's words, never a patron's."""

    kind: ClassVar[str] = "canned_reply"
    user: str
    change: str  # "save" or "delete"
    submission: str  # the modal's view id, or the Delete press's action_ts: a retry is the same job
    reply_id: str = ""  # "" for a new one (its id is made from its label)
    label: str = ""
    text: str = ""
    actor_team: str = ""

    @property
    def group(self) -> str:
        return "canned"  # one at a time, in order

    @property
    def idempotency_key(self) -> str:
        return f"{self.change}:{self.submission}"


JOB_TYPES[CannedReplyJob.kind] = CannedReplyJob
