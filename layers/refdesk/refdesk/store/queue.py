"""The waiting queue: one first-come-first-served line across every patron channel, and who
is handling each conversation.

A conversation waits from the patron's first unanswered message until a librarian claims it
(the Claim button, on the card or in the Home tab) or answers it (the first staff reply).
While it waits, its conversation item (CONV#{id} / META) carries the sparse index keys of GSI1
(`keys.waiting`: queue_pk = WAITING, queue_sk = {arrived}#{id}); claiming, answering and closing
remove them, so the index only ever holds the line itself, oldest first. No scan anywhere.

API (the dispatcher's; nothing here is called by a webhook, except `session_status` in the
widget's poll):

  waiting(limit=50, channel="") -> list[Conversation]
        the waiting conversations, oldest first, of one channel if named (one Query on GSI1;
        `waiting_since` set)
  count(channel="") -> int
        how many wait, of one channel if named (one Select=COUNT Query on GSI1): the Home tab's
        "12 more waiting"
  join(conversation_id, arrived_at) -> (str | None, bool)
        start waiting (one conditional UpdateItem: open, unclaimed, not already waiting):
        (the entry's queue_sk, whether its place was already handled: mark_told) while it waits,
        now or since earlier; (None, True) when it is claimed or closed
  position(queue_sk) -> int
        1 + how many wait ahead of that entry (one Select=COUNT Query on GSI1)
  mark_told(conversation_id, queue_sk) -> bool
        the patron's place is handled (told, or not needed) at most once per wait: true the
        first time only
  claim(conversation_id, user) -> (Conversation, won_now)
        the Claim button: one conditional UpdateItem, so of any number of librarians claiming
        at once exactly one wins. The same librarian again: (conversation, False). Anyone
        else: raises Taken (.holder = who has it). A closed conversation: Conflict.
  claim_by_reply(conversation_id, user, reply_ts) -> (Conversation | None, won_now, first_reply_now)
        a librarian's reply: claims it if nobody has (race-safe: one atomic UpdateItem with
        if_not_exists) and records first_reply_at, saying whether this reply was the first; the
        conversation shows who holds it. None when the conversation is closed or unknown. Once
        it is claimed and answered, one read and no write.
  transfer(conversation_id, to_user, by_user) -> Conversation
        reassign an open conversation (claimed or waiting) to `to_user`; raises Conflict when
        it is closed, AlreadyAssigned when it is already theirs.
  mirror_to_session(session_id, conversation_id, *, queue_sk="", claimed_name="")
        a web chat's session item keeps its conversation's queue state (the entry's key while
        waiting, the first name of who has it once claimed), so the widget's poll, which reads
        the session anyway, needs at most one more read (the position COUNT) and none once
        claimed.
  session_status(session_item) -> dict | None
        the widget's `queue` answer: {"state": "waiting", "position": n} or
        {"state": "claimed", "by": "Amanda"}, or None.

Closing a conversation (store.conversations.close) removes its index keys in the same write.
Index reads are eventually consistent (GSIs have no consistent reads): a patron who arrives the
same instant as another may be told a place one off; the order itself is exact."""
from __future__ import annotations

import time

from botocore.exceptions import ClientError

from refdesk.errors import Conflict, NotFound
from refdesk.models import Conversation, Status
from refdesk.store import keys
from refdesk.store.table import failed_condition, now_iso, old_item, table


class Taken(Conflict):
    """Someone else already has the conversation."""

    def __init__(self, holder: str):
        super().__init__("conversation already claimed", code="claimed")
        self.holder = holder


class AlreadyAssigned(Conflict):
    """A transfer to the librarian who already has it (a retry, or a double pick)."""


def waiting(limit: int = 50, *, channel: str = "") -> list[Conversation]:
    """The waiting conversations, oldest first, of one channel if named; expired entries (TTL lags)
    left out."""
    query = {**_line(channel), "ScanIndexForward": True}
    now, found = int(time.time()), []
    while len(found) < limit:
        page = table().query(**query, Limit=limit)
        found += [item for item in page.get("Items", []) if int(item.get("expires_at", now + 1)) > now]
        if "LastEvaluatedKey" not in page:
            break
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return [Conversation.from_item(item) for item in found[:limit]]


def count(channel: str = "") -> int:
    """How many wait, of one channel if named (one Select=COUNT Query on GSI1, paged by DynamoDB's
    1 MB read limit only)."""
    return _counted(_line(channel))


