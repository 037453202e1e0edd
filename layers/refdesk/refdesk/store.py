"""The DynamoDB single table: key formats, access patterns and conditional writes.
Nothing else in RefDesk builds keys or sees a ClientError.

Items (pk / sk):
  PATRON#{patron_id}   / OPEN            the SMS patron's open conversation (deleted on close)
  SESSION#{session_id} / META            a web chat session: token hash, its conversation
  CONV#{id}            / META            the conversation: patron id, channel, status, Slack root
  CONV#{id}            / REPLY_TO        where replies go (phone, contact), apart from identity
  CONV#{id}            / MSG#{stored}#{id} one message (patron, librarian, internal note, system)
  CONV#{id}            / ID#{message id}   makes storing a message idempotent
  THREAD#{channel}#{ts} / META           a Slack thread -> its conversation
  DUTY                 / USER#{user}     a librarian on duty
  RATE#{scope}#{key}   / {window}        a rate-limit counter
Every state change is a conditional write; TTL (expires_at) is also checked on read."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from botocore.exceptions import ClientError

from refdesk import clients
from refdesk.errors import Conflict, DuplicateDelivery, Forbidden, NotFound, RateLimited


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _table():
    return clients.get("table")


def _failed_condition(error: ClientError) -> bool:
    return error.response["Error"]["Code"] in ("ConditionalCheckFailedException", "TransactionCanceledException")


def _old_item(error: ClientError) -> dict:
    """The item a failed condition saw (error responses are not deserialized by boto3)."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {name: deserializer.deserialize(value) for name, value in (error.response.get("Item") or {}).items()}


def _conversation_key(cid: str) -> dict:
    return {"pk": f"CONV#{cid}", "sk": "META"}


def _session_key(session_id: str) -> dict:
    return {"pk": f"SESSION#{session_id}", "sk": "META"}


def _sms_pointer_key(patron_id: str) -> dict:
    return {"pk": f"PATRON#{patron_id}", "sk": "OPEN"}


def sms_anchor(patron_id: str) -> str:
    return _sms_pointer_key(patron_id)["pk"]


def session_anchor(session_id: str) -> str:
    return _session_key(session_id)["pk"]


def _thread_key(channel: str, ts: str) -> dict:
    return {"pk": f"THREAD#{channel}#{ts}", "sk": "META"}


# --- inbound: attach a patron message to the open conversation (one call) -----------------

