"""Rate limits.

Access patterns:
  - count one request in the current fixed window of a scope and key, refusing past the limit
    (one conditional UpdateItem; the counter expires two windows later)"""
from __future__ import annotations

import time

from botocore.exceptions import ClientError

from refdesk.errors import RateLimited
from refdesk.store import keys
from refdesk.store.table import failed_condition, table


def count_hit(scope: str, key: str, *, window_seconds: int, limit: int) -> None:
    """Count one request in the current window; raise RateLimited past the limit."""
    now = int(time.time())
    window = now - now % window_seconds
    try:
        table().update_item(
            Key=keys.rate(scope, key, window),
            UpdateExpression="ADD hits :one SET expires_at = :expires",
            ConditionExpression="attribute_not_exists(hits) OR hits < :limit",
            ExpressionAttributeValues={":one": 1, ":limit": limit, ":expires": window + 2 * window_seconds},
        )
    except ClientError as error:
        if failed_condition(error):
            raise RateLimited("too many requests", retry_after=max(1, window + window_seconds - now)) from error
        raise
