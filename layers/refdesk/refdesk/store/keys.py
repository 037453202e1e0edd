"""Every key format of the single table, and the items' lifetimes.

  SESSION#{session_id}  / META               a patron's session on a channel: the anchor
  CONV#{id}             / META               the conversation
  CONV#{id}             / REPLY_TO           where replies go (phone, e-mail), apart from identity
  CONV#{id}             / MSG#{stored}#{id}  one message
  CONV#{id}             / ID#{message id}    makes storing a message idempotent
  THREAD#{channel}#{ts} / META               a Slack thread -> its conversation
  DUTY                  / USER#{user}        a librarian on duty
  HOME                  / USER#{user}        a librarian who opened the app's Home tab lately (republished
                                             when the desk changes, on duty or not: store.duty.home_viewers)
  HOME#{user}           / FILTER             what a librarian's Home tab shows: every channel, one, or theirs
  CANNED                / REPLY#{id}         a canned reply librarians keep in Slack (store.canned)
  CANNED                / SEEDED             desk.json's quick replies were written once (store.canned)
  CANNED_AUDIT          / {at}#{id}          who added, edited or deleted a canned reply, and when
                                             (store.home)
  RATE#{scope}#{key}    / {window}           a rate-limit counter
  OPTOUT#{patron_id}    / META               an SMS patron who texted STOP (keyed hash, never the number)
  CARD#{patron_id}      / META               the library's contact card went to this patron (keyed hash)
  CONV#{id}             / DEPT#{department}  a department invited into the conversation (refdesk.deskconfig id)
  CONV#{id}             / QUICK#{reply id}   the last time this quick reply was sent (double clicks send once)
  BLOCKS                / PATRON#{patron_id} a blocked patron (keyed hash and masked label, never the address)
  ERASE#{request id}    / META               a patron's request to delete their conversations (store.erasures)
  REVEAL#{conversation} / {message id}#{user}#{action ts}  a librarian revealed a redacted patron message (store.reveals)
  REVEALS#{yyyy-mm}     / {revealed at}#{conversation}#{message id}#{user}#{action ts}  the same reveal, listed by
                                             time: one partition per month (UTC) of revealed_at (store.reveals)
  LIVE#{session_id}     / SLOT#{n}           a web chat's open live connection, one of its few slots (store.connections)
  LIVECONN#{connection} / META               which session and slot a live connection holds ($disconnect)
  SWEEP                 / ARMED              when the next sweep of the waiting queue is due: one item for the
                                             whole desk, written conditionally (store.nudges.arm_sweep)
  SWEEP                 / DIGEST             the desk's digest of who waits: the last sweep's turn, the standing
                                             Slack message (store.nudges.take_digest)
  SWEEP                 / ARMED#idle         when the next idle sweep is due (refdesk.idle): as SWEEP / ARMED
  PACE#{channel}        / META               a Slack channel's next free turn to post, shared by every
                                             copy of the dispatcher (store.pacing.take_turn)
  SID#{provider id}     / META               one part of a stored outbound message by the id its provider gave it
                                             (Twilio's MessageSid, SES's MessageId): its conversation, message and
                                             part, for the provider's delivery reports (store.messages.handed_over)

Lifetimes: opt-outs, blocks and contact cards keep their own (optouts, blocks, contact_cards),
live connections theirs (2 h at most: connections), the armed sweeps a day after they are due,
the digest a week after its last turn (nudges), a channel's pace a day after its last turn (pacing),
a SID# item RetentionDays + IdleCloseHours after the send (`open_until`; ids only, no patron data).
An open conversation's items that hold a patron's words or address (the conversation, its
messages and their markers, where replies go, the SMS or Slack Connect session with its parked
messages) expire RetentionDays + IdleCloseHours after they were written (`open_until`; the
conversation and its session are written again as messages come): should the idle close
(refdesk.idle) never run, nothing outlives its last message by more than retention after an idle
close would. The rest of the partition (invitations, quick replies) and the THREAD# lookup hold
no patron data and keep KEEP_SECONDS. When the conversation closes, every item of its CONV#
partition and its THREAD# item expire RETENTION_DAYS (settings.retention_days) after the close
(`retained_until`; conversations.retire). An SMS or Slack Connect session keeps only its closed
conversations' message ids, for a day after the close or the patron's delete (replays;
sessions.RECOGNISE_SECONDS), a web chat's ends and expires with its token
(webchat.SESSION_LIFETIME).

A patron message waits on its session item, parked by the claim that accepted it, until the
dispatcher stores it in the conversation (the job carries only references): one attribute per
message, `pending:{message id}` (`pending_attribute`), and `pending_bytes`, their total size.

Index GSI1 (sparse, INCLUDE projection): the waiting queue. Only a conversation waiting for a
librarian carries its keys (set when it starts waiting, removed when claimed, answered or closed):
  queue_pk = WAITING    queue_sk = {arrived ISO time}#{conversation id}   oldest first

Index ByPatron (sparse, INCLUDE projection): every item carrying `patron_id` (conversations, web
sessions, blocks) by the patron's keyed hash, to erase a patron's conversations (store.erasures).

Index ByActivity (sparse, INCLUDE projection): the open conversations, for the idle close. Only an
open conversation carries its keys (set when it opens or reopens, removed when it closes):
  open_pk = OPEN        active_at = {ISO time of its last message, to within an hour}   least active first"""
