"""Live connections: a web chat session's open WebSocket connections (refdesk.live).

Access patterns:
  - open a connection for a session: take one of its `limit` slots with a conditional write, so
    that of two connections racing for the last free slot only one gets it; then the lookup
    from the connection id to its session and slot (not one transaction, which bills each write
    twice: a slot left without its lookup by a crash is freed by the first push, which meets
    410, or expires with its lifetime)
  - list a session's open connections: one strongly consistent Query (at most `limit` items)
  - close a connection by id ($disconnect knows only the connection id): the lookup, then its slot
  - remove a connection a push found gone (410): its slot, then the lookup

Both items expire with the connection (`expires_at`: API Gateway closes every connection within
`lifetime`); until TTL deletes them, an expired slot counts as free and is not listed."""
from __future__ import annotations

import dataclasses
import time

from botocore.exceptions import ClientError

from refdesk.store import keys
from refdesk.store.table import expired, failed_condition, table


@dataclasses.dataclass(frozen=True)
class Connection:
    connection_id: str
    slot: int
    connected_at: int  # epoch seconds


def open_slot(session_id: str, connection_id: str, *, limit: int, lifetime: int) -> bool:
    """Record the connection in a free slot of the session; False when all `limit` are taken."""
    now = int(time.time())
    taken = {connection.slot for connection in of_session(session_id)}
    for slot in (slot for slot in range(limit) if slot not in taken):
        try:
            table().put_item(
                Item={**keys.live_slot(session_id, slot), "connection_id": connection_id, "connected_at": now,
                      "expires_at": now + lifetime},
                # a slot whose connection outlived its lifetime is free (TTL deletion lags)
                ConditionExpression="attribute_not_exists(pk) OR expires_at <= :now",
                ExpressionAttributeValues={":now": now})
        except ClientError as error:
            if not failed_condition(error):
                raise
            continue
        table().put_item(Item={**keys.live_connection(connection_id), "session_id": session_id, "slot": slot,
                               "expires_at": now + lifetime})
        return True
    return False


def of_session(session_id: str) -> list[Connection]:
    """The session's open connections (one strongly consistent Query)."""
    from boto3.dynamodb.conditions import Key

    items = table().query(KeyConditionExpression=Key("pk").eq(keys.live_slots_partition(session_id)),
                          ConsistentRead=True).get("Items", [])
    return [Connection(connection_id=item["connection_id"], slot=int(item["sk"].split("#", 1)[1]),
                       connected_at=int(item["connected_at"])) for item in items if not expired(item)]


def close(connection_id: str) -> None:
    """The connection is closed ($disconnect): its lookup and its slot go. Idempotent."""
    lookup = table().delete_item(Key=keys.live_connection(connection_id), ReturnValues="ALL_OLD").get("Attributes")
    if lookup:
        _free(str(lookup["session_id"]), int(lookup["slot"]), connection_id)


def remove(session_id: str, connection: Connection) -> None:
    """A connection that API Gateway no longer has (a push met 410): its slot and lookup go."""
    _free(session_id, connection.slot, connection.connection_id)
    table().delete_item(Key=keys.live_connection(connection.connection_id))


def _free(session_id: str, slot: int, connection_id: str) -> None:
    # Only if the slot is still this connection's: a newer one may have taken it once it expired.
    try:
        table().delete_item(Key=keys.live_slot(session_id, slot), ConditionExpression="connection_id = :id",
                            ExpressionAttributeValues={":id": connection_id})
    except ClientError as error:
        if not failed_condition(error):
            raise
