"""Issue 17, items 2 and 6, over the shared local stack: a patron's "Yes" (no OptOutType) is a
question that reaches staff, and the first automated text of the conversation (the webhook's
acknowledgement) says, once, how to erase it; a later "Info" joins the thread, unacknowledged."""
from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET

HINT = "Text DELETE to erase this conversation."


def twiml_message(response) -> str | None:
    assert response.status_code == 200, response.text
    message = ET.fromstring(response.text).find("Message")
    return None if message is None else message.text


def staff_messages(stack) -> list[dict]:
    return stack.get_json("/_local/api/slack/messages")["messages"]


def test_a_yes_reaches_staff_and_the_first_answer_says_how_to_erase_the_conversation(stack):
    number = "+1555" + str(uuid.uuid4().int)[:7]
    label = f"SMS \u00b7\u00b7\u00b7{number[-4:]}"

    first = twiml_message(stack.text_in(number, "Yes"))
    second = twiml_message(stack.text_in(number, "Info"))

    assert first.endswith(f" {HINT}") and first.count("DELETE") == 1
    assert second is None  # the conversation is open: nothing more is automated
    card = stack.wait_until(lambda: next((m for m in staff_messages(stack) if not m["thread_ts"]
                                          and label in json.dumps(m["blocks"], ensure_ascii=False)
                                          and "Yes" in json.dumps(m["blocks"])), None), message="the card")
    stack.wait_until(lambda: any(m["thread_ts"] == card["ts"] and "Info" in json.dumps(m.get("blocks") or m["text"])
                                 for m in staff_messages(stack)), message="the second text in the thread")
