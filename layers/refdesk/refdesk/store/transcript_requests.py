"""A patron's "E-mail me this conversation" (refdesk.transcript_mail): the address they typed,
parked until the dispatcher has sent the transcript, so that the job on the queue carries only
references.

Items:
  - a web chat: SESSION#{id} / META (store.sessions) gains, per request, `transcript_to:{request id}`
    (the address; removed once sent) and `transcript_requests` (how many were asked for). The
    address goes with the item when the session is deleted (the patron's delete) or expires.
  - a Slack Connect partner (whose session is forgotten at the close): CONV#{id} / META counts
    `transcript_requests`, and the address waits on an item of its own, CONV#{id} /
    TRANSCRIPT#{request id}, with `transcript_to:{request id}` until sent, then
    `transcript_outcome:{request id}` (sent or refused, no address) until the partner was told;
    the item expires `seconds` after the request whatever happens (reads treat it as gone then),
    and the patron's delete removes it with the conversation's partition.

Access patterns:
  - park an address (web: one conditional UpdateItem: the token, the session live and its chat
    closed, fewer than `limit` requests so far, answering the session's conversation id; Slack
    Connect: one transaction: the conversation closed and the presser its patron, fewer than
    `limit`, and the request's item new)
  - read a parked address and its outcome (one strongly consistent GetItem)
  - forget the address once sent (one UpdateItem; nothing when it is gone already), recording
    the outcome where the patron is still to be told; forget the outcome once told (one UpdateItem)"""
from __future__ import annotations

import time
from typing import NamedTuple

from botocore.exceptions import ClientError

from refdesk.errors import Conflict, Forbidden, NotFound, RateLimited, RefDeskError
from refdesk.store import keys
from refdesk.store.table import expired, failed_condition, old_item, table, transact

PREFIX = "transcript_to:"
OUTCOME_PREFIX = "transcript_outcome:"


class Parked(NamedTuple):
    address: str = ""  # "" once sent (or refused for good), or when the request is gone
    outcome: str = ""  # a Slack Connect request sent or refused whose partner is still to be told


def key_of(conversation_id: str, session_id: str, request_id: str) -> dict:
    """The item a request's address is parked on: its web chat's session, or (a Slack Connect
    partner's, with no session) the request's own item in its conversation's partition."""
    if session_id:
        return keys.session(session_id)
    return keys.transcript_request(conversation_id, request_id)


def park(session_id: str, token_hash: str, request_id: str, address: str, *, limit: int) -> str:
    """Park `address` for a web chat's request; returns the session's conversation id. Raises
    NotFound (no such live session), Forbidden (not its token), Conflict (the chat is still open),
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
        live = bool(old) and int(old.get("expires_at", 0)) > epoch
        raise _refusal(old if live else {}, old.get("token_hash") == token_hash, "closed_at" in old, limit,
                       NotFound("no such chat session"), Forbidden("not your chat session"),
                       "this chat is still open: it can be e-mailed once it has ended",
                       retry_after=int(old.get("expires_at", 0)) - epoch) from error
    return item["conversation_id"]


def park_for_patron(conversation_id: str, patron_id: str, request_id: str, address: str, *, limit: int,
                    seconds: int) -> bool:
    """Park `address` for a Slack Connect partner's request (`request_id` names the submission, so
    that the same submission parks once): one transaction counting it on the conversation. False
    when this request was parked already. Raises NotFound (no such conversation: erased, expired),
    Forbidden (`patron_id` is not the conversation's patron), Conflict (open again), RateLimited
    (`limit` requests made already)."""
    epoch = int(time.time())
    try:
        transact([
            {"Update": {"Key": keys.conversation(conversation_id), "UpdateExpression": "ADD transcript_requests :one",
                        "ConditionExpression": "patron_id = :patron AND #status = :closed AND (attribute_not_exists("
                                               "transcript_requests) OR transcript_requests < :limit)",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {":one": 1, ":patron": patron_id, ":closed": "closed",
                                                      ":limit": limit}}},
            {"Put": {"Item": {**key_of(conversation_id, "", request_id), PREFIX + request_id: address,
                              "expires_at": epoch + seconds},
                     "ConditionExpression": "attribute_not_exists(pk)"}}])
    except ClientError as error:
        if not failed_condition(error):
            raise
        reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons") or []]
        if reasons[1:2] == ["ConditionalCheckFailed"]:
            return False  # this submission's request exists: parked (or sent) already
        old = table().get_item(Key=keys.conversation(conversation_id), ConsistentRead=True).get("Item") or {}
        raise _refusal({} if expired(old) else old, old.get("patron_id") == patron_id, old.get("status") == "closed",
                       limit, NotFound("this conversation is no longer kept"),
                       Forbidden("only the person who asked the library can have this conversation e-mailed"),
                       "this conversation is open again: it can be e-mailed once it has ended",
                       retry_after=int(old.get("expires_at", 0)) - epoch) from error
    return True


def _refusal(found: dict, theirs: bool, ended: bool, limit: int, not_found: NotFound, forbidden: Forbidden,
             still_open: str, *, retry_after: int) -> RefDeskError:
    """Why a park's condition failed, from the item it saw (`found`, {} when there is none)."""
    if not found:
        return not_found
    if not theirs:
        return forbidden
    if not ended:
        return Conflict(still_open, code="open")
    return RateLimited(f"this conversation was e-mailed {limit} times already", retry_after=max(1, retry_after))


def parked(key: dict, request_id: str) -> Parked:
    """The request's parked address and outcome, as `key_of`'s item holds them now (Parked() once
    sent and told, or when the item is gone or expired)."""
    item = table().get_item(Key=key, ConsistentRead=True).get("Item") or {}
    if expired(item):
        return Parked()
    return Parked(str(item.get(PREFIX + request_id, "")), str(item.get(OUTCOME_PREFIX + request_id, "")))


def forget(key: dict, request_id: str, outcome: str = "") -> None:
    """Remove the parked address (sent, or refused for good), keeping `outcome` where the patron
    is still to be told it. Idempotent: nothing happens when it is gone already, or its item."""
    names = {"#to": PREFIX + request_id}
    update = {"UpdateExpression": "REMOVE #to"}
    if outcome:
        names["#outcome"] = OUTCOME_PREFIX + request_id
        update = {"UpdateExpression": "REMOVE #to SET #outcome = :outcome",
                  "ExpressionAttributeValues": {":outcome": outcome}}
    _update_if_there(key, "#to", names, update)


def told(key: dict, request_id: str) -> None:
    """The patron was told the outcome: forgotten too. Idempotent."""
    _update_if_there(key, "#outcome", {"#outcome": OUTCOME_PREFIX + request_id},
                     {"UpdateExpression": "REMOVE #outcome"})


def _update_if_there(key: dict, name: str, names: dict, update: dict) -> None:
    """An update made only while attribute `name` is there (so that no item is made anew)."""
    try:
        table().update_item(Key=key, ConditionExpression=f"attribute_exists({name})", ExpressionAttributeNames=names,
                            **update)
    except ClientError as error:
        if not failed_condition(error):
            raise
