"""Conversations.

Access patterns:
  - create a conversation on its first message (idempotent), read it by id
  - remember its root card in Slack, and find the conversation from a Slack thread
  - keep where replies go (REPLY_TO) apart from the conversation, which knows only a hash
  - record that it is active (a message) at most once per `activity_step`, which keeps it in the
    index ByActivity at its last message and its expiry a backstop after it (`record_activity`);
    list the open conversations least active first (`by_activity`), for the idle close
  - close it and release its session in one transaction (the idle close: only while it is still
    idle); then every item of the conversation (and its thread lookup) expires the retention
    time after the close (`retire`)
  - keep a short redacted preview of the patron's question, written once (`set_preview`), and read
    a page of conversations' summaries, previews included, in one BatchGetItem (`summaries`: the
    Home tab)
  - reads of items whose lifetime is over behave as if they were gone (TTL deletion lags)"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from botocore.exceptions import ClientError

from refdesk.errors import Conflict, NotFound
from refdesk.models import Conversation, InboundMessage, ReplyTo, Status
from refdesk.settings import get_settings
from refdesk.store import keys, sessions
from refdesk.store.table import expired, failed_condition, now_iso, table, transact

# `active_at` is written again only when a message comes this long after it (IdleCloseHours if
# shorter): an open conversation costs a write an hour for it at most, not one per message.
ACTIVITY_STEP_SECONDS = 3600
# Where replies go is written again when its expiry is this far behind an open conversation's (one
# active for longer than RetentionDays keeps it), not with every message.
REPLY_TO_REFRESH_SECONDS = 24 * 3600


def ensure(conversation_id: str, message: InboundMessage, sent_at: str = "") -> Conversation:
    """Create the conversation on its first message (a no-op for later ones), started when the
    patron sent that message (`sent_at`; else now). Read first: a read costs a fifth of a write,
    and every later message finds it (only `ensure` creates it)."""
    item = table().get_item(Key=keys.conversation(conversation_id), ConsistentRead=True).get("Item")
    if item:
        return Conversation.from_item(item)
    now = now_iso()
    item = table().update_item(
        Key=keys.conversation(conversation_id),
        UpdateExpression="SET patron_id = if_not_exists(patron_id, :pid), channel = if_not_exists(channel, :ch), "
                         "anchor = if_not_exists(anchor, :anchor), label = if_not_exists(label, :label), "
                         "#status = if_not_exists(#status, :open), created_at = if_not_exists(created_at, :sent), "
                         "follow_up = if_not_exists(follow_up, :fu), conversation_id = :cid, "
                         "open_pk = if_not_exists(open_pk, :open_pk), active_at = if_not_exists(active_at, :now), "
                         "expires_at = if_not_exists(expires_at, :until)",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":pid": message.patron_id, ":ch": message.channel, ":anchor": message.session_id,
                                   ":label": message.label, ":open": Status.OPEN.value, ":now": now,
                                   ":sent": min(sent_at or now, now),
                                   ":fu": message.follow_up, ":cid": conversation_id, ":open_pk": keys.OPEN_PK,
                                   ":until": keys.open_until(now)},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    return Conversation.from_item(item)


def get(conversation_id: str) -> Conversation:
    item = table().get_item(Key=keys.conversation(conversation_id)).get("Item")
    if not item or expired(item):
        raise NotFound("no such conversation")
    return Conversation.from_item(item)


def _lifetime_of(conversation_id: str) -> tuple[dict, str, int]:
    """The conversation's item as far as lifetimes go (status, expiry, closed_at, active_at), now,
    and when an item added to it now expires: with the conversation once it has closed (a message
    stored after the close), else `keys.open_until` now."""
    item = table().get_item(Key=keys.conversation(conversation_id), ConsistentRead=True,
                            ProjectionExpression="#status, expires_at, closed_at, active_at",
                            ExpressionAttributeNames={"#status": "status"}).get("Item") or {}
    now = now_iso()
    closed = "closed_at" in item and "expires_at" in item
    return item, now, int(item["expires_at"]) if closed else keys.open_until(now)


def lifetime(conversation_id: str) -> int:
    """When an item added to the conversation now expires (see `_lifetime_of`)."""
    return _lifetime_of(conversation_id)[2]


def activity_step() -> int:
    """How far `active_at` may lag behind the conversation's last message, in seconds."""
    return min(ACTIVITY_STEP_SECONDS, get_settings().idle_close_seconds)