def _counted(query: dict) -> int:
    """The items a Query matches, counted by DynamoDB (Select=COUNT), page by page."""
    query, found = {**query, "Select": "COUNT"}, 0
    while True:
        page = table().query(**query)
        found += int(page.get("Count", 0))
        if "LastEvaluatedKey" not in page:
            return found
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _line(channel: str) -> dict:
    """The Query of the waiting line on GSI1 (which projects `channel`), filtered to one channel if named."""
    from boto3.dynamodb.conditions import Attr, Key

    query = {"IndexName": keys.QUEUE_INDEX, "KeyConditionExpression": Key("queue_pk").eq(keys.WAITING_PK)}
    return {**query, "FilterExpression": Attr("channel").eq(channel)} if channel else query


def join(conversation_id: str, arrived_at: str) -> tuple[str | None, bool]:
    """Start waiting since `arrived_at` (the patron's first unanswered message)."""
    entry = keys.waiting(arrived_at, conversation_id)
    try:
        table().update_item(
            Key=keys.conversation(conversation_id),
            UpdateExpression="SET queue_pk = :qpk, queue_sk = :qsk, waiting_since = :at",
            ConditionExpression="attribute_exists(pk) AND #status = :open AND attribute_not_exists(claimed_by) "
                                "AND attribute_not_exists(queue_sk)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":qpk": entry["queue_pk"], ":qsk": entry["queue_sk"], ":at": arrived_at,
                                       ":open": Status.OPEN.value},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if not failed_condition(error):
            raise
        old = old_item(error)
        if old.get("queue_sk") and old.get("status") == Status.OPEN.value and not old.get("claimed_by"):
            return str(old["queue_sk"]), old.get("position_told") == old["queue_sk"]
        return None, True
    return entry["queue_sk"], False


def position(queue_sk: str) -> int:
    """The entry's place in line, counting from 1."""
    from boto3.dynamodb.conditions import Key

    return 1 + _counted({"IndexName": keys.QUEUE_INDEX,
                         "KeyConditionExpression": Key("queue_pk").eq(keys.WAITING_PK) & Key("queue_sk").lt(queue_sk)})


def mark_told(conversation_id: str, queue_sk: str) -> bool:
    """True once per wait (per entry): the caller tells the patron their place."""
    try:
        table().update_item(
            Key=keys.conversation(conversation_id), UpdateExpression="SET position_told = :qsk",
            ConditionExpression="queue_sk = :qsk AND (attribute_not_exists(position_told) OR position_told <> :qsk)",
            ExpressionAttributeValues={":qsk": queue_sk})
    except ClientError as error:
        if failed_condition(error):
            return False
        raise
    return True


def claim(conversation_id: str, user: str) -> tuple[Conversation, bool]:
    now = now_iso()
    try:
        item = table().update_item(
            Key=keys.conversation(conversation_id),
            UpdateExpression="SET claimed_by = :user, claimed_at = :now REMOVE queue_pk, queue_sk",
            ConditionExpression="attribute_exists(pk) AND #status = :open AND attribute_not_exists(claimed_by)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":user": user, ":now": now, ":open": Status.OPEN.value},
            ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )["Attributes"]
    except ClientError as error:
        if not failed_condition(error):
            raise
        old = old_item(error)
        _require_open(old, error)
        if old.get("claimed_by") == user:
            return Conversation.from_item(old), False
        raise Taken(str(old.get("claimed_by", ""))) from error
    return Conversation.from_item(item), True


