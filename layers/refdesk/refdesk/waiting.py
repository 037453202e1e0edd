"""Waiting and hours: what happens to a conversation nobody has picked up.

* **The sweep** (`sweep`, run by the sweeper function) reads the waiting queue
  (`store.queue.waiting`, oldest first). While the desk is open and someone has waited
  NudgeMinutes, it takes the desk's turn to show the *digest* of who waits: one conditional
  write of SWEEP / DIGEST (`store.nudges.take_digest`), refused when a turn was taken less than
  NudgeMinutes ago, so that two sweeps at once queue one `DigestJob` and the desk is not nudged
  more often than that, however many wait. While a digest stands, a sweep with nobody due takes
  a turn too, to show that the line changed or emptied. While the desk is closed nothing is
  shown; the sweep armed for its opening shows whoever waited through the night.
  The sweep makes no Slack or Twilio call itself.
* **The digest** (`show_digest`, the dispatcher's half) is one message in the staff channel for
  the whole desk ("3 patrons waiting: oldest 12 min", with links to the cards), posted when the
  first turn of a wait finds someone waiting and edited in place (chat.update) by each later
  turn; the on-duty librarians are mentioned in the post only, never in an edit. When nobody
  waits any more, it is edited to say so and ends: the next wait gets a new post. One standing
  when the desk closed is retired at the next opening (edited to say so), and a new post
  mentions whoever is on duty then. Nothing is doubled: each turn's job reads the line afresh and
  a turn superseded by a later one does nothing once the message is recorded; a post whose
  answer was lost is found again by its Slack message metadata when the job is retried
  (refdesk.slack.api), and a failing Slack only holds the turns back in their FIFO group.
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
  - Nothing is lost with a wake-up (refdesk.wake_ups.arm_sweeper). An armed sweep due within
    wake_ups.TRUST_MARGIN_SECONDS, or already past, is not trusted (it may be running, or its
    schedule was never created): whoever arms next arms again. A schedule is named after its time
    (`schedule_name`), so a CreateSchedule retried after its answer was lost gets
    ConflictException, which means armed. A failed CreateSchedule withdraws the conditional
    write's record and fails the dispatcher's job for its first TRANSIENT_ARM_ATTEMPTS attempts
    when it is transient (the retry creates it), and is logged otherwise, the card going on
    without it (a nudge must never hold back a patron's message): the next conversation to start
    waiting arms again. A sweep that fails is retried by Lambda (the scheduler invokes
    it asynchronously) with the same event, naming its schedule, and re-arms as the same
    wake-up. Two wake-ups for one time sweep twice, harmlessly: the digest's turn is conditional.
* **After hours**: a conversation that opens while the desk is closed is marked on its card,
  and the patron is told once when the desk opens (AfterHoursText, `{opening}` = "Mon 9:00" in
  the library's time zone, `Schedule.opening_label`, which the widget shows too, from
  GET /presence). `refdesk.relay` does this when it posts the card (`closed_until`,
  `after_hours_text`). Nobody is told a place in line while the desk is closed
  (`refdesk.assignment.patron_waiting`): an SMS patron's after-hours question gets the webhook's
  acknowledgement and this reply, no more.

Every function takes the clock as an argument, so tests drive it with a fake one."""
from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta, timezone
from typing import Callable

from aws_lambda_powertools import Logger

from refdesk import jobs, retry, store, wake_ups
from refdesk.models import Author, Conversation, DigestJob, Message
from refdesk.schedule import Schedule
from refdesk.settings import get_settings
from refdesk.slack import api as slack
from refdesk.slack.text import escape

logger = Logger(child=True)

SWEEP_LIMIT = 100  # the oldest this many waiting conversations are looked at per sweep
DIGEST_LINKS = 10  # the digest links this many cards, oldest first, and counts the rest
NO_OPENING_RECHECK = timedelta(days=1)  # no opening known within a month: look again a day later
MIN_INTERVAL_SECONDS = 60  # no wake-up sooner than this after its arming (times SWEEP_DELAY_SCALE)
TRANSIENT_ARM_ATTEMPTS = 3  # a transient failure to arm fails a dispatcher job this often at most
iso = wake_ups.iso


