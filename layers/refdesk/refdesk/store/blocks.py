"""Blocked patrons: staff pressed "Block patron" on a conversation's card, and the desk stops
routing that patron's messages (refdesk.relay checks here, in the dispatcher, never on the
webhook path). Keyed by the patron's keyed hash (`Conversation.patron_id`); the item holds the
masked label staff saw ("SMS ···4321"), never the number or address.

Access patterns:
  - block a patron (one conditional PutItem: a second press, or a retry, finds the block there)
  - is this patron blocked? (one GetItem, strongly consistent; expired blocks ignored), for
    every patron message the dispatcher handles
  - the one message of a block that the patron is answered on (one conditional UpdateItem:
    the first message after the block takes it; that message's retries keep it)
  - list the blocks (one Query of the BLOCKS partition): the Home tab
  - unblock (one conditional DeleteItem)

A block lasts BLOCK_SECONDS unless undone (TTL, also checked on read)."""
from __future__ import annotations

import secrets
import time

from botocore.exceptions import ClientError

from refdesk.store import keys
from refdesk.store.table import failed_condition, now_iso, table

BLOCK_SECONDS = 365 * 24 * 3600


def block(patron_id: str, *, label: str, channel: str, blocked_by: str, conversation_id: str,
          action: str = "") -> dict | None:
    """Block the patron; returns the new block, or None when they were blocked already. `action`
    names the press that blocked (a retry of it finds its own block: `get(...)["action"]`)."""
    item = {**keys.block(patron_id), "patron_id": patron_id, "label": label, "channel": channel,
            "blocked_by": blocked_by, "conversation_id": conversation_id, "action": action, "blocked_at": now_iso(),
            "block_id": secrets.token_hex(8), "expires_at": keys.keep_until(BLOCK_SECONDS)}
    try:
        table().put_item(Item=item, ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                         ExpressionAttributeValues={":now": int(time.time())})
    except ClientError as error:
        if failed_condition(error):
            return None
        raise
    return item


def get(patron_id: str) -> dict | None:
    """The patron's block, or None."""
    item = table().get_item(Key=keys.block(patron_id), ConsistentRead=True).get("Item")
    return item if item and int(item.get("expires_at", 0)) > time.time() else None  # TTL deletion lags


def claim_answer(patron_id: str, block_id: str, message_id: str) -> bool:
    """Whether `message_id` is the message of this block that the patron is answered on: the
    first one to ask, and that same message again when its job is retried."""
    try:
        table().update_item(
            Key=keys.block(patron_id), UpdateExpression="SET answered_message = :mid, answered_at = :now",
            ConditionExpression="block_id = :bid AND (attribute_not_exists(answered_message) "
                                "OR answered_message = :mid)",
            ExpressionAttributeValues={":mid": message_id, ":bid": block_id, ":now": now_iso()})
    except ClientError as error:
        if failed_condition(error):
            return False
        raise
    return True


def list_blocked(limit: int = 100) -> list[dict]:
    """The blocks in force, newest first: {patron_id, label, channel, blocked_by, blocked_at}."""
    from boto3.dynamodb.conditions import Key

    query = {"KeyConditionExpression": Key("pk").eq(keys.BLOCKS_PK)}
    items: list[dict] = []
    while True:
        page = table().query(**query)
        items += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            break
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    now = time.time()
    live = [item for item in items if int(item.get("expires_at", 0)) > now]
    live.sort(key=lambda item: item.get("blocked_at", ""), reverse=True)
    return [{name: item.get(name, "") for name in ("patron_id", "label", "channel", "blocked_by", "blocked_at")}
            for item in live[:limit]]


def unblock(patron_id: str) -> dict | None:
    """Undo the block; returns it, or None when the patron was not blocked."""
    try:
        result = table().delete_item(Key=keys.block(patron_id), ConditionExpression="attribute_exists(pk)",
                                     ReturnValues="ALL_OLD")
    except ClientError as error:
        if failed_condition(error):
            return None
        raise
    old = result.get("Attributes")
    return old if old and int(old.get("expires_at", 0)) > time.time() else None
