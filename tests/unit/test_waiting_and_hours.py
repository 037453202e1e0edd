"""Waiting and hours with a fake clock (refdesk.waiting): the desk's digest of who waits after
NudgeMinutes (tests/functional/test_desk_digest.py has the rest), none while the desk is closed
and the first sweep after it opens; the after-hours reply once per conversation, with the right
next opening in the library's zone, and no place in line while closed. Nothing sleeps: the sweep
and the relay take the time they are given."""
from __future__ import annotations

import dataclasses
import json
import secrets
import threading
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import STAFF_CHANNEL, fixture, invoke, pump, twilio_event

NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS = {day: "09:00-17:00" for day in ("mon", "tue", "wed", "thu", "fri")}
LIBRARIAN = "U0AMANDA"


def schedule(hours: dict | None = None, holidays: tuple[str, ...] = ()):
    from refdesk.schedule import Schedule

    return Schedule(WEEKDAYS if hours is None else hours, frozenset(holidays), NEW_YORK)


def local(*args) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


# --- hours: pure, no AWS ---------------------------------------------------------------------

@pytest.mark.parametrize("now, expected", [
    (local(2026, 1, 3, 10, 0), "Mon 9:00"),  # Saturday
    (local(2026, 1, 2, 17, 0), "Mon 9:00"),  # Friday at closing time
    (local(2026, 1, 6, 7, 30), "Tue 9:00"),  # Tuesday before opening
    (local(2026, 1, 6, 23, 59), "Wed 9:00"),
    (datetime(2026, 1, 6, 13, 0, tzinfo=timezone.utc), "Tue 9:00"),  # 8:00 in New York
])
def test_the_next_opening_reads_in_the_librarys_time_zone(now, expected):
    from refdesk.waiting import closed_until

    assert closed_until(now, schedule()) == expected


def test_no_after_hours_while_open():
    from refdesk.waiting import closed_until

    assert closed_until(local(2026, 1, 5, 9, 0), schedule()) is None
    assert closed_until(local(2026, 1, 5, 16, 59), schedule()) is None


def test_a_holiday_week_names_the_date_and_no_opening_at_all_says_again(monkeypatch):
    from refdesk.waiting import after_hours_text, closed_until

    holidays = tuple(f"2026-01-{day:02d}" for day in range(5, 10))
    assert closed_until(local(2026, 1, 3, 10, 0), schedule(holidays=holidays)) == "Mon 12 Jan 9:00"
    assert closed_until(local(2026, 1, 3, 10, 0), schedule(hours={})) == ""
    monkeypatch.setenv("AFTER_HOURS_TEXT", "Closed. Back {opening} {not a field}")
    from refdesk.settings import get_settings

    get_settings.cache_clear()
    assert after_hours_text("Mon 9:00") == "Closed. Back Mon 9:00 {not a field}"
    assert after_hours_text("") == "Closed. Back again {not a field}"


