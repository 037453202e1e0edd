"""The sweep runs only while something waits (refdesk.waiting), end to end over the local parts:
SMS in through the webhook, the dispatcher fed by the jobs queue's pump, and the sweeper invoked
by its wake-ups, one-time EventBridge Scheduler schedules in moto that fire_due_schedules fires as
the scheduler does (local.timer.ScheduleRunner). What arming costs a conversation in AWS calls; an
idle desk runs nothing; and the failures: a CreateSchedule that fails once, one that fails for an
hour, one whose answer was lost after it succeeded, and a sweep that fails.

Time: the sweep's clock (refdesk.waiting's) is the real one moved on by the tests, and the
schedules are fired by the same clock (`time_passes`, then `run`: a wake-up whose at(...) time
the clock has reached fires, as the scheduler fires it). The webhooks stamp arrivals with the
real time."""
from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import fire_due_schedules, fixture, invoke, pump, twilio_event

LIBRARIAN = "U0AMANDA"
ALICE, BORIS = "+15551230001", "+15551230002"
# A wake-up is at a whole second, rounded up: a step of the clock that must reach one adds this.
ROUNDING = timedelta(seconds=1)


# --- the clock, the schedule group and its runner --------------------------------------------------

class Clock:
    """The real time, moved on by the test: `ahead` is how far."""

    def __init__(self):
        self.ahead = timedelta()

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.ahead

    def passes(self, delta: timedelta) -> None:
        self.ahead += delta


def moved_clock(monkeypatch, *modules) -> Clock:
    """A Clock that `datetime.now` answers by in each of `modules` (which import datetime's class)."""
    state, real = Clock(), datetime

    class FakeDatetime(real):
        @classmethod
        def now(cls, tz=None):
            moment = state.now()
            return moment.astimezone(tz) if tz else moment.replace(tzinfo=None)

    for module in modules:
        monkeypatch.setattr(module, "datetime", FakeDatetime)
    return state


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """refdesk.waiting's clock: the real one until the test moves it on (`WakeUps.time_passes`)."""
    from refdesk import waiting

    return moved_clock(monkeypatch, waiting)


@dataclass
class WakeUps:
    """The sweep's schedule group as the tests see it: what was created in it, what is pending,
    and the scheduler's firing of what is due by the fake clock."""

    aws: dict
    clock: Clock
    sent: list[dict] = field(default_factory=list)  # CreateSchedule calls: {"at", "wake_up", "due_at"}
    arming: list[str] = field(default_factory=list)  # the AWS calls arming made: UpdateItem, CreateSchedule

    def pending(self) -> list[str]:
        """The names of the one-time schedules in the group, soonest first."""
        return [name for _, name in self.aws["schedules"].pending()]

    def time_passes(self, **delta) -> None:
        """The clock moves on (the schedules' times and Lambda's retries follow it)."""
        self.clock.ahead += timedelta(**delta)

    def run(self) -> list[dict]:
        """Each wake-up that is due, to the sweeper (one an invocation, then deleted); its results.
        A sweep that raised is in `errors`, and retried a minute later, as Lambda retries it."""
        return fire_due_schedules(self.aws, self.clock.now())

    @property
    def errors(self) -> list[BaseException]:
        return self.aws["schedules"].errors


@pytest.fixture
def wake_ups(aws, clock) -> WakeUps:
    from refdesk import clients
    from refdesk.store import keys

    found = WakeUps(aws, clock)

    def record_create(params, **kwargs):
        found.sent.append({"at": params["ScheduleExpression"], **json.loads(params["Target"]["Input"])})
        found.arming.append("CreateSchedule")

    def record_write(params, **kwargs):
        if params.get("Key") == keys.sweep_armed():
            found.arming.append("UpdateItem")

    clients.get("scheduler").meta.events.register("provide-client-params.scheduler.CreateSchedule", record_create)
    clients.get("table").meta.client.meta.events.register("provide-client-params.dynamodb.UpdateItem", record_write)
    return found


def arrival_of(conversation_id: str) -> str:
    """How an arrival arms the sweep: by a digest, never the conversation's id (erasure)."""
    return "arrival:" + hashlib.sha256(conversation_id.encode()).hexdigest()[:24]


def fail_creating_wake_ups(count: int, *, after_it_succeeded: bool = False) -> list[int]:
    """The next `count` CreateSchedule calls fail (see `fail_calls`)."""
    return fail_calls("scheduler", "CreateSchedule", count, after_it_succeeded=after_it_succeeded)


