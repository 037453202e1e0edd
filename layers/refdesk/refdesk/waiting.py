"""Waiting and hours: what happens to a conversation nobody has picked up.

* **The sweep** (`sweep`, run every minute by the sweeper function: an EventBridge schedule in
  AWS, a timer in `make dev`) reads the waiting queue (`store.queue.waiting`, oldest first).
  While the desk is open, a conversation that has waited NudgeMinutes (unclaimed, open) is
  nudged: one conditional write of `nudged_at` (`store.nudges.take`), so that two sweeps at
  once cannot both nudge and no conversation is nudged again before NudgeMinutes more, then a
  `NudgeJob` for the dispatcher, which mentions the on-duty librarians in the thread (`nudge`).
  While the desk is closed nothing is nudged; the first sweep after it opens nudges whatever
  waited through the night. The sweep makes no Slack or Twilio call itself.
* **After hours**: a conversation that opens while the desk is closed is marked on its card,
  and the patron is told once when the desk opens (AfterHoursText, `{opening}` = "Mon 9:00" in
  the library's time zone). `refdesk.relay` does this when it posts the card (`closed_until`,
  `after_hours_text`).

Every function takes the clock as an argument, so tests drive it with a fake one."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from aws_lambda_powertools import Logger

from refdesk import jobs, store
from refdesk.models import NudgeJob
from refdesk.schedule import Schedule
from refdesk.settings import get_settings

logger = Logger(child=True)

SWEEP_LIMIT = 100  # the oldest this many waiting conversations are looked at per sweep
ISO = "%Y-%m-%dT%H:%M:%S.%fZ"  # store.table.now_iso's format: ISO times compare as strings


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(ISO)


def parse_iso(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


# --- hours -------------------------------------------------------------------------------

def opening_label(opening: datetime | None, now: datetime, schedule: Schedule) -> str:
    """When the desk opens, as a patron reads it in the library's time zone: "Mon 9:00" within
    the coming week, "Mon 5 Jan 9:00" further off, "" when no opening is known."""
    if opening is None:
        return ""
    local = opening.astimezone(schedule.timezone)
    clock = f"{local.hour}:{local:%M}"
    if local - now.astimezone(schedule.timezone) < timedelta(days=6):
        return f"{local:%a} {clock}"
    return f"{local:%a} {local.day} {local:%b} {clock}"


def closed_until(at: str | datetime, schedule: Schedule | None = None) -> str | None:
    """None when the desk was open at `at`; otherwise when it next opens ("Mon 9:00"), or "" if
    no opening is scheduled within a month."""
    schedule = schedule or Schedule.current()
    moment = at if isinstance(at, datetime) else parse_iso(at) or datetime.now(timezone.utc)
    if schedule.is_open(moment):
        return None
    return opening_label(schedule.next_opening(moment), moment, schedule)


def after_hours_text(opening: str) -> str:
    """The configured after-hours reply with the opening filled in (plain replace: a library's
    text may hold other braces)."""
    return get_settings().after_hours_text.replace("{opening}", opening or "again")


# --- the sweep ---------------------------------------------------------------------------

def sweep(now: datetime | None = None, *, schedule: Schedule | None = None) -> dict:
    """One pass over the waiting queue; returns what it did: {"open", "waiting", "nudged"}."""
    now = now or datetime.now(timezone.utc)
    schedule = schedule or Schedule.current()
    if not schedule.is_open(now):
        logger.info("sweep: the desk is closed, no nudges")
        return {"open": False, "waiting": 0, "nudged": 0}
    cutoff = iso(now - timedelta(minutes=get_settings().nudge_minutes))
    waiting = store.queue.waiting(SWEEP_LIMIT)
    nudged = 0
    for conversation in waiting:
        since = getattr(conversation, "waiting_since", "") or conversation.created_at
        if since and since > cutoff:
            break  # oldest first: the rest have waited less
        if conversation.claimed_by or not conversation.is_open:
            continue
        taken = store.nudges.take(conversation.conversation_id, iso(now), cutoff)
        if taken is None or not taken.slack_ts:  # nudged already, claimed meanwhile, or no card yet
            continue
        jobs.enqueue(NudgeJob(conversation_id=taken.conversation_id, channel=taken.slack_channel,
                              thread_ts=taken.slack_ts, nudged_at=taken.nudged_at, waiting_since=since))
        nudged += 1
    logger.info("sweep done", extra={"waiting": len(waiting), "nudged": nudged})
    return {"open": True, "waiting": len(waiting), "nudged": nudged}


# --- the dispatcher's half ---------------------------------------------------------------

def nudge_text(librarians: list[str], waited: timedelta | None) -> str:
    minutes = f" {max(1, int(waited.total_seconds() // 60))} min" if waited else ""
    if not librarians:
        return (f":hourglass_flowing_sand: This patron has waited{minutes} and nobody has claimed the "
                "conversation; nobody is on duty (`/refdesk on`).")
    mentions = " ".join(f"<@{user}>" for user in librarians)
    return (f":hourglass_flowing_sand: {mentions}: this patron has waited{minutes} and nobody has claimed the "
            "conversation yet. Claim it, or reply in this thread.")


def nudge(job: NudgeJob) -> None:
    """Mention the on-duty librarians in the thread, unless the conversation was claimed or
    closed since the sweep. A retry after the post would post again; the post is the last step."""
    from refdesk.errors import NotFound
    from refdesk.slack import api as slack

    try:
        conversation = store.conversations.get(job.conversation_id)
    except NotFound:
        return
    if not conversation.is_open or conversation.claimed_by:
        return
    librarians = [str(item["user_id"]) for item in store.duty.on_duty() if item.get("user_id")]
    since, at = parse_iso(job.waiting_since), parse_iso(job.nudged_at)
    slack.post(job.channel, nudge_text(librarians, at - since if since and at else None), thread_ts=job.thread_ts)
    logger.info("nudged", extra={"conversation_id": job.conversation_id, "librarians": len(librarians)})
