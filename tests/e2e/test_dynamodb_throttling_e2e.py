"""DynamoDB throttling over the local stack: the control API makes the embedded moto answer
DynamoDB requests as a throttled table does (HTTP 400 ProvisionedThroughputExceededException),
with boto3's real retries and waits. A short burst is absorbed; throttling that outlasts the
retries answers the webhook 503 with Retry-After; Twilio's retry of the same text, once the
table recovers, opens the conversation once."""
from __future__ import annotations

import json
import uuid

import pytest


THROTTLED = {"method": "UpdateItem", "error": "ProvisionedThroughputExceededException"}


@pytest.fixture
def desk(stack):
    yield stack
    stack.reset()  # no fault outlives the test



def cards_for(stack, question: str) -> list[dict]:
    return [m for m in stack.get_json("/_local/api/slack/messages")["messages"]
            if not m["thread_ts"] and question in json.dumps(m["blocks"])]


def new_patron() -> str:
    return "+1555" + str(uuid.uuid4().int)[:7]


def test_throttling_past_boto3s_retries_answers_503_and_twilios_retry_opens_one_conversation(desk):
    question = f"Throttled question {uuid.uuid4().hex[:8]}"
    sid, patron = "SM" + uuid.uuid4().hex, new_patron()
    send = lambda: desk.text_in(patron, question, sid=sid)  # noqa: E731 - sent again as Twilio retries
    dead_before = desk.get_json("/_local/api/dlq")["count"]  # the stack is shared with earlier tests
    desk.post_json("/_local/api/faults", {"dynamodb": {**THROTTLED, "count": 50}})

    busy = send()

    assert busy.status_code == 503, busy.text
    assert int(busy.headers["Retry-After"]) >= 1
    assert busy.json()["error"]["code"] == "retry_later"
    desk.post_json("/_local/api/faults", {"dynamodb": []})  # the table recovers

    retried = send()

    assert retried.status_code == 200
    assert "<Message>" in retried.text  # the acknowledgement, now that the text opened a conversation
    desk.wait_until(lambda: cards_for(desk, question), message="the card")
    assert send().status_code == 200  # a further delivery is a duplicate
    assert desk.get_json("/_local/api/dlq")["count"] == dead_before  # nothing of this text dead-lettered
    assert len(cards_for(desk, question)) == 1


def test_a_short_burst_of_throttling_is_absorbed_without_the_caller_noticing(desk):
    question = f"Burst question {uuid.uuid4().hex[:8]}"
    desk.post_json("/_local/api/faults", {"dynamodb": {**THROTTLED, "error": "ThrottlingException", "count": 2}})

    answer = desk.text_in(new_patron(), question)

    assert answer.status_code == 200 and "<Message>" in answer.text
    desk.wait_until(lambda: cards_for(desk, question), message="the card")


def test_the_control_api_refuses_an_error_dynamodb_does_not_give(desk):
    refused = desk.post("/_local/api/faults", json={"dynamodb": {"error": "ConditionalCheckFailedException"}})

    assert refused.status_code == 400
    assert "ProvisionedThroughputExceededException" in refused.json()["error"]
