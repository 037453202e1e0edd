"""Every key format of the single table, and the items' lifetimes.

  SESSION#{session_id}  / META               a patron's session on a channel: the anchor
  CONV#{id}             / META               the conversation
  CONV#{id}             / REPLY_TO           where replies go (phone, e-mail), apart from identity
  CONV#{id}             / MSG#{stored}#{id}  one message
  CONV#{id}             / ID#{message id}    makes storing a message idempotent
  THREAD#{channel}#{ts} / META               a Slack thread -> its conversation
  DUTY                  / USER#{user}        a librarian on duty
  RATE#{scope}#{key}    / {window}           a rate-limit counter
  OPTOUT#{patron_id}    / META               an SMS patron who texted STOP (keyed hash, never the number)
  CARD#{patron_id}      / META               the library's contact card went to this patron (keyed hash)
  CONV#{id}             / DEPT#{department}  a department invited into the conversation (refdesk.deskconfig id)
  CONV#{id}             / QUICK#{reply id}   the last time this quick reply was sent (double clicks send once)
  BLOCKS                / PATRON#{patron_id} a blocked patron (keyed hash and masked label, never the address)

Index GSI1 (sparse, INCLUDE projection): the waiting queue. Only a conversation waiting for a
librarian carries its keys (set when it starts waiting, removed when claimed, answered or closed):
  queue_pk = WAITING    queue_sk = {arrived ISO time}#{conversation id}   oldest first"""
from __future__ import annotations

import time

META = "META"
MESSAGE_PREFIX = "MSG#"
MESSAGE_RANGE_END = "MSG#~"  # after every MSG#{ISO time}… sort key
DUTY_PK = "DUTY"
BLOCKS_PK = "BLOCKS"
QUEUE_INDEX = "GSI1"
WAITING_PK = "WAITING"
# Nothing is deleted by age yet; every item still gets an expiry so that retention is a
# setting, not a migration.
KEEP_SECONDS = 10 * 365 * 24 * 3600


def keep_until(seconds: int = KEEP_SECONDS) -> int:
    return int(time.time()) + seconds


def session(session_id: str) -> dict:
    return {"pk": f"SESSION#{session_id}", "sk": META}


def conversation(conversation_id: str) -> dict:
    return {"pk": f"CONV#{conversation_id}", "sk": META}


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


def waiting(arrived_at: str, conversation_id: str) -> dict:
    """The index keys of a conversation waiting since `arrived_at`: ISO times sort by arrival."""
    return {"queue_pk": WAITING_PK, "queue_sk": f"{arrived_at}#{conversation_id}"}


def block(patron_id: str) -> dict:
    """One partition for every block: checked by GetItem, listed (Home tab) by one Query."""
    return {"pk": BLOCKS_PK, "sk": f"PATRON#{patron_id}"}
