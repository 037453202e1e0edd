"""Turns to post into a Slack channel, shared by every copy of the dispatcher: one item per
channel (PACE#{channel} / META) holding `next_at`, the epoch millisecond from which the next
turn beyond the channel's burst is free (a token bucket kept as the time it is full again).

Access patterns:
  - take the channel's next turn (one conditional UpdateItem). An idle channel (`next_at` absent
    or past) gives its turn now and `next_at` becomes now + one interval; a busy one gives its
    turn at `next_at` less the burst's allowance (burst - 1 intervals), and `next_at` moves on by
    one interval. A turn further away than the caller can wait is not taken (RetryLater).

The two writes' conditions (idle; busy and within reach) tell the caller which it was, and a
refused one answers the item as it is, so the other is made next. Which one is tried first is
this process's guess from the `next_at` it last saw: "busy" when that is still to come, never
wrong since `next_at` only grows; "idle" otherwise, wrong only for a copy joining a burst it did
not see begin. So a turn costs one write (1 WRU: the item is tiny), plus one refused write per
wrong guess.

What if the write fails:
  * once (throttled): boto3's retries (refdesk.clients) make it again; refdesk.slack.api does
    not post unpaced meanwhile, as that post could be the one Slack refuses;
  * for longer: the error is raised, and refdesk.slack.api paces the channel in-process;
  * its answer is lost after it succeeded: boto3's retry takes a second turn, so the channel's
    later posts wait one interval more; nothing goes out over the rate.

The item expires a day after its last turn."""
from __future__ import annotations

import time

from botocore.exceptions import ClientError

from refdesk import clients
from refdesk.errors import RetryLater
from refdesk.store import keys
from refdesk.store.table import failed_condition, old_item, table

KEPT_SECONDS = 24 * 3600

_last_seen: dict[str, int] = {}  # channel -> the next_at this process last wrote or was shown
clients.on_reset(_last_seen.clear)  # a hint about one table


def take_turn(channel: str, interval: float, burst: int, longest_wait: float, now: float | None = None) -> float:
    """Takes `channel`'s next turn to receive a post, turns being `interval` seconds apart after a
    burst of `burst`; returns the seconds until it (0: at once). A turn more than `longest_wait`
    seconds away is not taken: RetryLater, for when the turns taken before it leave it in reach."""
    now_ms = _millis(time.time() if now is None else now)
    step = max(1, _millis(interval))
    allowance = step * (max(1, burst) - 1)
    latest = now_ms + allowance + _millis(longest_wait)  # the latest next_at whose turn is in reach
    seen = _last_seen.get(channel, 0)
    while True:
        if seen > latest:
            raise RetryLater("the channel's turns are taken further ahead than a post can wait",
                             seconds=(seen - latest) / 1000)
        try:
            if seen > now_ms:
                seen = _take_busy(channel, step, now_ms, latest)
                turn = max(now_ms, seen - allowance)
                seen += step
            else:
                seen = _take_idle(channel, now_ms + step, now_ms)
                turn = now_ms
        except ClientError as error:
            if not failed_condition(error):
                raise
            seen = _last_seen[channel] = int(old_item(error).get("next_at", 0))
            continue
        _last_seen[channel] = seen
        return (turn - now_ms) / 1000


def _take_idle(channel: str, next_at: int, now_ms: int) -> int:
    table().update_item(
        Key=keys.slack_pace(channel), UpdateExpression="SET next_at = :next, expires_at = :expires",
        ConditionExpression="attribute_not_exists(next_at) OR next_at <= :now",
        ExpressionAttributeValues={":next": next_at, ":now": now_ms, ":expires": _expires(now_ms)},
        ReturnValuesOnConditionCheckFailure="ALL_OLD")
    return next_at


def _take_busy(channel: str, step: int, now_ms: int, latest: int) -> int:
    """The channel's next_at before this turn moved it on."""
    answer = table().update_item(
        Key=keys.slack_pace(channel), UpdateExpression="SET next_at = next_at + :step, expires_at = :expires",
        ConditionExpression="next_at > :now AND next_at <= :latest",
        ExpressionAttributeValues={":step": step, ":now": now_ms, ":latest": latest, ":expires": _expires(now_ms)},
        ReturnValues="UPDATED_OLD", ReturnValuesOnConditionCheckFailure="ALL_OLD")
    return int(answer["Attributes"]["next_at"])


def _millis(seconds: float) -> int:
    return round(seconds * 1000)


def _expires(now_ms: int) -> int:
    return now_ms // 1000 + KEPT_SECONDS
