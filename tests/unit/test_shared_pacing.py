"""Turns to post into a Slack channel shared by every copy of the dispatcher (store.pacing, against
the session's moto), and refdesk.slack.api pacing its posts with them: a burst, then one turn an
interval, whichever copy asks; a turn too far away not taken (RetryLater); one write a turn; and
the new DynamoDB call failing once (retried by boto3, still paced by the shared turns), for long
(paced in-process, counted, the table asked again a minute later) and after it succeeded (a turn
taken twice: one interval lost)."""
from __future__ import annotations

import json
import threading
import time

import pytest

from local.faults import Fault
from refdesk import clients
from refdesk.errors import RetryLater
from refdesk.slack import api
from refdesk.store import keys, pacing
from refdesk.store.table import table
from tests.conftest import log_to_captured_stdout

CHANNEL, OTHER_CHANNEL = "C0STAFF01", "C0OTHER01"
NOW = 1_800_000_000.0
FOREVER = 1000  # more attempts than any call makes


@pytest.fixture(autouse=True)
def no_waits_between_attempts(monkeypatch):
    """boto3's jittered waits between attempts left out (not the attempts themselves)."""
    import botocore.retries.standard

    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)


def take(channel: str = CHANNEL, *, at: float = NOW, interval: float = 1.0, burst: int = 3,
         longest_wait: float = 10.0) -> float:
    return pacing.take_turn(channel, interval, burst, longest_wait, now=at)


def as_another_copy() -> None:
    """What this process remembers is forgotten, as a copy of the dispatcher that never ran would."""
    pacing._last_seen.clear()


def next_at(channel: str = CHANNEL) -> float:
    """The channel's next free turn beyond its burst, in seconds (store.pacing's item)."""
    return int(table().get_item(Key=keys.slack_pace(channel), ConsistentRead=True)["Item"]["next_at"]) / 1000


def record_writes() -> list[str]:
    """From now on, the table's UpdateItem calls, refused or not (one each, however often boto3
    tried it), by partition key: until clients are reset."""
    made: list[str] = []
    clients.get("table").meta.client.meta.events.register(
        "provide-client-params.dynamodb.UpdateItem", lambda params, **kwargs: made.append(params["Key"]["pk"]))
    return made


def paced(monkeypatch, per_second: float, burst: int) -> None:
    monkeypatch.setenv("SLACK_POSTS_PER_SECOND", str(per_second))
    monkeypatch.setenv("SLACK_POST_BURST", str(burst))
    api.get_settings.cache_clear()
    api.clients.reset()


def posting(monkeypatch, capsys, per_second: float, burst: int) -> list[str]:
    """Posts paced at `per_second` (bursts of `burst`), what they log captured from now on; returns
    the table's writes from now on (record_writes)."""
    log_to_captured_stdout(monkeypatch)
    paced(monkeypatch, per_second, burst)
    capsys.readouterr()
    return record_writes()


def fail_updates(local_aws, error: str, count: int = FOREVER, *, commit: bool = False) -> None:
    local_aws.dynamodb_faults.add(Fault(method="UpdateItem", error=error, count=count, commit=commit))


def paced_locally(capsys) -> int:
    """How many posts were counted as paced in-process (SlackPacedLocally, a metric log line)."""
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return sum(line["value"] for line in lines
               if line.get("message") == "metric" and line.get("metric") == "SlackPacedLocally")


def shown(slack) -> list[str]:
    return [message["text"] for message in slack.stand_in.messages()]


# --- the turns ---------------------------------------------------------------------------------

def test_an_idle_channel_gives_its_burst_at_once_then_a_turn_an_interval(aws):
    assert [take() for _ in range(6)] == [0, 0, 0, 1, 2, 3]
    assert next_at() == NOW + 6


def test_copies_that_share_no_memory_share_the_channels_turns(aws):
    waits = []
    for _ in range(5):
        as_another_copy()
        waits.append(take())

    assert waits == [0, 0, 0, 1, 2]
    assert take(OTHER_CHANNEL) == 0  # another channel's turns are its own


