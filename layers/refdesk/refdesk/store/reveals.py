"""Reveals: a librarian pressed Reveal on a patron message that was shown redacted in Slack
(refdesk.redaction, refdesk.reveal) and saw its original. Each press is recorded: who, when,
which message; never the text.

Access patterns:
  - record one press (one conditional PutItem keyed by the press's action_ts: a retried job
    finds its own record and records nothing more)
  - list a conversation's reveals (one Query of its REVEAL# partition), oldest first

The record is about staff, not the patron (a conversation id, a message id, a Slack user), and
is kept REVEAL_SECONDS (TTL, also checked on read), longer than the conversation it points at,
so that who saw what can be answered after the messages are gone."""
from __future__ import annotations

import time

from botocore.exceptions import ClientError

from refdesk.store import keys
from refdesk.store.table import expired, failed_condition, now_iso, table

REVEAL_SECONDS = 365 * 24 * 3600


def record(conversation_id: str, message_id: str, user: str, action_ts: str) -> bool:
    """Record the press; False when it was recorded already (the same press, retried)."""
    item = {**keys.reveal(conversation_id, message_id, user, action_ts), "conversation_id": conversation_id,
            "message_id": message_id, "user": user, "revealed_at": now_iso(),
            "expires_at": keys.keep_until(REVEAL_SECONDS)}
    try:
        table().put_item(Item=item, ConditionExpression="attribute_not_exists(pk) OR expires_at <= :now",
                         ExpressionAttributeValues={":now": int(time.time())})
    except ClientError as error:
        if failed_condition(error):
            return False
        raise
    return True


def list_for(conversation_id: str) -> list[dict]:
    """The conversation's reveals, oldest first: {message_id, user, revealed_at}."""
    from boto3.dynamodb.conditions import Key

    query = {"KeyConditionExpression": Key("pk").eq(keys.reveals_partition(conversation_id))}
    items: list[dict] = []
    while True:
        page = table().query(**query)
        items += [item for item in page.get("Items", []) if not expired(item)]
        if "LastEvaluatedKey" not in page:
            break
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    items.sort(key=lambda item: item["revealed_at"])
    return [{name: item[name] for name in ("message_id", "user", "revealed_at")} for item in items]
