"""Slack pacing and "nothing doubled" in refdesk.slack.api: the per-channel token bucket (the
pace when the table gives no turn; the shared turns: test_shared_pacing.py), posts that carry
metadata naming the stored message they show, and the look-up a retry makes before posting again
(against the Slack stand-in, through the real WebClient)."""
from __future__ import annotations

import threading
import time

import pytest

from refdesk import jobs
from refdesk.models import Author, Message
from refdesk.slack import api
from refdesk.store.table import now_iso

CHANNEL, OTHER_CHANNEL = "C0STAFF01", "C0OTHER01"


class FakeTime:
    """A clock that moves only when slept on."""

    def __init__(self):
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def stored(message_id: str = "SM0001", at: str = "") -> Message:
    return Message(message_id=message_id, at=at or now_iso(), author=Author.PATRON,
                   text="Do you have the new Ishiguro?")


def retry(monkeypatch) -> None:
    """From now on this attempt at the job is a retry (the dispatcher's contextvar, refdesk.jobs)."""
    monkeypatch.setattr(jobs, "attempt", lambda: 2)


@pytest.fixture
def retrying(monkeypatch):
    retry(monkeypatch)


def lookups(slack) -> list[str]:
    return [method for method in slack.methods() if method.startswith("conversations.")]


def shown(slack) -> list[dict]:
    """What the channel shows: the stand-in's messages, in order."""
    return [message for message in slack.stand_in.messages() if not message["ephemeral"]]


# --- the token bucket ------------------------------------------------------------------------

def test_a_burst_passes_at_once_then_each_post_waits_its_turn():
    fake = FakeTime()
    bucket = api.TokenBucket(2, 3, clock=fake.clock, sleep=fake.sleep)

    waits = [bucket.take() for _ in range(6)]

    assert waits == [0, 0, 0, 0.5, 0.5, 0.5]
    assert fake.slept == [0.5, 0.5, 0.5]


def test_an_idle_bucket_saves_up_no_more_than_its_burst():
    fake = FakeTime()
    bucket = api.TokenBucket(1, 2, clock=fake.clock, sleep=fake.sleep)
    bucket.take(), bucket.take()

    fake.now += 60  # a quiet minute
    waits = [bucket.take() for _ in range(4)]

    assert waits == [0, 0, 1, 1]


