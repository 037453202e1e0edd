"""Conversations.

Access patterns:
  - create a conversation on its first message (idempotent), read it by id
  - remember its root card in Slack, and find the conversation from a Slack thread
  - keep where replies go (REPLY_TO) apart from the conversation, which knows only a hash
  - close it and release its session in one transaction; then every item of the conversation
    (and its thread lookup) expires the retention time after the close (`retire`)
  - reads of items whose lifetime is over behave as if they were gone (TTL deletion lags)"""
from __future__ import annotations

import dataclasses

from botocore.exceptions import ClientError

from refdesk.errors import Conflict, NotFound
from refdesk.models import Conversation, InboundMessage, ReplyTo, Status
from refdesk.store import keys, sessions
from refdesk.store.table import expired, failed_condition, now_iso, table, transact


def ensure(conversation_id: str, message: InboundMessage) -> Conversation:
    """Create the conversation on its first message (a no-op for later ones). Read first: a
    read costs a fifth of a write, and every later message finds it (only `ensure` creates it)."""
    item = table().get_item(Key=keys.conversation(conversation_id), ConsistentRead=True).get("Item")
    if item:
        return Conversation.from_item(item)
    item = table().update_item(
        Key=keys.conversation(conversation_id),
        UpdateExpression="SET patron_id = if_not_exists(patron_id, :pid), channel = if_not_exists(channel, :ch), "
                         "anchor = if_not_exists(anchor, :anchor), label = if_not_exists(label, :label), "
                         "#status = if_not_exists(#status, :open), created_at = if_not_exists(created_at, :now), "
                         "follow_up = if_not_exists(follow_up, :fu), conversation_id = :cid, "
                         "expires_at = if_not_exists(expires_at, :keep)",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":pid": message.patron_id, ":ch": message.channel, ":anchor": message.session_id,
                                   ":label": message.label, ":open": Status.OPEN.value, ":now": now_iso(),
                                   ":fu": message.follow_up, ":cid": conversation_id, ":keep": keys.keep_until()},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    return Conversation.from_item(item)


def get(conversation_id: str) -> Conversation:
    item = table().get_item(Key=keys.conversation(conversation_id)).get("Item")
    if not item or expired(item):
        raise NotFound("no such conversation")
    return Conversation.from_item(item)


def lifetime(conversation_id: str) -> int:
    """When an item added to the conversation now expires: with the conversation once it has
    closed (a message stored after the close), else KEEP_SECONDS from now."""
    item = table().get_item(Key=keys.conversation(conversation_id), ProjectionExpression="expires_at, closed_at",
                            ConsistentRead=True).get("Item") or {}
    return int(item["expires_at"]) if "closed_at" in item and "expires_at" in item else keys.keep_until()


def save_reply_to(conversation_id: str, reply_to: ReplyTo) -> None:
    """Written when it changed: every patron message carries it, and a read costs less than a write."""
    if get_reply_to(conversation_id, consistent=True) == reply_to:
        return
    table().put_item(Item={**keys.reply_to(conversation_id), "address": reply_to.address, "name": reply_to.name,
                           "expires_at": lifetime(conversation_id)})


def get_reply_to(conversation_id: str, *, consistent: bool = False) -> ReplyTo:
    item = table().get_item(Key=keys.reply_to(conversation_id), ConsistentRead=consistent).get("Item") or {}
    if expired(item):
        item = {}
    return ReplyTo(address=item.get("address", ""), name=item.get("name", ""))


def set_slack_root(conversation_id: str, channel: str, ts: str) -> None:
    """Remember the conversation's root message, and the thread -> conversation lookup."""
    transact([
        {"Update": {"Key": keys.conversation(conversation_id),
                    "UpdateExpression": "SET slack_channel = :ch, slack_ts = :ts",
                    "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(slack_ts)",
                    "ExpressionAttributeValues": {":ch": channel, ":ts": ts}}},
        {"Put": {"Item": {**keys.thread(channel, ts), "conversation_id": conversation_id,
                          "expires_at": keys.keep_until()}}},
    ])


def for_thread(channel: str, ts: str) -> str | None:
    item = table().get_item(Key=keys.thread(channel, ts)).get("Item")
    return item["conversation_id"] if item and not expired(item) else None


class ParkedSinceRead(Exception):
    """A patron message was parked on the session after the close stored the parked ones: the
    close is tried again (the queue retries it)."""


