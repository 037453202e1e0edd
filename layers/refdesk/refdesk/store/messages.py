"""Messages of a conversation.

Access patterns:
  - store a message once per message id, whatever the time of the retry
  - update a stored message's delivery state (parts sent, outcome and why it failed, whether
    the outcome's reaction is on its Slack message yet: a retry adds it when not)
  - list a conversation's messages in stored order after a cursor, optionally only those the
    patron sees (the widget's poll, the closed card's question)
  - read one stored message by its id (a job retried after its parked message was stored)
Messages whose lifetime is over are not listed or read (TTL deletion lags).

Messages sort by when they were stored, not when they were written, so a reply stored late
(after a retry) still comes after a poller's cursor; a marker keyed by message id makes the
write idempotent whatever the time. The marker is written first and names the message's sort
key, so a retry after a crash between the two writes completes the same message (two plain
conditional writes: a transaction would bill each twice)."""
from __future__ import annotations

import time

from botocore.exceptions import ClientError

from refdesk.errors import BadRequest
from refdesk.models import Message, Visibility
from refdesk.store import keys
from refdesk.store.table import expired, failed_condition, now_iso, old_item, table


def put(conversation_id: str, message: Message) -> tuple[Message, bool]:
    """Returns (the stored message, created_now). The message lives as long as its conversation
    (store.conversations.lifetime): a message stored after the close expires with it. It is the
    open conversation's activity (store.conversations.record_activity)."""
    from refdesk.store import conversations

    item = {**keys.message(conversation_id, now_iso(), message.message_id),
            "expires_at": conversations.record_activity(conversation_id), **message.to_item()}
    try:
        table().put_item(
            Item={**keys.message_marker(conversation_id, message.message_id), "message_sk": item["sk"],
                  "expires_at": item["expires_at"]},
            ConditionExpression="attribute_not_exists(pk) OR expires_at <= :now",
            ExpressionAttributeValues={":now": int(time.time())}, ReturnValuesOnConditionCheckFailure="ALL_OLD")
    except ClientError as error:
        if not failed_condition(error):
            raise
        marker = old_item(error)  # an earlier attempt stored it, or stopped before its second write
        stored = table().get_item(Key={"pk": marker["pk"], "sk": marker["message_sk"]}, ConsistentRead=True)
        if "Item" in stored:
            return Message.from_item(stored["Item"]), False
        # It takes its place now, not where the stopped attempt meant to put it: a reader whose
        # cursor moved past that place meanwhile would never see it there.
        table().update_item(Key=keys.message_marker(conversation_id, message.message_id),
                            UpdateExpression="SET message_sk = :now", ConditionExpression="message_sk = :then",
                            ExpressionAttributeValues={":now": item["sk"], ":then": marker["message_sk"]})
        item["expires_at"] = marker["expires_at"]
    try:
        table().put_item(Item=item, ConditionExpression="attribute_not_exists(sk)",
                         ReturnValuesOnConditionCheckFailure="ALL_OLD")
    except ClientError as error:
        if not failed_condition(error):
            raise
        return Message.from_item(old_item(error)), False
    return Message.from_item(item), True


def get(conversation_id: str, message_id: str) -> Message | None:
    """The message stored under this id, or None (never stored, or its lifetime is over)."""
    marker = table().get_item(Key=keys.message_marker(conversation_id, message_id), ConsistentRead=True).get("Item")
    if not marker or expired(marker):
        return None
    stored = table().get_item(Key={"pk": marker["pk"], "sk": marker["message_sk"]}, ConsistentRead=True).get("Item")
    return Message.from_item(stored) if stored and not expired(stored) else None


def update(conversation_id: str, message: Message, **fields) -> None:
    """Set fields of a stored message (delivery, failure, parts_sent, slack_ts, outcome_shown)."""
    values = {f":{name}": getattr(value, "value", value) for name, value in fields.items()}
    table().update_item(
        Key={"pk": keys.messages_partition(conversation_id), "sk": message.sort_key},
        UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in fields),
        ConditionExpression="attribute_exists(sk)",
        ExpressionAttributeNames={f"#{name}": name for name in fields},
        ExpressionAttributeValues=values,
    )


def list_after(conversation_id: str, *, after: str = "", visibility: Visibility | None = None,
               limit: int = 100) -> list[Message]:
    """Up to `limit` messages in stored order after the sort key `after` (a cursor), reading
    on past pages the visibility filter emptied."""
    from boto3.dynamodb.conditions import Attr, Key

    if after and not keys.is_message_sort_key(after):
        raise BadRequest("bad cursor")
    query = {"KeyConditionExpression": Key("pk").eq(keys.messages_partition(conversation_id))
             & Key("sk").between(after or keys.MESSAGE_PREFIX, keys.MESSAGE_RANGE_END)}
    if visibility:
        query["FilterExpression"] = Attr("visibility").eq(visibility.value)
    items: list[dict] = []
    while len(items) < limit:
        page = table().query(**query)
        items += [item for item in page.get("Items", []) if item["sk"] != after and not expired(item)]
        if "LastEvaluatedKey" not in page:
            break
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return [Message.from_item(item) for item in items[:limit]]