def test_the_digest_counts_who_waits_links_the_oldest_cards_and_mentions_only_when_posted():
    from refdesk.models import Conversation
    from refdesk.waiting import DIGEST_LINKS, digest_text

    now = datetime(2026, 1, 5, 15, 0, tzinfo=timezone.utc)
    line = [Conversation(conversation_id=f"c{n}", patron_id="p", channel="sms", anchor="s", label=f"SMS ···{n:04d}",
                         waiting_since=(now - timedelta(minutes=30 - n)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
            for n in range(DIGEST_LINKS + 2)]
    links = {f"c{n}": f"https://x.slack.com/archives/C1/p{n}" for n in range(DIGEST_LINKS + 2)}

    posted = digest_text(line, links, now, ["U1", "U2"])
    assert posted.startswith(":hourglass_flowing_sand: <@U1> <@U2>: 12 patrons waiting: oldest 30 min — ")
    assert "<https://x.slack.com/archives/C1/p0|SMS ···0000> (30 min)" in posted and "and 2 more" in posted
    assert posted.count("https://") == DIGEST_LINKS
    assert "<@" not in digest_text(line, links, now)  # an edit mentions nobody
    nobody = digest_text(line[:1], {}, now, [])
    assert "1 patron waiting: oldest 30 min." in nobody and "Nobody is on duty (`/refdesk on`)" in nobody


def test_nothing_polls_or_runs_on_a_clock_and_the_wake_ups_name_the_sweeper_and_the_dispatcher():
    from tests.conftest import template
    from tests.security.cfn import resources

    functions = {function.code_dir.name: function for function in template().functions()}
    assert not functions["sweeper"].schedules and not functions["sweeper"].routes
    assert not [function.name for function in functions.values() if function.queue_triggers], "no queue is polled"
    assert not [function.name for function in functions.values()
                for trigger in function.schedules if trigger.seconds is not None], "nothing runs on a clock"
    # The scheduler invokes them by the ARNs the environment and the scheduler's role both write.
    resolve = template().resolver({"WakeUpScheduleGroup": "group"}, {"WakeUpSchedulerRole.Arn": "role"})
    arns = [resolve(template().environment()[name]) for name in ("SWEEPER_FUNCTION_ARN", "DISPATCHER_FUNCTION_ARN")]
    assert [template().function_arns(resolve)[arn] for arn in arns] == [functions["sweeper"].name,
                                                                        functions["dispatcher"].name]
    [statement] = resources("AWS::IAM::Role")["WakeUpSchedulerRole"]["Properties"]["Policies"][0][
        "PolicyDocument"]["Statement"]
    assert resolve(statement["Resource"]) == arns and statement["Action"] == ["lambda:InvokeFunction"]


# --- nudges: moto, the local Slack stand-in, a fake clock -------------------------------------

def text_in(body: str = "Do you have the new Ishiguro?", sender: str = "+15551234567") -> dict:
    params = fixture("sms_inbound.json")
    sid = "SM" + secrets.token_hex(16)
    params.update(Body=body, From=sender, MessageSid=sid, SmsMessageSid=sid, SmsSid=sid)
    response = invoke("sms_inbound", twilio_event(params))
    assert response["statusCode"] == 200
    return response


def on_duty(*users: str) -> None:
    from refdesk import store

    for user in users:
        store.duty.set_on(user, user, int(time.time()) + 3600)


def nudges(slack) -> list[dict]:
    """The desk's digests (refdesk.waiting): posts in the staff channel, never in a thread."""
    return [post for post in slack.posts() if not post.get("thread_ts") and ":hourglass_flowing_sand:" in post["text"]]


def conversation_waiting(aws, slack, sender: str = "+15551234567") -> tuple[str, datetime]:
    """A new SMS conversation, card posted and waiting; returns (its id, when it started waiting)."""
    from refdesk import store

    text_in(sender=sender)
    pump(aws)
    [entry] = [c for c in store.queue.waiting() if c.label.endswith(sender[-4:])]
    return entry.conversation_id, datetime.fromisoformat(entry.waiting_since.replace("Z", "+00:00"))


def sweep(aws, now: datetime, hours: dict | None = None) -> dict:
    from refdesk import waiting

    always = {day: "00:00-24:00" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    result = waiting.sweep(now, schedule=schedule(always if hours is None else hours))
    pump(aws)
    return result


def test_the_nudge_interval_is_a_setting(aws, slack, twilio, monkeypatch):
    from refdesk.settings import get_settings

    monkeypatch.setenv("NUDGE_MINUTES", "10")
    get_settings.cache_clear()
    on_duty(LIBRARIAN)
    _, since = conversation_waiting(aws, slack)
    assert sweep(aws, since + timedelta(minutes=9))["nudged"] == 0
    assert sweep(aws, since + timedelta(minutes=10))["nudged"] == 1
    assert sweep(aws, since + timedelta(minutes=19))["nudged"] == 0
    assert sweep(aws, since + timedelta(minutes=20))["nudged"] == 1


def test_a_claimed_or_closed_conversation_is_not_nudged(aws, slack, twilio):
    from refdesk import store

    on_duty(LIBRARIAN)
    claimed, since = conversation_waiting(aws, slack, "+15551110001")
    closed, _ = conversation_waiting(aws, slack, "+15551110002")
    store.queue.claim(claimed, LIBRARIAN)
    store.conversations.close(closed, LIBRARIAN, store.sessions.Release.FORGET)
    assert sweep(aws, since + timedelta(minutes=30))["nudged"] == 0
    assert nudges(slack) == []


def test_a_nudge_queued_before_a_claim_is_not_posted_after_it(aws, slack, twilio):
    from refdesk import store, waiting

    on_duty(LIBRARIAN)
    conversation_id, since = conversation_waiting(aws, slack)
    always = {day: "00:00-24:00" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    assert waiting.sweep(since + timedelta(minutes=3), schedule=schedule(always))["nudged"] == 1
    store.queue.claim(conversation_id, LIBRARIAN)  # between the sweep and the dispatcher
    pump(aws)
    assert nudges(slack) == []


def test_nobody_on_duty_still_marks_the_thread_without_pinging_anyone(aws, slack, twilio):
    _, since = conversation_waiting(aws, slack)
    sweep(aws, since + timedelta(minutes=3))
    [nudge] = nudges(slack)
    assert "<@" not in nudge["text"] and "Nobody is on duty" in nudge["text"]


def test_two_sweeps_at_once_nudge_once(aws, slack, twilio):
    from refdesk import clients, waiting

    on_duty(LIBRARIAN)
    _, since = conversation_waiting(aws, slack)
    always = schedule({day: "00:00-24:00" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})
    clients.get("table"), clients.get("sqs")  # created once, before the threads share them
    results, start = [], threading.Barrier(6)

    def run():
        start.wait()
        results.append(waiting.sweep(since + timedelta(minutes=3), schedule=always)["nudged"])

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pump(aws)
    assert sorted(results) == [0, 0, 0, 0, 0, 1]
    assert len(nudges(slack)) == 1


def test_no_nudges_while_closed_and_the_first_sweep_after_opening_nudges(aws, slack, twilio):
    on_duty(LIBRARIAN)
    _, since = conversation_waiting(aws, slack)
    # The next Saturday evening at the library, and the Monday morning after it.
    saturday = (since.astimezone(NEW_YORK) + timedelta(days=(5 - since.astimezone(NEW_YORK).weekday()) % 7 or 7)
                ).replace(hour=20, minute=0, second=0, microsecond=0)
    monday_opening = (saturday + timedelta(days=2)).replace(hour=9, minute=0)
    for minutes in range(0, 37 * 60, 97):  # Saturday 20:00 to Monday 9:00, every so often
        assert sweep(aws, saturday + timedelta(minutes=minutes), WEEKDAYS) == {"open": False, "waiting": 1,
                                                                               "nudged": 0}
    assert sweep(aws, monday_opening - timedelta(seconds=1), WEEKDAYS)["nudged"] == 0
    assert nudges(slack) == []
    assert sweep(aws, monday_opening, WEEKDAYS)["nudged"] == 1
    assert len(nudges(slack)) == 1
    assert sweep(aws, monday_opening + timedelta(minutes=1), WEEKDAYS)["nudged"] == 0


# --- after hours: the dispatcher, with the job's time as the clock ----------------------------

def patron_job(conversation_id: str, at: datetime, text: str = "Are you open on Sunday?", sender="+15551234567"):
    from refdesk import identity
    from refdesk.models import InboundMessage, PatronMessageJob

    patron = identity.patron_id("sms", sender)
    message = InboundMessage(channel="sms", message_id="SM" + secrets.token_hex(16), session_id=f"sms-{patron}",
                             patron_id=patron, label=f"SMS ···{sender[-4:]}", text=text, reply_address=sender)
    return PatronMessageJob(message=message, conversation_id=conversation_id,
                            at=at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


@pytest.fixture
def weekday_hours(monkeypatch):
    from refdesk.settings import get_settings

    monkeypatch.setenv("OPENING_HOURS", json.dumps(WEEKDAYS))
    get_settings.cache_clear()


def test_a_conversation_opened_after_hours_gets_the_after_hours_reply_once_with_the_next_opening(
        aws, slack, twilio, weekday_hours):
    from refdesk import relay, store

    saturday = local(2026, 1, 3, 22, 15)
    relay.deliver_patron_message(patron_job("c-after-hours", saturday))
    expected = "The desk is closed now; a librarian will answer when we open Mon 9:00."
    assert [sent["body"] for sent in twilio.sent] == [expected]
    [card] = slack.roots()
    assert "Arrived while the desk was closed" in json.dumps(card["blocks"]) and "Mon 9:00" in json.dumps(card["blocks"])
    assert store.conversations.get("c-after-hours").after_hours == "Mon 9:00"

    job = patron_job("c-after-hours", saturday + timedelta(minutes=5), "Also, do you have DVDs?")
    relay.deliver_patron_message(job)
    relay.deliver_patron_message(job)  # a retry
    assert len(twilio.sent) == 1  # once per conversation
    assert len(slack.roots()) == 1


def test_a_retry_of_the_opening_message_does_not_repeat_the_after_hours_reply(aws, slack, twilio, weekday_hours):
    from refdesk import relay

    job = patron_job("c-retried", local(2026, 1, 6, 7, 0))  # Tuesday before opening
    twilio.fail(503)  # the after-hours text fails once, after the card was posted
    with pytest.raises(Exception):
        relay.deliver_patron_message(job)
    relay.deliver_patron_message(job)
    relay.deliver_patron_message(job)
    assert [sent["body"] for sent in twilio.sent] == [
        "The desk is closed now; a librarian will answer when we open Tue 9:00."]
    assert len(slack.roots()) == 1


def test_a_conversation_opened_during_opening_hours_gets_no_after_hours_reply(aws, slack, twilio, weekday_hours):
    from refdesk import relay

    relay.deliver_patron_message(patron_job("c-daytime", local(2026, 1, 5, 10, 30)))
    assert twilio.sent == []
    assert "Arrived while the desk was closed" not in json.dumps(slack.roots()[-1]["blocks"])


def test_the_after_hours_text_is_configurable(aws, slack, twilio, weekday_hours, monkeypatch):
    from refdesk import relay
    from refdesk.settings import get_settings

    monkeypatch.setenv("AFTER_HOURS_TEXT", "We're closed. Back {opening}!")
    get_settings.cache_clear()
    relay.deliver_patron_message(patron_job("c-custom", local(2026, 1, 2, 18, 0)))  # Friday evening
    assert [sent["body"] for sent in twilio.sent] == ["We're closed. Back Mon 9:00!"]


def test_a_conversation_is_marked_after_hours_only_by_the_message_that_opened_it(aws, slack, twilio, weekday_hours):
    from refdesk import relay

    relay.deliver_patron_message(patron_job("c-day", local(2026, 1, 5, 16, 50)))  # Monday, open
    relay.deliver_patron_message(patron_job("c-day", local(2026, 1, 5, 17, 30)))  # the same conversation, closed
    assert twilio.sent == []


def test_after_hours_a_patron_behind_another_is_given_no_place_and_gets_two_texts_at_most(aws, slack, twilio,
                                                                                         monkeypatch):
    from refdesk.schedule import DAYS
    from refdesk.settings import get_settings

    opening = datetime.now(NEW_YORK) + timedelta(days=3)  # closed now, whatever the hour
    monkeypatch.setenv("OPENING_HOURS", json.dumps({DAYS[opening.weekday()]: "09:00-10:00"}))
    get_settings.cache_clear()
    first, second = "+15552220001", "+15552220002"
    acknowledgements = {sender: text_in("Are you open on Sunday?", sender)["body"].count("<Message>")
                        for sender in (first, second)}
    pump(aws)
    text_in("Hello? Anyone?", second)  # the same question, again
    pump(aws)

    told = [sent["body"] for sent in twilio.sent if sent["to"] == second]
    assert told == [f"The desk is closed now; a librarian will answer when we open {opening:%a} 9:00."]
    assert acknowledgements[second] + len(told) <= 2
    assert not [body for sent in twilio.sent for body in [sent["body"]] if "shortly" in body or "in line" in body]


def test_dataclass_fields_round_trip_through_the_queue():
    from refdesk.models import BlockPatronJob, DigestJob, UnblockPatronJob, job_from_body

    for job in (DigestJob(swept_at="2026-01-05T14:00:00.000000Z"),
                BlockPatronJob(conversation_id="c1", user="U1", channel="C1", root_ts="1.2", action_ts="3.4"),
                UnblockPatronJob(patron_id="abc", user="U1", action_ts="3.4")):
        assert job_from_body(job.to_body()) == job
        assert dataclasses.asdict(job)
