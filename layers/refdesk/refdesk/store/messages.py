"""Messages of a conversation.

Access patterns:
  - store a message once per message id, whatever the time of the retry
  - update a stored message's delivery state (parts sent, reaction, outcome)
  - list a conversation's messages in stored order after a cursor, optionally only those the
    patron sees (the widget's poll, the closed card's question)

Messages sort by when they were stored, not when they were written, so a reply stored late
(after a retry) still comes after a poller's cursor; a marker keyed by message id makes the
write idempotent whatever the time."""
from __future__ import annotations

from botocore.exceptions import ClientError

from refdesk.errors import BadRequest
from refdesk.models import Message, Visibility
from refdesk.store import keys
from refdesk.store.table import failed_condition, now_iso, table, transact


def put(conversation_id: str, message: Message) -> tuple[Message, bool]:
    """Returns (the stored message, created_now)."""
    stored_at = now_iso()
    item = {**keys.message(conversation_id, stored_at, message.message_id), "stored_at": stored_at,
            "expires_at": keys.keep_until(), **message.to_item()}
    marker = keys.message_marker(conversation_id, message.message_id)
    try:
        transact([
            {"Put": {"Item": {**marker, "message_sk": item["sk"], "expires_at": item["expires_at"]},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"Item": item}},
        ])
    except ClientError as error:
        if not failed_condition(error):
            raise
        existing = table().get_item(Key=marker, ConsistentRead=True).get("Item")
        if not existing:  # cancelled by a concurrent transaction, not by our condition: retry later
            raise
        stored = table().get_item(Key={"pk": marker["pk"], "sk": existing["message_sk"]}, ConsistentRead=True)
        return Message.from_item(stored["Item"]), False
    return Message.from_item(item), True


def update(conversation_id: str, message: Message, **fields) -> None:
    """Set fields of a stored message (delivery, parts_sent, slack_ts)."""
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
        items += [item for item in page.get("Items", []) if item["sk"] != after]
        if "LastEvaluatedKey" not in page:
            break
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return [Message.from_item(item) for item in items[:limit]]