def record_activity(conversation_id: str) -> int:
    """A message is being added to the conversation now: returns when it expires (`lifetime`).
    When the open conversation's `active_at` is `activity_step` old or more, it moves to now, and
    the conversation's own expiry with it (one conditional write; skipped when another message
    moved it first or the conversation closed meanwhile)."""
    item, now, until = _lifetime_of(conversation_id)
    active_at = str(item.get("active_at", ""))
    if item.get("status") != Status.OPEN.value or (
            active_at and keys.retained_until(active_at, activity_step()) > keys.retained_until(now, 0)):
        return until
    unmoved, seen = "attribute_not_exists(active_at)", {}
    if active_at:
        unmoved, seen = "active_at = :seen", {":seen": active_at}
    try:
        table().update_item(Key=keys.conversation(conversation_id),
                            UpdateExpression="SET open_pk = :open_pk, active_at = :now, expires_at = :until",
                            ConditionExpression=f"#status = :open AND {unmoved}",
                            ExpressionAttributeNames={"#status": "status"},
                            ExpressionAttributeValues={":open_pk": keys.OPEN_PK, ":now": now, ":until": until,
                                                       ":open": Status.OPEN.value, **seen})
    except ClientError as error:
        if not failed_condition(error):
            raise
    return until


def save_reply_to(conversation_id: str, reply_to: ReplyTo) -> None:
    """Written when it changed, or when its expiry is REPLY_TO_REFRESH_SECONDS behind an open
    conversation's: every patron message carries it, and a read costs less than a write."""
    item = table().get_item(Key=keys.reply_to(conversation_id), ConsistentRead=True).get("Item") or {}
    fresh = int(item.get("expires_at", 0)) > keys.open_until(now_iso()) - REPLY_TO_REFRESH_SECONDS
    if _reply_to(item) == reply_to and fresh:
        return
    table().put_item(Item={**keys.reply_to(conversation_id), "address": reply_to.address, "name": reply_to.name,
                           "expires_at": lifetime(conversation_id)})


def get_reply_to(conversation_id: str, *, consistent: bool = False) -> ReplyTo:
    return _reply_to(table().get_item(Key=keys.reply_to(conversation_id), ConsistentRead=consistent).get("Item") or {})


def _reply_to(item: dict) -> ReplyTo:
    if expired(item):
        item = {}
    return ReplyTo(address=item.get("address", ""), name=item.get("name", ""))


def set_context(conversation_id: str, lines: list[str]) -> None:
    """The card's patron context, kept from its first post (a retry keeps the first made)."""
    table().update_item(Key=keys.conversation(conversation_id),
                        UpdateExpression="SET context = if_not_exists(context, :lines)",
                        ConditionExpression="attribute_exists(pk)", ExpressionAttributeValues={":lines": lines})


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


def set_preview(conversation_id: str, preview: str) -> None:
    """Keep a short preview of the patron's question (already redacted and cut: refdesk.slack.home)
    on the conversation item, where it lives and expires with the conversation. Written once:
    a later call changes nothing; a conversation gone meanwhile gets none."""
    try:
        table().update_item(Key=keys.conversation(conversation_id),
                            UpdateExpression="SET preview = if_not_exists(preview, :preview)",
                            ConditionExpression="attribute_exists(pk)", ExpressionAttributeValues={":preview": preview})
    except ClientError as error:
        if not failed_condition(error):
            raise


# What a list of conversations shows of each (the Home tab): who has it, and its question's preview.
SUMMARY_ATTRIBUTES = ("conversation_id", "label", "channel", "status", "claimed_by", "claimed_at", "preview",
                      "expires_at")


