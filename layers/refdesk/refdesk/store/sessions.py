"""Sessions: a patron's presence on one channel, and the anchor of their open conversation.

Access patterns:
  - claim an inbound message: one conditional UpdateItem records the message id (dedup) and
    finds, or opens, the session's conversation; the webhook's only table call
  - create a session that must be presented with its token (web chat)
  - read a session by id, checking its token hash and expiry (the widget's poll)
  - end or forget a session when its conversation closes (in conversations.close); a forgotten
    session keeps the closed conversation's message ids for a day, so that a retried or replayed
    webhook is still a duplicate (`claim` refuses them in the same conditional write)
  - erase a session (a patron's delete, refdesk.erasure): as a forgotten one, it keeps only its
    message ids, for a day, so that a replay is a duplicate and not the erased question again
  - find a session's conversation from a message claimed in it (a patron's edit or deletion)
  - park the claimed message on the session (the same UpdateItem), read it and remove it once the
    dispatcher stored it in the conversation: jobs on the queue carry only references
  - after a closing line that asks for a rating by reply (SMS), the released session takes one
    reply as the closed conversation's rating for a while (`await_rating`, `take_rating`: one
    conditional write each)

A session that does not exist yet is created by its first claim (SMS: one per phone number);
a session created ahead with a token (web chat) only takes claims that carry that token."""
from __future__ import annotations

import dataclasses
import json
import time
from enum import StrEnum

from botocore.exceptions import ClientError

from refdesk.errors import DuplicateDelivery, Forbidden, NotFound, PayloadTooLarge, RateLimited, chat_ended
from refdesk.models import InboundMessage
from refdesk.store import keys
from refdesk.store.table import expired, failed_condition, now_iso, old_item, table

# Parked messages (see claim) a session may hold at once, in bytes: DynamoDB items are at most
# 400 KB, and the rest is left for the session's own attributes (recent_ids grows per message,
# closed_ids holds at most MAX_RECOGNISED).
# Past it, the patron is asked to wait (429) until the dispatcher has caught up.
PENDING_BUDGET = 300_000
PENDING_RETRY_SECONDS = 60
# A forgotten session keeps its closed conversations' message ids this long (`closed_ids`: id ->
# until when, epoch seconds): Twilio retries a webhook and anyone may replay a MessageSid, and
# either must not open the conversation again after its close.
RECOGNISE_SECONDS = 24 * 3600
# ...and at most this many (the newest): about 25 KB of the room PENDING_BUDGET leaves.
MAX_RECOGNISED = 500
# A patron asked by the closing line to rate by reply may do so this long after it (`await_rating`).
RATING_WINDOW_SECONDS = 600


class Release(StrEnum):
    """What closing a conversation does to its session."""

    FORGET = "forget"  # the next message opens a new conversation (SMS, Slack Connect)
    END = "end"  # the session is over; later sends are refused (web chat)


