"""One conversation lifecycle end to end (issue 16, refdesk.lifecycle): the local stack over HTTP,
with block_actions signed as Slack signs them. Every view follows a transition: Block rebuilds the
card (it read "Waiting for a librarian: Claim it" before), and a Home tab someone opened shows a
patron who starts waiting without being opened again (it went stale before)."""
from __future__ import annotations

import json
import uuid

import pytest

from tests.e2e.test_claim_transfer_e2e import (SIGNING_SECRET, block_actions, card_for, conversation_id, current,
                                               state_of)


@pytest.fixture(scope="module")
def desk(start_devstack):
    return start_devstack(SLACK_SIGNING_SECRET=SIGNING_SECRET, SMS_ACK_TEXT="")


def action_ids(message: dict) -> list[str]:
    return [element.get("action_id") for block in message["blocks"] if block["type"] == "actions"
            for element in block["elements"]]


def test_block_rebuilds_the_card_for_every_librarian(desk):
    question = f"Can I borrow a projector? {uuid.uuid4().hex[:8]}"
    assert desk.text_in("+15557100201", question).status_code == 200
    card = card_for(desk, question)
    assert "claim_conversation" in action_ids(card)

    response = block_actions(desk, card, "U0AMANDA", {"action_id": "block_patron", "type": "button",
                                                      "value": conversation_id(card)})

    assert response.status_code == 200
    desk.wait_until(lambda: "Patron blocked by <@U0AMANDA>" in state_of(current(desk, card)),
                    message="the card rebuilt after the block")
    assert "claim_conversation" not in action_ids(current(desk, card))


def test_an_open_home_tab_shows_a_patron_who_starts_waiting(desk):
    desk.post_json("/_local/api/slack/home", {"user": "U0PRIYA"})  # opened once, off duty
    desk.wait_until(lambda: desk.get_json("/_local/api/slack/home", user="U0PRIYA")["view"], message="the Home tab")

    question = f"Is the makerspace open? {uuid.uuid4().hex[:8]}"
    assert desk.text_in("+15557100202", question).status_code == 200
    card = card_for(desk, question)

    desk.wait_until(lambda: conversation_id(card) in json.dumps(desk.get_json("/_local/api/slack/home",
                                                                              user="U0PRIYA")["view"]),
                    message="the waiting patron in the Home tab, without opening it again")
