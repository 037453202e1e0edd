"""Reminders about waiting conversations, kept on the conversation item (CONV#{id} / META), and
when the next sweep of the waiting queue is due (SWEEP / ARMED).

Access patterns:
  - take the next nudge of a waiting conversation (one conditional UpdateItem of `nudged_at`):
    only while it is open, unclaimed, in the queue (store.queue) and on its card (`slack_ts`),
    and only when the last nudge is older than the cutoff, so that two sweeps running at once
    cannot both nudge. A refusal returns the item as it was, which says when it can be next.
  - arm the next sweep (one conditional UpdateItem of SWEEP / ARMED): only when no sweep is
    armed for that time or earlier still to come, so that arrivals and sweeps keep one chain of
    wake-ups (refdesk.waiting.arm)
  - remember that a conversation opened while the desk was closed, and when it opens (one
    UpdateItem): the card says so, and the patron was told"""
from __future__ import annotations

from botocore.exceptions import ClientError

from refdesk.models import Conversation, Status
from refdesk.store import keys
from refdesk.store.table import failed_condition, old_item, table

ARMED_KEPT_SECONDS = 24 * 3600  # an armed sweep's item expires a day after it was due


def take(conversation_id: str, now: str, cutoff: str) -> tuple[Conversation | None, dict]:
    """Record a nudge at `now` unless the last was after `cutoff` (ISO times). Returns (the
    conversation, {}) when this caller is the one to nudge; (None, the item as it was: {} if
    gone) otherwise: nudged already, claimed or closed meanwhile, or no card yet."""
    try:
        item = table().update_item(
            Key=keys.conversation(conversation_id), UpdateExpression="SET nudged_at = :now",
            ConditionExpression="attribute_exists(pk) AND #status = :open AND attribute_not_exists(claimed_by) "
                                "AND attribute_exists(queue_sk) AND attribute_exists(slack_ts) "
                                "AND (attribute_not_exists(nudged_at) OR nudged_at <= :cutoff)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":now": now, ":cutoff": cutoff, ":open": Status.OPEN.value},
            ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )["Attributes"]
    except ClientError as error:
        if failed_condition(error):
            return None, old_item(error)
        raise
    return Conversation.from_item(item), {}


def arm_sweep(due_at: str, armed_by: str, trusted_after: str, expires_at: int) -> bool:
    """Record that a sweep is due at `due_at` (ISO time), armed by `armed_by`; true when this
    caller must send its wake-up. False when a sweep is armed for `due_at` or earlier and is
    still to come: due after `trusted_after` (one due sooner may be running already, or its
    wake-up was lost). The same `armed_by` again (a retry) always arms."""
    try:
        table().update_item(
            Key=keys.sweep_armed(), UpdateExpression="SET due_at = :due, armed_by = :by, expires_at = :expires",
            ConditionExpression="attribute_not_exists(pk) OR due_at > :due OR due_at <= :trusted "
                                "OR armed_by = :by",
            ExpressionAttributeValues={":due": due_at, ":by": armed_by, ":trusted": trusted_after,
                                       ":expires": expires_at},
        )
    except ClientError as error:
        if failed_condition(error):
            return False
        raise
    return True


def mark_after_hours(conversation_id: str, opening: str) -> None:
    """The conversation opened while the desk was closed; it opens `opening` ("Mon 9:00")."""
    table().update_item(Key=keys.conversation(conversation_id), UpdateExpression="SET after_hours = :opening",
                        ConditionExpression="attribute_exists(pk)",
                        ExpressionAttributeValues={":opening": opening})
