"""Reminders about waiting conversations, kept on the conversation item (CONV#{id} / META).

Access patterns:
  - take the next nudge of a waiting conversation (one conditional UpdateItem of `nudged_at`):
    only while it is open, unclaimed and in the queue (store.queue), and only when the last
    nudge is older than the cutoff, so that two sweeps running at once cannot both nudge
  - remember that a conversation opened while the desk was closed, and when it opens (one
    UpdateItem): the card says so, and the patron was told"""
from __future__ import annotations

from botocore.exceptions import ClientError

from refdesk.models import Conversation, Status
from refdesk.store import keys
from refdesk.store.table import failed_condition, table


def take(conversation_id: str, now: str, cutoff: str) -> Conversation | None:
    """Record a nudge at `now` unless the last was after `cutoff` (ISO times); returns the
    conversation when this caller is the one to nudge, None otherwise."""
    try:
        item = table().update_item(
            Key=keys.conversation(conversation_id), UpdateExpression="SET nudged_at = :now",
            ConditionExpression="attribute_exists(pk) AND #status = :open AND attribute_not_exists(claimed_by) "
                                "AND attribute_exists(queue_sk) AND (attribute_not_exists(nudged_at) "
                                "OR nudged_at <= :cutoff)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":now": now, ":cutoff": cutoff, ":open": Status.OPEN.value},
            ReturnValues="ALL_NEW",
        )["Attributes"]
    except ClientError as error:
        if failed_condition(error):
            return None
        raise
    return Conversation.from_item(item)


def mark_after_hours(conversation_id: str, opening: str) -> None:
    """The conversation opened while the desk was closed; it opens `opening` ("Mon 9:00")."""
    table().update_item(Key=keys.conversation(conversation_id), UpdateExpression="SET after_hours = :opening",
                        ConditionExpression="attribute_exists(pk)",
                        ExpressionAttributeValues={":opening": opening})
