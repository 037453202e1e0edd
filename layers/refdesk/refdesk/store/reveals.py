"""Reveals: a librarian pressed Reveal on a patron message that was shown redacted in Slack
(refdesk.redaction, refdesk.reveal) and saw its original. Each press is recorded: who, when,
which message; never the text.

Access patterns:
  - record one press (one TransactWriteItems of two Puts: the conversation's item, keyed by the
    press's action_ts, on the condition that it is new, and the same reveal under its month;
    a retried job finds its own record, the transaction is cancelled, and nothing more is
    recorded, under either key)
  - list a conversation's reveals (one Query of its REVEAL# partition), oldest first
  - list the reveals between two times (the reveal audit, refdesk.reveal_audit): one Query of
    each month's REVEALS# partition the range touches (sort key from revealed_at), oldest first

The record is about staff, not the patron (a conversation id, a message id, a Slack user), and
is kept REVEAL_SECONDS (TTL, also checked on read), longer than the conversation it points at,
so that who saw what can be answered after the messages are gone."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from botocore.exceptions import ClientError

from refdesk.store import keys
from refdesk.store.table import expired, failed_condition, now_iso, table, transact

REVEAL_SECONDS = 365 * 24 * 3600
FIELDS = ("revealed_at", "user", "conversation_id", "message_id")


def record(conversation_id: str, message_id: str, user: str, action_ts: str) -> bool:
    """Record the press; False when it was recorded already (the same press, retried)."""
    revealed_at = now_iso()
    fields = {"conversation_id": conversation_id, "message_id": message_id, "user": user,
              "revealed_at": revealed_at, "expires_at": keys.keep_until(REVEAL_SECONDS)}
    try:
        transact([
            {"Put": {"Item": {**keys.reveal(conversation_id, message_id, user, action_ts), **fields},
                     "ConditionExpression": "attribute_not_exists(pk) OR expires_at <= :now",
                     "ExpressionAttributeValues": {":now": int(time.time())}}},
            # Its key holds this attempt's time: written only with the item above, never twice.
            {"Put": {"Item": {**keys.reveal_by_time(revealed_at, conversation_id, message_id, user, action_ts),
                              **fields}}},
        ])
    except ClientError as error:
        if failed_condition(error):
            return False
        raise
    return True


def list_for(conversation_id: str) -> list[dict]:
    """The conversation's reveals, oldest first: {message_id, user, revealed_at}."""
    from boto3.dynamodb.conditions import Key

    items = _query(Key("pk").eq(keys.reveals_partition(conversation_id)))
    items.sort(key=lambda item: item["revealed_at"])
    return [{name: item[name] for name in ("message_id", "user", "revealed_at")} for item in items]


def between(start: datetime, end: datetime) -> list[dict]:
    """The reveals from `start` (included) to `end` (excluded), oldest first:
    {revealed_at (ISO, UTC), user, conversation_id, message_id}."""
    from boto3.dynamodb.conditions import Key

    start, end = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    # Sort keys begin with revealed_at and go on with "#…": between the bare times is [start, end).
    times = Key("sk").between(_iso(start), _iso(end))
    found: list[dict] = []
    month = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while month < end:
        found += _query(Key("pk").eq(keys.reveals_month_partition(f"{month:%Y-%m}")) & times)
        month = (month + timedelta(days=32)).replace(day=1)
    return [{name: item[name] for name in FIELDS} for item in found]


def _query(condition) -> list[dict]:
    query = {"KeyConditionExpression": condition}
    items: list[dict] = []
    while True:
        page = table().query(**query)
        items += [item for item in page.get("Items", []) if not expired(item)]
        if "LastEvaluatedKey" not in page:
            return items
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _iso(moment: datetime) -> str:
    """As now_iso writes revealed_at."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
