"""Nothing lost, over the local stack (`python -m local.devstack`, retries at once there:
RETRY_DELAY_SCALE 0): a Slack or Twilio outage longer than the retry budget dead-letters the
jobs, the patron is told once, and after the fault clears the redrive delivers everything
exactly once and in order; a failure at the head of a FIFO group holds the jobs behind it,
which are all delivered once it passes."""
from __future__ import annotations

import functools
import json
import uuid

import boto3
import pytest

from refdesk.retry import transient_attempts
from scripts import redrive

LIBRARIAN = "U0AMANDA"
HORIZON_HOURS = 0.1  # the stack's retry budget: 6 minutes of backoff, 6 attempts
OUTAGE = 10_000  # failing calls: longer than any retry budget
SHORT = transient_attempts(HORIZON_HOURS) - 2  # failing calls: fewer than the retry budget of the job at the head


@pytest.fixture(scope="module")
def stack(start_devstack):
    """A stack of its own: these tests inject long faults and redrive the whole dead-letter queue.
    Its retry budget is 6 minutes of backoff (6 attempts) instead of a day's (32): what is tested is
    outliving the budget, whatever its size (the default's size is tests/unit/test_retry.py's),
    and each attempt costs the suite time."""
    return start_devstack(RETRY_HORIZON_HOURS=str(HORIZON_HOURS))


def tag() -> str:
    return "t" + uuid.uuid4().hex[:8]


def phone() -> str:
    return "+1555" + str(uuid.uuid4().int)[:7]


def text(stack, number: str, body: str) -> None:
    assert stack.post_json("/_local/api/phone/send", {"from": number, "body": body})["status"] == 200


def reply(stack, thread_ts: str, body: str) -> None:
    stack.post_json("/_local/api/slack/reply", {"thread_ts": thread_ts, "user": LIBRARIAN, "text": body})


def fail(stack, service: str, count: int, **fault) -> None:
    stack.post_json("/_local/api/faults", {service: {"status": 503, "count": count, **fault}})


def slack_showing(stack, marker: str) -> list[dict]:
    """The staff channel's messages that show text carrying this marker, in order."""
    return [message for message in stack.get_json("/_local/api/slack/messages")["messages"]
            if marker in json.dumps(message)]


def texts_to(stack, number: str) -> list[str]:
    return [message["body"] for message in stack.get_json("/_local/api/phone/messages", number=number)["messages"]]


@functools.cache
def _sqs(endpoint_url: str):
    """One client per stack: making one takes longer than asking the queue, and waits ask often."""
    return boto3.client("sqs", endpoint_url=endpoint_url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def queued(stack) -> int:
    sqs = _sqs(stack.config["aws_endpoint_url"])
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    return sum(int(value) for value in sqs.get_queue_attributes(QueueUrl=stack.config["jobs_queue_url"],
                                                                AttributeNames=names)["Attributes"].values())


def settled(stack) -> bool:
    return queued(stack) == 0


def which(items: list, texts: list[str]) -> list[str]:
    """For each item (a Slack message or a text's body), the one of `texts` it shows."""
    return [next(text for text in texts if text in json.dumps(item)) for item in items]


def test_a_slack_outage_longer_than_the_retry_budget_loses_nothing(stack):
    number, marker = phone(), tag()
    questions = [f"{marker} first: do you have the Ishiguro?", f"{marker} second: the large print one"]
    fail(stack, "slack", OUTAGE, method="chat.postMessage")
    for question in questions:
        text(stack, number, question)

    stack.wait_until(lambda: stack.get_json("/_local/api/dlq")["count"] == 2, timeout=90,
                     message="both messages given up and dead-lettered")
    assert slack_showing(stack, marker) == []
    [apology] = texts_to(stack, number)  # told once, honestly
    assert "hasn't reached a librarian yet" in apology

    fail(stack, "slack", 0)  # the outage is over
    assert redrive.main(["--local", stack.url("")]) == 0
    stack.wait_until(lambda: len(slack_showing(stack, marker)) == 2 and settled(stack), timeout=30,
                     message="both questions shown after the redrive")
    [card, second] = slack_showing(stack, marker)
    assert not card["thread_ts"] and second["thread_ts"] == card["ts"]
    assert which([card, second], questions) == questions
    assert stack.get_json("/_local/api/dlq")["count"] == 0

    fail(stack, "twilio", OUTAGE)  # now the patron's side fails for longer than the budget
    answers = [f"{marker} answer one", f"{marker} answer two"]
    for answer in answers:
        reply(stack, card["ts"], answer)
    stack.wait_until(lambda: stack.get_json("/_local/api/dlq")["count"] == 2, timeout=90,
                     message="both replies given up and dead-lettered")
    fail(stack, "twilio", 0)
    assert redrive.main(["--local", stack.url("")]) == 0
    stack.wait_until(lambda: sum(marker in body for body in texts_to(stack, number)) == 2 and settled(stack),
                     timeout=30, message="both replies texted after the redrive")
    bodies = texts_to(stack, number)
    assert which([body for body in bodies if marker in body], answers) == answers  # once each, in order
    assert sum("hasn't reached a librarian yet" in body for body in bodies) == 1


def test_a_failure_at_the_head_of_a_fifo_group_holds_and_then_delivers_the_rest_in_order(stack):
    number, marker = phone(), tag()
    questions = [f"{marker} q{index}: {subject}" for index, subject in
                 enumerate(("the Ishiguro", "large print", "hold it for me"), start=1)]
    fail(stack, "slack", SHORT, method="chat.postMessage")
    for question in questions:
        text(stack, number, question)

    stack.wait_until(lambda: len(slack_showing(stack, marker)) == 3 and settled(stack), timeout=30,
                     message="the three questions shown")
    shown = slack_showing(stack, marker)
    assert which(shown, questions) == questions  # once each, in order
    card = shown[0]
    assert not card["thread_ts"] and {message["thread_ts"] for message in shown[1:]} == {card["ts"]}

    fail(stack, "twilio", SHORT)
    answers = [f"{marker} a{index}" for index in (1, 2, 3)]
    for answer in answers:
        reply(stack, card["ts"], answer)
    stack.wait_until(lambda: sum(marker in body for body in texts_to(stack, number)) == 3 and settled(stack),
                     timeout=30, message="the three replies texted")
    delivered = [body for body in texts_to(stack, number) if marker in body]
    assert which(delivered, answers) == answers
    assert stack.get_json("/_local/api/dlq")["count"] == 0
    assert texts_to(stack, number) == delivered  # no apology: nothing was given up