def fail_calls(service: str, operation: str, count: int, *, after_it_succeeded: bool = False) -> list[int]:
    """The next `count` calls of `operation` by refdesk's `service` client fail as an unreachable
    endpoint does (transient), before the service has them, or, `after_it_succeeded`, once it has
    carried them out (the answer lost). Returns a one-item list counting the failures left."""
    from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

    from refdesk import clients

    left = [count]
    endpoint = f"https://{service}.us-east-1.amazonaws.com"

    def before(params, **kwargs):
        if not after_it_succeeded and left[0] > 0:
            left[0] -= 1
            raise EndpointConnectionError(endpoint_url=endpoint)

    def after(**kwargs):
        if after_it_succeeded and left[0] > 0:
            left[0] -= 1
            raise ReadTimeoutError(endpoint_url=endpoint)

    events = clients.get(service).meta.events
    events.register_first(f"provide-client-params.{service}.{operation}", before)
    events.register_first(f"after-call.{service}.{operation}", after)
    return left


# --- the desk -------------------------------------------------------------------------------------

def text_in(sender: str, body: str = "Do you have the new Ishiguro?") -> None:
    params = fixture("sms_inbound.json")
    sid = "SM" + secrets.token_hex(16)
    params.update(Body=body, From=sender, MessageSid=sid, SmsMessageSid=sid, SmsSid=sid)
    assert invoke("sms_inbound", twilio_event(params))["statusCode"] == 200


def on_duty() -> None:
    from refdesk import store

    store.duty.set_on(LIBRARIAN, "Amanda", int(time.time()) + 3600)


def nudges(slack) -> list[dict]:
    """The desk's digests of who waits (refdesk.waiting): posts in the staff channel, not in a thread."""
    return [post for post in slack.posts() if not post.get("thread_ts") and ":hourglass_flowing_sand:" in post["text"]]


def armed() -> dict:
    from refdesk import clients
    from refdesk.store import keys

    return clients.get("table").get_item(Key=keys.sweep_armed(), ConsistentRead=True).get("Item") or {}


def conversation_of(sender: str) -> str:
    from refdesk import store

    [entry] = [conversation for conversation in store.queue.waiting() if conversation.label.endswith(sender[-4:])]
    return entry.conversation_id


# --- what it costs, and an idle desk ----------------------------------------------------------------

def test_an_idle_desk_creates_no_wake_up_and_a_sweep_with_nothing_waiting_arms_none(aws, wake_ups):
    assert wake_ups.pending() == []
    assert invoke("sweeper", {"wake_up": "sweep-20260105120000", "due_at": "2026-01-05T12:00:00.000000Z"}) == \
        {"open": True, "waiting": 0, "nudged": 0}
    assert wake_ups.pending() == [] and wake_ups.arming == []  # the chain stops: nothing runs until someone waits


def test_arming_costs_the_first_waiting_conversation_two_aws_calls_and_the_next_one_a_refused_write(
        aws, slack, twilio, wake_ups):
    from refdesk.waiting import parse_iso

    text_in(ALICE)
    pump(aws)
    assert wake_ups.arming == ["UpdateItem", "CreateSchedule"]
    [wake_up] = wake_ups.sent
    ahead = (parse_iso(wake_up["due_at"]) - datetime.now(timezone.utc)).total_seconds()
    assert 175 <= ahead <= 181  # NudgeMinutes (3) after Alice's message (whole seconds)
    assert wake_ups.pending() == [wake_up["wake_up"]]
    assert armed()["armed_by"] == arrival_of(conversation_of(ALICE))

    wake_ups.arming.clear()
    text_in(BORIS)  # due after Alice: her wake-up will sweep for him too
    pump(aws)
    assert wake_ups.arming == ["UpdateItem"] and len(wake_ups.sent) == 1

    wake_ups.arming.clear()
    text_in(ALICE, "Hello?")  # the same wait goes on: armed when it began
    pump(aws)
    assert wake_ups.arming == []
    assert len(wake_ups.pending()) == 1


def test_the_wake_up_nudges_re_arms_while_something_waits_and_the_chain_stops_when_nothing_does(
        aws, slack, twilio, wake_ups):
    from refdesk import store

    on_duty()
    text_in(ALICE)
    pump(aws)
    wake_ups.time_passes(minutes=2)
    assert wake_ups.run() == []  # not due yet
    wake_ups.time_passes(minutes=1, seconds=ROUNDING.seconds)
    assert wake_ups.run() == [{"open": True, "waiting": 1, "nudged": 1}]
    pump(aws)
    [nudge] = nudges(slack)
    assert f"<@{LIBRARIAN}>" in nudge["text"]
    assert len(wake_ups.pending()) == 1  # the next nudge, NudgeMinutes later (the fired one is deleted)

    store.queue.claim(conversation_of(ALICE), LIBRARIAN)
    wake_ups.time_passes(minutes=3, seconds=ROUNDING.seconds)
    assert wake_ups.run() == [{"open": True, "waiting": 0, "nudged": 0}]
    assert wake_ups.pending() == []  # nothing waits: no sweep until the next conversation does
    pump(aws)
    assert len(nudges(slack)) == 1


# --- failures ---------------------------------------------------------------------------------------

