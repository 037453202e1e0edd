"""Messages of a conversation.

Access patterns:
  - store a message once per message id, whatever the time of the retry
  - update a stored message's delivery state (parts sent, outcome and why it failed, whether
    the outcome's reaction is on its Slack message yet: a retry adds it when not)
  - list a conversation's messages in stored order after a cursor, optionally only those the
    patron sees (the widget's poll, the closed card's question)
  - read one stored message by its id (a job retried after its parked message was stored)
  - record a part handed to its provider under the provider's id (SID#), find it by that id, and
    record the part's status as the provider reports it: never backwards, so that reports out of
    order or repeated change nothing (refdesk.delivery_status)
Messages whose lifetime is over are not listed or read (TTL deletion lags).

Messages sort by when they were stored, not when they were written, so a reply stored late
(after a retry) still comes after a poller's cursor; a marker keyed by message id makes the
write idempotent whatever the time. The marker is written first and names the message's sort
key, so a retry after a crash between the two writes completes the same message (two plain
conditional writes: a transaction would bill each twice)."""
from __future__ import annotations

import time

from botocore.exceptions import ClientError

from refdesk.errors import BadRequest
from refdesk.models import Delivery, Message, Receipt, Visibility
from refdesk.store import keys
from refdesk.store.table import expired, failed_condition, now_iso, old_item, table


def put(conversation_id: str, message: Message) -> tuple[Message, bool]:
    """Returns (the stored message, created_now). The message lives as long as its conversation
    (store.conversations.lifetime): a message stored after the close expires with it. It is the
    open conversation's activity (store.conversations.record_activity)."""
    from refdesk.store import conversations

    item = {**keys.message(conversation_id, now_iso(), message.message_id),
            "expires_at": conversations.record_activity(conversation_id), **message.to_item()}
    try:
        table().put_item(
            Item={**keys.message_marker(conversation_id, message.message_id), "message_sk": item["sk"],
                  "expires_at": item["expires_at"]},
            ConditionExpression="attribute_not_exists(pk) OR expires_at <= :now",
            ExpressionAttributeValues={":now": int(time.time())}, ReturnValuesOnConditionCheckFailure="ALL_OLD")
    except ClientError as error:
        if not failed_condition(error):
            raise
        marker = old_item(error)  # an earlier attempt stored it, or stopped before its second write
        stored = table().get_item(Key={"pk": marker["pk"], "sk": marker["message_sk"]}, ConsistentRead=True)
        if "Item" in stored:
            return Message.from_item(stored["Item"]), False
        # It takes its place now, not where the stopped attempt meant to put it: a reader whose
        # cursor moved past that place meanwhile would never see it there.
        table().update_item(Key=keys.message_marker(conversation_id, message.message_id),
                            UpdateExpression="SET message_sk = :now", ConditionExpression="message_sk = :then",
                            ExpressionAttributeValues={":now": item["sk"], ":then": marker["message_sk"]})
        item["expires_at"] = marker["expires_at"]
    try:
        table().put_item(Item=item, ConditionExpression="attribute_not_exists(sk)",
                         ReturnValuesOnConditionCheckFailure="ALL_OLD")
    except ClientError as error:
        if not failed_condition(error):
            raise
        return Message.from_item(old_item(error)), False
    return Message.from_item(item), True


def get(conversation_id: str, message_id: str) -> Message | None:
    """The message stored under this id, or None (never stored, or its lifetime is over)."""
    marker = table().get_item(Key=keys.message_marker(conversation_id, message_id), ConsistentRead=True).get("Item")
    if not marker or expired(marker):
        return None
    stored = table().get_item(Key={"pk": marker["pk"], "sk": marker["message_sk"]}, ConsistentRead=True).get("Item")
    return Message.from_item(stored) if stored and not expired(stored) else None


def update(conversation_id: str, message: Message, **fields) -> None:
    """Set fields of a stored message (delivery, failure, parts_sent, slack_ts, outcome_shown)."""
    values = {f":{name}": getattr(value, "value", value) for name, value in fields.items()}
    table().update_item(
        Key={"pk": keys.messages_partition(conversation_id), "sk": message.sort_key},
        UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in fields),
        ConditionExpression="attribute_exists(sk)",
        ExpressionAttributeNames={f"#{name}": name for name in fields},
        ExpressionAttributeValues=values,
    )


