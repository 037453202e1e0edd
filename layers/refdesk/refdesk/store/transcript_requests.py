"""A web patron's "E-mail me this conversation" (refdesk.transcript_mail): the address they typed,
parked on their session item until the dispatcher has sent the transcript, so that the job on the
queue carries only references.

Items: SESSION#{id} / META (store.sessions) gains, per request, `transcript_to:{request id}` (the
address; removed once sent) and `transcript_requests` (how many were asked for). The address goes
with the item when the session is deleted (the patron's delete) or expires.

Access patterns:
  - park an address (one conditional UpdateItem: the token, the session live and its chat
    closed, fewer than `limit` requests so far), answering the session's conversation id
  - read a parked address (one strongly consistent GetItem)
  - forget it once sent (one UpdateItem; nothing when it is gone already)"""
from __future__ import annotations

import time

from botocore.exceptions import ClientError

from refdesk.errors import Conflict, Forbidden, NotFound, RateLimited
from refdesk.store import keys
from refdesk.store.table import failed_condition, old_item, table

PREFIX = "transcript_to:"


def park(session_id: str, token_hash: str, request_id: str, address: str, *, limit: int) -> str:
    """Park `address` for the request; returns the session's conversation id. Raises NotFound
    (no such live session), Forbidden (not its token), Conflict (the chat is still open),
    RateLimited (`limit` requests made already: for the rest of the session's life)."""
    epoch = int(time.time())
    try:
        item = table().update_item(
            Key=keys.session(session_id),
            UpdateExpression="SET #to = :to ADD transcript_requests :one",
            ConditionExpression="token_hash = :th AND expires_at > :epoch AND attribute_exists(closed_at) "
                                "AND (attribute_not_exists(transcript_requests) OR transcript_requests < :limit)",
            ExpressionAttributeNames={"#to": PREFIX + request_id},
            ExpressionAttributeValues={":to": address, ":one": 1, ":th": token_hash,
                                       ":epoch": epoch, ":limit": limit},
            ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD")["Attributes"]
    except ClientError as error:
        if not failed_condition(error):
            raise
        old = old_item(error)
        if not old or int(old.get("expires_at", 0)) <= epoch:
            raise NotFound("no such chat session") from error
        if old.get("token_hash") != token_hash:
            raise Forbidden("not your chat session") from error
        if "closed_at" not in old:
            raise Conflict("this chat is still open: it can be e-mailed once it has ended", code="open") from error
        raise RateLimited(f"this conversation was e-mailed {limit} times already",
                          retry_after=max(1, int(old["expires_at"]) - epoch)) from error
    return item["conversation_id"]


def address(session_id: str, request_id: str) -> str:
    """The parked address, or "" once sent (or when the session is gone)."""
    item = table().get_item(Key=keys.session(session_id), ConsistentRead=True).get("Item") or {}
    return str(item.get(PREFIX + request_id, ""))


def forget(session_id: str, request_id: str) -> None:
    """Remove the parked address (sent, or refused for good). Idempotent: nothing happens when it
    is gone already, or the session with it."""
    try:
        table().update_item(Key=keys.session(session_id), UpdateExpression="REMOVE #to",
                            ConditionExpression="attribute_exists(#to)",
                            ExpressionAttributeNames={"#to": PREFIX + request_id})
    except ClientError as error:
        if not failed_condition(error):
            raise
