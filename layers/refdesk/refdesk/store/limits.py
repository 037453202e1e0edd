"""Rate limits.

Access patterns:
  - count one request in the current fixed window of a scope and key, refusing past the limit
    (one conditional UpdateItem; the counter expires two windows later)
  - refuse a request while the window's count is at the limit, without counting it (one
    eventually consistent GetItem: a tenth of the write's price)"""
from __future__ import annotations

import time

from botocore.exceptions import ClientError

from refdesk.errors import RateLimited
from refdesk.store import keys
from refdesk.store.table import failed_condition, table


def count_hit(scope: str, key: str, *, window_seconds: int, limit: int) -> None:
    """Count one request in the current window; raise RateLimited past the limit."""
    now, window = _window(window_seconds)
    try:
        table().update_item(
            Key=keys.rate(scope, key, window),
            UpdateExpression="ADD hits :one SET expires_at = :expires",
            ConditionExpression="attribute_not_exists(hits) OR hits < :limit",
            ExpressionAttributeValues={":one": 1, ":limit": limit, ":expires": window + 2 * window_seconds},
        )
    except ClientError as error:
        if failed_condition(error):
            raise _limited(now, window, window_seconds) from error
        raise


def check_under(scope: str, key: str, *, window_seconds: int, limit: int) -> None:
    """Raise RateLimited while the current window holds `limit` counted requests; count nothing."""
    now, window = _window(window_seconds)
    item = table().get_item(Key=keys.rate(scope, key, window), ProjectionExpression="hits").get("Item") or {}
    if int(item.get("hits", 0)) >= limit:
        raise _limited(now, window, window_seconds)


def _window(window_seconds: int) -> tuple[int, int]:
    now = int(time.time())
    return now, now - now % window_seconds


def _limited(now: int, window: int, window_seconds: int) -> RateLimited:
    return RateLimited("too many requests", retry_after=max(1, window + window_seconds - now))