def handed_over(conversation_id: str, message: Message, part: int, receipt: Receipt, status: str = "",
                **fields) -> Message:
    """A part handed to its channel: parts_sent and `fields` set, and with `status` the part's
    status, unless a delivery report came first and recorded its own. With the provider's id,
    first the SID# item its reports find the message by. Returns the message as stored."""
    if receipt.provider_id:
        early = table().update_item(
            Key=keys.sent_part(receipt.provider_id),
            UpdateExpression="SET conversation_id = :cid, message_sk = :sk, part = :part, expires_at = :until",
            ExpressionAttributeValues={":cid": conversation_id, ":sk": message.sort_key, ":part": part,
                                       ":until": keys.open_until(now_iso())},
            ReturnValues="ALL_OLD").get("Attributes", {})
        if status and early.get("early_status"):  # its provider reported on it before this write
            status = early["early_status"]
            if early.get("early_failure"):
                fields.setdefault("failure", early["early_failure"])
    fields["parts_sent"] = part + 1
    names = {f"#{name}": name for name in fields}
    values = {f":{name}": getattr(value, "value", value) for name, value in fields.items()}
    assignments = [f"#{name} = :{name}" for name in fields]
    update = {"Key": {"pk": keys.messages_partition(conversation_id), "sk": message.sort_key},
              "ConditionExpression": "attribute_exists(sk)", "ReturnValues": "ALL_NEW"}
    if not status:
        return Message.from_item(table().update_item(
            UpdateExpression="SET " + ", ".join(assignments), ExpressionAttributeNames=names,
            ExpressionAttributeValues=values, **update)["Attributes"])
    try:
        stored = table().update_item(
            UpdateExpression="SET " + ", ".join([*assignments, "part_status.#part = if_not_exists(part_status.#part, "
                                                               ":status)"]),
            ExpressionAttributeNames={**names, "#part": str(part)},
            ExpressionAttributeValues={**values, ":status": status}, **update)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ValidationException":
            raise
        # Stored before messages carried part_status: the map is made now.
        stored = table().update_item(
            UpdateExpression="SET " + ", ".join([*assignments, "part_status = :statuses"]),
            ExpressionAttributeNames=names, ExpressionAttributeValues={**values, ":statuses": {str(part): status}},
            **{**update, "ConditionExpression": "attribute_exists(sk) AND attribute_not_exists(part_status)"})
    return Message.from_item(stored["Attributes"])


EARLY_REPORT_SECONDS = 24 * 3600


def hold_early_report(provider_id: str, status: str, replaces: tuple[str, ...], failure: str = "") -> bool:
    """A report on a part not yet recorded as handed over (Twilio can report before the sender
    learns the id: an answer lost, then found on the retry): kept on its SID# item, ids and status
    only, for `handed_over` to take, and expiring in a day if nothing does. False when the part
    is recorded meanwhile (read it again); a report behind the one held changes nothing."""
    values = {":status": status, ":until": keys.keep_until(EARLY_REPORT_SECONDS),
              **{f":was{i}": was for i, was in enumerate(replaces)}}
    assignments = ["early_status = :status", "expires_at = :until"]
    if failure:
        assignments.append("early_failure = :failure")
        values[":failure"] = failure
    earlier = f" OR early_status IN ({', '.join(f':was{i}' for i in range(len(replaces)))})" if replaces else ""
    try:
        table().update_item(Key=keys.sent_part(provider_id), UpdateExpression="SET " + ", ".join(assignments),
                            ConditionExpression=f"attribute_not_exists(conversation_id) AND "
                                                f"(attribute_not_exists(early_status){earlier})",
                            ExpressionAttributeValues=values, ReturnValuesOnConditionCheckFailure="ALL_OLD")
    except ClientError as error:
        if not failed_condition(error):
            raise
        return "conversation_id" not in old_item(error)
    return True


