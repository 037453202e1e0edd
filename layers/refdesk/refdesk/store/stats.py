"""Daily aggregates for reports: counters only, never a message, an address or a patron's hash.

A day is the library's local date on which a conversation opened (`refdesk.assessment` decides
the day and the counts); everything about that conversation, whenever it happens (close, READ,
rating), is counted on that day, so a report over a period covers the same conversations in
every figure.

Items:
  STATS                 / DAY#{yyyy-mm-dd}   one day's counters (atomic ADD), kept for years
  STATS                 / COMMENT#{day}#{conversation id}   a patron's comment on their rating,
                                             de-identified, kept as long as transcripts
  SEEN#{patron_id}      / META               the patron was seen before (keyed hash only; identity
                                             for statistics, expires PATRON_SEEN_SECONDS after
                                             the patron's last conversation)
  on CONV#{id} / META: stats_counted_at, read_level, topic, rating: the markers that make each
  count happen once (written in the same transaction as the counters)

Access patterns:
  - count an ended conversation once (one transaction: the conversation's marker + the ADD and
    list appends)
  - record READ, topic, rating once per conversation (one transaction each); a rating's comment
    in the rating's transaction, or once afterwards (`record_comment`)
  - the comments of a period (one Query): `comments(start, end)`; one forgotten (`forget_comment`)
  - new or repeat patron (one conditional UpdateItem; a second to keep a repeat patron's item)
  - read the days of a period (one Query): `days(start, end)`
  - a web patron's rating, accepted once per session on the webhook (one conditional UpdateItem
    on SESSION#{id}: its token, closed, not rated yet), before the job counts it

Attribute names of a day item (numbers): conv#{channel}, outcome#{answered|unanswered|abandoned},
kind#{live|follow_up}, patrons#new, patrons#repeat, wait#sum, wait#n, wait#{bucket}, duration#sum,
duration#n, read#{1-6}, topic#{id}, rating#{1-5}, how#{0-167} (hour of week: Monday 00:00-00:59
local time is 0), staff#{user}#answered, staff#{user}#transfers_in, staff#{user}#transfers_out;
(lists of numbers, appended) waits#{in_hours|after_hours|follow_up}, staff#{user}#first and
hour_waits#{0-23} (live chats in opening hours by the local hour they began): the seconds to each
first response, so that medians and percentiles are exact. A librarian is their
Slack user id: staff, not patrons."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from refdesk.errors import Conflict, Forbidden, NotFound
from refdesk.store import keys
from refdesk.store.table import failed_condition, now_iso, table, transact

STATS_PK = "STATS"
DAY_PREFIX = "DAY#"
COMMENT_PREFIX = "COMMENT#"
# Aggregates identify no one: kept as long as any other record may be (years, for trends).
STATS_SECONDS = keys.KEEP_SECONDS
# A patron counts as "repeat" when seen within this long of their previous conversation.
PATRON_SEEN_SECONDS = 400 * 24 * 3600
# The wait to the first staff reply, in histogram buckets: (label, upper bound in seconds).
WAIT_BUCKETS: tuple[tuple[str, float], ...] = (
    ("under_1m", 60), ("1_5m", 300), ("5_15m", 900), ("15_60m", 3600), ("1_24h", 86400), ("over_24h", float("inf")))
READ_LEVELS = range(1, 7)
RATINGS = range(1, 6)
OUTCOMES = ("answered", "unanswered", "abandoned")
# The exact waits to a first response, kept apart: live chats begun in opening hours, live chats
# begun while the desk was closed, and follow-ups (the offline form).
WAIT_KINDS = ("in_hours", "after_hours", "follow_up")
WAITS_PREFIX = "waits#"
HOUR_WAITS_PREFIX = "hour_waits#"  # live chats in opening hours, by the library-local hour they began
STAFF_PREFIX = "staff#"


@dataclass(frozen=True)
class DailyStats:
    """One day's counters. Every mapping holds only the keys counted that day (missing = 0)."""

    day: date
    conversations: dict[str, int] = field(default_factory=dict)  # by channel: sms, web, slack_connect
    new_patrons: int = 0
    repeat_patrons: int = 0
    wait_seconds_sum: int = 0  # to the first staff reply, over the conversations that had one
    wait_count: int = 0
    wait_histogram: dict[str, int] = field(default_factory=dict)  # WAIT_BUCKETS labels
    duration_seconds_sum: int = 0  # opened to closed
    duration_count: int = 0
    read: dict[int, int] = field(default_factory=dict)  # READ level 1-6 -> conversations
    topics: dict[str, int] = field(default_factory=dict)  # deskconfig topic id -> conversations
    ratings: dict[int, int] = field(default_factory=dict)  # patron rating 1-5 -> conversations
    hour_of_week: dict[int, int] = field(default_factory=dict)  # 0 (Mon 00h) .. 167 (Sun 23h) -> opened
    outcomes: dict[str, int] = field(default_factory=dict)  # answered, unanswered, abandoned
    kinds: dict[str, int] = field(default_factory=dict)  # live, follow_up (the offline form)
    waits: dict[str, list[int]] = field(default_factory=dict)  # WAIT_KINDS -> each first response's wait
    staff: dict[str, "StaffDay"] = field(default_factory=dict)  # Slack user id -> their figures
    hour_waits: dict[int, list[int]] = field(default_factory=dict)  # local hour 0-23 -> in-hours waits

    @property
    def total(self) -> int:
        return sum(self.conversations.values())

    @property
    def mean_wait_seconds(self) -> float | None:
        return self.wait_seconds_sum / self.wait_count if self.wait_count else None

    @property
    def mean_duration_seconds(self) -> float | None:
        return self.duration_seconds_sum / self.duration_count if self.duration_count else None

    @classmethod
    def from_item(cls, item: dict) -> "DailyStats":
        def group(prefix: str, convert=str) -> dict:
            return {convert(name[len(prefix):]): int(value) for name, value in item.items()
                    if name.startswith(prefix) and name[len(prefix):] not in ("sum", "n")}

        number = lambda name: int(item.get(name, 0))  # noqa: E731
        staff: dict[str, dict] = {}
        for name, value in item.items():
            if name.startswith(STAFF_PREFIX):
                user, _, what = name[len(STAFF_PREFIX):].rpartition("#")
                staff.setdefault(user, {})[what] = [int(one) for one in value] if what == "first" else int(value)
        return cls(day=date.fromisoformat(item["sk"][len(DAY_PREFIX):]), conversations=group("conv#"),
                   new_patrons=number("patrons#new"), repeat_patrons=number("patrons#repeat"),
                   wait_seconds_sum=number("wait#sum"), wait_count=number("wait#n"),
                   wait_histogram=group("wait#"), duration_seconds_sum=number("duration#sum"),
                   duration_count=number("duration#n"), read=group("read#", int), topics=group("topic#"),
                   ratings=group("rating#", int), hour_of_week=group("how#", int), outcomes=group("outcome#"),
                   kinds=group("kind#"), staff={user: StaffDay(**figures) for user, figures in staff.items()},
                   waits={name[len(WAITS_PREFIX):]: [int(one) for one in value] for name, value in item.items()
                          if name.startswith(WAITS_PREFIX)},
                   hour_waits={int(name[len(HOUR_WAITS_PREFIX):]): [int(one) for one in value]
                               for name, value in item.items() if name.startswith(HOUR_WAITS_PREFIX)})


