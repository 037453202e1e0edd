"""Waiting and hours: what happens to a conversation nobody has picked up.

* **The sweep** (`sweep`, run by the sweeper function) reads the waiting queue
  (`store.queue.waiting`, oldest first). While the desk is open, a conversation that has waited
  NudgeMinutes (unclaimed, open, its card posted) is nudged: one conditional write of
  `nudged_at` (`store.nudges.take`), so that two sweeps at once cannot both nudge and no
  conversation is nudged again before NudgeMinutes more, then a `NudgeJob` for the dispatcher,
  which mentions the on-duty librarians in the thread (`nudge`). While the desk is closed
  nothing is nudged; the sweep armed for its opening nudges whatever waited through the night.
  The sweep makes no Slack or Twilio call itself.
* **Only while something waits.** No schedule polls the table: a sweep runs when it is *armed*
  (`arm`), as a one-time EventBridge Scheduler schedule (`at(...)`, in the group
  WAKE_UP_SCHEDULE_GROUP, deleted once it has fired) that invokes the sweeper when the next nudge
  is due. Arming is one conditional write of SWEEP / ARMED (`store.nudges.arm_sweep`), which
  succeeds only when no sweep is armed for that time or earlier and still to come, then one
  CreateSchedule: one chain of wake-ups for the whole desk, not one per conversation. Nothing
  is billed while nothing is armed (a queue trigger's pollers would be).
  - The dispatcher arms when a conversation starts waiting (`arm_for_arrival`, from
    `assignment.patron_waiting`, for the message that began the wait): the first conversation
    while nothing is armed costs those 2 AWS calls; one that arrives while a sweep is armed for
    its due time or sooner costs the conditional write alone, refused; later messages nothing.
  - Each sweep re-arms while anything still waits: for the earliest next nudge while the desk is
    open, for its next opening while it is closed (one wake-up, however far). With nothing
    waiting it arms nothing and the chain stops: an idle desk runs no sweep at all.
  - No wake-up is armed sooner than a minute ahead (the pace of the schedule this replaced;
    times SWEEP_DELAY_SCALE, small locally), so that a card is posted by then and NudgeMinutes 0
    cannot make the chain spin. Wake-ups are whole seconds (rounded up), as `at()` is.
  - Nothing is lost with a wake-up. An armed sweep due within TRUST_MARGIN_SECONDS, or already
    past, is not trusted (it may be running, or its schedule was never created): whoever arms
    next arms again. A schedule is named after its time (`schedule_name`), so a CreateSchedule
    retried after its answer was lost gets ConflictException, which means armed. A failed
    CreateSchedule after the conditional write fails the dispatcher's job for its first
    TRANSIENT_ARM_ATTEMPTS attempts when it is transient (the retry, arming as the same
    `armed_by`, creates it), and is logged otherwise, the card going on without it (a nudge must
    never hold back a patron's message): the armed time passes unmet and the next conversation
    to start waiting arms again. A sweep that fails is retried by Lambda (the scheduler invokes
    it asynchronously) with the same event, naming its schedule, and re-arms as the same
    wake-up. Two wake-ups for one time sweep twice, harmlessly: the nudges are conditional.
* **After hours**: a conversation that opens while the desk is closed is marked on its card,
  and the patron is told once when the desk opens (AfterHoursText, `{opening}` = "Mon 9:00" in
  the library's time zone). `refdesk.relay` does this when it posts the card (`closed_until`,
  `after_hours_text`).

Every function takes the clock as an argument, so tests drive it with a fake one."""
from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta, timezone

from aws_lambda_powertools import Logger

from refdesk import jobs, retry, store, wake_ups
from refdesk.models import NudgeJob, Status
from refdesk.schedule import Schedule
from refdesk.settings import get_settings

logger = Logger(child=True)

SWEEP_LIMIT = 100  # the oldest this many waiting conversations are looked at per sweep
ISO = "%Y-%m-%dT%H:%M:%S.%fZ"  # store.table.now_iso's format: ISO times compare as strings
NO_OPENING_RECHECK = timedelta(days=1)  # no opening known within a month: look again a day later
MIN_INTERVAL_SECONDS = 60  # no wake-up sooner than this after its arming (times SWEEP_DELAY_SCALE)
TRUST_MARGIN_SECONDS = 30  # an armed sweep due sooner than this (or past) is armed again (scaled too)
TRANSIENT_ARM_ATTEMPTS = 3  # a transient failure to arm fails a dispatcher job this often at most


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(ISO)


def parse_iso(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, TypeError, ValueError):
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

