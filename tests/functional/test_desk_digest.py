"""The desk's digest of who waits (refdesk.waiting, issue 16 item 8): one message in the staff
channel for the whole desk, mentioning the librarians on duty when it is posted and edited in
place by later sweeps, never one nudge per conversation; it says so when nobody waits any more.
A digest standing when the desk closed is retired at the opening (two sweeps at once, a claim
before the digest is shown, nobody on duty: tests/unit/test_waiting_and_hours.py).
And its Slack calls: one that fails once, failing for an hour (the turns queue behind it), and a
post whose answer was lost after Slack made it.

The sweep's and the dispatcher's clock (refdesk.waiting's) is a fake one the tests set; the
webhooks stamp arrivals with the real time."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import STAFF_CHANNEL, pump
from tests.functional.test_sweep_wakeups import text_in

NEW_YORK = ZoneInfo("America/New_York")
ALWAYS = {day: "00:00-24:00" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
WEEKDAYS = {day: "09:00-17:00" for day in ("mon", "tue", "wed", "thu", "fri")}
AMANDA, BORIS = "U0AMANDA", "U0BORIS"


def schedule(hours: dict):
    from refdesk.schedule import Schedule

    return Schedule(hours, frozenset(), NEW_YORK)


@pytest.fixture
def clock(monkeypatch) -> list[datetime]:
    """refdesk.waiting's clock: clock[0] once a test sets it, the real time until then."""
    from refdesk import waiting

    moment: list[datetime] = []
    real = datetime

    class FakeDatetime(real):
        @classmethod
        def now(cls, tz=None):
            current = moment[0] if moment else real.now(timezone.utc)
            return current.astimezone(tz) if tz else current.replace(tzinfo=None)

    monkeypatch.setattr(waiting, "datetime", FakeDatetime)
    return moment


def on_duty(*users: str) -> None:
    from refdesk import store

    for user in users:
        store.duty.set_on(user, user, int(time.time()) + 3600)


def patrons_waiting(aws, count: int) -> tuple[list[str], datetime]:
    """`count` new SMS conversations, cards posted and waiting; (their ids, oldest first, and
    when the last of them started waiting: from then on, all have waited as long)."""
    from refdesk import store, waiting

    for index in range(count):
        text_in(f"+1555300{index:04d}")
    while pump(aws):  # a long drain hands on to a successor (recorded, not run): drain again
        pass
    line = store.queue.waiting(200)
    assert len(line) == count
    return [conversation.conversation_id for conversation in line], waiting.parse_iso(line[-1].waiting_since)


def sweep(aws, clock, now: datetime, hours: dict = ALWAYS) -> dict:
    """A sweep at `now` (the dispatcher's clock too), then the dispatcher drains the queue."""
    from refdesk import waiting

    clock[:] = [now]
    result = waiting.sweep(now, schedule=schedule(hours))
    pump(aws)
    return result


def digests(slack) -> list[dict]:
    """The digest's posts: in the staff channel, outside any thread."""
    return [post for post in slack.posts()
            if not post.get("thread_ts") and post["text"].startswith(":hourglass_flowing_sand:")]


def edits(slack, ts: str) -> list[str]:
    """The texts the digest `ts` was edited to, in order."""
    return [params["text"] for method, params in slack.calls if method == "chat.update" and params.get("ts") == ts]


def thread_nudges(slack) -> list[dict]:
    return [post for post in slack.posts() if post.get("thread_ts") and "hourglass" in post["text"]]


# --- one digest for the desk -------------------------------------------------------------------------

def test_a_rush_of_arrivals_is_one_digest_mentioning_the_librarians_once_and_edited_in_place(
        aws, slack, twilio, clock):
    on_duty(AMANDA, BORIS)
    ids, since = patrons_waiting(aws, 14)  # more than the digest links
    from refdesk import store, waiting

    first = waiting.parse_iso(store.queue.waiting(1)[0].waiting_since)
    twilio.forget_sent()  # their places in line
    assert sweep(aws, clock, first + timedelta(minutes=2, seconds=59))["nudged"] == 0
    assert digests(slack) == []
    assert sweep(aws, clock, since + timedelta(minutes=3))["nudged"] == 14

    [digest] = digests(slack)
    assert digest["channel"] == STAFF_CHANNEL
    assert digest["text"].count(f"<@{AMANDA}>") == 1 and digest["text"].count(f"<@{BORIS}>") == 1
    assert "14 patrons waiting: oldest 3 min" in digest["text"] and "and 4 more" in digest["text"]
    assert digest["text"].count("https://") == 10  # links to the oldest cards
    assert thread_nudges(slack) == []  # no thread is nudged, no librarian mentioned 14 times

    for minutes in (3.5, 4, 5.99):  # sweeps every so often: nothing before NudgeMinutes more
        assert sweep(aws, clock, since + timedelta(minutes=minutes))["nudged"] == 0
    assert edits(slack, digest["answered_ts"]) == []

    for conversation_id in ids[:9]:
        store.queue.claim(conversation_id, AMANDA)
    assert sweep(aws, clock, since + timedelta(minutes=6))["nudged"] == 5
    [edited] = edits(slack, digest["answered_ts"])
    assert "5 patrons waiting: oldest 6 min" in edited and "<@" not in edited  # no mention in an edit
    assert len(digests(slack)) == 1
    assert twilio.sent == []  # the digest is for staff only