def claim(session_id: str, message_id: str, *, new_conversation_id: str = "",
          token_hash: str = "", message: InboundMessage | None = None, at: str = "",
          context: dict[str, str] | None = None) -> tuple[str, bool]:
    """Record that this message arrived and return (conversation_id, opened_now).

    Without a token hash the session is created on first use with `new_conversation_id`;
    with one, the session must exist, match it, be live and not ended. With neither, the message
    only joins the session's open conversation: NotFound (nothing written) when it has none. Raises
    DuplicateDelivery for a message id seen before (in the open conversation, or in one closed
    less than RECOGNISE_SECONDS ago: then with no conversation id), Conflict when the session
    has ended. `context` (refdesk.patron_context: an SMS number's country) is kept on the session.

    With `message` (arrived at `at`), the same write parks it on the session item until the
    dispatcher stores it (`all_pending`, `unpark`), so that the job needs only references. One
    attribute per message, not a map: a single UpdateItem cannot create a map and set a key in
    it. Raises PayloadTooLarge for a message that could never fit, RateLimited while the
    session holds PENDING_BUDGET bytes of messages not yet stored."""
    now = now_iso()
    values = {":now": now, ":ids": {message_id}, ":id": message_id, ":one": 1, ":keep": keys.open_until(now)}
    # A session holding a conversation lives as long as it, also one kept after a close (release_step):
    # as an open conversation's items, RetentionDays + IdleCloseHours after its last message.
    assignments = ["updated_at = :now",
                   "expires_at = :keep" if new_conversation_id else "expires_at = if_not_exists(expires_at, :keep)"]
    additions = ["recent_ids :ids", "message_count :one"]
    names = {"#closed": message_id}
    condition = ("(attribute_not_exists(recent_ids) OR NOT contains(recent_ids, :id)) "
                 "AND attribute_not_exists(closed_ids.#closed)")
    size = 0
    if message is not None:
        parked, size = _parked(message, at)
        if size > PENDING_BUDGET:
            raise PayloadTooLarge("message too large")
        names["#parked"] = keys.pending_attribute(message_id)
        values.update({":parked": parked, ":size": size, ":room": PENDING_BUDGET - size})
        assignments.append("#parked = :parked")
        additions.append("pending_bytes :size")
        condition += " AND (attribute_not_exists(pending_bytes) OR pending_bytes <= :room)"
    if context:
        assignments.append("#context = :context")
        names["#context"] = "context"
        values[":context"] = context
    if new_conversation_id:
        assignments.append("conversation_id = if_not_exists(conversation_id, :new)")
        values[":new"] = new_conversation_id
    if token_hash:
        condition += " AND token_hash = :th AND expires_at > :epoch AND attribute_not_exists(closed_at)"
        values.update({":th": token_hash, ":epoch": int(time.time())})
    joins_only = not (new_conversation_id or token_hash)
    if joins_only:
        condition += " AND attribute_exists(conversation_id)"
    try:
        item = table().update_item(
            Key=keys.session(session_id), UpdateExpression=f"SET {', '.join(assignments)} "
                                                           f"ADD {', '.join(additions)}",
            ConditionExpression=condition, ExpressionAttributeValues=values, ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD", ExpressionAttributeNames=names,
        )["Attributes"]
    except ClientError as error:
        if not failed_condition(error):
            raise
        old = old_item(error)
        if token_hash:
            _check(old, token_hash)
        if message_id in old.get("recent_ids", set()):  # a retry of a delivery that got through
            raise DuplicateDelivery(old.get("conversation_id", "")) from error
        if message_id in old.get("closed_ids", {}):  # a retry or replay after its conversation closed
            raise DuplicateDelivery("") from error
        if "closed_at" in old:
            raise chat_ended() from error
        if joins_only and "conversation_id" not in old:
            raise NotFound("no open conversation") from error
        if size and int(old.get("pending_bytes", 0)) + size > PENDING_BUDGET:
            raise RateLimited("too many messages waiting; send again in a minute",
                              retry_after=PENDING_RETRY_SECONDS) from error
        raise
    return item["conversation_id"], int(item["message_count"]) == 1


# InboundMessage's defaults, by field: a parked message leaves out the fields that have them.
_DEFAULTS = {field.name: field.default for field in dataclasses.fields(InboundMessage)
             if field.default is not dataclasses.MISSING}


def _parked(message: InboundMessage, at: str) -> tuple[str, int]:
    """A message as parked on its session item, and the bytes it counts for (name and value).
    Without what the item says already (the session; the message id, in the attribute's name)
    or fields left at their defaults: every write of the session item costs a write unit per KB."""
    fields = {name: value for name, value in dataclasses.asdict(message).items()
              if name not in ("session_id", "message_id") and _DEFAULTS.get(name, dataclasses.MISSING) != value}
    parked = json.dumps({"at": at, "message": fields})
    return parked, len(keys.pending_attribute(message.message_id).encode()) + len(parked.encode())


@dataclasses.dataclass(frozen=True)
class Parked:
    """A patron message waiting on its session to be stored in the conversation."""

    message: InboundMessage
    at: str  # when the webhook accepted it
    size: int  # what it counts for in pending_bytes


def _unparked(session_id: str, message_id: str, value: str) -> Parked:
    data = json.loads(value)
    return Parked(message=InboundMessage(**{"session_id": session_id, "message_id": message_id, **data["message"]}),
                  at=data["at"], size=len(keys.pending_attribute(message_id).encode()) + len(value.encode()))


def all_pending(session_id: str) -> list[Parked]:
    """Every message parked on the session, oldest first: the dispatcher shows a job's message
    after any earlier one still held, and a close stores them all before it releases the session."""
    item = table().get_item(Key=keys.session(session_id), ConsistentRead=True).get("Item") or {}
    parked = [_unparked(session_id, name[len(keys.PENDING_PREFIX):], value) for name, value in item.items()
              if name.startswith(keys.PENDING_PREFIX)]
    return sorted(parked, key=lambda one: one.at)


def unpark(session_id: str, parked: Parked) -> None:
    """Remove a parked message, now stored in its conversation. Idempotent: nothing happens when
    it is gone already (a retry) or the session was released."""
    try:
        table().update_item(
            Key=keys.session(session_id), UpdateExpression="REMOVE #parked ADD pending_bytes :minus",
            ConditionExpression="attribute_exists(#parked)",
            ExpressionAttributeNames={"#parked": keys.pending_attribute(parked.message.message_id)},
            ExpressionAttributeValues={":minus": -parked.size})
    except ClientError as error:
        if not failed_condition(error):
            raise


