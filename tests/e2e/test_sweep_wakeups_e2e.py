"""`make dev` runs the sweeper as EventBridge Scheduler does in AWS: only on its wake-ups, one-time
schedules that the dispatcher arms when a conversation starts waiting and each sweep re-arms
while anything waits (refdesk.waiting; local.timer.ScheduleRunner fires each when its at(...)
time comes and deletes it). With NudgeMinutes 0 and a quick pace (SWEEP_DELAY_SCALE 0.02: 1.2 s
between wake-ups at the least, at most 2.2 s as they are whole seconds) a waiting conversation is
nudged within seconds; once nothing waits, no sweep runs. Also the card's Block patron button,
pressed through the local staff view's click API."""
from __future__ import annotations

import re
import time

import pytest

PATRON = "+15557654321"
LIBRARIAN = "U0AMANDA"
SWEEP_DELAY_SCALE = 0.02  # wake-ups 60 s * 0.02 = 1.2 s apart at the least, rounded up to whole seconds
LONGEST_GAP = 60 * SWEEP_DELAY_SCALE + 1 + 0.2  # between wake-ups of a chain, at most: + rounding + a poll


@pytest.fixture(scope="module")
def desk(start_devstack):
    return start_devstack(NUDGE_MINUTES="0", SWEEP_DELAY_SCALE=str(SWEEP_DELAY_SCALE))


def thread_messages(stack, root_ts: str) -> list[dict]:
    return [message for message in stack.get_json("/_local/api/slack/messages")["messages"]
            if message.get("thread_ts") == root_ts and message.get("ts") != root_ts]


def card(stack, question: str) -> dict | None:
    return next((message for message in stack.get_json("/_local/api/slack/messages")["messages"]
                 if question in str(message.get("text", ""))
                 and (not message.get("thread_ts") or message.get("thread_ts") == message.get("ts"))), None)


def sweeps(stack) -> int:
    """Wake-ups the local scheduler has fired at the sweeper so far."""
    return len(re.findall(r"\[scheduler\] SweeperFunction: sweep-\d{14} (?:fired|raised)", stack.output()))


def test_a_waiting_conversation_arms_the_sweep_whose_wake_up_nudges_and_a_claim_stops_the_chain(desk):
    stack = desk
    assert sweeps(stack) == 0  # nobody waits: nothing runs
    stack.post_json("/_local/api/slack/command", {"text": "on", "user": LIBRARIAN})
    stack.post_json("/_local/api/phone/send", {"from": PATRON, "body": "Where are the tax forms?"})
    root = stack.wait_until(lambda: card(stack, "Where are the tax forms?"), message="the conversation's card")

    def nudge():  # the desk's digest of who waits (refdesk.waiting), in the staff channel
        return next((message for message in stack.get_json("/_local/api/slack/messages")["messages"]
                     if not message.get("thread_ts") and ":hourglass_flowing_sand:" in message.get("text", "")), None)

    found = stack.wait_until(nudge, timeout=20, message="a digest from the sweep the dispatcher armed")
    assert f"<@{LIBRARIAN}>" in found["text"]
    stack.wait_until(lambda: sweeps(stack) >= 1, message="the scheduler's line for the wake-up")  # printed after the run

    answer = stack.post_json("/_local/api/slack/click", {"ts": root["ts"], "action_id": "claim_conversation",
                                                         "user": LIBRARIAN})
    assert answer["status"] == 200
    stack.wait_until(lambda: f"Claimed by <@{LIBRARIAN}>" in str(card(stack, "Where are the tax forms?")),
                     message="the card showing the claim")
    # A wake-up armed before the claim finds nothing waiting (its line is printed after the run) …
    stack.wait_until(lambda: re.search(r"\[scheduler\] SweeperFunction: sweep-\d{14} fired: open True, waiting 0,",
                                       stack.output()), timeout=10, message="a wake-up finding nobody waiting")
    settled = sweeps(stack)
    time.sleep(LONGEST_GAP + 1)  # … and arms none: no wake-up comes in longer than a chain's longest gap
    assert sweeps(stack) == settled, "a sweep ran with nothing waiting"


def test_block_patron_on_the_card_answers_the_patron_once_and_keeps_them_from_staff(desk):
    stack, patron = desk, "+15557650000"
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