def claim_by_reply(conversation_id: str, user: str, reply_ts: str = "") -> tuple[Conversation | None, bool, bool]:
    # Every reply after the first finds the conversation claimed and answered, and nothing
    # unclaims it: a read (a fifth of a write's price) tells so, and nothing is written. The
    # reply that answered first is recorded (first_reply_ts): its own retry (the claim's answer
    # lost, or a call after it failed) is told it won again, so what follows a claim is done.
    item = table().get_item(Key=keys.conversation(conversation_id), ConsistentRead=True).get("Item") or {}
    if item.get("claimed_by") and item.get("first_reply_at"):
        if item["status"] != Status.OPEN.value:
            return None, False, False
        return Conversation.from_item(item), _claimed_by_reply(item, user, reply_ts), False
    now = now_iso()
    try:
        old = table().update_item(
            Key=keys.conversation(conversation_id),
            UpdateExpression="SET claimed_by = if_not_exists(claimed_by, :user), "
                             "claimed_at = if_not_exists(claimed_at, :now), "
                             "first_reply_at = if_not_exists(first_reply_at, :now), "
                             "first_reply_ts = if_not_exists(first_reply_ts, :ts) REMOVE queue_pk, queue_sk",
            ConditionExpression="attribute_exists(pk) AND #status = :open",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":user": user, ":now": now, ":open": Status.OPEN.value, ":ts": reply_ts},
            ReturnValues="ALL_OLD",
        )["Attributes"]
    except ClientError as error:
        if failed_condition(error):
            return None, False, False
        raise
    # The old item of a write whose first answer was lost (the SDK sent it again) is this reply's.
    again = _claimed_by_reply(old, user, reply_ts)
    won = not old.get("claimed_by") or again
    new = {**old, "claimed_by": old.get("claimed_by") or user, "claimed_at": old.get("claimed_at") or now,
           "first_reply_at": old.get("first_reply_at") or now}
    new.pop("queue_sk", None)
    return Conversation.from_item(new), won, not old.get("first_reply_at") or again


def _claimed_by_reply(item: dict, user: str, reply_ts: str) -> bool:
    """The conversation was claimed by this very reply (its first write, made before an answer was lost)."""
    return (bool(reply_ts) and item.get("first_reply_ts") == reply_ts and item.get("claimed_by") == user
            and item.get("claimed_at") == item.get("first_reply_at"))


def transfer(conversation_id: str, to_user: str, by_user: str, press: str = "") -> Conversation:
    """Assign the conversation to `to_user`. `press` names the Transfer that does it: its own
    retry (the answer lost, or a call after it failed) finds the transfer made and gets the
    conversation back; any other finds it AlreadyAssigned."""
    now = now_iso()
    try:
        item = table().update_item(
            Key=keys.conversation(conversation_id),
            UpdateExpression="SET claimed_by = :to, claimed_at = if_not_exists(claimed_at, :now), "
                             "transferred_by = :by, transferred_at = :now, transfer_press = :press, "
                             "transfers = list_append(if_not_exists(transfers, :none), :transfer) "
                             "REMOVE queue_pk, queue_sk",
            ConditionExpression="attribute_exists(pk) AND #status = :open "
                                "AND (attribute_not_exists(claimed_by) OR claimed_by <> :to)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":to": to_user, ":by": by_user, ":now": now, ":open": Status.OPEN.value,
                                       ":press": press, ":none": [], ":transfer": [f"{by_user}>{to_user}"]},
            ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )["Attributes"]
    except ClientError as error:
        if not failed_condition(error):
            raise
        old = old_item(error)
        _require_open(old, error)
        if press and old.get("transfer_press") == press:
            return Conversation.from_item(old)
        raise AlreadyAssigned("already assigned to that librarian", code="assigned") from error
    return Conversation.from_item(item)


def _require_open(old: dict, error: ClientError) -> None:
    """Why an assignment's condition failed, when the conversation is gone or closed."""
    if not old:
        raise NotFound("no such conversation") from error
    if old.get("status") != Status.OPEN.value:
        raise Conflict("conversation closed", code="closed") from error


def mirror_to_session(session_id: str, conversation_id: str, *, queue_sk: str = "", claimed_name: str = "") -> None:
    """Copy the queue state onto a web chat's session item (which the widget's poll reads).
    Waiting never overwrites claimed: a late `join` mirror after a claim is dropped."""
    if claimed_name:
        update, condition = "SET claimed_name = :name REMOVE queue_sk", "conversation_id = :cid"
        values = {":cid": conversation_id, ":name": claimed_name}
    else:
        update, condition = "SET queue_sk = :qsk", "conversation_id = :cid AND attribute_not_exists(claimed_name)"
        values = {":cid": conversation_id, ":qsk": queue_sk}
    try:
        table().update_item(Key=keys.session(session_id), UpdateExpression=update,
                            ConditionExpression=f"attribute_exists(pk) AND {condition}",
                            ExpressionAttributeValues=values)
    except ClientError as error:
        if not failed_condition(error):
            raise


def session_status(session_item: dict) -> dict | None:
    """The widget's `queue` status from the session item the poll already read."""
    if session_item.get("closed_at"):
        return None
    if session_item.get("claimed_name"):
        return {"state": "claimed", "by": str(session_item["claimed_name"])}
    if session_item.get("queue_sk"):
        return {"state": "waiting", "position": position(str(session_item["queue_sk"]))}
    return None
