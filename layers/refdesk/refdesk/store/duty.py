"""The duty roster.

Access patterns:
  - put a librarian on duty until a time; take them off
  - list who is on duty now (one Query; expired entries filtered, since TTL deletion lags)"""
from __future__ import annotations

import time

from refdesk.store import keys
from refdesk.store.table import now_iso, table


def set_on(user_id: str, name: str, until_epoch: int) -> None:
    table().put_item(Item={**keys.duty(user_id), "user_id": user_id, "name": name, "since": now_iso(),
                           "expires_at": until_epoch})


def set_off(user_id: str) -> bool:
    """Returns whether the librarian was on duty."""
    result = table().delete_item(Key=keys.duty(user_id), ReturnValues="ALL_OLD")
    return bool(result.get("Attributes"))


def on_duty() -> list[dict]:
    from boto3.dynamodb.conditions import Key

    items = table().query(KeyConditionExpression=Key("pk").eq(keys.DUTY_PK)).get("Items", [])
    return [item for item in items if int(item.get("expires_at", 0)) > time.time()]
