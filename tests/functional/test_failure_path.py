"""Nothing lost (issue 10): the dispatcher's failure path, through the real handlers, moto's FIFO
queues and the Slack and Twilio stand-ins.

* A transient failure (Slack or Twilio failing) is retried on a backoff for a day
  (refdesk.retry): the failed job is hidden for its delay (ChangeMessageVisibility), and the
  jobs behind it in its FIFO group wait, untried, until it is done. Anything else is given up
  after MAX_DELIVERY_ATTEMPTS.
* A job given up is moved to the dead-letter queue by the dispatcher; staff are told in the
  thread when there is one, and a patron whose message never reached staff is told honestly,
  once. Their message stays parked, and their next message shows it first.
* A message shown or delivered late gets one note in the thread.

The tests' RETRY_DELAY_SCALE is 0 (retries at once) unless a test sets it; those that outlive
the retry budget have a short one (short_retry_horizon)."""
from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from scripts import redrive
from tests.conftest import ENV, STAFF_CHANNEL, TEXT_DELIVERED, invoke, log_to_captured_stdout, pump
from tests.functional.test_relay import (PATRON, calls_named, open_conversation, queue_depth, reactions, reply_payload,
                                         slack_json, text_in)
from tests.functional.test_slack_no_duplicates import roots
from tests.functional.test_retention_and_job_bodies import parked_of, session_item, sms_session
from tests.functional.test_webchat import create_session, poll, send

FIRST = "Do you have Klara and the Sun?"
SECOND = "It's for my book club."
THIRD = "Are you open on Sunday?"


@pytest.fixture
def undelivered_text():
    from refdesk.settings import get_settings

    return get_settings().undelivered_text


def transient_attempts() -> int:
    from refdesk import retry
    from refdesk.settings import get_settings

    return retry.transient_attempts(get_settings().retry_horizon_hours)


@pytest.fixture
def short_retry_horizon(monkeypatch):
    """A budget of 6 minutes of backoff (6 attempts) instead of a day's (32), for the tests that
    outlive it: they take the budget from the settings (transient_attempts), whatever its size,
    and each attempt costs the suite time. The default's size is tests/unit/test_retry.py's."""
    from refdesk.settings import get_settings

    monkeypatch.setenv("RETRY_HORIZON_HOURS", "0.1")
    get_settings.cache_clear()


@pytest.fixture
def received(monkeypatch) -> list:
    """Each job the dispatcher received (refdesk.jobs.Received), in order."""
    from refdesk import dispatch

    seen = []
    run = dispatch.run

    def recording(job):
        seen.append(job)
        return run(job)

    monkeypatch.setattr(dispatch, "run", recording)
    return seen


def attempts_of(received: list) -> list[tuple[str, int]]:
    """(which job, attempt) for each job received: a patron message by its message id, a reply by its ts."""
    return [(json.loads(job.body).get("message_id") or json.loads(job.body)["ts"], job.attempt) for job in received]


@pytest.fixture
def visibility_changes(aws, monkeypatch) -> list[dict]:
    """The dispatcher's ChangeMessageVisibility calls (it makes them through refdesk.clients)."""
    from refdesk import clients

    changes: list[dict] = []
    sqs = clients.get("sqs")
    change = sqs.change_message_visibility

    def recording(**kwargs):
        changes.append(kwargs)
        return change(**kwargs)

    monkeypatch.setattr(sqs, "change_message_visibility", recording)
    return changes


def dead_letters(aws) -> list[dict]:
    """The jobs in the dead-letter queue, received (hidden for a minute, as scripts/redrive.py does)."""
    messages = aws["sqs"].receive_message(QueueUrl=aws["dlq"], MaxNumberOfMessages=10, VisibilityTimeout=60,
                                          MessageSystemAttributeNames=["MessageGroupId"]).get("Messages", [])
    return [{"job": json.loads(message["Body"]), "group": message["Attributes"]["MessageGroupId"],
             "receipt": message["ReceiptHandle"], "body": message["Body"]} for message in messages]


def shown(slack, text: str) -> list[dict]:
    """Posts in the staff channel that show this patron text."""
    return [post for post in slack.posts() if post["channel"] == STAFF_CHANNEL and text in json.dumps(post)]


def thread_of(slack, root_ts: str) -> list[dict]:
    return [post for post in slack.posts() if post.get("thread_ts") == root_ts]


def thread_texts(slack, root_ts: str) -> list[str]:
    return [post["text"] for post in thread_of(slack, root_ts)]


