"""Nothing polls the jobs queue (refdesk.jobs): whoever queues a job wakes the dispatcher, an
asynchronous invocation recorded here by local.lambda_api, and the dispatcher drains the queue
(refdesk.dispatch.drain). Each wake-up is asked the three questions: what if it fails once, what
if it fails for an hour, and what if its answer is lost after it succeeded."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import fire_due_schedules, invoke, pump
from tests.functional.test_relay import PATRON, open_conversation, queue_depth, staff_reply, text_in
from tests.functional.test_slack_no_duplicates import roots

FIRST, SECOND = "Do you have Klara and the Sun?", "It's for my book club."
LAMBDA_ATTEMPTS = 3  # refdesk.clients: boto3's standard retries, 3 attempts in all


def wake_ups(aws) -> int:
    return len(aws["lambda"].asynchronous("DispatcherFunction"))


def test_a_webhook_queues_its_job_then_wakes_the_dispatcher_which_drains_the_queue(aws, slack, twilio):
    assert text_in(FIRST)["statusCode"] == 200

    assert wake_ups(aws) == 1 and queue_depth(aws) == 1
    assert pump(aws) == ["done"]
    assert len(roots(slack)) == 1 and queue_depth(aws) == 0


def test_a_job_queued_by_a_job_is_drained_by_the_same_drain_and_wakes_nobody(aws, slack, twilio):
    twilio.holding_reports = True  # the queue's own wake-ups: no status report wakes it too
    conversation = open_conversation(aws, slack, FIRST)
    aws["lambda"].forget()
    staff_reply(conversation["root_ts"], "Yes, on the shelf.")

    outcomes = pump(aws)

    assert outcomes and set(outcomes) == {"done"}
    assert wake_ups(aws) == 1  # the webhook's; the drain woke nobody
    assert [sent["to"] for sent in twilio.sent] == [PATRON]


def test_a_wake_up_that_fails_once_is_mended_by_the_clients_retry(aws, slack, twilio):
    aws["lambda"].fail("DispatcherFunction", status=503)

    assert text_in(FIRST)["statusCode"] == 200

    assert wake_ups(aws) == 1
    pump(aws)
    assert len(roots(slack)) == 1


def test_a_wake_up_failing_for_an_hour_answers_503_and_the_next_delivery_is_one_job(aws, slack, twilio):
    aws["lambda"].fail("DispatcherFunction", status=503, count=LAMBDA_ATTEMPTS * 3)  # Twilio's first 3 deliveries
    sid = "SM" + "1" * 32
    for _ in range(3):
        answer = text_in(FIRST, MessageSid=sid)
        assert answer["statusCode"] == 503 and answer["headers"]["retry-after"]
    assert wake_ups(aws) == 0 and queue_depth(aws) == 1  # stored and queued; only the wake-up failed

    assert text_in(FIRST, MessageSid=sid)["statusCode"] == 200  # Lambda is back: the 4th delivery
    assert wake_ups(aws) == 1 and queue_depth(aws) == 1  # the queue de-duplicated the repeats
    assert pump(aws) == ["done"]
    [card] = roots(slack)
    assert FIRST in str(card)


def test_jobs_left_by_failed_wake_ups_are_drained_by_any_later_one(aws, slack, twilio):
    twilio.holding_reports = True  # the queue's own wake-ups: no status report wakes it too
    aws["lambda"].fail("DispatcherFunction", status=503, count=LAMBDA_ATTEMPTS)
    assert text_in(FIRST, From="+15550100001")["statusCode"] == 503
    assert text_in(SECOND, From="+15550100002")["statusCode"] == 200  # another patron's wake-up

    assert pump(aws) == ["done", "done"]  # both conversations, each in its own FIFO group
    assert len(roots(slack)) == 2


def test_a_wake_up_whose_answer_was_lost_costs_one_empty_drain(aws, slack, twilio):
    aws["lambda"].fail("DispatcherFunction", status=503, count=1, commit=True)
    # The client's retry sends it again (the first was taken): two wake-ups, one job.
    assert text_in(FIRST)["statusCode"] == 200
    assert wake_ups(aws) == 2

    assert pump(aws) == ["done"]
    assert pump(aws) == []  # the second wake-up finds the queue drained
    assert len(roots(slack)) == 1


def test_a_drain_out_of_time_wakes_a_successor_for_the_jobs_left(aws, slack, twilio, monkeypatch):
    twilio.holding_reports = True  # the queue's own wake-ups: no status report wakes it too
    from refdesk import dispatch

    for n in range(3):
        text_in(f"question {n}", From=f"+1555010000{n}")
    aws["lambda"].forget()
    left = iter([60_000, 60_000, dispatch.RESERVE_MILLIS])  # time for two jobs only

    outcomes = dispatch.drain(lambda: next(left))

    assert outcomes == ["done", "done"] and queue_depth(aws) == 1
    assert wake_ups(aws) == 1
    assert pump(aws) == ["done"]


def test_a_failed_jobs_next_attempt_is_a_wake_up_at_its_time(aws, slack, twilio, monkeypatch):
    monkeypatch.setenv("RETRY_DELAY_SCALE", "0.2")  # the first backoff, 5 s, is 1 s
    from refdesk.settings import get_settings

    get_settings.cache_clear()
    slack.fail("chat.postMessage", status=503)
    text_in(FIRST)
    started = datetime.now(timezone.utc)

    assert pump(aws) == ["retry"] and queue_depth(aws) == 1  # hidden for its backoff: the queue holds it
    [(when, name)] = [(when, name) for when, name in aws["schedules"].pending() if name.startswith("jobs-")]
    assert started < when <= started + timedelta(seconds=3)
    assert fire_due_schedules(aws, started) == []  # not yet

    time.sleep(max(0.0, (when - datetime.now(timezone.utc)).total_seconds()))  # the queue's clock is real
    assert fire_due_schedules(aws, when) == [{"outcomes": ["done"]}]  # the dispatcher, invoked by the scheduler
    assert len(roots(slack)) == 1 and queue_depth(aws) == 0


def test_a_wake_up_that_cannot_be_scheduled_fails_the_invocation_so_that_lambda_tries_it_again(
        aws, slack, twilio, monkeypatch):
    from botocore.exceptions import ClientError

    from refdesk import clients, jobs

    monkeypatch.setenv("RETRY_DELAY_SCALE", "1")
    from refdesk.settings import get_settings

    get_settings.cache_clear()
    slack.fail("chat.postMessage", status=503)
    text_in(FIRST)
    scheduler = clients.get("scheduler")

    def unavailable(**_):
        raise ClientError({"Error": {"Code": "InternalServerException"},
                           "ResponseMetadata": {"HTTPStatusCode": 500}}, "CreateSchedule")

    monkeypatch.setattr(scheduler, "create_schedule", unavailable)

    with pytest.raises(jobs.WakeUpNotScheduled):
        invoke("dispatcher", {})


def test_a_job_of_a_retired_kind_left_in_the_queue_by_an_older_version_is_dropped_not_dead_lettered(aws, slack):
    import json

    aws["sqs"].send_message(QueueUrl=aws["queue"], MessageBody=json.dumps({"kind": "nudge", "conversation_id": "c1"}),
                            MessageGroupId="g", MessageDeduplicationId="old-nudge")

    assert pump(aws) == ["done"]
    assert queue_depth(aws) == queue_depth(aws, "dlq") == 0 and slack.methods() == []