@dataclass(frozen=True)
class StaffDay:
    """One librarian's figures on a day: conversations they answered (any patron-visible reply),
    the waits of those where theirs was the first response, transfers to and from them."""

    answered: int = 0
    first: list[int] = field(default_factory=list)
    transfers_in: int = 0
    transfers_out: int = 0


def days(start: date, end: date) -> list[DailyStats]:
    """The days from `start` to `end` (both included) that counted anything, oldest first.
    Days without an item are left out (every counter 0)."""
    query = {"KeyConditionExpression": Key("pk").eq(STATS_PK) & Key("sk").between(
        f"{DAY_PREFIX}{start.isoformat()}", f"{DAY_PREFIX}{end.isoformat()}")}
    found: list[DailyStats] = []
    while True:
        page = table().query(**query)
        found += [DailyStats.from_item(item) for item in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            return found
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def wait_bucket(seconds: float) -> str:
    return next(label for label, bound in WAIT_BUCKETS if seconds < bound)


def _day_key(day: date) -> dict:
    return {"pk": STATS_PK, "sk": f"{DAY_PREFIX}{day.isoformat()}"}


def _seen_key(patron_id: str) -> dict:
    return {"pk": f"SEEN#{patron_id}", "sk": keys.META}


def _add(day: date, counts: dict[str, int], samples: dict[str, int] | None = None) -> dict:
    """The transaction step adding `counts` to a day's counters and appending each of `samples`
    to its list (the exact waits, for medians)."""
    samples = samples or {}
    names = {**{f"#c{index}": name for index, name in enumerate(counts)},
             **{f"#s{index}": name for index, name in enumerate(samples)}}
    values = {**{f":c{index}": amount for index, amount in enumerate(counts.values())},
              **{f":s{index}": [amount] for index, amount in enumerate(samples.values())}}
    appends = "".join(f", #s{index} = list_append(if_not_exists(#s{index}, :none), :s{index})"
                      for index in range(len(samples)))
    return {"Update": {
        "Key": _day_key(day),
        "UpdateExpression": "ADD " + ", ".join(f"#c{index} :c{index}" for index in range(len(counts)))
                            + " SET expires_at = :keep" + appends,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {**values, ":keep": keys.keep_until(STATS_SECONDS),
                                      **({":none": []} if samples else {})}}}


def _once(conversation_id: str, attribute: str, value, extra_condition: str = "", extra_values: dict | None = None
          ) -> dict:
    """The transaction step setting a conversation's marker `attribute` unless it is set."""
    return {"Update": {
        "Key": keys.conversation(conversation_id),
        "UpdateExpression": "SET #m = :v",
        "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(#m)" + extra_condition,
        "ExpressionAttributeNames": {"#m": attribute, **({"#status": "status"} if "#status" in extra_condition else {})},
        "ExpressionAttributeValues": {":v": value, **(extra_values or {})}}}


def _transact_once(steps: list[dict]) -> bool:
    try:
        transact(steps)
    except ClientError as error:
        if failed_condition(error):
            return False
        raise
    return True


def patron_seen(patron_id: str, conversation_id: str) -> bool:
    """Whether this patron had a conversation before this one (a repeat patron). The same
    conversation asking again gets the same answer; an expired item (TTL lags) counts as none."""
    now = keys.keep_until(0)
    keep = keys.keep_until(PATRON_SEEN_SECONDS)
    try:
        table().update_item(
            Key=_seen_key(patron_id),
            UpdateExpression="SET first_conversation = :cid, first_seen = :at, expires_at = :keep",
            ConditionExpression="attribute_not_exists(pk) OR expires_at < :now OR first_conversation = :cid",
            ExpressionAttributeValues={":cid": conversation_id, ":at": now_iso(), ":keep": keep, ":now": now})
        return False
    except ClientError as error:
        if not failed_condition(error):
            raise
    table().update_item(Key=_seen_key(patron_id), UpdateExpression="SET expires_at = :keep",
                        ExpressionAttributeValues={":keep": keep})
    return True


def forget_patron(patron_id: str) -> None:
    """Drop the patron's "seen" item (a patron who asked to be forgotten counts as new next time)."""
    table().delete_item(Key=_seen_key(patron_id))


def count_conversation(conversation_id: str, day: date, counts: dict[str, int], samples: dict[str, int]) -> bool:
    """Add an ended conversation's counts (attribute name -> amount) and samples (list name ->
    value) to `day`, once per conversation: false when it was counted already."""
    return _transact_once([_once(conversation_id, "stats_counted_at", now_iso()), _add(day, counts, samples)])


def record_read(conversation_id: str, day: date, level: int) -> bool:
    """The READ level of a conversation, once: false when one was recorded already."""
    if level not in READ_LEVELS:
        raise ValueError("READ levels are 1 to 6")
    return _transact_once([_once(conversation_id, "read_level", level), _add(day, {f"read#{level}": 1})])


def record_topic(conversation_id: str, day: date, topic: str) -> bool:
    """The topic tag of a conversation, once: false when one was recorded already."""
    return _transact_once([_once(conversation_id, "topic", topic), _add(day, {f"topic#{topic}": 1})])


def record_rating(conversation_id: str, day: date, rating: int, comment: str = "", keep_days: int = 0) -> bool:
    """The patron's rating of a closed conversation, once, with its comment if any (kept for
    `keep_days`): false when it was rated already (or is not closed)."""
    if rating not in RATINGS:
        raise ValueError("ratings are 1 to 5")
    return _transact_once([
        _once(conversation_id, "rating", rating, " AND #status = :closed", {":closed": "closed"}),
        _add(day, {f"rating#{rating}": 1}),
        *([_put_comment(conversation_id, day, rating, comment, keep_days)] if comment else [])])


def record_comment(conversation_id: str, day: date, rating: int, comment: str, keep_days: int) -> bool:
    """A comment on a rating given earlier, once per conversation: false when there is one already
    (or the conversation was not rated)."""
    return _transact_once([_once(conversation_id, "commented_at", now_iso(), " AND attribute_exists(rating)"),
                           _put_comment(conversation_id, day, rating, comment, keep_days)])


def _comment_key(day: date, conversation_id: str) -> dict:
    return {"pk": STATS_PK, "sk": f"{COMMENT_PREFIX}{day.isoformat()}#{conversation_id}"}


def _put_comment(conversation_id: str, day: date, rating: int, comment: str, keep_days: int) -> dict:
    return {"Put": {"Item": {**_comment_key(day, conversation_id), "rating": rating, "text": comment,
                             "expires_at": keys.keep_until(keep_days * 24 * 3600)},
                    "ConditionExpression": "attribute_not_exists(pk)"}}


@dataclass(frozen=True)
class Comment:
    day: date
    rating: int
    text: str  # de-identified when it was recorded


def comments(start: date, end: date) -> list[Comment]:
    """The patrons' comments on the conversations of the days `start` to `end`, oldest first
    (one Query; an expired one that TTL has not removed yet is left out)."""
    query = {"KeyConditionExpression": Key("pk").eq(STATS_PK) & Key("sk").between(
        f"{COMMENT_PREFIX}{start.isoformat()}", f"{COMMENT_PREFIX}{end.isoformat()}~")}
    now, found = keys.keep_until(0), []
    while True:
        page = table().query(**query)
        found += [Comment(date.fromisoformat(item["sk"][len(COMMENT_PREFIX):][:10]), int(item["rating"]),
                          str(item["text"])) for item in page.get("Items", []) if int(item["expires_at"]) > now]
        if "LastEvaluatedKey" not in page:
            return found
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def forget_comment(conversation_id: str, day: date) -> None:
    """The patron's delete: their comment goes with the conversation (the counts stay)."""
    table().delete_item(Key=_comment_key(day, conversation_id))


def rate_session(session_id: str, token_hash: str, rating: int) -> str:
    """Accept a web patron's rating of their closed chat, once: returns the conversation id.
    Raises NotFound (no such live session), Forbidden (not its token), Conflict (not closed yet,
    or rated already)."""
    import time

    try:
        item = table().update_item(
            Key=keys.session(session_id), UpdateExpression="SET rating = :r, rated_at = :at",
            ConditionExpression="token_hash = :th AND expires_at > :epoch AND attribute_exists(closed_at) "
                                "AND attribute_not_exists(rating)",
            ExpressionAttributeValues={":r": rating, ":at": now_iso(), ":th": token_hash, ":epoch": int(time.time())},
            ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD")["Attributes"]
    except ClientError as error:
        if not failed_condition(error):
            raise
        from refdesk.store.table import old_item

        old = old_item(error)
        if not old or int(old.get("expires_at", 0)) < time.time():
            raise NotFound("no such chat session") from error
        if old.get("token_hash") != token_hash:
            raise Forbidden("not your chat session") from error
        if "closed_at" not in old:
            raise Conflict("this chat is still open", code="open") from error
        raise Conflict("this chat was rated already", code="rated") from error
    return item["conversation_id"]


def mark_once(conversation_id: str, attribute: str) -> bool:
    """Set a conversation's marker `attribute` (now) unless set: true the first time only."""
    return _transact_once([_once(conversation_id, attribute, now_iso())])