def test_when_nobody_waits_any_more_the_digest_says_so_and_the_next_wait_gets_a_new_post(
        aws, slack, twilio, clock):
    from refdesk import store

    on_duty(AMANDA)
    [first], since = patrons_waiting(aws, 1)
    sweep(aws, clock, since + timedelta(minutes=3))
    [digest] = digests(slack)
    store.queue.claim(first, AMANDA)

    assert sweep(aws, clock, since + timedelta(minutes=6)) == {"open": True, "waiting": 0, "nudged": 0}
    assert edits(slack, digest["answered_ts"]) == [":white_check_mark: Nobody is waiting now."]
    assert sweep(aws, clock, since + timedelta(minutes=9)) == {"open": True, "waiting": 0, "nudged": 0}
    assert len(edits(slack, digest["answered_ts"])) == 1  # ended: nothing more to say

    text_in("+15553990001")
    pump(aws)
    [waiting_now] = store.queue.waiting()
    later = datetime.fromisoformat(waiting_now.waiting_since.replace("Z", "+00:00"))
    assert sweep(aws, clock, max(later, since + timedelta(minutes=9)) + timedelta(minutes=3))["nudged"] == 1
    assert len(digests(slack)) == 2 and f"<@{AMANDA}>" in digests(slack)[-1]["text"]


def test_a_digest_standing_at_closing_is_retired_and_the_opening_posts_a_new_one_that_mentions(
        aws, slack, twilio, clock):
    on_duty(AMANDA)
    _, since = patrons_waiting(aws, 1)
    local = since.astimezone(NEW_YORK)
    friday = (local + timedelta(days=(4 - local.weekday()) % 7 or 7)).replace(hour=16, minute=50, second=0,
                                                                              microsecond=0)
    monday = (friday + timedelta(days=3)).replace(hour=9, minute=0)
    sweep(aws, clock, friday, WEEKDAYS)
    [evening] = digests(slack)
    assert sweep(aws, clock, friday + timedelta(hours=3), WEEKDAYS)["open"] is False

    on_duty(BORIS)
    assert sweep(aws, clock, monday, WEEKDAYS)["nudged"] == 1
    [_, morning] = digests(slack)
    assert f"<@{BORIS}>" in morning["text"]  # the opening's digest mentions whoever is on duty now
    assert edits(slack, evening["answered_ts"]) == [
        ":hourglass_flowing_sand: The desk closed with patrons waiting; a newer message lists who waits."]
    sweep(aws, clock, monday + timedelta(minutes=3), WEEKDAYS)
    assert len(edits(slack, morning["answered_ts"])) == 1 and len(digests(slack)) == 2


# --- Slack failing ---------------------------------------------------------------------------------

def test_a_post_that_fails_once_is_retried_by_the_queue_and_made_once(aws, slack, twilio, clock):
    on_duty(AMANDA)
    _, since = patrons_waiting(aws, 2)
    slack.fail("chat.postMessage", error="internal_error")
    clock[:] = [since + timedelta(minutes=3)]
    from refdesk import waiting

    waiting.sweep(since + timedelta(minutes=3), schedule=schedule(ALWAYS))
    assert pump(aws) == ["retry", "done"]
    assert len(digests(slack)) == 1
    # An edit that fails once is retried the same way, and posts nothing.
    slack.fail("chat.update", error="internal_error")
    sweep(aws, clock, since + timedelta(minutes=6))
    [digest] = digests(slack)
    assert edits(slack, digest["answered_ts"])[-1].startswith(":hourglass_flowing_sand: 2 patrons waiting")
    assert len(edits(slack, digest["answered_ts"])) == 2  # the failed call and its retry


def test_slack_failing_for_an_hour_holds_the_turns_back_and_posts_one_digest_when_it_answers(
        aws, slack, twilio, clock):
    from refdesk import retry, waiting

    on_duty(AMANDA)
    ids, since = patrons_waiting(aws, 2)
    # Each of the first 7 attempts fails: with the queue's backoff (5 s, 15 s … an hour) that
    # is Slack down for over an hour. Meanwhile the sweeps take their turns, queued behind.
    failures = next(n for n in range(1, 20) if sum(retry.delay(a) for a in range(1, n + 1)) > 3600)
    slack.fail("chat.postMessage", error="service_unavailable", count=failures)
    for minutes in range(3, 63, 3):
        clock[:] = [since + timedelta(minutes=minutes)]
        waiting.sweep(since + timedelta(minutes=minutes), schedule=schedule(ALWAYS))

    outcomes = pump(aws)

    assert outcomes.count("retry") == failures
    [digest] = digests(slack)
    assert f"<@{AMANDA}>" in digest["text"]
    [edited] = edits(slack, digest["answered_ts"])  # the later turns: one edit, by the last
    assert "2 patrons waiting: oldest 60 min" in edited


def test_a_post_whose_answer_was_lost_is_found_by_its_metadata_and_not_made_again(
        aws, slack, twilio, clock, monkeypatch):
    from refdesk import waiting
    from refdesk.settings import get_settings

    # Due at once, so that the digest is not dated ahead of the Slack stand-in's (real) clock,
    # which the retry's lookup reads its history by.
    monkeypatch.setenv("NUDGE_MINUTES", "0")
    get_settings.cache_clear()
    on_duty(AMANDA)
    _, since = patrons_waiting(aws, 1)
    slack.fail("chat.postMessage", error="internal_error", commit=True)  # posted, then answered with an error
    waiting.sweep(datetime.now(timezone.utc), schedule=schedule(ALWAYS))

    assert pump(aws) == ["retry", "done"]

    [shown] = [message for message in slack.stand_in.messages()
               if str(message.get("text", "")).startswith(":hourglass_flowing_sand:")]
    assert "conversations.history" in slack.methods()  # the retry looked for it instead of posting again
    assert slack.methods().count("chat.postMessage") == 2  # the card, and the digest whose answer was lost
    sweep(aws, clock, datetime.now(timezone.utc) + timedelta(seconds=1))
    assert len(edits(slack, shown["ts"])) == 1  # the found post was recorded: the next turn edits it
    assert slack.methods().count("chat.postMessage") == 2