def parse_iso(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


# --- hours -------------------------------------------------------------------------------

def closed_until(at: str | datetime, schedule: Schedule | None = None) -> str | None:
    """None when the desk was open at `at`; otherwise when it next opens ("Mon 9:00"), or "" if
    no opening is scheduled within a month."""
    schedule = schedule or Schedule.current()
    moment = at if isinstance(at, datetime) else parse_iso(at) or datetime.now(timezone.utc)
    if schedule.is_open(moment):
        return None
    return schedule.opening_label(schedule.next_opening(moment), moment)


def after_hours_text(opening: str) -> str:
    """The configured after-hours reply with the opening filled in (plain replace: a library's
    text may hold other braces)."""
    return get_settings().after_hours_text.replace("{opening}", opening or "again")


# --- the sweep ---------------------------------------------------------------------------

def sweep(now: datetime | None = None, *, schedule: Schedule | None = None, armed_by: str = "") -> dict:
    """One pass over the waiting queue, then the next wake-up armed if anything still waits (or a
    digest stands); returns what it did: {"open", "waiting" (conversations read), "nudged" (those
    due in the digest this sweep queued; 0 when it queued none)}. `armed_by` names this wake-up
    (the sweeper passes its schedule's name: Lambda's retry re-arms as the same one)."""
    now = now or datetime.now(timezone.utc)
    schedule = schedule or Schedule.current()
    armed_by = armed_by or f"sweep:{uuid.uuid4().hex}"
    if not schedule.is_open(now):
        waiting = store.queue.waiting(1)  # only whether anything waits: the next opening is the time
        armed = arm(now, armed_by, now=now, schedule=schedule) if waiting else None
        logger.info("sweep: the desk is closed, no digest", extra={"next_sweep": iso(armed) if armed else ""})
        return {"open": False, "waiting": len(waiting), "nudged": 0}
    interval = timedelta(minutes=get_settings().nudge_minutes)
    cutoff = iso(now - interval)
    line = store.queue.waiting(SWEEP_LIMIT)  # oldest first: the first is the longest wait
    due = [conversation for conversation in line if _since(conversation, now) <= now - interval]
    closes = schedule.closing_time(now) or now + NO_OPENING_RECHECK
    taken, was = store.nudges.take_digest(iso(now), cutoff, iso(closes),
                                          int(now.timestamp()) + store.nudges.DIGEST_KEPT_SECONDS,
                                          standing_only=not due)
    if taken:
        jobs.enqueue(DigestJob(swept_at=taken["swept_at"]))
    last = parse_iso(str((taken or was).get("swept_at", "")))
    if line:  # the next turn: when the first is due, and NudgeMinutes after the last turn
        next_turn = max(_since(line[0], now) + interval, last + interval if last else now)
    else:  # nobody waits: one more turn ends a digest that still stands
        next_turn = last + interval if was.get("digest") and last else None
    armed = arm(next_turn, armed_by, now=now, schedule=schedule) if next_turn else None
    logger.info("sweep done", extra={"waiting": len(line), "due": len(due), "digest": bool(taken),
                                     "next_sweep": iso(armed) if armed else ""})
    return {"open": True, "waiting": len(line), "nudged": len(due) if taken else 0}


def _since(conversation: Conversation, now: datetime) -> datetime:
    return parse_iso(conversation.waiting_since or conversation.created_at) or now


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
    now = now or datetime.now(timezone.utc)
    return wake_ups.arm_sweeper("sweep", wake_time(due, now, schedule or Schedule.current()), armed_by, now=now)


def arm_for_arrival(conversation_id: str, queue_sk: str | None, arrived_at: str, *, now: datetime | None = None,
                    schedule: Schedule | None = None) -> datetime | None:
    """The dispatcher's arming: the conversation waits as `queue_sk` (store.queue.join's answer
    to the message that arrived at `arrived_at`). Only the message that began the wait arms (its
    job's retries too), for the conversation's first nudge; a later message of the same wait,
    or one that found it claimed or closed, does nothing."""
    if not queue_sk or not queue_sk.startswith(f"{arrived_at}#"):
        return None
    since = parse_iso(arrived_at) or now or datetime.now(timezone.utc)
    return arm_in_job(lambda: arm(since + timedelta(minutes=get_settings().nudge_minutes),
                                  f"arrival:{armer_of(conversation_id)}", now=now, schedule=schedule),
                      conversation_id, "sweep")


def armer_of(conversation_id: str) -> str:
    """Who arms for a conversation, named by a digest: a desk-wide item must not keep an erased
    conversation's id."""
    return hashlib.sha256(conversation_id.encode()).hexdigest()[:24]


def arm_in_job(arming: Callable[[], datetime | None], conversation_id: str, what: str) -> datetime | None:
    """`arming` run by a dispatcher job, for `conversation_id`: a transient failure fails the job
    for its first TRANSIENT_ARM_ATTEMPTS attempts (the retry, arming as the same armer, creates
    the wake-up), any other failure is logged and the job goes on without it (a wake-up must never
    hold back a patron's message or a librarian's press): the next arming makes up for it."""
    try:
        return arming()
    except Exception as error:
        if retry.is_transient(error) and jobs.attempt() <= TRANSIENT_ARM_ATTEMPTS:
            raise  # the job is tried again, and arms then
        logger.error(f"{what} not armed", extra={"conversation_id": conversation_id, "error": type(error).__name__})
        return None


# --- the dispatcher's half: the digest -----------------------------------------------

def digest_text(line: list[Conversation], links: dict[str, str], now: datetime,
                librarians: list[str] | None = None) -> str:
    """The digest: how many wait, the oldest wait, links to the (oldest) cards. With `librarians`
    (the post, not an edit), they are mentioned, or it says that nobody is on duty."""
    def waited(conversation: Conversation) -> str:
        return f"{max(1, int((now - _since(conversation, now)).total_seconds() // 60))} min"

    count = len(line)
    cards = [f"<{links[c.conversation_id]}|{escape(c.label)}> ({waited(c)})" for c in line[:DIGEST_LINKS]
             if c.conversation_id in links]
    more = f" and {count - len(cards)} more" if cards and count > len(cards) else ""
    text = (f"{count} patron{'' if count == 1 else 's'} waiting: oldest {waited(line[0])}"
            f"{' — ' + ', '.join(cards) if cards else ''}{more}.")
    if librarians is None:
        return f":hourglass_flowing_sand: {text}"
    if not librarians:
        return f":hourglass_flowing_sand: {text} Nobody is on duty (`/refdesk on`)."
    mentions = " ".join(f"<@{user}>" for user in librarians)
    return f":hourglass_flowing_sand: {mentions}: {text} Claim one, or reply in its thread."


RESOLVED_TEXT = ":white_check_mark: Nobody is waiting now."
RETIRED_TEXT = ":hourglass_flowing_sand: The desk closed with patrons waiting; a newer message lists who waits."


def show_digest(job: DigestJob) -> None:
    """The digest as the line stands now: posted (mentioning the librarians on duty) when this
    digest has no message yet, else edited in place; edited to say nobody waits, and ended, when
    nobody does. A turn superseded by a later one does nothing once the message is recorded (the
    later one follows in the same FIFO group); before that, it goes on, so that a retry after a
    post whose answer was lost finds the post (by its metadata) and records it."""
    record = store.nudges.digest()
    retired = record.get("retired")
    if retired:
        slack.update(retired["channel"], retired["ts"], RETIRED_TEXT, None)
        store.nudges.retired_shown(retired["ts"])
    digest_id, posted = record.get("digest"), record.get("posted")
    if not digest_id or (posted and record.get("swept_at") != job.swept_at):
        return
    now = datetime.now(timezone.utc)
    line = store.queue.waiting(SWEEP_LIMIT)
    if not line:
        if posted:
            slack.update(posted["channel"], posted["ts"], RESOLVED_TEXT, None)
        store.nudges.end_digest(digest_id, job.swept_at)
        logger.info("digest ended", extra={"posted": bool(posted)})
        return
    links = {conversation.conversation_id: slack.permalink(conversation.slack_channel, conversation.slack_ts)
             for conversation in line[:DIGEST_LINKS] if conversation.slack_ts}
    if posted:
        slack.update(posted["channel"], posted["ts"], digest_text(line, links, now), None)
        logger.info("digest edited", extra={"waiting": len(line)})
        return
    librarians = [str(item["user_id"]) for item in store.duty.on_duty() if item.get("user_id")]
    channel = get_settings().slack_staff_channel
    # Named in the post's metadata: a retry finds the post its lost answer did not name.
    named = Message(message_id=f"digest-{digest_id}", at=digest_id, author=Author.SYSTEM, text="")
    ts = slack.post(channel, digest_text(line, links, now, librarians), shows=named)
    store.nudges.digest_posted(digest_id, channel, ts)
    logger.info("digest posted", extra={"waiting": len(line), "librarians": len(librarians)})
