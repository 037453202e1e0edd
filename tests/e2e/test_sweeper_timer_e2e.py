"""`make dev` runs the sweeper on a timer, as EventBridge runs it in AWS (template.yaml's
`Schedule` event, rate(1 minute); LOCAL_SCHEDULE_SECONDS shortens it here). With NudgeMinutes 0 a
waiting conversation is nudged at the next tick: the librarian on duty is mentioned in its thread.
Also the card's Block patron button, pressed through the local staff view's click API."""
from __future__ import annotations

import pytest

PATRON = "+15557654321"
LIBRARIAN = "U0AMANDA"


@pytest.fixture(scope="module")
def ticking(start_devstack):
    return start_devstack(LOCAL_SCHEDULE_SECONDS="0.3", NUDGE_MINUTES="0")


def thread_messages(stack, root_ts: str) -> list[dict]:
    return [message for message in stack.get_json("/_local/api/slack/messages")["messages"]
            if message.get("thread_ts") == root_ts and message.get("ts") != root_ts]


def card(stack, question: str) -> dict | None:
    return next((message for message in stack.get_json("/_local/api/slack/messages")["messages"]
                 if question in str(message.get("text", ""))
                 and (not message.get("thread_ts") or message.get("thread_ts") == message.get("ts"))), None)


def test_the_dev_stacks_timer_invokes_the_sweeper_which_nudges_the_librarian_on_duty(ticking):
    stack = ticking
    stack.post_json("/_local/api/slack/command", {"text": "on", "user": LIBRARIAN})
    stack.post_json("/_local/api/phone/send", {"from": PATRON, "body": "Where are the tax forms?"})

    root = stack.wait_until(lambda: card(stack, "Where are the tax forms?"), message="the conversation's card")

    def nudge():
        return next((message for message in thread_messages(stack, root["ts"])
                     if ":hourglass_flowing_sand:" in message.get("text", "")), None)

    found = stack.wait_until(nudge, timeout=20, message="a nudge from the timer-driven sweeper")
    assert f"<@{LIBRARIAN}>" in found["text"]
    output = stack.output()
    assert "[timer] SweeperFunction: rate(1 minute), run every 0.3 s here" in output
    assert "[timer] SweeperFunction ran" in output


def test_block_patron_on_the_card_answers_the_patron_once_and_keeps_them_from_staff(ticking):
    stack, patron = ticking, "+15557650000"
    stack.post_json("/_local/api/phone/send", {"from": patron, "body": "Why is the sky blue?"})
    root = stack.wait_until(lambda: card(stack, "Why is the sky blue?"), message="the conversation's card")
    answer = stack.post_json("/_local/api/slack/click", {"ts": root["ts"], "action_id": "block_patron",
                                                         "user": LIBRARIAN})
    assert answer["status"] == 200
    stack.wait_until(lambda: any(":no_entry_sign:" in message.get("text", "")
                                 for message in thread_messages(stack, root["ts"])), message="the block note")
    before = len(stack.get_json("/_local/api/slack/messages")["messages"])
    for body in ("hello?", "anyone?"):
        stack.post_json("/_local/api/phone/send", {"from": patron, "body": body})

    def texts():
        sent = stack.get_json("/_local/api/phone/messages", number=patron)["messages"]
        return [message["body"] for message in sent if "can't take your messages" in message["body"]]

    assert len(stack.wait_until(texts, message="the blocked patron's one answer")) == 1
    messages = stack.get_json("/_local/api/slack/messages")["messages"]
    assert not [message for message in messages[before:] if "anyone?" in str(message.get("text", ""))
                or "hello?" in str(message.get("text", ""))]
