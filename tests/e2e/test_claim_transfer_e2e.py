"""Claim and Transfer end to end: the local stack over HTTP, block_actions payloads signed here as
Slack signs them, and what the Slack and Twilio stand-ins received; the Home tab through the
control API."""
from __future__ import annotations

import json
import time
import urllib.parse
import uuid

import pytest
from slack_sdk.signature import SignatureVerifier

SIGNING_SECRET = "e2e-claim-signing-secret"
AUTH_TOKEN = "e2e-claim-auth-token"
TRANSFER_TEXT = "Connecting you with a colleague now."


@pytest.fixture(scope="module")
def desk(start_devstack):
    return start_devstack(SLACK_SIGNING_SECRET=SIGNING_SECRET, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
                          TRANSFER_TEXT=TRANSFER_TEXT, SMS_ACK_TEXT="")



def block_actions(stack, card: dict, user: str, action: dict):
    payload = {"type": "block_actions", "user": {"id": user, "username": user.lower(), "team_id": "T0LIBRARY"},
               "api_app_id": "A0REFDESK1", "team": {"id": "T0LIBRARY"},
               "container": {"type": "message", "message_ts": card["ts"], "channel_id": card["channel"]},
               "channel": {"id": card["channel"]}, "message": {"ts": card["ts"], "blocks": card["blocks"]},
               "trigger_id": "1.2.3", "actions": [{"block_id": "conversation", "action_ts": f"{time.time():.6f}",
                                                   **action}]}
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=timestamp, body=body)
    return stack.post("/slack/interactions", data=body.encode(), headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature})


def messages(stack) -> list[dict]:
    return stack.get_json("/_local/api/slack/messages")["messages"]


def card_for(stack, question: str) -> dict:
    return stack.wait_until(lambda: next((m for m in messages(stack) if not m.get("thread_ts")
                                          and question in json.dumps(m["blocks"])), None),
                            message=f"the card for {question!r}")


def current(stack, card: dict) -> dict:
    return next(m for m in messages(stack) if m["ts"] == card["ts"])


def state_of(message: dict) -> str:
    return next((block["elements"][0]["text"] for block in message["blocks"] if block.get("block_id") == "state"), "")


def conversation_id(card: dict) -> str:
    return next(element["value"] for block in card["blocks"] if block["type"] == "actions"
                for element in block["elements"] if element["action_id"] == "close_conversation")


def texts_to(stack, number: str) -> list[str]:
    return [m["body"] for m in stack.get_json("/_local/api/phone/messages", number=number)["messages"]]


def test_claim_then_transfer_over_http(desk):
    number, question = "+15557000101", f"Do you have atlases? {("k" + uuid.uuid4().hex[:7])}"
    assert desk.text_in(number, question).status_code == 200
    card = card_for(desk, question)
    assert "Waiting" in state_of(card)

    response = block_actions(desk, card, "U0AMANDA", {"action_id": "claim_conversation", "type": "button",
                                                      "value": conversation_id(card)})
    assert response.status_code == 200
    desk.wait_until(lambda: "Claimed by <@U0AMANDA>" in state_of(current(desk, card)), message="the claimed card")

    loser = block_actions(desk, card, "U0BEN", {"action_id": "claim_conversation", "type": "button",
                                                "value": conversation_id(card)})
    assert loser.status_code == 200
    told = desk.wait_until(lambda: [m for m in messages(desk) if m.get("ephemeral") and m.get("visible_to") == "U0BEN"],
                           message="the loser told privately")
    assert "<@U0AMANDA>" in told[0]["text"]

    response = block_actions(desk, card, "U0AMANDA", {"action_id": "transfer_conversation", "type": "users_select",
                                                      "selected_user": "U0BEN"})
    assert response.status_code == 200
    desk.wait_until(lambda: "Transferred to <@U0BEN> by <@U0AMANDA>" in state_of(current(desk, card)),
                    message="the transferred card")
    mention = desk.wait_until(lambda: [m for m in messages(desk) if m.get("thread_ts") == card["ts"]
                                       and not m.get("ephemeral") and "<@U0BEN>" in m["text"]],
                              message="the mention in the thread")
    assert mention
    assert desk.wait_until(lambda: texts_to(desk, number), message="the patron told") == [TRANSFER_TEXT]

    # Ben answers: relayed, no notice to anyone (he is the assignee now).
    desk.post_json("/_local/api/slack/reply", {"thread_ts": card["ts"], "user": "U0BEN", "text": "Yes, aisle 3."})
    desk.wait_until(lambda: len(texts_to(desk, number)) == 2, message="Ben's reply relayed")
    assert texts_to(desk, number)[1] == "Ben (library): Yes, aisle 3."


def test_transfer_and_home_tab_through_the_control_api(desk):
    number, question = "+15557000102", f"Where are the maps? {("k" + uuid.uuid4().hex[:7])}"
    assert desk.text_in(number, question).status_code == 200
    card = card_for(desk, question)

    desk.post_json("/_local/api/slack/home", {"user": "U0PRIYA"})
    view = desk.wait_until(lambda: desk.get_json("/_local/api/slack/home", user="U0PRIYA")["view"],
                           message="the Home tab")
    assert conversation_id(card) in json.dumps(view)
    assert number not in json.dumps(view)

    clicked = desk.post_json("/_local/api/slack/home/click", {"user": "U0PRIYA", "action_id": "claim_conversation",
                                                              "value": conversation_id(card)})
    assert clicked["status"] == 200
    desk.wait_until(lambda: "Claimed by <@U0PRIYA>" in state_of(current(desk, card)), message="claimed from Home")

    picked = desk.post_json("/_local/api/slack/click", {"ts": card["ts"], "action_id": "transfer_conversation",
                                                         "selected_user": "U0AMANDA", "user": "U0PRIYA"})
    assert picked["status"] == 200
    desk.wait_until(lambda: "Transferred to <@U0AMANDA> by <@U0PRIYA>" in state_of(current(desk, card)),
                    message="transferred through the control API")
