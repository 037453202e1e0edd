"""Delivery status over the shared local stack: the Twilio stand-in calls each text's
StatusCallback (signed as Twilio signs) through the gateway, and the reply's 📤 becomes ✅ when
delivered, or ❌ and a note in plain words when undelivered (30006: a landline) or failed; the
fault is chosen over HTTP (POST /_local/api/faults)."""
from __future__ import annotations

import json
import uuid

import pytest

LIBRARIAN = "U0AMANDA"


def new_patron() -> str:
    return "+1555" + str(uuid.uuid4().int)[:7]


def slack_messages(stack) -> list[dict]:
    return stack.get_json("/_local/api/slack/messages")["messages"]


def open_conversation(stack) -> dict:
    marker = "d" + uuid.uuid4().hex[:7]
    stack.post_json("/_local/api/phone/send", {"from": new_patron(), "body": f"Question {marker}"})
    return stack.wait_until(lambda: next((m for m in slack_messages(stack) if not m["thread_ts"]
                                          and marker in json.dumps(m["blocks"])), None), message="the card")


def reply(stack, root: dict, text: str) -> str:
    return stack.post_json("/_local/api/slack/reply", {"thread_ts": root["ts"], "user": LIBRARIAN, "text": text})["ts"]


def reactions_on(stack, ts: str) -> list[str]:
    return next(m["reactions"] for m in slack_messages(stack) if m["ts"] == ts)


def notes_in(stack, root: dict) -> list[str]:
    return [m["text"] for m in slack_messages(stack) if m["thread_ts"] == root["ts"] and "Not delivered" in m["text"]]


def test_a_delivered_text_is_a_check_mark(stack):
    root = open_conversation(stack)

    ts = reply(stack, root, "Yes, two copies at Main.")

    stack.wait_until(lambda: "white_check_mark" in reactions_on(stack, ts), message="✅ after Twilio's delivered")
    assert "x" not in reactions_on(stack, ts) and notes_in(stack, root) == []


@pytest.mark.parametrize("fault, words", [({"delivery": "undelivered", "code": 30006}, "landline (30006)"),
                                          ({"delivery": "failed"}, "Twilio reported it failed")])
def test_an_undelivered_or_failed_text_is_a_cross_and_a_note(stack, fault, words):
    root = open_conversation(stack)
    stack.post_json("/_local/api/faults", {"twilio": fault})

    ts = reply(stack, root, "Yes, two copies at Main.")

    stack.wait_until(lambda: notes_in(stack, root), message="the note")
    [note] = notes_in(stack, root)
    assert words in note
    stack.wait_until(lambda: "x" in reactions_on(stack, ts), message="❌")
    assert "white_check_mark" not in reactions_on(stack, ts)