from __future__ import annotations

import time
from datetime import datetime, timezone

from refdesk.settings import get_settings

META = "META"
MESSAGE_PREFIX = "MSG#"
MESSAGE_RANGE_END = "MSG#~"  # after every MSG#{ISO time}… sort key
DUTY_PK = "DUTY"
BLOCKS_PK = "BLOCKS"
QUEUE_INDEX = "GSI1"
PATRON_INDEX = "ByPatron"
ACTIVITY_INDEX = "ByActivity"
WAITING_PK = "WAITING"
OPEN_PK = "OPEN"
# Anything without a lifetime of its own and no patron data keeps this long; closing a
# conversation shortens its items' lifetimes to the retention setting.
KEEP_SECONDS = 10 * 365 * 24 * 3600


def keep_until(seconds: int = KEEP_SECONDS) -> int:
    return int(time.time()) + seconds


def open_until(now: str) -> int:
    """When an item of an open conversation written at `now` (ISO time) expires, unless the
    conversation closes first: RetentionDays + IdleCloseHours later, what an idle close right
    after it would keep it for."""
    settings = get_settings()
    return retained_until(now, settings.retention_seconds + settings.idle_close_seconds)


def retained_until(closed_at: str, retention_seconds: int) -> int:
    """When a conversation closed at `closed_at` (ISO time) and its items expire."""
    closed = datetime.strptime(closed_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return int(closed.timestamp()) + retention_seconds


PENDING_PREFIX = "pending:"


def pending_attribute(message_id: str) -> str:
    """The session item's attribute holding a parked patron message (store.sessions)."""
    return f"{PENDING_PREFIX}{message_id}"


def session(session_id: str) -> dict:
    return {"pk": f"SESSION#{session_id}", "sk": META}


def conversation(conversation_id: str) -> dict:
    return {"pk": f"CONV#{conversation_id}", "sk": META}


def transcript_request(conversation_id: str, request_id: str) -> dict:
    """A Slack Connect partner's "E-mail me this conversation", parked until sent (store.transcript_requests)."""
    return {"pk": f"CONV#{conversation_id}", "sk": f"TRANSCRIPT#{request_id}"}


def reply_to(conversation_id: str) -> dict:
    return {"pk": f"CONV#{conversation_id}", "sk": "REPLY_TO"}


def message(conversation_id: str, stored_at: str, message_id: str) -> dict:
    return {"pk": f"CONV#{conversation_id}", "sk": f"{MESSAGE_PREFIX}{stored_at}#{message_id}"}


def message_marker(conversation_id: str, message_id: str) -> dict:
    return {"pk": f"CONV#{conversation_id}", "sk": f"ID#{message_id}"}


def messages_partition(conversation_id: str) -> str:
    return f"CONV#{conversation_id}"


def is_message_sort_key(sort_key: str) -> bool:
    return sort_key.startswith(MESSAGE_PREFIX)


def thread(channel: str, ts: str) -> dict:
    return {"pk": f"THREAD#{channel}#{ts}", "sk": META}


def duty(user_id: str) -> dict:
    return {"pk": DUTY_PK, "sk": f"USER#{user_id}"}


HOME_PK = "HOME"


def home_viewer(user_id: str) -> dict:
    return {"pk": HOME_PK, "sk": f"USER#{user_id}"}


def home_filter(user_id: str) -> dict:
    """A librarian's Home tab filter: one item per librarian, read with every publish of their tab."""
    return {"pk": f"HOME#{user_id}", "sk": "FILTER"}


CANNED_PK = "CANNED"
CANNED_REPLY_PREFIX = "REPLY#"
CANNED_AUDIT_PK = "CANNED_AUDIT"


def canned_reply(reply_id: str) -> dict:
    return {"pk": CANNED_PK, "sk": f"{CANNED_REPLY_PREFIX}{reply_id}"}


def canned_seeded() -> dict:
    return {"pk": CANNED_PK, "sk": "SEEDED"}


def canned_audit(at: str, reply_id: str) -> dict:
    return {"pk": CANNED_AUDIT_PK, "sk": f"{at}#{reply_id}"}


def rate(scope: str, key: str, window: int) -> dict:
    return {"pk": f"RATE#{scope}#{key}", "sk": str(window)}


def opt_out(patron_id: str) -> dict:
    return {"pk": f"OPTOUT#{patron_id}", "sk": META}


def contact_card(patron_id: str) -> dict:
    return {"pk": f"CARD#{patron_id}", "sk": META}


INVITED_PREFIX = "DEPT#"


def invited(conversation_id: str, department_id: str) -> dict:
    return {"pk": f"CONV#{conversation_id}", "sk": f"{INVITED_PREFIX}{department_id}"}


def quick_reply_sent(conversation_id: str, reply_id: str) -> dict:
    return {"pk": f"CONV#{conversation_id}", "sk": f"QUICK#{reply_id}"}


def open_conversation(active_at: str) -> dict:
    """The index keys of an open conversation last active at `active_at` (ISO time)."""
    return {"open_pk": OPEN_PK, "active_at": active_at}


def waiting(arrived_at: str, conversation_id: str) -> dict:
    """The index keys of a conversation waiting since `arrived_at`: ISO times sort by arrival."""
    return {"queue_pk": WAITING_PK, "queue_sk": f"{arrived_at}#{conversation_id}"}


def block(patron_id: str) -> dict:
    """One partition for every block: checked by GetItem, listed (Home tab) by one Query."""
    return {"pk": BLOCKS_PK, "sk": f"PATRON#{patron_id}"}


def erase_request(request_id: str) -> dict:
    return {"pk": f"ERASE#{request_id}", "sk": META}


def reveal(conversation_id: str, message_id: str, user: str, action_ts: str) -> dict:
    """One Reveal press (store.reveals): a retried job finds its own record; the reveals of a
    conversation are one Query."""
    return {"pk": f"REVEAL#{conversation_id}", "sk": f"{message_id}#{user}#{action_ts}"}


def reveals_partition(conversation_id: str) -> str:
    return f"REVEAL#{conversation_id}"


def reveal_by_time(revealed_at: str, conversation_id: str, message_id: str, user: str, action_ts: str) -> dict:
    """The same press listed by time (store.reveals): `revealed_at` is an ISO time in UTC, so a
    month's partition sorts by it and a time range is one key condition."""
    return {"pk": reveals_month_partition(revealed_at[:7]),
            "sk": f"{revealed_at}#{conversation_id}#{message_id}#{user}#{action_ts}"}


def reveals_month_partition(month: str) -> str:
    """The reveals of one month (YYYY-MM, UTC)."""
    return f"REVEALS#{month}"


def live_slot(session_id: str, slot: int) -> dict:
    """One of a web chat session's live connection slots (store.connections): a session has as many
    connections at most as it has slots, whoever races for the last one."""
    return {"pk": live_slots_partition(session_id), "sk": f"SLOT#{slot}"}


def live_slots_partition(session_id: str) -> str:
    return f"LIVE#{session_id}"


def live_connection(connection_id: str) -> dict:
    """A live connection by its API Gateway id, which is all that $disconnect and a push's 410 know."""
    return {"pk": f"LIVECONN#{connection_id}", "sk": META}


def sweep_armed(purpose: str = "sweep") -> dict:
    """The one item saying when the sweeper's next sweep for `purpose` is due (store.nudges.arm_sweep):
    the waiting queue's ("sweep"), or the idle close's ("idle")."""
    return {"pk": "SWEEP", "sk": "ARMED" if purpose == "sweep" else f"ARMED#{purpose}"}


def desk_digest() -> dict:
    """The one item of the desk's digest of who waits (store.nudges.take_digest)."""
    return {"pk": "SWEEP", "sk": "DIGEST"}


def sent_part(provider_id: str) -> dict:
    """A part of an outbound message by its provider's id (store.messages.handed_over)."""
    return {"pk": f"SID#{provider_id}", "sk": META}


def slack_pace(channel: str) -> dict:
    """A Slack channel's turns to post (store.pacing): one item per channel."""
    return {"pk": f"PACE#{channel}", "sk": META}