def summaries(conversation_ids: list[str]) -> dict[str, dict]:
    """SUMMARY_ATTRIBUTES of each conversation that exists, by id: one BatchGetItem per 100 ids
    (DynamoDB's limit), eventually consistent, with what it leaves unprocessed asked again."""
    handle, found, unique = table(), {}, list(dict.fromkeys(conversation_ids))
    names = {f"#a{index}": name for index, name in enumerate(SUMMARY_ATTRIBUTES)}
    for start in range(0, len(unique), 100):
        wanted = {handle.name: {"Keys": [keys.conversation(conversation_id) for conversation_id in
                                         unique[start:start + 100]],
                                "ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}}
        while wanted:
            # The table's own client: it (de)serializes attribute values as the table resource does.
            answer = handle.meta.client.batch_get_item(RequestItems=wanted)
            for item in answer.get("Responses", {}).get(handle.name, []):
                if not expired(item):
                    found[str(item["conversation_id"])] = item
            wanted = answer.get("UnprocessedKeys") or {}
    return found


class ParkedSinceRead(Exception):
    """A patron message was parked on the session after the close stored the parked ones: the
    close is tried again (the queue retries it)."""


class NotIdle(Exception):
    """The idle close found the conversation active: a message parked or recorded, a claim or a
    transfer after its cutoffs, or it waits for a librarian. It stays open."""


@dataclasses.dataclass(frozen=True)
class Quiet:
    """What the idle close requires of the conversation at its write (refdesk.idle): no message
    recorded after `active_until`, no claim or transfer after `assigned_until` (ISO times), and
    not waiting for a librarian."""

    active_until: str
    assigned_until: str


IDLE_CLOSER = ""  # `closed_by` of a conversation the idle close closed: nobody


def close(conversation_id: str, closed_by: str, release: sessions.Release,
          retention_seconds: int = keys.KEEP_SECONDS, *, quiet: Quiet | None = None) -> Conversation:
    """Close an open conversation and release its session as its channel requires; the
    conversation then expires `retention_seconds` after the close (`retire` does the rest of its
    items). Messages parked on the session must have been stored first. With `quiet` (the idle
    close, by IDLE_CLOSER), only while the conversation is still that quiet. Raises Conflict when
    it was already closed; when it is still open, ParkedSinceRead (a message was parked
    meanwhile), or NotIdle with `quiet`."""
    conversation = get(conversation_id)
    now = now_iso()
    condition, values = "#status = :open", {}
    if quiet:
        condition += (" AND active_at <= :active AND attribute_not_exists(queue_pk)"
                      " AND (attribute_not_exists(claimed_at) OR claimed_at <= :assigned)"
                      " AND (attribute_not_exists(transferred_at) OR transferred_at <= :assigned)")
        values = {":active": quiet.active_until, ":assigned": quiet.assigned_until}
    try:
        transact([
            {"Update": {"Key": keys.conversation(conversation_id),
                        # Closing also leaves the waiting queue (store.queue) and the open
                        # conversations (ByActivity): their index keys go.
                        "UpdateExpression": "SET #status = :closed, closed_at = :now, closed_by = :by, "
                                            "expires_at = :until REMOVE queue_pk, queue_sk, open_pk",
                        "ConditionExpression": condition,
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {":closed": Status.CLOSED.value, ":open": Status.OPEN.value,
                                                      ":now": now, ":by": closed_by,
                                                      ":until": keys.retained_until(now, retention_seconds),
                                                      **values}}},
            sessions.release_step(conversation.anchor, conversation_id, release, now),
        ])
    except ClientError as error:
        if failed_condition(error):
            if get(conversation_id).is_open:
                if quiet:
                    raise NotIdle(conversation_id) from error
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
                        # Open again: among the open conversations, active now (the idle close).
                        "UpdateExpression": "SET #status = :open, claimed_by = :user, claimed_at = :now, "
                                            "reopen_ts = :ts, expires_at = :until, open_pk = :open_pk, "
                                            "active_at = :now REMOVE closed_at, closed_by, close_finished_at",
                        "ConditionExpression": "#status = :closed AND attribute_exists(close_finished_at)",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {":open": Status.OPEN.value, ":closed": Status.CLOSED.value,
                                                      ":user": user, ":now": now, ":ts": reply_ts,
                                                      ":until": keys.open_until(now), ":open_pk": keys.OPEN_PK}}},
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


@dataclasses.dataclass(frozen=True)
class Activity:
    """An open conversation as the index ByActivity lists it (refdesk.idle)."""

    conversation_id: str
    active_at: str  # its last message, to within `activity_step` (ISO time)
    assigned_at: str  # its latest claim or transfer, "" if none
    waiting: bool  # in the waiting line
    slack_channel: str = ""
    slack_ts: str = ""


def by_activity() -> Iterator[Activity]:
    """The open conversations, least recently active first, read a page at a time as they are
    consumed. The index is eventually consistent: the idle close's own write decides."""
    query = {"IndexName": keys.ACTIVITY_INDEX, "KeyConditionExpression": "open_pk = :open",
             "ExpressionAttributeValues": {":open": keys.OPEN_PK}}
    while True:
        page = table().query(**query)
        for item in page.get("Items", []):
            yield Activity(conversation_id=item["conversation_id"], active_at=item["active_at"],
                           assigned_at=max(item.get("claimed_at", ""), item.get("transferred_at", "")),
                           waiting="queue_pk" in item, slack_channel=item.get("slack_channel", ""),
                           slack_ts=item.get("slack_ts", ""))
        if "LastEvaluatedKey" not in page:
            return
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


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
