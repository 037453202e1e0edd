"""The desk's digest of who waits, end to end (issue 16 item 8: "45 arrivals at opening produced 48
nudges in one minute, each @-mentioning every librarian on duty"): patrons text in, the sweep's
wake-ups (NudgeMinutes 0, SWEEP_DELAY_SCALE 0.02: 1.2 s apart at the least) keep one message in
the staff channel, mentioning the librarian once, edited in place; when every patron is claimed
it says nobody waits."""
from __future__ import annotations

import re

import pytest

from tests.e2e.test_fault_horizon_e2e import settled

LIBRARIAN = "U0AMANDA"
PATRONS = [f"+1555765{n:04d}" for n in range(6)]


@pytest.fixture(scope="module")
def desk(start_devstack):
    return start_devstack(NUDGE_MINUTES="0", SWEEP_DELAY_SCALE="0.02")


def messages(stack) -> list[dict]:
    return stack.get_json("/_local/api/slack/messages")["messages"]


def sweeps(stack) -> int:
    """Wake-ups the local scheduler has fired at the sweeper and seen through (printed after the run)."""
    return len(re.findall(r"\[scheduler\] SweeperFunction: sweep-\d{14} (?:fired|raised)", stack.output()))


def digests(stack) -> list[dict]:
    return [message for message in messages(stack)
            if not message.get("thread_ts") and str(message.get("text", "")).startswith(":hourglass_flowing_sand:")]


def test_a_rush_of_patrons_is_one_digest_edited_in_place_that_says_when_nobody_waits(desk):
    stack = desk
    stack.post_json("/_local/api/slack/command", {"text": "on", "user": LIBRARIAN})
    for number in PATRONS:
        stack.post_json("/_local/api/phone/send", {"from": number, "body": f"Question from {number[-4:]}"})

    def cards() -> list[dict]:
        return [message for message in messages(stack) if str(message.get("text", "")).find("Question from") >= 0
                and not message.get("thread_ts")]

    stack.wait_until(lambda: len(cards()) == len(PATRONS), timeout=20, message="every card")
    [digest] = stack.wait_until(lambda: digests(stack), timeout=20, message="the desk's digest")
    # At least one more wake-up, begun after the one that posted the digest had run (that one may
    # not be counted yet), and its edit done: the same message, edited.
    seen = sweeps(stack)
    stack.wait_until(lambda: sweeps(stack) >= seen + 2 and settled(stack), timeout=20,
                     message="a later wake-up and its edit")
    [digest] = digests(stack)
    assert digest["text"].count(f"<@{LIBRARIAN}>") <= 1  # mentioned in the post, never in an edit
    assert f"{len(PATRONS)} patrons waiting" in digest["text"]
    assert not [message for message in messages(stack) if message.get("thread_ts") and message["thread_ts"] !=
                message.get("ts") and ":hourglass_flowing_sand:" in str(message.get("text", ""))]  # no thread nudged

    for card in cards():
        answer = stack.post_json("/_local/api/slack/click", {"ts": card["ts"], "action_id": "claim_conversation",
                                                             "user": LIBRARIAN})
        assert answer["status"] == 200

    def shown() -> str:
        return next(str(message.get("text", "")) for message in messages(stack) if message.get("ts") == digest["ts"])

    stack.wait_until(lambda: shown() == ":white_check_mark: Nobody is waiting now.", timeout=20,
                     message="the digest saying nobody waits")
    assert digests(stack) == []  # edited to say so: no other digest was posted