def sweep(now: datetime | None = None, *, schedule: Schedule | None = None, armed_by: str = "") -> dict:
    """One pass over the waiting queue, then the next wake-up armed if anything still waits;
    returns what it did: {"open", "waiting" (conversations read), "nudged"}. `armed_by` names
    this wake-up (the sweeper passes its schedule's name: Lambda's retry re-arms as the same one)."""
    now = now or datetime.now(timezone.utc)
    schedule = schedule or Schedule.current()
    armed_by = armed_by or f"sweep:{uuid.uuid4().hex}"
    if not schedule.is_open(now):
        waiting = store.queue.waiting(1)  # only whether anything waits: the next opening is the time
        armed = arm(now, armed_by, now=now, schedule=schedule) if waiting else None
        logger.info("sweep: the desk is closed, no nudges", extra={"next_sweep": iso(armed) if armed else ""})
        return {"open": False, "waiting": len(waiting), "nudged": 0}
    interval = timedelta(minutes=get_settings().nudge_minutes)
    cutoff = iso(now - interval)
    waiting = store.queue.waiting(SWEEP_LIMIT)
    nudged, next_nudges = 0, []
    for conversation in waiting:
        since = getattr(conversation, "waiting_since", "") or conversation.created_at
        if since and since > cutoff:  # oldest first: the rest have waited less
            next_nudges.append((parse_iso(since) or now) + interval)
            break
        if conversation.claimed_by or not conversation.is_open:
            continue
        taken, was = store.nudges.take(conversation.conversation_id, iso(now), cutoff)
        if taken is None:  # nudged already, claimed or closed meanwhile, or no card yet
            next_nudges.append(_next_nudge(was, now, interval))
            continue
        jobs.enqueue(NudgeJob(conversation_id=taken.conversation_id, channel=taken.slack_channel,
                              thread_ts=taken.slack_ts, nudged_at=taken.nudged_at, waiting_since=since))
        nudged += 1
        next_nudges.append(now + interval)
    if len(waiting) >= SWEEP_LIMIT:
        next_nudges.append(now)  # more wait than were read: look again soon
    due = min((moment for moment in next_nudges if moment is not None), default=None)
    armed = arm(due, armed_by, now=now, schedule=schedule) if due else None
    logger.info("sweep done", extra={"waiting": len(waiting), "nudged": nudged,
                                     "next_sweep": iso(armed) if armed else ""})
    return {"open": True, "waiting": len(waiting), "nudged": nudged}


def _next_nudge(item: dict, now: datetime, interval: timedelta) -> datetime | None:
    """When a conversation whose nudge was refused can be nudged next (its item as the refusal
    saw it); None when it no longer waits."""
    if not item or item.get("status") != Status.OPEN.value or item.get("claimed_by") or not item.get("queue_sk"):
        return None
    last = parse_iso(str(item.get("nudged_at", "")))
    if not item.get("slack_ts") or last is None:  # no card yet: soon
        return now
    return last + interval


# --- the sweep's wake-ups ----------------------------------------------------------------

def wake_time(due: datetime, now: datetime, schedule: Schedule) -> datetime:
    """When to sweep for a nudge due at `due`: not sooner than MIN_INTERVAL_SECONDS from now
    (scaled), and when the desk next opens if it is closed then (one wake-up, however far)."""
    moment = max(due, now + timedelta(seconds=MIN_INTERVAL_SECONDS * get_settings().sweep_delay_scale))
    if not schedule.is_open(moment):
        moment = schedule.next_opening(moment) or moment + NO_OPENING_RECHECK
    return moment


def schedule_name(wake: datetime) -> str:
    """A wake-up's schedule is named after its time (UTC, whole seconds): created again for the
    same time, it is refused with ConflictException."""
    return wake_ups.name("sweep", wake)


def arm(due: datetime, armed_by: str, *, now: datetime | None = None,
        schedule: Schedule | None = None) -> datetime | None:
    """Make sure a sweep runs by the time a nudge is due at `due` (see `wake_time`): returns
    when it will, or None when a sweep is armed for then or sooner already. One conditional
    write, then (only when it succeeded) one CreateSchedule at that time."""
    settings = get_settings()
    if not wake_ups.configured(settings.sweeper_function_arn):
        logger.warning("sweep not armed: no schedule group, sweeper or role "
                       "(WAKE_UP_SCHEDULE_GROUP, SWEEPER_FUNCTION_ARN, WAKE_UP_SCHEDULER_ROLE_ARN)")
        return None
    now = now or datetime.now(timezone.utc)
    wake = wake_ups.whole_second(wake_time(due, now, schedule or Schedule.current()))
    trusted_after = now + timedelta(seconds=TRUST_MARGIN_SECONDS * settings.sweep_delay_scale)
    if not store.nudges.arm_sweep(iso(wake), armed_by, iso(trusted_after),
                                  int(wake.timestamp()) + store.nudges.ARMED_KEPT_SECONDS):
        return None
    # Refused as a conflict when created for this second already: by this armer's earlier try
    # whose answer was lost, or by another arming for the same time. Either way a sweep is armed.
    name = wake_ups.schedule("sweep", wake, settings.sweeper_function_arn,
                             {"wake_up": schedule_name(wake), "due_at": iso(wake)})
    logger.info("sweep armed", extra={"due_at": iso(wake), "schedule": name})
    return wake


def arm_for_arrival(conversation_id: str, queue_sk: str | None, arrived_at: str, *, now: datetime | None = None,
                    schedule: Schedule | None = None) -> datetime | None:
    """The dispatcher's arming: the conversation waits as `queue_sk` (store.queue.join's answer
    to the message that arrived at `arrived_at`). Only the message that began the wait arms (its
    job's retries too), for the conversation's first nudge; a later message of the same wait,
    or one that found it claimed or closed, does nothing."""
    if not queue_sk or not queue_sk.startswith(f"{arrived_at}#"):
        return None
    since = parse_iso(arrived_at) or now or datetime.now(timezone.utc)
    try:
        # Named by a digest: the desk-wide item must not keep an erased conversation's id.
        arrival = hashlib.sha256(conversation_id.encode()).hexdigest()[:24]
        return arm(since + timedelta(minutes=get_settings().nudge_minutes), f"arrival:{arrival}",
                   now=now, schedule=schedule)
    except Exception as error:
        if retry.is_transient(error) and jobs.attempt() <= TRANSIENT_ARM_ATTEMPTS:
            raise  # the job is tried again, and arms then
        logger.error("sweep not armed", extra={"conversation_id": conversation_id, "error": type(error).__name__})
        return None


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
