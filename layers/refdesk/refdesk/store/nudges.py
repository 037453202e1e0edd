"""The desk's digest of who waits, and when the next sweeps are due: desk-wide items (SWEEP /
DIGEST; SWEEP / ARMED for the waiting queue, SWEEP / ARMED#idle for the idle close); and, on the
conversation item (CONV#{id} / META), that it opened while the desk was closed.

Access patterns:
  - take the sweep's turn to show the digest (one conditional UpdateItem of SWEEP / DIGEST): at
    most once per NudgeMinutes for the whole desk, so that two sweeps running at once cannot both
    queue it. The turn begins a digest (a new Slack message) unless one stands; one that stands
    from an earlier opening is retired (a second conditional write, once per opening) and a new
    one begins. A refusal returns the item as it was, which says when the next turn is.
  - read the digest; record its Slack message once posted; end it when nobody waits (each a
    conditional write naming the digest, so a later sweep's turn is never undone)
  - arm the next sweep (one conditional UpdateItem of SWEEP / ARMED, or ARMED#idle): only when
    no sweep is armed for that time or earlier still to come, so that arrivals and sweeps keep one
    chain of wake-ups each (refdesk.wake_ups.arm_sweeper); withdraw that record when its wake-up
    could not be created (one conditional DeleteItem naming it), so that nobody is refused for it
  - remember that a conversation opened while the desk was closed, and when it opens (one
    UpdateItem): the card says so, and the patron was told"""
from __future__ import annotations

from botocore.exceptions import ClientError

from refdesk.store import keys
from refdesk.store.table import failed_condition, old_item, table

ARMED_KEPT_SECONDS = 24 * 3600  # an armed sweep's item expires a day after it was due
# The digest's item outlives its last turn by a week (a desk closed over a long weekend keeps
# its standing message, which the first sweep after the opening retires).
DIGEST_KEPT_SECONDS = 7 * 24 * 3600


def take_digest(now: str, cutoff: str, closes_at: str, expires_at: int, *,
                standing_only: bool = False) -> tuple[dict | None, dict]:
    """This sweep's turn to show the digest at `now`, unless a turn was taken after `cutoff` (ISO
    times); with `standing_only`, only while a digest stands (to show the line has changed or
    emptied). A digest begun now stands until `closes_at` at most (the desk's closing): after it,
    the next turn retires it and begins another, whose post mentions the librarians again.
    Returns (the item after the turn, {}) for the sweep whose turn it is; (None, the item as it
    was: {} if none) otherwise."""
    turn = "(attribute_not_exists(swept_at) OR swept_at <= :cutoff)"
    current = "attribute_exists(digest)" if standing_only else "(attribute_not_exists(digest) OR closes_at > :now)"
    values = {":now": now, ":closes": closes_at, ":expires": expires_at}
    try:
        return table().update_item(
            Key=keys.desk_digest(),
            UpdateExpression="SET swept_at = :now, digest = if_not_exists(digest, :now), "
                             "closes_at = if_not_exists(closes_at, :closes), expires_at = :expires",
            ConditionExpression=f"{turn} AND {current}",
            ExpressionAttributeValues={**values, ":cutoff": cutoff},
            ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )["Attributes"], {}
    except ClientError as error:
        if not failed_condition(error):
            raise
        was = old_item(error)
    if standing_only or not was.get("digest") or str(was.get("swept_at", "")) > cutoff:
        return None, was
    # The standing digest began in an earlier opening: its message is retired, a new one begins.
    retire = ", retired = :posted" if was.get("posted") else ""
    try:
        return table().update_item(
            Key=keys.desk_digest(),
            UpdateExpression=f"SET swept_at = :now, digest = :now, closes_at = :closes, expires_at = :expires{retire} "
                             "REMOVE posted",
            ConditionExpression="swept_at = :was AND digest = :digest",
            ExpressionAttributeValues={**values, ":was": was["swept_at"], ":digest": was["digest"],
                                       **({":posted": was["posted"]} if retire else {})},
            ReturnValues="ALL_NEW",
        )["Attributes"], {}
    except ClientError as error:
        if failed_condition(error):  # another sweep's turn, just now
            return None, was
        raise


def digest() -> dict:
    """The digest's item (consistent): swept_at (the last turn), digest (the standing digest's id,
    the turn that began it), posted ({"channel", "ts"} once its message is posted), retired (an
    earlier opening's message still to be edited); {} when none was ever taken."""
    return table().get_item(Key=keys.desk_digest(), ConsistentRead=True).get("Item") or {}


def digest_posted(digest_id: str, channel: str, ts: str) -> None:
    """The digest's message is posted (recorded unless that digest has ended meanwhile)."""
    _update_if("SET posted = :posted", "digest = :digest",
               {":posted": {"channel": channel, "ts": ts}, ":digest": digest_id})


def end_digest(digest_id: str, swept_at: str) -> bool:
    """Nobody waits: the digest ends (its message stays, saying so), unless a later turn was
    taken since `swept_at`. True when it ended."""
    return _update_if("REMOVE digest, posted, closes_at", "digest = :digest AND swept_at = :swept",
                      {":digest": digest_id, ":swept": swept_at})


def retired_shown(ts: str) -> None:
    """The retired message was edited to say so."""
    _update_if("REMOVE retired", "retired.ts = :ts", {":ts": ts})


def _update_if(update: str, condition: str, values: dict) -> bool:
    try:
        table().update_item(Key=keys.desk_digest(), UpdateExpression=update, ConditionExpression=condition,
                            ExpressionAttributeValues=values)
    except ClientError as error:
        if failed_condition(error):
            return False
        raise
    return True


def arm_sweep(due_at: str, armed_by: str, trusted_after: str, expires_at: int, *, purpose: str = "sweep") -> bool:
    """Record that the sweep for `purpose` (keys.sweep_armed) is due at `due_at` (ISO time), armed
    by `armed_by`; true when this caller must send its wake-up. False when a sweep is armed for `due_at` or
    earlier and is still to come: due after `trusted_after` (one due sooner may be running
    already, or its wake-up was lost). The same `armed_by` again (a retry) always arms."""
    try:
        table().update_item(
            Key=keys.sweep_armed(purpose), UpdateExpression="SET due_at = :due, armed_by = :by, expires_at = :expires",
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


def disarm_sweep(due_at: str, armed_by: str, *, purpose: str = "sweep") -> None:
    """Withdraw `armed_by`'s record that the sweep for `purpose` is due at `due_at`: its wake-up
    could not be created. Nothing happens when someone armed since."""
    try:
        table().delete_item(Key=keys.sweep_armed(purpose), ConditionExpression="due_at = :due AND armed_by = :by",
                            ExpressionAttributeValues={":due": due_at, ":by": armed_by})
    except ClientError as error:
        if not failed_condition(error):
            raise


def mark_after_hours(conversation_id: str, opening: str) -> None:
    """The conversation opened while the desk was closed; it opens `opening` ("Mon 9:00")."""
    table().update_item(Key=keys.conversation(conversation_id), UpdateExpression="SET after_hours = :opening",
                        ConditionExpression="attribute_exists(pk)",
                        ExpressionAttributeValues={":opening": opening})
