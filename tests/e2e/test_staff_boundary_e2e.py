"""The staff boundary end to end over the local stack: a member of the partner organisation
(T0PARTNER) in the staff channel, as when it is itself shared through Slack Connect, presses the
card's buttons, types /refdesk and replies in the thread through the control API, which signs
and sends each payload as Slack would for that person. Each is refused in one ephemeral line;
the card, the patron and the desk's presence are untouched."""
from __future__ import annotations

import json
import uuid

import pytest

OUTSIDER = "U0PARTNER2"
REFUSAL = "Only the library's staff can do that."


@pytest.fixture(scope="module")
def desk(stack):
    return stack


def messages(stack) -> list[dict]:
    return stack.get_json("/_local/api/slack/messages")["messages"]


def refusals(stack, user: str) -> list[dict]:
    return [m for m in messages(stack) if m.get("ephemeral") and m.get("visible_to") == user and m["text"] == REFUSAL]


def card_with(stack, marker: str) -> dict:
    staff = stack.config["slack_staff_channel"]
    return stack.wait_until(lambda: next((m for m in messages(stack) if m["channel"] == staff and not m["thread_ts"]
                                          and marker in json.dumps(m["blocks"], ensure_ascii=False)), None),
                            timeout=15, message=f"the card for {marker}")


def test_an_outsiders_presses_command_and_reply_are_refused_and_change_nothing(desk):
    marker = "q" + uuid.uuid4().hex[:7]
    number = "+1555" + str(uuid.uuid4().int)[:7]
    assert desk.text_in(number, f"Are you open late tonight? ({marker})").status_code == 200
    card = card_with(desk, marker)

    for action_id in ("claim_conversation", "block_patron", "close_conversation"):
        assert desk.post_json("/_local/api/slack/click", {"ts": card["ts"], "action_id": action_id,
                                                          "user": OUTSIDER})["status"] == 200
    desk.wait_until(lambda: len(refusals(desk, OUTSIDER)) >= 3, message="three refusals")

    command = desk.post_json("/_local/api/slack/command", {"user": OUTSIDER, "text": "on"})
    assert command["body"] == {"response_type": "ephemeral", "text": REFUSAL}
    assert desk.get("/presence").json()["status"] == "unavailable"

    reply = desk.post_json("/_local/api/slack/reply", {"thread_ts": card["ts"], "user": OUTSIDER,
                                                       "text": f"We're open till 9 ({marker}-outsider)"})
    desk.wait_until(lambda: len(refusals(desk, OUTSIDER)) >= 4, message="the reply's refusal")
    mine = next(m for m in messages(desk) if m["ts"] == reply["ts"])
    assert "lock" in mine["reactions"]

    now = next(m for m in messages(desk) if m["ts"] == card["ts"])
    assert now["blocks"] == card["blocks"]  # still waiting, unclaimed, not blocked, not closed
    texts = desk.get_json("/_local/api/phone/messages", number=number)["messages"]
    assert not any(f"{marker}-outsider" in text["body"] for text in texts)
