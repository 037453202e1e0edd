"""Departments pulled into a conversation, and quick replies sent in it.

Access patterns:
  - record that a department was invited into a conversation, once (first invitation wins;
    the same modal submission again resumes it), and the steps done (mention, pointer)
  - list the departments invited into a conversation (one Query, only when a staff reply
    needs crediting)
  - a quick reply sent at most once per conversation within a short window (double clicks),
    while the same click's retry goes on"""
from __future__ import annotations

import time
from dataclasses import dataclass

from botocore.exceptions import ClientError

from refdesk.store import keys
from refdesk.store.table import failed_condition, now_iso, old_item, table

DOUBLE_CLICK_SECONDS = 60


@dataclass(frozen=True)
class Invitation:
    department_id: str
    invited_by: str
    submission: str  # the view submission that made it (retries of it resume)
    mention_ts: str = ""
    pointer_ts: str = ""


def _invitation(item: dict) -> Invitation:
    return Invitation(department_id=item["department_id"], invited_by=item.get("invited_by", ""),
                      submission=item.get("submission", ""), mention_ts=item.get("mention_ts", ""),
                      pointer_ts=item.get("pointer_ts", ""))


def invite(conversation_id: str, department_id: str, invited_by: str, submission: str) -> tuple[Invitation, bool]:
    """(the invitation, whether this submission owns it). False: the department was already
    invited by another submission (a second click, or a colleague)."""
    key = keys.invited(conversation_id, department_id)
    try:
        item = table().update_item(
            Key=key,
            UpdateExpression="SET department_id = :dept, invited_by = if_not_exists(invited_by, :by), "
                             "submission = if_not_exists(submission, :mine), #at = if_not_exists(#at, :now), "
                             "expires_at = if_not_exists(expires_at, :keep)",
            ConditionExpression="attribute_not_exists(pk) OR submission = :mine",
            ExpressionAttributeNames={"#at": "at"},
            ExpressionAttributeValues={":dept": department_id, ":by": invited_by, ":mine": submission,
                                       ":now": now_iso(), ":keep": keys.keep_until()},
            ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD")["Attributes"]
    except ClientError as error:
        if not failed_condition(error):
            raise
        existing = old_item(error) or table().get_item(Key=key, ConsistentRead=True).get("Item") or {}
        return _invitation({"department_id": department_id, **existing}), False
    # A resumed submission keeps the steps an earlier attempt recorded.
    return _invitation(item), True


def record_steps(conversation_id: str, department_id: str, **steps: str) -> None:
    """Record a step done (mention_ts, pointer_ts)."""
    table().update_item(Key=keys.invited(conversation_id, department_id),
                        UpdateExpression="SET " + ", ".join(f"{name} = :{name}" for name in steps),
                        ExpressionAttributeValues={f":{name}": value for name, value in steps.items()})


def invited(conversation_id: str) -> list[Invitation]:
    from boto3.dynamodb.conditions import Key

    items = table().query(KeyConditionExpression=Key("pk").eq(keys.messages_partition(conversation_id))
                          & Key("sk").begins_with(keys.INVITED_PREFIX)).get("Items", [])
    return [_invitation(item) for item in items]


def claim_quick_reply(conversation_id: str, reply_id: str, click: str, now: float | None = None) -> bool:
    """Whether this click may send the quick reply: True unless the same reply was sent in this
    conversation by another click less than DOUBLE_CLICK_SECONDS ago. The same click (a
    retried job) is always allowed on, to finish what it started."""
    now = time.time() if now is None else now
    try:
        table().put_item(
            Item={**keys.quick_reply_sent(conversation_id, reply_id), "click": click, "sent_at": int(now),
                  "expires_at": keys.keep_until()},
            ConditionExpression="attribute_not_exists(pk) OR click = :click OR sent_at < :cutoff",
            ExpressionAttributeValues={":click": click, ":cutoff": int(now) - DOUBLE_CLICK_SECONDS})
    except ClientError as error:
        if failed_condition(error):
            return False
        raise
    return True