def close(conversation_id: str, closed_by: str, release: sessions.Release,
          retention_seconds: int = keys.KEEP_SECONDS) -> Conversation:
    """Close an open conversation and release its session as its channel requires; the
    conversation then expires `retention_seconds` after the close (`retire` does the rest of its
    items). Messages parked on the session must have been stored first. Raises Conflict when it
    was already closed, ParkedSinceRead when a message was parked meanwhile."""
    conversation = get(conversation_id)
    now = now_iso()
    try:
        transact([
            {"Update": {"Key": keys.conversation(conversation_id),
                        # Closing also leaves the waiting queue (store.queue): the index keys go.
                        "UpdateExpression": "SET #status = :closed, closed_at = :now, closed_by = :by, "
                                            "expires_at = :until REMOVE queue_pk, queue_sk",
                        "ConditionExpression": "#status = :open",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {":closed": Status.CLOSED.value, ":open": Status.OPEN.value,
                                                      ":now": now, ":by": closed_by,
                                                      ":until": keys.retained_until(now, retention_seconds)}}},
            sessions.release_step(conversation.anchor, conversation_id, release, now),
        ])
    except ClientError as error:
        if failed_condition(error):
            if get(conversation_id).is_open:  # the session's condition failed: a message was parked
                raise ParkedSinceRead("a patron message arrived while closing") from error
            raise Conflict("conversation already closed", code="closed") from error
        raise
    return dataclasses.replace(conversation, status=Status.CLOSED, closed_at=now, closed_by=closed_by)


class CloseUnfinished(Exception):
    """A reply to reopen a conversation whose close is still running: tried again once it is done
    (a close that found its conversation reopened would close it again)."""


def reopen(conversation_id: str, user: str, reply_ts: str, release: sessions.Release) -> Conversation:
    """A librarian's reply (Slack ts `reply_ts`) after the close takes the conversation back:
    open, theirs, its session pointing at it again, its items kept as an open conversation's
    (`retire` shortens them at the next close). One transaction. The same reply's retry (the
    answer lost) finds it made and gets the conversation. Raises Conflict when the session has
    moved on (code "moved_on": a newer conversation holds it) or its web chat is gone ("ended"),
    CloseUnfinished while the close is still running."""
    item = table().get_item(Key=keys.conversation(conversation_id), ConsistentRead=True).get("Item")
    if not item or expired(item):
        raise NotFound("no such conversation")
    conversation = Conversation.from_item(item)
    if conversation.is_open:
        return conversation
    if not conversation.close_finished_at:
        raise CloseUnfinished(conversation_id)
    now = now_iso()
    try:
        transact([
            {"Update": {"Key": keys.conversation(conversation_id),
                        "UpdateExpression": "SET #status = :open, claimed_by = :user, claimed_at = :now, "
                                            "reopen_ts = :ts, expires_at = :keep "
                                            "REMOVE closed_at, closed_by, close_finished_at",
                        "ConditionExpression": "#status = :closed AND attribute_exists(close_finished_at)",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {":open": Status.OPEN.value, ":closed": Status.CLOSED.value,
                                                      ":user": user, ":now": now, ":ts": reply_ts,
                                                      ":keep": keys.keep_until()}}},
            sessions.reopen_step(conversation.anchor, conversation_id, release),
        ])
    except ClientError as error:
        if not failed_condition(error):
            raise
        again = Conversation.from_item(table().get_item(Key=keys.conversation(conversation_id),
                                                        ConsistentRead=True).get("Item") or item)
        if again.is_open:  # reopened meanwhile: by this reply (its answer was lost) or another
            return again
        raise Conflict("the patron's session has moved on",
                       code="ended" if release is sessions.Release.END else "moved_on") from error
    return dataclasses.replace(conversation, status=Status.OPEN, claimed_by=user, claimed_at=now, reopen_ts=reply_ts,
                               closed_at="", closed_by="", close_finished_at="")


def finish_close(conversation_id: str) -> None:
    """Record that every step of a close is done, so a later press is told it was already closed."""
    table().update_item(Key=keys.conversation(conversation_id), UpdateExpression="SET close_finished_at = :now",
                        ConditionExpression="attribute_exists(pk)", ExpressionAttributeValues={":now": now_iso()})


def retire(conversation_id: str) -> int:
    """Give every item of a closed conversation (messages, their markers, where replies go, its
    invitations) and its thread lookup the conversation's own expiry, set by `close`. Safe to
    run again; returns how many items it shortened."""
    meta = table().get_item(Key=keys.conversation(conversation_id), ConsistentRead=True).get("Item") or {}
    if "closed_at" not in meta or "expires_at" not in meta:
        return 0
    until = int(meta["expires_at"])
    found: list[dict] = []
    query = {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": meta["pk"]},
             "ProjectionExpression": "pk, sk, expires_at", "ConsistentRead": True}
    while True:
        page = table().query(**query)
        found += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            break
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    if meta.get("slack_channel") and meta.get("slack_ts"):
        thread = table().get_item(Key=keys.thread(meta["slack_channel"], meta["slack_ts"]),
                                  ProjectionExpression="pk, sk, expires_at").get("Item")
        found += [thread] if thread else []
    shortened = 0
    for item in found:
        if int(item.get("expires_at", until + 1)) <= until:
            continue
        try:
            table().update_item(Key={"pk": item["pk"], "sk": item["sk"]}, UpdateExpression="SET expires_at = :until",
                                ConditionExpression="attribute_exists(pk)",
                                ExpressionAttributeValues={":until": until})
            shortened += 1
        except ClientError as error:
            if not failed_condition(error):
                raise
    return shortened