def showing(posts: list[dict], *texts: str) -> list[bool]:
    """Whether each post shows the patron text at the same place."""
    return [text in json.dumps(post) for post, text in zip(posts, texts, strict=True)]


def staff_reply_at(thread_ts: str, text: str, sent: float) -> str:
    ts = f"{sent:.6f}"
    payload = reply_payload(thread_ts, text, ts=ts, event_id=f"Ev{uuid.uuid4().hex[:10]}")
    response = invoke("slack_events", slack_json(payload))
    assert response["statusCode"] == 200
    return ts


# --- transient failures are retried -----------------------------------------------------------

def test_slack_failing_twenty_times_then_recovering_shows_every_question_once_and_in_order(aws, slack, twilio,
                                                                                           received):
    slack.fail("chat.postMessage", status=503, count=20)
    for text in (FIRST, SECOND, THIRD):
        assert text_in(text)["statusCode"] == 200

    pump(aws)

    [card] = slack.roots()
    assert showing([card, *thread_of(slack, card["answered_ts"])], FIRST, SECOND, THIRD) == [True] * 3
    assert [len(shown(slack, text)) for text in (FIRST, SECOND, THIRD)] == [1, 1, 1]
    assert [attempt for _, attempt in attempts_of(received)] == [*range(1, 22), 1, 1]  # followers: tried once
    assert queue_depth(aws) == queue_depth(aws, "dlq") == 0
    assert twilio.sent == []  # nothing to apologise for
    assert parked_of(session_item(sms_session())) == []


def test_a_failed_job_is_hidden_for_its_backoff_and_its_group_waits(aws, slack, twilio, visibility_changes,
                                                                     monkeypatch):
    from refdesk import retry
    from refdesk.settings import get_settings

    monkeypatch.setenv("RETRY_DELAY_SCALE", "1")
    get_settings.cache_clear()
    slack.fail("chat.postMessage", status=500, count=2)
    text_in(FIRST)
    text_in(SECOND)

    for attempt in (1, 2):
        assert pump(aws) == ["retry"]  # nothing else ran
        assert visibility_changes[-1]["VisibilityTimeout"] == retry.delay(attempt)  # 5 s, then 15 s
        assert queue_depth(aws) == 2  # both still queued, the second untried behind the first
        # ...the delay passes:
        aws["sqs"].change_message_visibility(QueueUrl=aws["queue"], VisibilityTimeout=0,
                                             ReceiptHandle=visibility_changes[-1]["ReceiptHandle"])
    pump(aws)

    assert [change["VisibilityTimeout"] for change in visibility_changes] == [5, 15]
    assert [len(shown(slack, text)) for text in (FIRST, SECOND)] == [1, 1]
    assert queue_depth(aws) == 0


def test_replies_behind_a_failing_reply_are_tried_after_it_and_never_dead_lettered_untried(
        aws, slack, twilio, received, short_retry_horizon):
    twilio.holding_reports = True  # the replies' jobs only (a status report queues one of its own)
    conversation = open_conversation(aws, slack, FIRST)
    received.clear()
    attempts = transient_attempts()
    twilio.fail(503, count=attempts)  # the first reply fails every attempt it gets
    now = time.time()
    replies = [staff_reply_at(conversation["root_ts"], f"Reply {number}", now + number / 1000) for number in (1, 2, 3)]

    pump(aws)

    assert attempts_of(received) == [(replies[0], attempt) for attempt in range(1, attempts + 1)] + \
        [(replies[1], 1), (replies[2], 1)]
    assert [sent["body"] for sent in twilio.sent] == ["Amanda (library): Reply 2", "Amanda (library): Reply 3"]
    [dead] = dead_letters(aws)
    assert (dead["job"]["kind"], dead["job"]["ts"]) == ("staff_reply", replies[0])
    assert reactions(slack) == [(replies[0], "x"), (replies[1], "outbox_tray"), (replies[2], "outbox_tray")]
    assert f"not delivered after {attempts} attempts" in thread_texts(slack, conversation["root_ts"])[0]


# --- given up -----------------------------------------------------------------------------------