def conversation_holding(session_id: str, message_id: str) -> str | None:
    """The session's conversation, if that message was claimed in it and the session is still
    open (a patron's edit or deletion concerns it); None otherwise. One strongly consistent read."""
    item = table().get_item(Key=keys.session(session_id), ConsistentRead=True).get("Item") or {}
    if "closed_at" in item or message_id not in item.get("recent_ids", set()):
        return None
    return item.get("conversation_id") or None


def create(session_id: str, token_hash: str, conversation_id: str, patron_id: str, expires_at: int,
           context: dict[str, str] | None = None) -> None:
    """`context`: where the chat started (refdesk.patron_context), already checked and redacted."""
    table().put_item(
        Item={**keys.session(session_id), "token_hash": token_hash, "conversation_id": conversation_id,
              "patron_id": patron_id, "created_at": now_iso(), "message_count": 0, "expires_at": expires_at,
              **({"context": context} if context else {})},
        ConditionExpression="attribute_not_exists(pk)",
    )


def context(session_id: str) -> dict[str, str]:
    """What the session keeps of where its patron is (refdesk.patron_context); {} once it has gone."""
    item = table().get_item(Key=keys.session(session_id), ProjectionExpression="#context, expires_at",
                            ExpressionAttributeNames={"#context": "context"}).get("Item") or {}
    return {} if expired(item) else dict(item.get("context") or {})


def get(session_id: str, token_hash: str, *, consistent: bool = False) -> dict:
    """consistent: a read right after the session was made (its first message) must find it."""
    return _check(table().get_item(Key=keys.session(session_id), ConsistentRead=consistent).get("Item") or {},
                  token_hash)


def _check(item: dict, token_hash: str) -> dict:
    if not item or int(item.get("expires_at", 0)) < time.time():  # TTL deletion lags
        raise NotFound("no such chat session")
    if item.get("token_hash") != token_hash:
        raise Forbidden("not your chat session")
    return item


def release_step(session_id: str, conversation_id: str, release: Release, now: str) -> dict:
    """The transaction item that releases the session when its conversation closes (at `now`),
    after one strongly consistent read of it.

    END marks it ended. FORGET drops the conversation, so that the next message opens a new one,
    and keeps the session for RECOGNISE_SECONDS with the ids of its messages (and of earlier
    closes still within their time): a retry or replay of one of them is a duplicate, not a new
    conversation. The item expires when the last of them does."""
    key = keys.session(session_id)
    # Messages still parked must be stored first (the close does so); one parked since makes
    # the release fail, and the close is tried again.
    nothing_parked = "(attribute_not_exists(pending_bytes) OR pending_bytes <= :zero)"
    item = table().get_item(Key=key, ConsistentRead=True).get("Item")
    if not item:  # nothing to release: erased meanwhile, never made, or a web chat's deleted by TTL a day on
        return {"ConditionCheck": {"Key": key, "ConditionExpression": "attribute_not_exists(pk)"}}
    if release is Release.END:
        return {"Update": {"Key": key, "UpdateExpression": "SET closed_at = :now",
                           "ConditionExpression": f"conversation_id = :cid AND {nothing_parked}",
                           "ExpressionAttributeValues": {":cid": conversation_id, ":now": now, ":zero": 0}}}
    until = keys.retained_until(now, RECOGNISE_SECONDS)
    # message_count: a message claimed after this read (and already unparked) would lose its id.
    return {"Update": {"Key": key, "UpdateExpression": "SET closed_ids = :closed, expires_at = :until "
                                                       "REMOVE conversation_id, message_count, recent_ids",
                       "ConditionExpression": f"conversation_id = :cid AND message_count = :count AND {nothing_parked}",
                       "ExpressionAttributeValues": {
                           ":closed": _recognised(item, now=keys.retained_until(now, 0), until=until),
                           ":until": until, ":cid": conversation_id, ":count": item.get("message_count", 0),
                           ":zero": 0}}}


def reopen_step(session_id: str, conversation_id: str, release: Release) -> dict:
    """The transaction item that gives a closed conversation its session back (a librarian's reply
    reopened it, store.conversations.reopen): an ended web chat's, while its token lives; a
    forgotten one's, unless a newer conversation holds it. The ids it keeps still recognise replays."""
    key = keys.session(session_id)
    if release is Release.END:
        return {"Update": {"Key": key, "UpdateExpression": "REMOVE closed_at",
                           "ConditionExpression": "conversation_id = :cid AND attribute_exists(closed_at) "
                                                  "AND expires_at > :epoch",
                           "ExpressionAttributeValues": {":cid": conversation_id, ":epoch": int(time.time())}}}
    return {"Update": {"Key": key, "UpdateExpression": "SET conversation_id = :cid, message_count = :zero, "
                                                       "expires_at = :keep",
                       "ConditionExpression": "attribute_not_exists(conversation_id)",
                       "ExpressionAttributeValues": {":cid": conversation_id, ":zero": 0,
                                                     ":keep": keys.open_until(now_iso())}}}


