"""The duty roster, and who looks at the desk in the app's Home tab.

Access patterns:
  - put a librarian on duty until a time; take them off
  - list who is on duty now (one Query; expired entries filtered, since TTL deletion lags)
  - note that a librarian opened the Home tab; list who did within HOME_VIEW_SECONDS (one Query)"""
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


# A Home tab opened this long ago is still republished when the desk changes: a working day.
HOME_VIEW_SECONDS = 10 * 3600


def saw_home(user_id: str) -> None:
    table().put_item(Item={**keys.home_viewer(user_id), "user_id": user_id,
                           "expires_at": int(time.time()) + HOME_VIEW_SECONDS})


def home_viewers() -> list[str]:
    from boto3.dynamodb.conditions import Key

    items = table().query(KeyConditionExpression=Key("pk").eq(keys.HOME_PK)).get("Items", [])
    return [str(item["user_id"]) for item in items if int(item.get("expires_at", 0)) > time.time()]
