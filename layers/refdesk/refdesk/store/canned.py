"""Canned replies: the answers librarians keep for questions the desk hears every day, added,
edited and deleted in Slack (refdesk.canned_replies), seeded once from desk.json.

Access patterns:
  - every reply, by id (one Query of the CANNED partition: a desk keeps tens, at most MAX_REPLIES)
  - one reply (one GetItem): the Edit modal, sending one
  - seed desk.json's quick replies the first time (one transaction, refused once seeded)
  - save or delete one, with its audit item (one transaction each)

Audit items name a librarian (Slack user id), the reply's id and label, and the change; they
identify no patron and are kept KEEP_SECONDS."""
from __future__ import annotations

from dataclasses import dataclass

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from refdesk.store import keys
from refdesk.store.table import failed_condition, now_iso, table, transact

MAX_REPLIES = 100  # a Slack static_select offers at most 100 options


@dataclass(frozen=True)
class CannedReply:
    reply_id: str
    label: str
    text: str


def _reply(item: dict) -> CannedReply:
    return CannedReply(reply_id=str(item["reply_id"]), label=str(item["label"]), text=str(item["text"]))


def replies() -> list[CannedReply]:
    """Every canned reply, by id (none before seeding)."""
    query = {"KeyConditionExpression": Key("pk").eq(keys.CANNED_PK) & Key("sk").begins_with(keys.CANNED_REPLY_PREFIX)}
    found: list[CannedReply] = []
    while True:
        page = table().query(**query)
        found += [_reply(item) for item in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            return found
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def get(reply_id: str) -> CannedReply | None:
    item = table().get_item(Key=keys.canned_reply(reply_id)).get("Item")
    return _reply(item) if item else None


def _put(reply: CannedReply, user: str, at: str) -> dict:
    return {"Put": {"Item": {**keys.canned_reply(reply.reply_id), "reply_id": reply.reply_id, "label": reply.label,
                             "text": reply.text, "updated_by": user, "updated_at": at,
                             "expires_at": keys.keep_until()}}}  # the desk's own words: kept as long as anything


def _audit(reply: CannedReply, user: str, change: str, at: str) -> dict:
    return {"Put": {"Item": {**keys.canned_audit(at, reply.reply_id), "reply_id": reply.reply_id,
                             "label": reply.label, "user": user, "change": change, "at": at,
                             "expires_at": keys.keep_until()}}}


def seed(seeds: list[CannedReply]) -> bool:
    """desk.json's quick replies, written the first time only: false once seeded (a librarian's
    deletion is never undone by a later start)."""
    at = now_iso()
    try:
        transact([{"Put": {"Item": {**keys.canned_seeded(), "at": at, "expires_at": keys.keep_until()},
                           "ConditionExpression": "attribute_not_exists(pk)"}},
                  *(_put(reply, "desk.json", at) for reply in seeds[:MAX_REPLIES - 1])])
    except ClientError as error:
        if failed_condition(error):
            return False
        raise
    return True


def is_seeded() -> bool:
    return "Item" in table().get_item(Key=keys.canned_seeded())


def save(reply: CannedReply, user: str, *, added: bool) -> None:
    """Add (`added`) or edit a reply, with its audit item: one transaction."""
    at = now_iso()
    transact([_put(reply, user, at), _audit(reply, user, "added" if added else "edited", at)])


def delete(reply: CannedReply, user: str) -> None:
    at = now_iso()
    transact([{"Delete": {"Key": keys.canned_reply(reply.reply_id)}}, _audit(reply, user, "deleted", at)])


def audit(limit: int = 50) -> list[dict]:
    """The latest changes, newest first: {"at", "user", "reply_id", "label", "change"}."""
    items = table().query(KeyConditionExpression=Key("pk").eq(keys.CANNED_AUDIT_PK), ScanIndexForward=False,
                          Limit=limit).get("Items", [])
    return [{name: str(item[name]) for name in ("at", "user", "reply_id", "label", "change")} for item in items]
