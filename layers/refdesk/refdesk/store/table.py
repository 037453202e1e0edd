"""The table handle and the few helpers every store module shares."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from botocore.exceptions import ClientError

from refdesk import clients


def table():
    return clients.get("table")


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def expired(item: dict | None, now: float | None = None) -> bool:
    """Whether an item's lifetime (`expires_at`, epoch seconds) is over. DynamoDB's TTL deletes
    such items up to ~48 h late: until then, reads treat them as absent."""
    return bool(item) and "expires_at" in item and int(item["expires_at"]) <= (time.time() if now is None else now)


def failed_condition(error: ClientError) -> bool:
    return error.response["Error"]["Code"] in ("ConditionalCheckFailedException", "TransactionCanceledException")


def old_item(error: ClientError) -> dict:
    """The item a failed condition saw (error responses are not deserialized by boto3)."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {name: deserializer.deserialize(value) for name, value in (error.response.get("Item") or {}).items()}


def transact(items: list[dict]) -> None:
    """One TransactWriteItems; each item is {"Put"|"Update"|"Delete": {...}} without TableName."""
    handle = table()
    handle.meta.client.transact_write_items(TransactItems=[
        {action: {"TableName": handle.name, **spec} for action, spec in item.items()} for item in items])