def test_a_create_schedule_that_fails_once_fails_the_job_whose_retry_arms(aws, slack, twilio, wake_ups):
    on_duty()
    left = fail_creating_wake_ups(1)
    text_in(ALICE)

    results = pump(aws)

    assert left == [0]
    assert results[:2] == ["retry", "done"]  # failed, then done
    assert len(slack.roots()) == 1  # the card, once
    # The conditional write, its CreateSchedule failing (not recorded: it never reached the
    # scheduler), then the retry's write, which the same armer may repeat, and its CreateSchedule.
    assert wake_ups.arming == ["UpdateItem", "UpdateItem", "CreateSchedule"]
    assert len(wake_ups.pending()) == 1
    wake_ups.time_passes(minutes=3, seconds=ROUNDING.seconds)
    assert wake_ups.run()[0]["nudged"] == 1
    pump(aws)
    assert len(nudges(slack)) == 1


def test_a_create_schedule_failing_for_an_hour_never_holds_the_card_back_and_the_next_arrival_arms(
        aws, slack, twilio, wake_ups, caplog):
    from refdesk.waiting import TRANSIENT_ARM_ATTEMPTS

    on_duty()
    left = fail_creating_wake_ups(10_000)  # the scheduler unreachable: every attempt
    text_in(ALICE)

    pump(aws)

    # The job failed its first attempts (retried 5 s, 15 s, 45 s later in AWS), then went on
    # without the wake-up: the card is posted, nothing is recorded as armed.
    assert 10_000 - left[0] == TRANSIENT_ARM_ATTEMPTS + 1
    assert len(slack.roots()) == 1
    assert wake_ups.pending() == []
    assert armed() == {}  # withdrawn: nobody is refused for a wake-up that does not exist
    assert "sweep not armed" in caplog.text

    # An hour later the scheduler answers again; the next conversation that starts waiting finds
    # nothing armed and arms; its sweep nudges Alice too.
    left[0] = 0
    wake_ups.time_passes(hours=1)
    text_in(BORIS)
    pump(aws)
    assert len(wake_ups.pending()) == 1
    wake_ups.time_passes(minutes=3, seconds=ROUNDING.seconds)
    assert wake_ups.run()[0]["nudged"] == 2
    pump(aws)
    [digest] = nudges(slack)
    assert "2 patrons waiting" in digest["text"]


def test_a_create_schedule_whose_answer_was_lost_is_refused_on_retry_and_counts_as_armed(
        aws, slack, twilio, wake_ups):
    on_duty()
    left = fail_creating_wake_ups(1, after_it_succeeded=True)
    text_in(ALICE)

    pump(aws)

    assert left == [0] and len(slack.roots()) == 1
    # The retry created it again: the same name (its time), refused with ConflictException, armed.
    assert len(wake_ups.sent) == 2 and wake_ups.sent[0] == wake_ups.sent[1]
    assert wake_ups.pending() == [wake_ups.sent[0]["wake_up"]]
    wake_ups.time_passes(minutes=3, seconds=ROUNDING.seconds)
    assert [result["nudged"] for result in wake_ups.run()] == [1]
    pump(aws)
    assert len(nudges(slack)) == 1
    assert len(wake_ups.pending()) == 1  # and one chain: the next nudge's


def test_two_wake_ups_for_nearly_the_same_time_sweep_twice_and_nudge_once(aws, slack, twilio, wake_ups):
    """Two schedules a second apart (an armer whose write was refused could not have made the
    second; a lost SWEEP / ARMED trust could): the digest's conditional turn makes the second harmless."""
    from refdesk.waiting import arm, parse_iso

    on_duty()
    text_in(ALICE)
    pump(aws)
    [first] = wake_ups.sent
    due = parse_iso(first["due_at"])
    arm(due + timedelta(seconds=1), "sweep:other", now=due)  # trusted no more: due now
    assert len(wake_ups.pending()) == 2
    wake_ups.time_passes(minutes=3, seconds=2)
    assert sorted(result["nudged"] for result in wake_ups.run()) == [0, 1]  # the digest's conditional turn
    pump(aws)
    assert len(nudges(slack)) == 1


def test_a_sweep_that_fails_is_retried_by_lambda_and_re_arms_as_the_same_wake_up(aws, slack, twilio, wake_ups):
    on_duty()
    text_in(ALICE)
    pump(aws)
    wake_ups.time_passes(minutes=3, seconds=ROUNDING.seconds)
    fail_creating_wake_ups(1)  # its re-arming fails: the sweeper raises

    assert wake_ups.run() == []
    [error] = wake_ups.errors
    assert "Could not connect" in str(error)
    assert wake_ups.pending() == []  # the fired schedule is deleted all the same

    wake_ups.time_passes(minutes=1)  # Lambda's retry of an asynchronous invocation
    assert wake_ups.run() == [{"open": True, "waiting": 1, "nudged": 0}]  # nudged by the failed try already
    pump(aws)
    assert len(nudges(slack)) == 1
    assert len(wake_ups.pending()) == 1  # re-armed: the retry is the same wake-up (its schedule's name)