def claim_sms_message(patron_id: str, message_id: str, new_conversation_id: str) -> tuple[str, bool]:
    """Record that this SMS arrived and find (or open) the patron's conversation, atomically.
    Returns (conversation_id, opened_now); raises DuplicateDelivery for a repeated MessageSid."""
    try:
        result = _table().update_item(
            Key=_sms_pointer_key(patron_id),
            UpdateExpression="SET conversation_id = if_not_exists(conversation_id, :new), updated_at = :now "
                             "ADD recent_ids :ids",
            ConditionExpression="attribute_not_exists(recent_ids) OR NOT contains(recent_ids, :id)",
            ExpressionAttributeValues={":new": new_conversation_id, ":now": now_iso(),
                                       ":ids": {message_id}, ":id": message_id},
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if _failed_condition(error):
            raise DuplicateDelivery(_old_item(error).get("conversation_id", "")) from error
        raise
    conversation_id = result["Attributes"]["conversation_id"]
    return conversation_id, conversation_id == new_conversation_id


def create_session(session_id: str, token_hash: str, conversation_id: str, patron_id: str,
                   expires_at: int) -> None:
    _table().put_item(
        Item={**_session_key(session_id), "token_hash": token_hash, "conversation_id": conversation_id,
              "patron_id": patron_id, "created_at": now_iso(), "message_count": 0, "expires_at": expires_at},
        ConditionExpression="attribute_not_exists(pk)",
    )


def _check_session(item: dict, token_hash: str) -> dict:
    if not item or int(item.get("expires_at", 0)) < time.time():
        raise NotFound("no such chat session")
    if item.get("token_hash") != token_hash:
        raise Forbidden("not your chat session")
    return item


def get_session(session_id: str, token_hash: str) -> dict:
    item = _table().get_item(Key=_session_key(session_id)).get("Item") or {}
    return _check_session(item, token_hash)


def claim_web_message(session_id: str, token_hash: str, client_id: str) -> tuple[str, bool]:
    """Like claim_sms_message for a web chat session; the token check is part of the condition."""
    try:
        result = _table().update_item(
            Key=_session_key(session_id),
            UpdateExpression="SET updated_at = :now ADD recent_ids :ids, message_count :one",
            ConditionExpression="token_hash = :th AND expires_at > :epoch AND attribute_not_exists(closed_at) "
                                "AND (attribute_not_exists(recent_ids) OR NOT contains(recent_ids, :id))",
            ExpressionAttributeValues={":now": now_iso(), ":ids": {client_id}, ":id": client_id, ":one": 1,
                                       ":th": token_hash, ":epoch": int(time.time())},
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if not _failed_condition(error):
            raise
        old = _check_session(_old_item(error), token_hash)
        if client_id in old.get("recent_ids", set()):  # a retry of a send that got through
            raise DuplicateDelivery(old["conversation_id"]) from error
        if "closed_at" in old:
            raise Conflict("this chat has ended; start a new one", code="closed") from error
        raise
    item = result["Attributes"]
    return item["conversation_id"], int(item["message_count"]) == 1


# --- conversations ---------------------------------------------------------------------

def ensure_conversation(conversation_id: str, *, patron_id: str, channel: str, anchor: str,
                        label: str, follow_up: bool = False) -> dict:
    """Create the conversation on its first message (a no-op for later ones)."""
    return _table().update_item(
        Key=_conversation_key(conversation_id),
        UpdateExpression="SET patron_id = if_not_exists(patron_id, :pid), channel = if_not_exists(channel, :ch), "
                         "anchor = if_not_exists(anchor, :anchor), label = if_not_exists(label, :label), "
                         "#status = if_not_exists(#status, :open), created_at = if_not_exists(created_at, :now), "
                         "follow_up = if_not_exists(follow_up, :fu), conversation_id = :cid",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":pid": patron_id, ":ch": channel, ":anchor": anchor, ":label": label,
                                   ":open": "open", ":now": now_iso(), ":fu": follow_up, ":cid": conversation_id},
        ReturnValues="ALL_NEW",
    )["Attributes"]


def get_conversation(conversation_id: str) -> dict:
    item = _table().get_item(Key=_conversation_key(conversation_id)).get("Item")
    if not item:
        raise NotFound("no such conversation")
    return item


def save_reply_to(conversation_id: str, channel: str, address: str, name: str = "") -> None:
    _table().put_item(Item={"pk": f"CONV#{conversation_id}", "sk": "REPLY_TO", "channel": channel,
                            "address": address, "name": name})


def get_reply_to(conversation_id: str) -> dict:
    return _table().get_item(Key={"pk": f"CONV#{conversation_id}", "sk": "REPLY_TO"}).get("Item") or {}


def set_slack_root(conversation_id: str, channel: str, ts: str) -> None:
    """Remember the conversation's root message, and the thread -> conversation lookup."""
    table = _table()
    table.meta.client.transact_write_items(TransactItems=[
        {"Update": {"TableName": table.name, "Key": _conversation_key(conversation_id),
                    "UpdateExpression": "SET slack_channel = :ch, slack_ts = :ts",
                    "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(slack_ts)",
                    "ExpressionAttributeValues": {":ch": channel, ":ts": ts}}},
        {"Put": {"TableName": table.name,
                 "Item": {**_thread_key(channel, ts), "conversation_id": conversation_id}}},
    ])


def conversation_for_thread(channel: str, ts: str) -> str | None:
    item = _table().get_item(Key=_thread_key(channel, ts)).get("Item")
    return item["conversation_id"] if item else None


def close_conversation(conversation_id: str, closed_by: str) -> dict:
    """Close an open conversation and release its anchor, so the patron's next message opens a
    new one. Raises Conflict when it was already closed."""
    table = _table()
    conversation = get_conversation(conversation_id)
    now = now_iso()
    anchor_pk = conversation["anchor"]
    if anchor_pk.startswith("PATRON#"):
        release = {"Delete": {"TableName": table.name, "Key": {"pk": anchor_pk, "sk": "OPEN"},
                              "ConditionExpression": "attribute_not_exists(pk) OR conversation_id = :cid",
                              "ExpressionAttributeValues": {":cid": conversation_id}}}
    else:
        release = {"Update": {"TableName": table.name, "Key": {"pk": anchor_pk, "sk": "META"},
                              "UpdateExpression": "SET closed_at = :now",
                              "ConditionExpression": "conversation_id = :cid",
                              "ExpressionAttributeValues": {":cid": conversation_id, ":now": now}}}
    try:
        table.meta.client.transact_write_items(TransactItems=[
            {"Update": {"TableName": table.name, "Key": _conversation_key(conversation_id),
                        "UpdateExpression": "SET #status = :closed, closed_at = :now, closed_by = :by",
                        "ConditionExpression": "#status = :open",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {":closed": "closed", ":open": "open", ":now": now,
                                                      ":by": closed_by}}},
            release,
        ])
    except ClientError as error:
        if _failed_condition(error):
            raise Conflict("conversation already closed", code="closed") from error
        raise
    return {**conversation, "status": "closed", "closed_at": now, "closed_by": closed_by}


# --- messages --------------------------------------------------------------------------

def message_sort_key(stored_at: str, message_id: str) -> str:
    return f"MSG#{stored_at}#{message_id}"


def put_message(conversation_id: str, message: dict) -> tuple[dict, bool]:
    """Store a message once per message_id. Returns (the stored item, created_now).

    Messages sort by when they were stored, not when they were written, so a reply stored
    late (after a retry) still comes after a poller's cursor; a marker keyed by message_id
    makes the write idempotent whatever the time."""
    table = _table()
    stored_at = now_iso()
    item = {"pk": f"CONV#{conversation_id}", "sk": message_sort_key(stored_at, message["message_id"]),
            "stored_at": stored_at, **message}
    marker = {"pk": item["pk"], "sk": f"ID#{message['message_id']}"}
    try:
        table.meta.client.transact_write_items(TransactItems=[
            {"Put": {"TableName": table.name, "Item": {**marker, "message_sk": item["sk"]},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"TableName": table.name, "Item": item}},
        ])
    except ClientError as error:
        if not _failed_condition(error):
            raise
        existing = table.get_item(Key=marker, ConsistentRead=True).get("Item")
        if not existing:  # cancelled by a concurrent transaction, not by our condition: retry later
            raise
        return table.get_item(Key={"pk": item["pk"], "sk": existing["message_sk"]}, ConsistentRead=True)["Item"], False
    return item, True


def update_message(conversation_id: str, sort_key: str, **fields) -> None:
    names = {f"#{name}": name for name in fields}
    _table().update_item(
        Key={"pk": f"CONV#{conversation_id}", "sk": sort_key},
        UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in fields),
        ConditionExpression="attribute_exists(sk)",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={f":{name}": value for name, value in fields.items()},
    )


