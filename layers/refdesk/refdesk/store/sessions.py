"""Sessions: a patron's presence on one channel, and the anchor of their open conversation.

Access patterns:
  - claim an inbound message: one conditional UpdateItem records the message id (dedup) and
    finds, or opens, the session's conversation; the webhook's only table call
  - create a session that must be presented with its token (web chat)
  - read a session by id, checking its token hash and expiry (the widget's poll)
  - end or forget a session when its conversation closes (in conversations.close)
  - find a session's conversation from a message claimed in it (a patron's edit or deletion)

A session that does not exist yet is created by its first claim (SMS: one per phone number);
a session created ahead with a token (web chat) only takes claims that carry that token."""
from __future__ import annotations

import time
from enum import StrEnum

from botocore.exceptions import ClientError

from refdesk.errors import Conflict, DuplicateDelivery, Forbidden, NotFound
from refdesk.store import keys
from refdesk.store.table import failed_condition, now_iso, old_item, table


class Release(StrEnum):
    """What closing a conversation does to its session."""

    FORGET = "forget"  # the next message opens a new conversation (SMS)
    END = "end"  # the session is over; later sends are refused (web chat)


def claim(session_id: str, message_id: str, *, new_conversation_id: str = "",
          token_hash: str = "") -> tuple[str, bool]:
    """Record that this message arrived and return (conversation_id, opened_now).

    Without a token hash the session is created on first use with `new_conversation_id`;
    with one, the session must exist, match it, be live and not ended. Raises
    DuplicateDelivery for a message id seen before, Conflict when the session has ended."""
    values = {":now": now_iso(), ":ids": {message_id}, ":id": message_id, ":one": 1, ":keep": keys.keep_until()}
    assignments = ["updated_at = :now", "expires_at = if_not_exists(expires_at, :keep)"]
    condition = "(attribute_not_exists(recent_ids) OR NOT contains(recent_ids, :id))"
    if new_conversation_id:
        assignments.append("conversation_id = if_not_exists(conversation_id, :new)")
        values[":new"] = new_conversation_id
    if token_hash:
        condition += " AND token_hash = :th AND expires_at > :epoch AND attribute_not_exists(closed_at)"
        values.update({":th": token_hash, ":epoch": int(time.time())})
    try:
        item = table().update_item(
            Key=keys.session(session_id), UpdateExpression=f"SET {', '.join(assignments)} "
                                                           "ADD recent_ids :ids, message_count :one",
            ConditionExpression=condition, ExpressionAttributeValues=values, ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )["Attributes"]
    except ClientError as error:
        if not failed_condition(error):
            raise
        old = old_item(error)
        if token_hash:
            _check(old, token_hash)
        if message_id in old.get("recent_ids", set()):  # a retry of a delivery that got through
            raise DuplicateDelivery(old.get("conversation_id", "")) from error
        if "closed_at" in old:
            raise Conflict("this chat has ended; start a new one", code="closed") from error
        raise
    return item["conversation_id"], int(item["message_count"]) == 1


def conversation_holding(session_id: str, message_id: str) -> str | None:
    """The session's conversation, if that message was claimed in it and the session is still
    open (a patron's edit or deletion concerns it); None otherwise. One strongly consistent read."""
    item = table().get_item(Key=keys.session(session_id), ConsistentRead=True).get("Item") or {}
    if "closed_at" in item or message_id not in item.get("recent_ids", set()):
        return None
    return item.get("conversation_id") or None


def create(session_id: str, token_hash: str, conversation_id: str, patron_id: str, expires_at: int) -> None:
    table().put_item(
        Item={**keys.session(session_id), "token_hash": token_hash, "conversation_id": conversation_id,
              "patron_id": patron_id, "created_at": now_iso(), "message_count": 0, "expires_at": expires_at},
        ConditionExpression="attribute_not_exists(pk)",
    )


def get(session_id: str, token_hash: str) -> dict:
    return _check(table().get_item(Key=keys.session(session_id)).get("Item") or {}, token_hash)


def _check(item: dict, token_hash: str) -> dict:
    if not item or int(item.get("expires_at", 0)) < time.time():  # TTL deletion lags
        raise NotFound("no such chat session")
    if item.get("token_hash") != token_hash:
        raise Forbidden("not your chat session")
    return item


def release_step(session_id: str, conversation_id: str, release: Release, now: str) -> dict:
    """The transaction item that releases the session when its conversation closes."""
    key = keys.session(session_id)
    if release is Release.FORGET:
        return {"Delete": {"Key": key, "ConditionExpression": "attribute_not_exists(pk) OR conversation_id = :cid",
                           "ExpressionAttributeValues": {":cid": conversation_id}}}
    return {"Update": {"Key": key, "UpdateExpression": "SET closed_at = :now",
                       "ConditionExpression": "conversation_id = :cid",
                       "ExpressionAttributeValues": {":cid": conversation_id, ":now": now}}}
