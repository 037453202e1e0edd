"""The sweep's wake-ups with a fake clock (refdesk.waiting): when a wake-up is due (not sooner than
the least interval, at the desk's next opening while it is closed, however far), the one
conditional write that keeps one chain of them (store.nudges.arm_sweep), the one-time schedule
each arming creates (EventBridge Scheduler, in moto), and what each sweep arms next.
SWEEP_DELAY_SCALE is 1 here (the pace in AWS), not the tests' 0."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS = {day: "09:00-17:00" for day in ("mon", "tue", "wed", "thu", "fri")}
ALWAYS = {day: "00:00-24:00" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
MONDAY_NOON = datetime(2026, 1, 5, 12, 0, tzinfo=NEW_YORK)


def schedule(hours: dict):
    from refdesk.schedule import Schedule

    return Schedule(hours, frozenset(), NEW_YORK)


@pytest.fixture
def aws_pace(monkeypatch):
    """The pace of AWS: a minute between wake-ups at the least, a 30 s margin."""
    from refdesk.settings import get_settings

    monkeypatch.setenv("SWEEP_DELAY_SCALE", "1")
    get_settings.cache_clear()


@pytest.fixture
def sent(aws):
    """The wake-ups created, as CreateSchedule's parameters, in order: {"at", **Input}, Input
    being {"wake_up": the schedule's name, "due_at"}. Each call is recorded, refused or not."""
    from refdesk import clients

    found: list[dict] = []

    def record(params, **kwargs):
        found.append({"at": params["ScheduleExpression"], **json.loads(params["Target"]["Input"])})

    clients.get("scheduler").meta.events.register("provide-client-params.scheduler.CreateSchedule", record)
    return found


def wake_up(moment: datetime) -> dict:
    """What arming for `moment` creates (see `sent`)."""
    from refdesk.waiting import schedule_name

    utc = moment.astimezone(timezone.utc)
    return {"at": f"at({utc:%Y-%m-%dT%H:%M:%S})", "wake_up": schedule_name(moment), "due_at": iso(moment)}


def armed() -> dict:
    from refdesk import clients
    from refdesk.store import keys

    return clients.get("table").get_item(Key=keys.sweep_armed(), ConsistentRead=True).get("Item") or {}


def pending(aws) -> list[tuple[datetime, str]]:
    """(when, name) of the one-time schedules in the sweep's group, soonest first."""
    return aws["schedules"].pending()


def schedule_name(moment: datetime) -> str:
    from refdesk.waiting import schedule_name

    return schedule_name(moment)


def iso(moment: datetime) -> str:
    from refdesk.waiting import iso

    return iso(moment)


# --- when ---------------------------------------------------------------------------------------

def ny(*args) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


@pytest.mark.parametrize("now, due, hours, expected", [
    (MONDAY_NOON, MONDAY_NOON + timedelta(minutes=3), ALWAYS, MONDAY_NOON + timedelta(minutes=3)),
    (MONDAY_NOON, MONDAY_NOON - timedelta(minutes=5), ALWAYS, MONDAY_NOON + timedelta(minutes=1)),  # overdue
    (MONDAY_NOON, MONDAY_NOON + timedelta(seconds=10), ALWAYS, MONDAY_NOON + timedelta(minutes=1)),
    (MONDAY_NOON, MONDAY_NOON + timedelta(hours=2), ALWAYS, MONDAY_NOON + timedelta(hours=2)),  # no cap
    (ny(2026, 1, 5, 16, 58), ny(2026, 1, 5, 17, 1), WEEKDAYS, ny(2026, 1, 6, 9, 0)),  # closed then: the opening
    (ny(2026, 1, 6, 8, 50), ny(2026, 1, 6, 8, 53), WEEKDAYS, ny(2026, 1, 6, 9, 0)),  # the opening
    (MONDAY_NOON, MONDAY_NOON, {}, MONDAY_NOON + timedelta(days=1, minutes=1)),  # never open: a day later
])
def test_a_wake_up_is_at_the_due_time_not_sooner_than_a_minute_and_at_the_opening_however_far(
        aws_pace, now, due, hours, expected):
    from refdesk.waiting import wake_time

    assert wake_time(due, now, schedule(hours)) == expected


# --- one chain: the conditional write -----------------------------------------------------------

def test_the_first_arming_sends_one_wake_up_and_a_later_due_time_is_covered_by_it(aws, aws_pace, sent):
    from refdesk.waiting import arm

    always = schedule(ALWAYS)
    assert arm(MONDAY_NOON + timedelta(minutes=3), "conversation:a", now=MONDAY_NOON, schedule=always) \
        == MONDAY_NOON + timedelta(minutes=3)
    assert sent == [wake_up(MONDAY_NOON + timedelta(minutes=3))]
    assert pending(aws) == [(MONDAY_NOON + timedelta(minutes=3), schedule_name(MONDAY_NOON + timedelta(minutes=3)))]
    assert armed()["due_at"] == iso(MONDAY_NOON + timedelta(minutes=3)) and armed()["armed_by"] == "conversation:a"

    later = MONDAY_NOON + timedelta(seconds=40)
    assert arm(later + timedelta(minutes=3), "conversation:b", now=later, schedule=always) is None
    assert len(sent) == 1 and len(pending(aws)) == 1  # the refused write was all it cost
    assert armed()["armed_by"] == "conversation:a"


def test_an_earlier_due_time_arms_its_own_wake_up(aws, aws_pace, sent):
    from refdesk.waiting import arm

    always = schedule(ALWAYS)
    arm(MONDAY_NOON + timedelta(minutes=10), "sweep:1", now=MONDAY_NOON, schedule=always)
    assert arm(MONDAY_NOON + timedelta(minutes=3), "conversation:a", now=MONDAY_NOON, schedule=always)
    assert sent == [wake_up(MONDAY_NOON + timedelta(minutes=10)), wake_up(MONDAY_NOON + timedelta(minutes=3))]
    assert len(pending(aws)) == 2
    assert armed()["due_at"] == iso(MONDAY_NOON + timedelta(minutes=3))


@pytest.mark.parametrize("seconds_after, arms", [
    (0, False), (149, False),  # armed for 12:03, trusted until 30 s before
    (151, True),  # too near: it may be running already
    (3600, True),  # long past: lost, or its chain ended
])
def test_an_armed_wake_up_due_within_30_seconds_or_past_is_not_trusted(aws, aws_pace, sent, seconds_after, arms):
    from refdesk.waiting import arm

    always = schedule(ALWAYS)
    arm(MONDAY_NOON + timedelta(minutes=3), "conversation:a", now=MONDAY_NOON, schedule=always)
    now = MONDAY_NOON + timedelta(seconds=seconds_after)
    assert bool(arm(now + timedelta(minutes=3), "conversation:b", now=now, schedule=always)) is arms
    assert len(sent) == 1 + arms


def test_the_same_armer_again_arms_again_and_the_schedule_it_created_already_counts_as_armed(aws, aws_pace, sent):
    from refdesk.waiting import arm

    always = schedule(ALWAYS)
    for _ in range(2):  # the retry's CreateSchedule is refused (ConflictException): armed all the same
        assert arm(MONDAY_NOON + timedelta(minutes=3), "conversation:a", now=MONDAY_NOON, schedule=always) \
            == MONDAY_NOON + timedelta(minutes=3)
    assert len(sent) == 2 and sent[0] == sent[1]
    assert len(pending(aws)) == 1


def test_a_wake_up_is_a_one_time_schedule_of_the_stacks_group_deleted_once_it_has_invoked_the_sweeper(
        aws, aws_pace, sent):
    from refdesk import clients
    from refdesk.settings import get_settings
    from refdesk.waiting import arm, schedule_name

    arm(MONDAY_NOON + timedelta(minutes=3, microseconds=1), "conversation:a", now=MONDAY_NOON,
        schedule=schedule(ALWAYS))
    settings = get_settings()
    name = schedule_name(MONDAY_NOON + timedelta(minutes=3, seconds=1))  # whole seconds, rounded up
    created = clients.get("scheduler").get_schedule(GroupName=settings.wake_up_schedule_group, Name=name)
    assert created["ScheduleExpression"] == "at(2026-01-05T17:03:01)"
    assert created["ScheduleExpressionTimezone"] == "UTC" and created["ActionAfterCompletion"] == "DELETE"
    assert created["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert created["Target"]["Arn"] == settings.sweeper_function_arn
    assert created["Target"]["RoleArn"] == settings.wake_up_scheduler_role_arn
    assert json.loads(created["Target"]["Input"])["wake_up"] == name


def test_without_a_schedule_group_nothing_is_armed(aws, aws_pace, monkeypatch):
    from refdesk import waiting
    from refdesk.settings import get_settings

    monkeypatch.setenv("WAKE_UP_SCHEDULE_GROUP", "")
    get_settings.cache_clear()
    assert waiting.arm(MONDAY_NOON, "conversation:a", now=MONDAY_NOON, schedule=schedule(ALWAYS)) is None
    assert armed() == {}


# --- who arms: the message that began the wait --------------------------------------------------

def test_only_the_message_that_began_the_wait_arms(aws, aws_pace, sent):
    from refdesk.waiting import arm_for_arrival

    at = iso(MONDAY_NOON)
    always = schedule(ALWAYS)
    assert arm_for_arrival("c1", f"{at}#c1", at, now=MONDAY_NOON, schedule=always) == MONDAY_NOON + timedelta(minutes=3)
    later = iso(MONDAY_NOON + timedelta(seconds=20))
    assert arm_for_arrival("c1", f"{at}#c1", later, now=MONDAY_NOON, schedule=always) is None  # a later message
    assert arm_for_arrival("c1", None, at, now=MONDAY_NOON, schedule=always) is None  # claimed or closed
    assert len(sent) == 1


# --- what a sweep arms next ---------------------------------------------------------------------

def waiting_since(at: datetime, name: str = "c1", hours: dict = ALWAYS) -> str:
    """A conversation waiting since `at`, its card posted, as the dispatcher leaves it: it armed
    the sweep then (with `at` as the clock)."""
    from refdesk import store, waiting
    from refdesk.models import InboundMessage

    store.conversations.ensure(name, InboundMessage(channel="sms", message_id=f"m-{name}", session_id=f"s-{name}",
                                                    patron_id="p", label=f"SMS ···{name}", text="hello?"))
    queue_sk, _ = store.queue.join(name, iso(at))
    store.conversations.set_slack_root(name, "C0STAFF01", f"{at.timestamp():.6f}")
    waiting.arm_for_arrival(name, queue_sk, iso(at), now=at, schedule=schedule(hours))
    return name


def test_each_sweep_arms_the_earliest_next_nudge_and_none_once_nothing_waits(aws, aws_pace, sent):
    from refdesk import store, waiting

    always = schedule(ALWAYS)
    first = waiting_since(MONDAY_NOON, "c1")
    second = waiting_since(MONDAY_NOON + timedelta(minutes=2), "c2")  # its 12:05 is covered by 12:03
    assert [wake["due_at"] for wake in sent] == [iso(MONDAY_NOON + timedelta(minutes=3))]

    # 12:03: the first is due: the digest's turn (the second shows in it too); the next turn at 12:06.
    assert waiting.sweep(MONDAY_NOON + timedelta(minutes=3), schedule=always, armed_by="sweep:1")["nudged"] == 1
    assert sent[-1] == wake_up(MONDAY_NOON + timedelta(minutes=6))
    # Another wake-up at 12:05 (a duplicate) takes no turn and arms nothing: 12:06 is armed.
    count = len(sent)
    assert waiting.sweep(MONDAY_NOON + timedelta(minutes=5), schedule=always, armed_by="sweep:2")["nudged"] == 0
    assert len(sent) == count
    # 12:06: both are due; the next turn at 12:09.
    assert waiting.sweep(MONDAY_NOON + timedelta(minutes=6), schedule=always, armed_by="sweep:3")["nudged"] == 2
    assert sent[-1]["due_at"] == iso(MONDAY_NOON + timedelta(minutes=9))

    for conversation_id in (first, second):
        store.queue.claim(conversation_id, "U0AMANDA")
    assert waiting.sweep(MONDAY_NOON + timedelta(minutes=9), schedule=always, armed_by="sweep:4") == \
        {"open": True, "waiting": 0, "nudged": 0}  # its turn ends the digest
    assert len(sent) == count + 1  # nothing waits: the chain stops


def test_while_the_desk_is_closed_one_wake_up_is_armed_at_the_opening_and_none_if_nothing_waits(
        aws, aws_pace, sent):
    from refdesk import waiting

    friday_evening = datetime(2026, 1, 9, 18, 0, tzinfo=NEW_YORK)
    weekdays = schedule(WEEKDAYS)
    assert waiting.sweep(friday_evening, schedule=weekdays) == {"open": False, "waiting": 0, "nudged": 0}
    assert sent == []
    monday_opening = datetime(2026, 1, 12, 9, 0, tzinfo=NEW_YORK)
    waiting_since(friday_evening, hours=WEEKDAYS)  # due 18:03, but closed: Monday's opening
    assert sent == [wake_up(monday_opening)]
    # A sweep while closed (a wake-up armed before the desk closed, say) finds Monday armed.
    assert waiting.sweep(friday_evening + timedelta(minutes=15), schedule=weekdays, armed_by="sweep:1") == \
        {"open": False, "waiting": 1, "nudged": 0}
    assert len(sent) == 1 and len(pending(aws)) == 1
    assert waiting.sweep(datetime(2026, 1, 12, 9, 0, tzinfo=NEW_YORK), schedule=weekdays,
                         armed_by="sweep:3")["nudged"] == 1  # waited all weekend
    assert sent[-1]["due_at"] == iso(datetime(2026, 1, 12, 9, 3, tzinfo=NEW_YORK))


def test_a_card_not_posted_yet_is_in_the_digest_all_the_same(aws, aws_pace, sent):
    """NudgeMinutes after its arrival, a conversation whose card is not posted yet (Slack down)
    counts in the digest's turn like any other; the next turn comes NudgeMinutes later."""
    from refdesk import store, waiting
    from refdesk.models import InboundMessage

    store.conversations.ensure("c-nocard", InboundMessage(
        channel="sms", message_id="m-1", session_id="s-1", patron_id="p", label="SMS ···0000", text="hello?"))
    store.queue.join("c-nocard", iso(MONDAY_NOON))
    assert waiting.sweep(MONDAY_NOON + timedelta(minutes=3), schedule=schedule(ALWAYS), armed_by="sweep:1") == \
        {"open": True, "waiting": 1, "nudged": 1}
    assert sent == [wake_up(MONDAY_NOON + timedelta(minutes=6))]