def await_rating(session_id: str, conversation_id: str) -> None:
    """The closing line asked the patron to rate by reply (refdesk.channels.sms): their released
    session takes a rating of `conversation_id` for RATING_WINDOW_SECONDS from now (`take_rating`).
    Once per conversation: a retried close does not move the window. Nothing happens when the
    session is gone (erased) or a newer conversation holds it already."""
    try:
        table().update_item(
            Key=keys.session(session_id), UpdateExpression="SET rating_of = :cid, rating_until = :until",
            ConditionExpression="attribute_exists(closed_ids) AND attribute_not_exists(conversation_id) "
                                "AND (attribute_not_exists(rating_of) OR rating_of <> :cid)",
            ExpressionAttributeValues={":cid": conversation_id, ":until": int(time.time()) + RATING_WINDOW_SECONDS})
    except ClientError as error:
        if not failed_condition(error):
            raise


def take_rating(session_id: str, message_id: str) -> str:
    """The conversation a patron's reply rates (`await_rating`): while its window lasts and no newer
    conversation holds the session; "" otherwise, and nothing is written (the text is a message
    like any other). One conditional write, which also recognises the reply's id as a closed
    conversation's (`closed_ids`): Twilio retrying it, or a replay after the window, is a
    duplicate, never a new conversation. The same reply again within the window is the same
    rating again (counted once, store.stats.record_rating)."""
    try:
        item = table().update_item(
            Key=keys.session(session_id), UpdateExpression="SET closed_ids.#id = :recognised",
            ConditionExpression="attribute_exists(rating_of) AND rating_until >= :epoch "
                                "AND attribute_not_exists(conversation_id) AND attribute_exists(closed_ids)",
            ExpressionAttributeNames={"#id": message_id},
            ExpressionAttributeValues={":epoch": int(time.time()),
                                       ":recognised": int(time.time()) + RECOGNISE_SECONDS},
            ReturnValues="ALL_NEW")["Attributes"]
    except ClientError as error:
        if not failed_condition(error):
            raise
        return ""
    return str(item["rating_of"])


def erase(session_id: str, *, conversation_id: str = "") -> None:
    """A patron's delete (refdesk.erasure). The session keeps only the ids of the messages claimed
    in it, as a forgotten one does (`release_step`): each recognised for RECOGNISE_SECONDS from now
    (earlier closes' for what is left of theirs), the item expiring with the last. A retried or
    replayed webhook (a MessageSid, a Slack event) is then a duplicate, not the erased question in
    a new conversation; a new message opens one. Everything else goes: the conversation, the
    parked messages. A web chat's session (it has a token) is deleted: every request to it needs
    the token, a replay too, and finds nothing.

    With `conversation_id`, only while the session points at that conversation (a shared Slack
    Connect thread may anchor someone else's by then). One strongly consistent read, one
    conditional write: a message claimed in between fails it (and the erasure is tried again)."""
    key = keys.session(session_id)
    item = table().get_item(Key=key, ConsistentRead=True).get("Item")
    if not item or (conversation_id and item.get("conversation_id") != conversation_id):
        return
    if "token_hash" in item:
        table().delete_item(Key=key)
        return
    now = now_iso()
    recognised = _recognised(item, now=keys.retained_until(now, 0), until=keys.retained_until(now, RECOGNISE_SECONDS))
    unchanged = ({"ConditionExpression": "message_count = :count",
                  "ExpressionAttributeValues": {":count": item["message_count"]}} if "message_count" in item
                 else {"ConditionExpression": "attribute_not_exists(message_count)"})
    if recognised:
        table().put_item(Item={**key, "closed_ids": recognised, "expires_at": max(recognised.values())}, **unchanged)
    else:
        table().delete_item(Key=key, **unchanged)


def _recognised(item: dict, *, now: int, until: int) -> dict[str, int]:
    """The message ids a forgotten session keeps, each with when it stops being recognised: the
    closing conversation's until `until`, then earlier ones still within their time, newest
    first; MAX_RECOGNISED at most, so that a patron who keeps coming back cannot grow the item
    without end."""
    closing = [(message_id, until) for message_id in item.get("recent_ids", set())]
    earlier = sorted(((message_id, int(expiry)) for message_id, expiry in (item.get("closed_ids") or {}).items()
                      if int(expiry) > now), key=lambda entry: entry[1], reverse=True)
    return dict((closing + earlier)[:MAX_RECOGNISED])
