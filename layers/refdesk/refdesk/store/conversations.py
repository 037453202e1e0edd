"""Conversations.

Access patterns:
  - create a conversation on its first message (idempotent), read it by id
  - remember its root card in Slack, and find the conversation from a Slack thread
  - keep where replies go (REPLY_TO) apart from the conversation, which knows only a hash
  - close it and release its session in one transaction"""
from __future__ import annotations

import dataclasses

from botocore.exceptions import ClientError

from refdesk.errors import Conflict, NotFound
from refdesk.models import Conversation, InboundMessage, ReplyTo, Status
from refdesk.store import keys, sessions
from refdesk.store.table import failed_condition, now_iso, table, transact


def ensure(conversation_id: str, message: InboundMessage) -> Conversation:
    """Create the conversation on its first message (a no-op for later ones)."""
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
    if not item:
        raise NotFound("no such conversation")
    return Conversation.from_item(item)


def save_reply_to(conversation_id: str, reply_to: ReplyTo) -> None:
    table().put_item(Item={**keys.reply_to(conversation_id), "address": reply_to.address, "name": reply_to.name,
                           "expires_at": keys.keep_until()})


def get_reply_to(conversation_id: str) -> ReplyTo:
    item = table().get_item(Key=keys.reply_to(conversation_id)).get("Item") or {}
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
    return item["conversation_id"] if item else None


def close(conversation_id: str, closed_by: str, release: sessions.Release) -> Conversation:
    """Close an open conversation and release its session as its channel requires.
    Raises Conflict when it was already closed."""
    conversation = get(conversation_id)
    now = now_iso()
    try:
        transact([
            {"Update": {"Key": keys.conversation(conversation_id),
                        # Closing also leaves the waiting queue (store.queue): the index keys go.
                        "UpdateExpression": "SET #status = :closed, closed_at = :now, closed_by = :by "
                                            "REMOVE queue_pk, queue_sk",
                        "ConditionExpression": "#status = :open",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {":closed": Status.CLOSED.value, ":open": Status.OPEN.value,
                                                      ":now": now, ":by": closed_by}}},
            sessions.release_step(conversation.anchor, conversation_id, release, now),
        ])
    except ClientError as error:
        if failed_condition(error):
            raise Conflict("conversation already closed", code="closed") from error
        raise
    return dataclasses.replace(conversation, status=Status.CLOSED, closed_at=now, closed_by=closed_by)
