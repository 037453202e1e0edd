"""Erasure: a patron's request to delete their conversations (refdesk.erasure), and the deletes.

Items:
  ERASE#{request_id} / META   one request (SMS DELETE, a Slack Connect "delete"): the channel, the
                              patron's keyed hash, the session and the address the confirmation
                              goes to, until it is done; then only `done_at`, so that a redelivered
                              job does nothing twice. `request_id` is a hash of channel and the
                              channel's message id: it identifies no one. Expires after a day or two.

Index ByPatron (sparse, on `patron_id`): every item carrying a patron's keyed hash, i.e. their
conversations (CONV#{id} / META) and web sessions (SESSION#{id} / META); blocks too, left alone.

Access patterns:
  - record a request (one conditional UpdateItem, the webhook's first call; a retry finds it)
  - read a request; finish it (the address and the hash dropped, done_at set)
  - the patron's conversations and sessions (one Query of ByPatron, paged)
  - delete one conversation: every item of its CONV# partition (messages, markers, REPLY_TO,
    invitations, ...; BatchWriteItem), its Slack thread lookup, its session's hold on it when the
    session still points at it (store.sessions.erase: the message ids stay a day, for replays),
    and its META last (so a retry still finds it through the index)
  - whether the removal from Slack was queued (a retry does not queue it again)
  - the patron's contact-card record"""
from __future__ import annotations

import hashlib
import time

from botocore.exceptions import ClientError

from refdesk.store import keys, sessions
from refdesk.store.table import failed_condition, now_iso, table

REQUEST_SECONDS = 2 * 24 * 3600  # long enough for the job's retries; the address goes when it is done


def request_id(channel: str, message_id: str) -> str:
    return hashlib.sha256(f"erase:{channel}:{message_id}".encode()).hexdigest()[:40]


def record_request(request: str, *, channel: str, patron_id: str, session_id: str, address: str) -> bool:
    """Store the request (once). False when it was stored before (a webhook retry)."""
    try:
        table().update_item(
            Key=keys.erase_request(request),
            UpdateExpression="SET channel = :ch, patron_id = :pid, session_id = :sid, address = :address, "
                             "requested_at = :now, expires_at = :keep",
            ConditionExpression="attribute_not_exists(pk)",
            ExpressionAttributeValues={":ch": channel, ":pid": patron_id, ":sid": session_id, ":address": address,
                                       ":now": now_iso(), ":keep": keys.keep_until(REQUEST_SECONDS)})
    except ClientError as error:
        if failed_condition(error):
            return False
        raise
    return True


def get_request(request: str) -> dict:
    """The request ({} when unknown or expired): channel, patron_id, session_id, address, done_at."""
    item = table().get_item(Key=keys.erase_request(request), ConsistentRead=True).get("Item") or {}
    if int(item.get("expires_at", 0)) < time.time():  # TTL deletion lags
        return {}
    return item


def finish_request(request: str) -> None:
    """Done: the item keeps only that it was done (no address, no hash) until it expires."""
    table().update_item(Key=keys.erase_request(request),
                        UpdateExpression="SET done_at = :now REMOVE address, patron_id, session_id",
                        ConditionExpression="attribute_exists(pk)", ExpressionAttributeValues={":now": now_iso()})


def patron_items(patron_id: str) -> tuple[list[str], list[str]]:
    """(conversation ids, session ids) of the patron, from the ByPatron index."""
    from boto3.dynamodb.conditions import Key

    query = {"IndexName": keys.PATRON_INDEX, "KeyConditionExpression": Key("patron_id").eq(patron_id)}
    conversations: list[str] = []
    sessions: list[str] = []
    while True:
        page = table().query(**query)
        for item in page.get("Items", []):
            if item.get("sk") != keys.META:
                continue
            kind, _, name = str(item.get("pk", "")).partition("#")
            if kind == "CONV":
                conversations.append(name)
            elif kind == "SESSION":
                sessions.append(name)
        if "LastEvaluatedKey" not in page:
            return conversations, sessions
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def delete_conversation(conversation_id: str, *, anchor: str, slack_channel: str, slack_ts: str) -> int:
    """Every item of the conversation, its META last; its thread lookup; its session if the session
    still points at it. Returns how many items of the conversation were deleted. Safe to repeat."""
    from boto3.dynamodb.conditions import Key

    partition = keys.messages_partition(conversation_id)
    query = {"KeyConditionExpression": Key("pk").eq(partition), "ProjectionExpression": "pk, sk",
             "ConsistentRead": True}
    found: list[dict] = []
    while True:
        page = table().query(**query)
        found += [{"pk": item["pk"], "sk": item["sk"]} for item in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            break
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    meta = keys.conversation(conversation_id)
    with table().batch_writer() as batch:
        for key in found:
            if key != meta:
                batch.delete_item(Key=key)
        if slack_channel and slack_ts:
            batch.delete_item(Key=keys.thread(slack_channel, slack_ts))
    if anchor:
        sessions.erase(anchor, conversation_id=conversation_id)
    table().delete_item(Key=meta)
    return len(found)


def removal_queued(conversation_id: str) -> bool:
    """Whether the removal from Slack was queued (a retry later than the queue's five minutes of
    de-duplication does not queue it, and so the thread's note, again)."""
    item = table().get_item(Key=keys.conversation(conversation_id), ConsistentRead=True,
                            ProjectionExpression="removal_queued_at").get("Item") or {}
    return bool(item.get("removal_queued_at"))


def remember_removal_queued(conversation_id: str) -> None:
    try:
        table().update_item(Key=keys.conversation(conversation_id), UpdateExpression="SET removal_queued_at = :now",
                            ConditionExpression="attribute_exists(pk)", ExpressionAttributeValues={":now": now_iso()})
    except ClientError as error:
        if not failed_condition(error):
            raise


def delete_contact_card_record(patron_id: str) -> None:
    table().delete_item(Key=keys.contact_card(patron_id))
