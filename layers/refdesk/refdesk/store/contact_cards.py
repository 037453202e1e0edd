"""Contact cards: which patrons were sent the library's contact card (a vCard, as MMS media
with their first reply), so that each gets it once, whatever conversation they are in. Keyed
by the patron's keyed hash (`identity.patron_id`): the table never holds the number here.

Access patterns:
  - claim the card for one outbound message (a read, then one conditional PutItem unless it is
    another message's): true when this patron never had it, or when the claim is this same
    message's (a retry of its send)
  - release a claim whose send failed for good (one conditional DeleteItem), so that the next
    reply carries the card instead"""
from __future__ import annotations

from botocore.exceptions import ClientError

from refdesk.store import keys
from refdesk.store.table import expired, failed_condition, now_iso, table

# As long as the patron's other records: a patron who got the card keeps it.
CARD_SECONDS = keys.KEEP_SECONDS


def claim(patron_id: str, message_id: str) -> bool:
    """Whether `message_id` is the message that carries this patron's card."""
    # Every later reply finds the card claimed: a read tells so for a fifth of the price of the
    # conditional write, which DynamoDB bills even when its condition fails.
    held = table().get_item(Key=keys.contact_card(patron_id), ConsistentRead=True).get("Item")
    if held and held["message_id"] != message_id and not expired(held):
        return False
    try:
        table().put_item(
            Item={**keys.contact_card(patron_id), "message_id": message_id, "claimed_at": now_iso(),
                  "expires_at": keys.keep_until(CARD_SECONDS)},
            # An expired claim (TTL deletion lags) counts as none.
            ConditionExpression="attribute_not_exists(pk) OR message_id = :mid OR expires_at < :now",
            ExpressionAttributeValues={":mid": message_id, ":now": keys.keep_until(0)},
        )
    except ClientError as error:
        if failed_condition(error):
            return False
        raise
    return True


def release(patron_id: str, message_id: str) -> None:
    """Forget the claim of a message that never reached the patron."""
    try:
        table().delete_item(Key=keys.contact_card(patron_id), ConditionExpression="message_id = :mid",
                            ExpressionAttributeValues={":mid": message_id})
    except ClientError as error:
        if not failed_condition(error):
            raise
