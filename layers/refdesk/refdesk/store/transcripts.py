"""Transcripts: which S3 key holds a conversation's de-identified transcript (refdesk.transcripts).

Access patterns:
  - choose the key once per conversation (one UpdateItem, if_not_exists): a retried close or a
    rewrite (READ or topic recorded later) writes the same object
  - the key chosen, if any (one GetItem of that attribute): a patron's delete removes the object"""
from __future__ import annotations

from refdesk.store import keys
from refdesk.store.table import table


def key(conversation_id: str, proposed: str) -> str:
    """The conversation's transcript key: `proposed` the first time, the first one ever after."""
    item = table().update_item(
        Key=keys.conversation(conversation_id),
        UpdateExpression="SET transcript_key = if_not_exists(transcript_key, :key)",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":key": proposed}, ReturnValues="ALL_NEW")["Attributes"]
    return item["transcript_key"]


def chosen_key(conversation_id: str) -> str:
    """The conversation's transcript key; "" when none was ever written (or it is gone)."""
    item = table().get_item(Key=keys.conversation(conversation_id), ProjectionExpression="transcript_key",
                            ConsistentRead=True).get("Item") or {}
    return str(item.get("transcript_key") or "")
