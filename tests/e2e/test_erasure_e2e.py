"""A patron texts DELETE, end to end over the local stack (`python -m local.devstack`): the phone
simulator's signed webhook, the jobs queue and dispatcher, the Slack and Twilio stand-ins, and the
stack's own DynamoDB table scanned afterwards. Also in a Slack outage (the records go at once, the
thread's edits wait for Slack), and Twilio replaying the erased question (a duplicate)."""
from __future__ import annotations

import json
import re
import uuid

import boto3
import pytest

from scripts import redrive

CONFIRMATION = ("Your conversations with the library are being deleted, from our records and from what library "
                "staff see.")
REMOVED = "[removed at the patron's request]"


def text(stack, number: str, body: str) -> dict:
    answer = stack.post_json("/_local/api/phone/send", {"from": number, "body": body})
    assert answer["status"] == 200, answer
    return answer


def messages(stack) -> list[dict]:
    return stack.get_json("/_local/api/slack/messages")["messages"]


def texts_to(stack, number: str) -> list[str]:
    return [m["body"] for m in stack.get_json("/_local/api/phone/messages", number=number)["messages"]]


def table_dump(stack) -> str:
    config = stack.config
    table = boto3.resource("dynamodb", endpoint_url=config["aws_endpoint_url"], region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing").Table(config["table_name"])
    items, query = [], {}
    while True:
        page = table.scan(**query)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return json.dumps(items, default=str, ensure_ascii=False)
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_texting_delete_erases_the_conversation_edits_the_thread_and_confirms_once(stack):
    number = "+1555" + str(uuid.uuid4().int)[:7]
    digits = re.compile(r"\D{0,3}".join(number[2:]))
    marker = "k" + uuid.uuid4().hex[:7]
    question = f"Can you find my hold on the cookbook? ref {marker}"
    text(stack, number, question)
    root = stack.wait_until(lambda: next((m for m in messages(stack) if not m["thread_ts"]
                                          and marker in json.dumps(m["blocks"])), None), message="the card")
    reply = stack.post_json("/_local/api/slack/reply", {"thread_ts": root["ts"], "user": "U0AMANDA",
                                                        "text": "It's on the hold shelf."})
    assert reply["status"] == 200
    stack.wait_until(lambda: any("hold shelf" in body for body in texts_to(stack, number)), message="the reply")
    assert marker in table_dump(stack) and digits.search(table_dump(stack))

    answer = text(stack, number, "Delete")

    assert "<Message>" not in answer["twiml"]
    stack.wait_until(lambda: CONFIRMATION in texts_to(stack, number), message="the confirmation")
    stack.wait_until(lambda: any(m["thread_ts"] == root["ts"] and "removed at the patron's request" in m["text"]
                                 for m in messages(stack)), message="the note in the thread, after the edits")
    card = next(m for m in messages(stack) if m["ts"] == root["ts"])
    assert REMOVED in json.dumps(card, ensure_ascii=False) and marker not in json.dumps(card)
    dump = table_dump(stack)
    assert marker not in dump and "hold shelf" not in dump
    assert not digits.search(dump)
    assert texts_to(stack, number).count(CONFIRMATION) == 1


def new_patron() -> tuple[str, re.Pattern, str]:
    """A number, its digits in any format, and a marker to put in its question."""
    number = "+1555" + str(uuid.uuid4().int)[:7]
    return number, re.compile(r"\D{0,3}".join(number[2:])), "k" + uuid.uuid4().hex[:7]


def cards_showing(stack, marker: str) -> list[dict]:
    return [m for m in messages(stack) if not m["thread_ts"] and marker in json.dumps(m["blocks"])]


def test_delete_then_twilio_replays_the_first_text_brings_nothing_back(stack):
    number, digits, marker = new_patron()
    question, sid = f"Is my interlibrary loan in? ref {marker}", "SM" + uuid.uuid4().hex
    assert stack.text_in(number, question, sid=sid).status_code == 200
    [root] = stack.wait_until(lambda: cards_showing(stack, marker), message="the card")
    assert stack.text_in(number, "DELETE").status_code == 200
    stack.wait_until(lambda: CONFIRMATION in texts_to(stack, number), message="the confirmation")

    assert stack.text_in(number, question, sid=sid).status_code == 200  # Twilio retries the first text
    later = "k" + uuid.uuid4().hex[:7]
    assert stack.text_in(number, f"A new question {later}").status_code == 200
    stack.wait_until(lambda: [m for m in messages(stack) if later in json.dumps(m["blocks"])],
                     message="the new question in Slack (queued after the replay)")

    assert cards_showing(stack, marker) == []  # the first card reads as removed, and no second one came
    assert REMOVED in json.dumps(next(m for m in messages(stack) if m["ts"] == root["ts"]), ensure_ascii=False)
    assert marker not in table_dump(stack)


@pytest.fixture(scope="module")
def outage_stack(start_devstack):
    return start_devstack()  # its own: the outage outlasts the retries, and the redrive takes every dead letter


def test_erasure_in_a_slack_outage_deletes_the_records_at_once_and_edits_the_thread_after(outage_stack):
    stack = outage_stack
    number, digits, marker = new_patron()
    text(stack, number, f"Can you renew my laptop loan? ref {marker}")
    [root] = stack.wait_until(lambda: cards_showing(stack, marker), message="the card")
    stack.post_json("/_local/api/faults", {"slack": {"method": "chat.update", "status": 503, "count": 10_000}})

    text(stack, number, "DELETE")

    stack.wait_until(lambda: CONFIRMATION in texts_to(stack, number), timeout=20, message="the confirmation")
    dump = table_dump(stack)
    assert marker not in dump and not digits.search(dump)
    stack.wait_until(lambda: stack.get_json("/_local/api/dlq")["count"] == 1, timeout=30,
                     message="the card's edit given up (not the erasure)")
    assert cards_showing(stack, marker) == [root]  # Slack never took the edit
    stack.post_json("/_local/api/faults", {"slack": {"method": "chat.update", "status": 503, "count": 0}})  # over
    assert redrive.main(["--local", stack.url("")]) == 0
    stack.wait_until(lambda: not cards_showing(stack, marker), timeout=20, message="the card edited after the redrive")
    assert texts_to(stack, number).count(CONFIRMATION) == 1