def test_slack_down_past_the_horizon_dead_letters_the_messages_and_tells_the_patron_once(
        aws, slack, twilio, undelivered_text, short_retry_horizon):
    attempts = transient_attempts()
    slack.fail("chat.postMessage", status=503, count=2 * attempts)  # every attempt at both messages
    text_in(FIRST)
    text_in(SECOND)

    pump(aws)

    dead = dead_letters(aws)
    assert [letter["job"]["kind"] for letter in dead] == ["patron_message", "patron_message"]
    assert len({letter["group"] for letter in dead}) == 1  # the conversation's group, for the redrive
    assert slack.posts() == []  # no card: no thread to tell
    assert twilio.sent == [{"to": PATRON, "from_": ENV["TWILIO_FROM_NUMBER"], "body": undelivered_text}]
    assert len(parked_of(session_item(sms_session()))) == 2  # kept for the next message and a redrive
    assert queue_depth(aws) == 0

    text_in(THIRD)  # Slack is back
    pump(aws)

    [card] = slack.roots()  # it starts where the patron did, and the thread holds the rest in order
    assert showing([card, *thread_of(slack, card["answered_ts"])], FIRST, SECOND, THIRD) == [True] * 3
    assert [len(shown(slack, text)) for text in (FIRST, SECOND, THIRD)] == [1, 1, 1]
    assert parked_of(session_item(sms_session())) == []

    posts = len(slack.posts())
    for letter in dead:  # visible again for the administrator's redrive
        aws["sqs"].change_message_visibility(QueueUrl=aws["dlq"], ReceiptHandle=letter["receipt"], VisibilityTimeout=0)
    assert redrive.redrive(aws["sqs"], aws["dlq"], aws["queue"]) == 2  # nothing is shown twice
    pump(aws)
    assert len(slack.posts()) == posts
    assert queue_depth(aws, "dlq") == queue_depth(aws) == 0
    assert [sent["body"] for sent in twilio.sent] == [undelivered_text]  # told once


def test_a_card_posted_by_attempts_whose_answers_were_lost_is_not_posted_again_after_a_redrive(
        aws, slack, twilio, short_retry_horizon):
    attempts = transient_attempts()
    # Slack took the post but its answer was lost, and every retry's look for it failed: given up.
    slack.fail("chat.postMessage", status=503, commit=True)
    slack.fail("conversations.history", status=503, count=attempts - 1)
    text_in(FIRST)
    pump(aws)
    assert len(roots(slack)) == 1 and queue_depth(aws, "dlq") == 1

    aws["lambda"].forget()
    assert redrive.main(["--dead-letter-queue", aws["dlq"], "--jobs-queue", aws["queue"],
                         "--dispatcher", "refdesk-local-dispatcher"]) == 0
    assert len(aws["lambda"].asynchronous("DispatcherFunction")) == 1  # nothing polls: the redrive wakes it
    pump(aws)

    [card] = roots(slack)  # the redriven job, at "attempt 1" for the queue, looked before posting
    assert FIRST in json.dumps(card) and queue_depth(aws) == queue_depth(aws, "dlq") == 0


def test_a_message_given_up_in_an_open_thread_is_reported_there(aws, slack, twilio, undelivered_text,
                                                                short_retry_horizon):
    conversation = open_conversation(aws, slack, FIRST)
    attempts = transient_attempts()
    slack.fail("chat.postMessage", status=503, count=attempts)  # every attempt; Slack is back for the note

    text_in(SECOND)
    pump(aws)

    [note] = thread_texts(slack, conversation["root_ts"])
    assert note.startswith(":warning:") and f"after {attempts} attempts" in note and "dead-letter queue" in note
    assert SECOND not in note
    assert [sent["body"] for sent in twilio.sent] == [undelivered_text]
    [dead] = dead_letters(aws)
    assert dead["job"]["conversation_id"] == conversation["conversation_id"]

    text_in(THIRD)  # the next message shows the one that was given up first
    pump(aws)
    assert showing(thread_of(slack, conversation["root_ts"])[1:], SECOND, THIRD) == [True, True]
    assert [len(shown(slack, text)) for text in (SECOND, THIRD)] == [1, 1]


def test_a_web_patron_whose_message_was_given_up_sees_why_in_the_widget(aws, slack, undelivered_text,
                                                                        short_retry_horizon):
    slack.fail("chat.postMessage", status=503, count=transient_attempts())
    session = create_session()
    assert send(session, FIRST)["statusCode"] == 201

    pump(aws)

    assert [message["text"] for message in poll(session)["messages"]] == [FIRST, undelivered_text]
    assert len(dead_letters(aws)) == 1


