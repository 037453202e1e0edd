"""The idle close (issue 16): a conversation with no message for IdleCloseHours is closed quietly.
Its card says so ("Closed after 24 h without a message"), the patron is told nothing, its session
is released as any close releases it, and RetentionDays runs from then.

* **Idle.** For IdleCloseHours nobody wrote in the conversation and nobody claimed, transferred or
  reopened it, and it is not waiting for a librarian: a question nobody has taken is never closed
  so (over a long weekend it would be dropped unanswered); the digest keeps reminding the desk
  (refdesk.waiting), and the backstop below still bounds what it keeps.
* **Activity, cheaply.** A conversation records its last message in `active_at`, written with a
  message only when the recorded one is an hour old or more (store.conversations.record_activity;
  IdleCloseHours if that is shorter): a busy conversation costs a write an hour, not one a
  message. The sparse index ByActivity lists the open conversations by it, with what else decides
  (waiting? claimed or transferred when?).
* **Found without polling.** The sweeper runs for the idle close only on its wake-ups, one-time
  schedules (refdesk.wake_ups.arm_sweeper, purpose "idle": one chain for the desk, kept by one
  conditional write of SWEEP / ARMED#idle). When someone takes a conversation (a claim, the first
  reply, a transfer, a reopening: the lifecycle's `arm_idle_close` listener) a sweep is armed for
  IdleCloseHours later, unless one is armed for then or sooner already (one refused write). Each
  sweep (`sweep`) queues an IdleCloseJob for each idle conversation and re-arms for the earliest
  one still to go idle, and one `activity_step` later when it queued any, to see them gone (a
  queue that failed meanwhile is made up for); never sooner than a step ahead. With nothing
  taken and open it arms nothing, and nothing runs.
* **The close** (refdesk.relay.close_idle, the dispatcher's half) is one conditional write made
  with the session's release (store.conversations.close with `quiet`): only while the
  conversation is still open and still idle, so a message, a claim or a transfer that came
  meanwhile wins and it stays open. What follows (the count, the card, the views, retention) is
  resumable: a retry that finds it closed by the idle close finishes it.
* **The backstop.** Should the close never run (wake-ups failing for good), an open
  conversation's items holding a patron's words or address expire RetentionDays + IdleCloseHours
  after they were written (store.keys.open_until): nothing outlives its last message by more than
  that, and a close within a day of its idle time keeps nothing longer either.

The clock is an argument (or read here), so tests drive it with a fake one."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from aws_lambda_powertools import Logger

from refdesk import jobs, store, waiting, wake_ups
from refdesk.models import Conversation, IdleCloseJob
from refdesk.settings import get_settings
from refdesk.store.conversations import Activity, Quiet

logger = Logger(child=True)

PURPOSE = "idle"  # the sweeper's wake-ups for the idle close (refdesk.wake_ups)
JOBS_PER_SWEEP = 100  # past this many idle conversations a sweep queues these and comes back a step later


def _idle() -> timedelta:
    return timedelta(seconds=get_settings().idle_close_seconds)


def _step() -> timedelta:
    return timedelta(seconds=store.conversations.activity_step())


def due_at(entry: Activity) -> datetime | None:
    """When the conversation goes idle: IdleCloseHours after its last message (recorded to within a
    step: counted from the step's end) or its latest claim or transfer; None while it waits for a
    librarian (taking it arms the idle close)."""
    if entry.waiting:
        return None
    quiet_since = waiting.parse_iso(entry.active_at) + _step()
    assigned = waiting.parse_iso(entry.assigned_at)
    return max(quiet_since, assigned or quiet_since) + _idle()


def quiet(now: datetime | None = None) -> Quiet:
    """What the idle close's write requires at `now`: the cutoffs that make `due_at` past."""
    now = now or datetime.now(timezone.utc)
    return Quiet(active_until=wake_ups.iso(now - _idle() - _step()), assigned_until=wake_ups.iso(now - _idle()))


def sweep(now: datetime | None = None, *, armed_by: str = "") -> dict:
    """One pass over the open conversations, least active first: an IdleCloseJob queued for each
    idle one, then the next wake-up armed (see the module's docstring). Returns {"idle": how many
    it queued}. `armed_by` names this wake-up (the sweeper passes its schedule's name: Lambda's
    retry re-arms as the same one)."""
    now = now or datetime.now(timezone.utc)
    armed_by = armed_by or f"idle:{uuid.uuid4().hex}"
    idle: list[Activity] = []
    next_due: datetime | None = None
    for entry in store.conversations.by_activity():
        if next_due and waiting.parse_iso(entry.active_at) + _step() + _idle() >= next_due:
            break  # this one and every later one (least active first) go idle no sooner
        due = due_at(entry)
        if due is None:
            continue
        if due > now:
            next_due = min(next_due or due, due)
        elif len(idle) < JOBS_PER_SWEEP:
            idle.append(entry)
        else:
            break  # the rest a step later, with the look at these
    if idle:
        next_due = now  # a step later (`arm`): to see them gone, or queue them again
    armed = arm(next_due, armed_by, now=now) if next_due else None
    for entry in idle:
        jobs.enqueue(IdleCloseJob(conversation_id=entry.conversation_id, active_at=entry.active_at,
                                  channel=entry.slack_channel, root_ts=entry.slack_ts))
    logger.info("idle sweep done", extra={"idle": len(idle), "next_sweep": wake_ups.iso(armed) if armed else ""})
    return {"idle": len(idle)}


def arm(due: datetime, armed_by: str, *, now: datetime | None = None) -> datetime | None:
    """Make sure an idle sweep runs by `due`, and not sooner than a step from now: returns when it
    will, or None when one is armed for then or sooner already (refdesk.wake_ups.arm_sweeper)."""
    now = now or datetime.now(timezone.utc)
    return wake_ups.arm_sweeper(PURPOSE, max(due, now + _step()), armed_by, now=now, event={"purpose": PURPOSE})


def arm_when_taken(conversation: Conversation, *, now: datetime | None = None) -> datetime | None:
    """Someone took the open conversation (claimed, answered, transferred or reopened it): an idle
    sweep by IdleCloseHours after that, when it could go idle at the earliest. One conditional
    write, refused while a sweep is armed for then or sooner; a dispatcher job's retry (the same
    transition) arms as the same armer."""
    taken = max(conversation.claimed_at, conversation.transferred_at)
    since = waiting.parse_iso(taken) or now or datetime.now(timezone.utc)
    armer = waiting.armer_of(f"{conversation.conversation_id}#{taken}")
    return waiting.arm_in_job(lambda: arm(since + _idle(), f"taken:{armer}", now=now), conversation.conversation_id,
                              "idle close")