def find_part(provider_id: str) -> tuple[str, Message, int] | None:
    """(conversation id, message, part) of the part its provider knows by this id; None when no
    such part is known or its message is gone (erased, or its lifetime over)."""
    found = table().get_item(Key=keys.sent_part(provider_id), ConsistentRead=True).get("Item")
    if not found or expired(found) or "conversation_id" not in found:  # none, or only a report held for it
        return None
    conversation_id = found["conversation_id"]
    stored = table().get_item(Key={"pk": keys.messages_partition(conversation_id), "sk": found["message_sk"]},
                              ConsistentRead=True).get("Item")
    return (conversation_id, Message.from_item(stored), int(found["part"])) if stored and not expired(stored) else None


def record_part_status(conversation_id: str, message: Message, part: int, status: str, replaces: tuple[str, ...],
                       failure: str = "") -> Message | None:
    """The part's status is now `status` if it had none or one of `replaces` (a report repeated or
    out of order changes nothing); with `failure`, why it failed, unless another part's was
    recorded first. Returns the message as it now stands, None when it is gone."""
    failed = {"failure": failure} if failure else {}
    try:
        stored = table().update_item(
            Key={"pk": keys.messages_partition(conversation_id), "sk": message.sort_key},
            UpdateExpression="SET part_status.#part = :status"
                             + (", failure = if_not_exists(failure, :failure)" if failure else ""),
            ConditionExpression="attribute_exists(sk) AND (attribute_not_exists(part_status.#part) OR "
                                f"part_status.#part IN ({', '.join(f':was{i}' for i in range(len(replaces)))}))",
            ExpressionAttributeNames={"#part": str(part)},
            ExpressionAttributeValues={":status": status, **{f":{name}": value for name, value in failed.items()},
                                       **{f":was{i}": was for i, was in enumerate(replaces)}},
            ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD")
    except ClientError as error:
        if not failed_condition(error):
            raise
        current = old_item(error)
        return Message.from_item(current) if current and not expired(current) else None
    return Message.from_item(stored["Attributes"])


def settle(conversation_id: str, message: Message, outcome: Delivery) -> bool:
    """The message's delivery becomes `outcome` (delivered, failed), its reaction still to show,
    if it was handed over and not settled yet: whether this call settled it."""
    try:
        table().update_item(
            Key={"pk": keys.messages_partition(conversation_id), "sk": message.sort_key},
            UpdateExpression="SET delivery = :outcome, outcome_shown = :false",
            ConditionExpression="delivery IN (:accepted, :sent)",
            ExpressionAttributeValues={":outcome": outcome.value, ":false": False,
                                       ":accepted": Delivery.ACCEPTED.value, ":sent": Delivery.SENT.value})
    except ClientError as error:
        if not failed_condition(error):
            raise
        return False
    return True


def outcome_shown(conversation_id: str, message: Message) -> None:
    """The reaction of the message's delivery as `message` has it is shown; unrecorded if its
    delivery changed meanwhile (a report settled it while 📤 was being shown: that shows next)."""
    try:
        table().update_item(
            Key={"pk": keys.messages_partition(conversation_id), "sk": message.sort_key},
            UpdateExpression="SET outcome_shown = :true", ConditionExpression="delivery = :delivery",
            ExpressionAttributeValues={":true": True, ":delivery": getattr(message.delivery, "value", None)})
    except ClientError as error:
        if not failed_condition(error):
            raise


def list_after(conversation_id: str, *, after: str = "", visibility: Visibility | None = None,
               limit: int = 100) -> list[Message]:
    """Up to `limit` messages in stored order after the sort key `after` (a cursor), reading
    on past pages the visibility filter emptied."""
    from boto3.dynamodb.conditions import Attr, Key

    if after and not keys.is_message_sort_key(after):
        raise BadRequest("bad cursor")
    query = {"KeyConditionExpression": Key("pk").eq(keys.messages_partition(conversation_id))
             & Key("sk").between(after or keys.MESSAGE_PREFIX, keys.MESSAGE_RANGE_END)}
    if visibility:
        query["FilterExpression"] = Attr("visibility").eq(visibility.value)
    items: list[dict] = []
    while len(items) < limit:
        page = table().query(**query)
        items += [item for item in page.get("Items", []) if item["sk"] != after and not expired(item)]
        if "LastEvaluatedKey" not in page:
            break
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return [Message.from_item(item) for item in items[:limit]]