def test_a_failure_that_is_not_transient_is_given_up_after_max_delivery_attempts(aws, slack, twilio,
                                                                               undelivered_text):
    limit = int(ENV["MAX_DELIVERY_ATTEMPTS"])
    slack.fail("chat.postMessage", error="invalid_blocks", count=limit + 5)  # a bug of ours, not an outage
    text_in(FIRST)

    pump(aws)

    assert len(calls_named(slack, "chat.postMessage")) == limit
    [dead] = dead_letters(aws)
    assert dead["job"]["kind"] == "patron_message"
    assert [sent["body"] for sent in twilio.sent] == [undelivered_text]


def test_a_reply_refused_for_a_reason_that_will_not_pass_is_given_up_after_max_delivery_attempts(aws, slack,
                                                                                                 twilio):
    conversation = open_conversation(aws, slack, FIRST)
    limit = int(ENV["MAX_DELIVERY_ATTEMPTS"])
    twilio.fail(400, code=21617, count=limit + 5)  # too long: a bug of ours, which trying again cannot fix
    ts = staff_reply_at(conversation["root_ts"], "It is on the shelf.", time.time())

    pump(aws)

    assert twilio.attempts() == limit
    assert reactions(slack) == [(ts, "x")]
    assert f"not delivered after {limit} attempts" in thread_texts(slack, conversation["root_ts"])[0]
    assert [letter["job"]["ts"] for letter in dead_letters(aws)] == [ts]


# --- late messages --------------------------------------------------------------------------------

def test_a_patron_message_shown_late_gets_one_note_in_its_thread(aws, slack, twilio, received, monkeypatch):
    from refdesk import conversations

    sent = datetime.now(timezone.utc) - timedelta(minutes=10)  # accepted ten minutes ago
    monkeypatch.setattr(conversations, "now_iso", lambda: sent.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    slack.fail("chat.postMessage", status=503, count=3)
    text_in(FIRST)
    pump(aws)

    [card] = slack.roots()
    [note] = thread_texts(slack, card["answered_ts"])
    assert note.startswith(":hourglass: Sent at ")
    assert f"{sent.astimezone(ZoneInfo(ENV['LIBRARY_TIMEZONE'])):%H:%M} (library time), shown 10 min late" in note
    assert note.endswith("delivery was retried.")

    posts = len(slack.posts())
    job = received[-1]  # the same job delivered again (a redrive) adds nothing
    aws["sqs"].send_message(QueueUrl=aws["queue"], MessageBody=job.body, MessageGroupId=job.group_id,
                            MessageDeduplicationId=uuid.uuid4().hex)
    pump(aws)
    assert received[-1].body == job.body
    assert len(slack.posts()) == posts


def test_a_reply_delivered_late_gets_one_note_and_one_on_time_gets_none(aws, slack, twilio):
    conversation = open_conversation(aws, slack, FIRST)
    twilio.fail(503, count=2)
    late = staff_reply_at(conversation["root_ts"], "Found it on the cart.", time.time() - 7 * 60)
    pump(aws)
    staff_reply_at(conversation["root_ts"], "Shall I hold it?", time.time())
    pump(aws)

    [note] = thread_texts(slack, conversation["root_ts"])
    assert note.startswith(":hourglass: Sent at ") and "sent on to the patron 7 min late" in note
    assert [sent["body"] for sent in twilio.sent] == ["Amanda (library): Found it on the cart.",
                                                     "Amanda (library): Shall I hold it?"]
    assert [name for _, name in reactions(slack)] == TEXT_DELIVERED * 2
    assert reactions(slack)[0][0] == late


def test_each_job_reports_how_long_it_waited_in_the_queue(aws, slack, twilio, capsys, monkeypatch):
    log_to_captured_stdout(monkeypatch)
    text_in(FIRST)
    capsys.readouterr()

    pump(aws)

    # Read by no alarm: a "metric" log line (refdesk.observability.PUBLISHED), not a CloudWatch metric.
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    ages = [line for line in lines if line.get("message") == "metric" and line.get("metric") == "QueueAge"]
    assert len(ages) == 1 and 0 <= ages[0]["value"] < 60 and ages[0]["unit"] == "Seconds"
    assert not any("QueueAge" in line for line in lines if "_aws" in line)


def test_after_a_retried_job_the_next_job_is_a_first_attempt_again(aws, slack, twilio):
    from refdesk import jobs

    slack.fail("chat.postMessage", status=503)  # the card's first attempt fails; its retry posts it
    text_in(FIRST)
    pump(aws)
    assert len(roots(slack)) == 1

    assert jobs.attempt() == 1  # nothing run after it (another record, another test) takes itself for a retry