def test_threads_sharing_a_bucket_keep_to_its_rate_together():
    bucket = api.TokenBucket(50, 1)
    started = time.monotonic()

    threads = [threading.Thread(target=bucket.take) for _ in range(11)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert time.monotonic() - started >= 10 / 50 - 0.01  # the first is free, each other one 1/50 s apart


def test_posts_into_one_channel_are_paced_and_another_channel_is_not_held_up(aws, slack, monkeypatch):
    monkeypatch.setenv("SLACK_POSTS_PER_SECOND", "4")
    monkeypatch.setenv("SLACK_POST_BURST", "2")
    api.get_settings.cache_clear()
    api.clients.reset()

    started = time.monotonic()
    for index in range(5):
        api.post(CHANNEL, f"post {index}")
    paced = time.monotonic() - started
    started = time.monotonic()
    api.post(OTHER_CHANNEL, "elsewhere")
    elsewhere = time.monotonic() - started

    assert paced >= 0.75 - 0.01  # two at once, then three 1/4 s apart
    assert elsewhere < 0.25  # no wait for a turn
    assert [message["text"] for message in shown(slack)] == [*(f"post {i}" for i in range(5)), "elsewhere"]


def test_zero_posts_a_second_means_not_paced(slack):
    started = time.monotonic()
    for index in range(20):
        api.post(CHANNEL, f"post {index}")

    assert time.monotonic() - started < 5  # 20 posts at Slack's 1 a second would take 17 s


# --- metadata and the look-up before posting again -------------------------------------------

def test_a_first_attempt_posts_with_metadata_and_looks_nothing_up(slack):
    message = stored()

    root = api.post(CHANNEL, "card", shows=message)
    reply = api.post(CHANNEL, "more", thread_ts=root, shows=message, part=1)

    assert lookups(slack) == []
    posts = slack.posts()
    assert [post["answered_ts"] for post in posts] == [root, reply]
    assert [post["metadata"] for post in posts] == [
        {"event_type": "refdesk_message", "event_payload": {"message_id": "SM0001", "part": 0}},
        {"event_type": "refdesk_message", "event_payload": {"message_id": "SM0001", "part": 1}}]


def test_a_retry_finds_the_root_card_an_earlier_attempt_posted(slack, monkeypatch):
    message = stored()
    api.post(CHANNEL, "another conversation's card", shows=stored("SM0009"))
    earlier = api.post(CHANNEL, "card", shows=message)
    api.post(CHANNEL, "a later card")
    slack.stand_in.record_human(CHANNEL, "U0AMANDA", "a librarian's message", None)
    retry(monkeypatch)

    again = api.post(CHANNEL, "card", shows=message)

    assert again == earlier
    assert lookups(slack) == ["conversations.history"]
    assert [message["text"] for message in shown(slack)].count("card") == 1


def test_a_retry_finds_a_thread_post_on_a_later_page(slack, retrying, monkeypatch):
    monkeypatch.setattr(api, "LOOKUP_PAGE_SIZE", 2)
    message = stored("SM0002")
    root = api.post(CHANNEL, "card")
    for index in range(4):
        api.post(CHANNEL, f"reply {index}", thread_ts=root)
    earlier = api._post(CHANNEL, "the patron's message", None, root, api._metadata(api.MESSAGE_EVENT, message, 0))
    api.post(CHANNEL, "a reply after it", thread_ts=root)

    again = api.post(CHANNEL, "the patron's message", thread_ts=root, shows=message)

    assert again == earlier
    assert lookups(slack) == ["conversations.replies"] * 4  # the parent and 6 replies, 2 a page
    assert [message["text"] for message in shown(slack)].count("the patron's message") == 1


def test_a_retry_posts_what_no_earlier_attempt_posted(slack, retrying):
    message, other = stored("SM0003"), stored("SM0004")
    root = api.post(CHANNEL, "card")
    api._post(CHANNEL, "another message's post", None, root, api._metadata(api.MESSAGE_EVENT, other, 0))
    api._post(CHANNEL, "a note about it", None, root, api._metadata(api.NOTE_EVENT, message, 0))

    ts = api.post(CHANNEL, "this message", thread_ts=root, shows=message)

    assert ts == slack.posts()[-1]["answered_ts"]
    assert [post["text"] for post in slack.posts()][-1] == "this message"


def test_the_look_up_starts_a_little_before_the_message_arrived(slack, retrying):
    message = stored(at="2026-01-01T10:00:00.000000Z")

    api.post(CHANNEL, "card", shows=message)

    [(method, params)] = [call for call in slack.calls if call[0] == "conversations.history"]
    assert float(params["oldest"]) == pytest.approx(api.datetime.fromisoformat(message.at).timestamp()
                                                    - api.CLOCK_SKEW_SECONDS)
    assert params["include_all_metadata"] in ("1", True)


def test_a_long_patron_message_retried_midway_posts_only_its_missing_parts(slack, monkeypatch):
    message = stored("SM0005")
    root = api.post(CHANNEL, "card")
    text = "word " * 100_000  # four posts of at most 50 blocks
    slack.fail("chat.postMessage", status=500, after=1, commit=True)  # the second post's answer is lost
    with pytest.raises(api.SlackApiError):
        api.post_patron_text(CHANNEL, root, "SMS ···4567", text, shows=message)
    parts_before = len(slack.stand_in.messages()) - 1
    retry(monkeypatch)

    first = api.post_patron_text(CHANNEL, root, "SMS ···4567", text, shows=message)

    thread = [m for m in slack.stand_in.messages() if m["thread_ts"] == root]
    parts = [m["metadata"]["event_payload"]["part"] for m in thread]
    assert parts_before == 2
    assert parts == list(range(len(thread))) and len(thread) > 2  # every part once, in order
    assert first == thread[0]["ts"]


def test_a_note_is_posted_once_and_is_not_taken_for_the_message_it_is_about(slack, retrying):
    message = stored("slack-1700000000.000100")
    root = api.post(CHANNEL, "card")
    api._post(CHANNEL, "the reply itself", None, root, api._metadata(api.MESSAGE_EVENT, message, 0))

    note = api.post_note(CHANNEL, root, "Not delivered", about=message)
    again = api.post_note(CHANNEL, root, "Not delivered", about=message)

    assert again == note
    assert [m["text"] for m in shown(slack)].count("Not delivered") == 1