def test_copies_asking_at_the_same_moment_each_get_a_turn_of_their_own(aws):
    copies = 8
    ready, waits = threading.Barrier(copies), []

    def copy():
        ready.wait()
        waits.append(take(interval=0.5))

    threads = [threading.Thread(target=copy) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(waits) == [0, 0, 0, 0.5, 1, 1.5, 2, 2.5]
    assert next_at() == NOW + copies * 0.5


def test_a_quiet_spell_gives_a_new_burst(aws):
    [take() for _ in range(5)]

    assert [take(at=NOW + 60) for _ in range(4)] == [0, 0, 0, 1]


def test_a_turn_further_away_than_a_post_can_wait_is_not_taken(aws):
    assert [take(burst=1, longest_wait=2) for _ in range(3)] == [0, 1, 2]

    with pytest.raises(RetryLater) as raised:
        take(burst=1, longest_wait=2)

    assert raised.value.seconds == 1  # then the next turn (NOW + 3) is 2 s away
    assert next_at() == NOW + 3  # nothing taken
    as_another_copy()
    with pytest.raises(RetryLater):
        take(burst=1, longest_wait=2)  # a copy that saw nothing is told the same by the table
    assert take(at=NOW + 1, burst=1, longest_wait=2) == 2


def test_a_turn_is_one_write_and_a_copy_joining_a_burst_unseen_pays_one_refused_write(aws):
    writes = record_writes()
    [take() for _ in range(10)]
    one_copy = len(writes)
    as_another_copy()
    take()
    joining = len(writes) - one_copy
    take()
    after = len(writes) - one_copy - joining

    assert one_copy == 10  # the first turn is the idle channel's, every later one the busy one's
    assert (joining, after) == (2, 1)
    assert set(writes) == {"PACE#C0STAFF01"}


# --- posts paced by the shared turns ---------------------------------------------------------

def test_posts_wait_for_the_channels_shared_turn(aws, slack, monkeypatch):
    paced(monkeypatch, 10, 2)
    started = time.monotonic()  # before the other copy's turns: a slow machine after them shortens nothing
    for _ in range(3):  # another copy took the burst and a turn just now
        pacing.take_turn(CHANNEL, 0.1, 2, 10)
    as_another_copy()

    api.post(CHANNEL, "after the other copy's posts")

    assert time.monotonic() - started >= 0.2 - 0.05  # the turn after the other copy's: its next_at less a burst
    assert shown(slack) == ["after the other copy's posts"]


def test_a_post_whose_turn_is_too_far_away_raises_retry_later_and_is_not_made(aws, slack, monkeypatch):
    paced(monkeypatch, 1, 1)
    monkeypatch.setattr(api, "LONGEST_TURN_WAIT_SECONDS", 0.5)
    api.post(CHANNEL, "first")

    with pytest.raises(RetryLater):
        api.post(CHANNEL, "second, a second later at the soonest")

    assert shown(slack) == ["first"]


# --- the new DynamoDB call failing -----------------------------------------------------------

def test_a_throttled_turn_is_retried_by_boto3_and_the_posts_stay_paced_by_the_shared_turns(
        aws, local_aws, slack, monkeypatch, capsys):
    writes = posting(monkeypatch, capsys, 10, 1)
    fail_updates(local_aws, "ThrottlingException", count=1)
    started = time.time()

    for index in range(3):
        api.post(CHANNEL, f"post {index}")

    assert shown(slack) == ["post 0", "post 1", "post 2"]
    assert len(writes) == 3  # one turn each, the throttled attempt retried within its call
    assert next_at() == pytest.approx(started + 0.3, abs=0.2)  # three turns taken from the table
    assert paced_locally(capsys) == 0


def test_a_table_failing_for_long_paces_posts_in_process_counted_and_is_asked_once_a_minute(
        aws, local_aws, slack, monkeypatch, capsys):
    writes = posting(monkeypatch, capsys, 10, 2)
    fail_updates(local_aws, "InternalServerError")

    started = time.monotonic()
    for index in range(5):
        api.post(CHANNEL, f"post {index}")

    assert shown(slack) == [f"post {index}" for index in range(5)]  # posts go on
    assert time.monotonic() - started >= 3 / 10 - 0.02  # two at once, then 1/10 s apart: the local pace
    assert writes == ["PACE#C0STAFF01"]  # asked once: the rest within LOCAL_PACE_SECONDS
    assert paced_locally(capsys) == 5


def test_once_the_table_answers_again_the_turns_are_shared_again(aws, local_aws, slack, monkeypatch,
                                                                 capsys):
    monkeypatch.setattr(api, "LOCAL_PACE_SECONDS", 0)  # the minute is over at once
    writes = posting(monkeypatch, capsys, 10, 2)
    fail_updates(local_aws, "ProvisionedThroughputExceededException", count=3)  # every attempt of one call
    started = time.time()

    api.post(CHANNEL, "paced in-process")
    api.post(CHANNEL, "a shared turn")

    assert len(writes) == 2
    assert paced_locally(capsys) == 1
    assert next_at() > started  # the second post's turn was taken from the table


def test_a_turn_whose_answer_was_lost_is_taken_twice_and_only_slows_the_channel_by_one_interval(aws, local_aws):
    fail_updates(local_aws, "InternalServerError", count=1, commit=True)

    first = take(burst=1)  # boto3's retry finds the turn taken and takes the next one
    second = take(burst=1)

    assert (first, second) == (1, 2)  # without the lost answer: 0, then 1
    assert next_at() == NOW + 3
