"""A patron texts DELETE, end to end over the local stack (`python -m local.devstack`): the phone
simulator's signed webhook, the jobs queue and dispatcher, the Slack and Twilio stand-ins, and the
stack's own DynamoDB table scanned afterwards."""
from __future__ import annotations

import json
import re
import uuid

import boto3

CONFIRMATION = "Your conversations with the library have been deleted."
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
    card = next(m for m in messages(stack) if m["ts"] == root["ts"])
    assert REMOVED in json.dumps(card, ensure_ascii=False) and marker not in json.dumps(card)
    assert any(m["thread_ts"] == root["ts"] and "removed at the patron's request" in m["text"]
               for m in messages(stack))
    dump = table_dump(stack)
    assert marker not in dump and "hold shelf" not in dump
    assert not digits.search(dump)
    assert texts_to(stack, number).count(CONFIRMATION) == 1