def list_messages(conversation_id: str, *, after: str = "", visibility: str | None = None,
                  limit: int = 100) -> list[dict]:
    """Up to `limit` messages in stored order after the sort key `after` (a cursor), reading
    on past pages the visibility filter emptied."""
    from boto3.dynamodb.conditions import Attr, Key

    query = {"KeyConditionExpression": Key("pk").eq(f"CONV#{conversation_id}")
             & Key("sk").between(after or "MSG#", "MSG#~")}
    if visibility:
        query["FilterExpression"] = Attr("visibility").eq(visibility)
    items: list[dict] = []
    while len(items) < limit:
        page = _table().query(**query)
        items += [item for item in page.get("Items", []) if item["sk"] != after]
        if "LastEvaluatedKey" not in page:
            break
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return items[:limit]


# --- duty roster and rate limits -------------------------------------------------------

def set_on_duty(user_id: str, name: str, until_epoch: int) -> None:
    _table().put_item(Item={"pk": "DUTY", "sk": f"USER#{user_id}", "user_id": user_id, "name": name,
                            "since": now_iso(), "expires_at": until_epoch})


def set_off_duty(user_id: str) -> bool:
    """Returns whether the librarian was on duty."""
    result = _table().delete_item(Key={"pk": "DUTY", "sk": f"USER#{user_id}"}, ReturnValues="ALL_OLD")
    return bool(result.get("Attributes"))


def librarians_on_duty() -> list[dict]:
    from boto3.dynamodb.conditions import Key

    items = _table().query(KeyConditionExpression=Key("pk").eq("DUTY")).get("Items", [])
    return [item for item in items if int(item.get("expires_at", 0)) > time.time()]


def count_hit(scope: str, key: str, *, window_seconds: int, limit: int) -> None:
    """Count one request in the current window; raise RateLimited past the limit."""
    now = int(time.time())
    window = now - now % window_seconds
    try:
        _table().update_item(
            Key={"pk": f"RATE#{scope}#{key}", "sk": str(window)},
            UpdateExpression="ADD hits :one SET expires_at = :expires",
            ConditionExpression="attribute_not_exists(hits) OR hits < :limit",
            ExpressionAttributeValues={":one": 1, ":limit": limit, ":expires": window + 2 * window_seconds},
        )
    except ClientError as error:
        if _failed_condition(error):
            raise RateLimited("too many requests", retry_after=max(1, window + window_seconds - now)) from error
        raise
