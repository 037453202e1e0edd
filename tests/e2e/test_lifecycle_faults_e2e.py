"""Issue 16's cases end to end, each against the local stack over HTTP: texts posted to
/sms/inbound signed as Twilio signs them, block_actions signed as Slack signs them, librarians'
replies through the Slack stand-in (which signs its events), the widget's API as the widget calls
it, and faults injected into the Slack stand-in and the embedded moto (POST /_local/api/faults).

* A librarian's reply after a web chat (no contact left) was closed gets ✅ only where the patron
  can see it: the chat reopens and the widget, reloaded, reads it; once the chat has ended (its
  session's lifetime over) it gets ❌ and a note that the chat had ended, never ✅.
* One failed Slack call during Transfer or Block: the job's retry refreshes the card, and the
  librarian is never told "already has this conversation" / "already blocked".
* The first reply's claim, its card update failing or its DynamoDB answer lost: the card and the
  widget show the librarian, not "waiting" and a place in line.
* The SMS webhook's claim written but its answer lost: the question is queued and shown once,
  though Twilio never delivers the text again."""
from __future__ import annotations

import json
import time
import uuid

import boto3
import pytest

from refdesk.store import keys
from tests.e2e.test_claim_transfer_e2e import (SIGNING_SECRET, block_actions, card_for, conversation_id, current,
                                               messages, state_of)
from tests.e2e.test_fault_horizon_e2e import settled
from tests.e2e.test_live_e2e import ask, listed, open_session

LIBRARIAN, COLLEAGUE = "U0AMANDA", "U0BEN"
THROTTLED = {"method": "UpdateItem", "error": "ProvisionedThroughputExceededException"}


@pytest.fixture(scope="module")
def stack_of_its_own(start_devstack):
    # A stack of its own: faults match any caller, so nothing else may run while one is pending.
    # No nudge within the module's run: the sweep's digest would post and edit in the channel.
    return start_devstack(SLACK_SIGNING_SECRET=SIGNING_SECRET, SMS_ACK_TEXT="", NUDGE_MINUTES="600")


@pytest.fixture
def desk(stack_of_its_own):
    yield stack_of_its_own
    stack_of_its_own.post_json("/_local/api/faults", {"slack": [], "dynamodb": []})  # none outlives its test


def marker() -> str:
    return "k" + uuid.uuid4().hex[:7]


def new_patron() -> str:
    return "+1555" + str(uuid.uuid4().int)[:7]


def quiet(desk) -> None:
    """Every job done, so that an injected fault meets the call the test means and no other."""
    desk.wait_until(lambda: settled(desk), timeout=15, message="the jobs queue drained")


def sms_card(desk) -> dict:
    question = f"Do you have the county atlas? {marker()}"
    assert desk.text_in(new_patron(), question).status_code == 200
    card = card_for(desk, question)
    quiet(desk)
    return card


def web_chat(desk) -> tuple[dict, dict]:
    """A web chat with no contact left, its question on a card: (session, card)."""
    question = f"Is there a study room free? {marker()}"
    session = open_session(desk)
    ask(desk, session, question)
    card = card_for(desk, question)
    quiet(desk)
    return session, card


def reply(desk, card: dict, text: str) -> str:
    answer = desk.post_json("/_local/api/slack/reply", {"thread_ts": card["ts"], "user": LIBRARIAN, "text": text})
    assert answer["status"] == 200, answer
    return answer["ts"]


def reactions_on(desk, ts: str) -> list[str]:
    return next(m["reactions"] for m in messages(desk) if m["ts"] == ts)


def thread_of(desk, card: dict) -> list[dict]:
    return [m for m in messages(desk) if m["thread_ts"] == card["ts"]]


def told(desk, words: str) -> list[str]:
    """Whatever the desk said, in the channel or privately, with these words."""
    return [m["text"] for m in messages(desk) if words in m["text"]]


def action_ids(message: dict) -> list[str]:
    return [element.get("action_id") for block in message["blocks"] if block["type"] == "actions"
            for element in block["elements"]]


def injected(desk, method: str) -> int:
    """How many of the Slack stand-in's answers to `method` were an injected fault (its log says)."""
    return desk.output().count(f"{method}: injected")


# --- 1. A reply after Close in web chat: ✅ only where a reload shows it --------------------------

def closed_web_chat(desk) -> tuple[dict, dict]:
    """A web chat with no contact left, closed by the librarian and seen closed by the widget."""
    session, card = web_chat(desk)
    closed = block_actions(desk, card, LIBRARIAN, {"action_id": "close_conversation", "type": "button",
                                                   "value": conversation_id(card)})
    assert closed.status_code == 200
    desk.wait_until(lambda: listed(desk, session)["status"] == "closed", message="the widget told the chat ended")
    quiet(desk)
    return session, card


def outcome_of(desk, ts: str) -> list[str]:
    return desk.wait_until(lambda: reactions_on(desk, ts), message="✅ or ❌ on the reply")


def reload(desk, session: dict):
    """What the widget reads when its page loads: GET …/messages with the session's token."""
    return desk.get(f"/chat/sessions/{session['session_id']}/messages",
                    headers={"Origin": desk.base_url, "Authorization": f"Bearer {session['token']}"})


def end_session_lifetime(desk, session: dict) -> None:
    """The web chat's session past its lifetime (24 h after it opened), as if the day had gone by."""
    table = boto3.resource("dynamodb", endpoint_url=desk.config["aws_endpoint_url"], region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing").Table(
        desk.config["table_name"])
    table.update_item(Key=keys.session(session["session_id"]), UpdateExpression="SET expires_at = :past",
                      ExpressionAttributeValues={":past": int(time.time()) - 1})


def test_a_reply_after_a_web_chat_was_closed_is_ticked_and_a_reload_shows_it_in_an_open_chat(desk):
    session, card = closed_web_chat(desk)

    answer = f"Oh, and room 4 frees up at noon ({marker()})"
    late = reply(desk, card, answer)

    assert outcome_of(desk, late) == ["white_check_mark"]
    read = reload(desk, session)
    assert read.status_code == 200, read.text
    # Open again, so the widget reading it on load goes on with the chat; and the reply is there.
    assert read.json()["status"] == "open"
    assert answer in [m["text"] for m in read.json()["messages"] if m["from"] == "librarian"]
    assert [m for m in thread_of(desk, card) if "Not delivered" in m["text"]] == []


def test_a_reply_after_a_web_chat_ended_gets_a_cross_and_a_note_never_a_tick(desk):
    session, card = closed_web_chat(desk)
    end_session_lifetime(desk, session)  # no contact left, and no window that could still read it

    late = reply(desk, card, "Oh, and room 4 frees up at noon.")

    desk.wait_until(lambda: "x" in reactions_on(desk, late), message="❌ on the late reply")
    [note] = desk.wait_until(lambda: [m for m in thread_of(desk, card) if "Not delivered" in m["text"]],
                             message="the note in the thread")
    assert "the chat had ended" in note["text"]
    time.sleep(1)  # long enough for a ✅ to follow
    assert "white_check_mark" not in reactions_on(desk, late)
    assert reload(desk, session).status_code == 404  # a reload finds no chat: nothing shows the reply as sent


# --- 2. One failed Slack call during Transfer or Block --------------------------------------------

@pytest.mark.parametrize("failing", ["chat.postMessage", "chat.update"])  # the thread's line; the card
def test_a_transfer_whose_slack_call_failed_once_refreshes_the_card_on_its_retry(desk, failing):
    card = sms_card(desk)
    before = injected(desk, failing)
    desk.post_json("/_local/api/faults", {"slack": {"method": failing, "status": 500}})

    pressed = block_actions(desk, card, LIBRARIAN, {"action_id": "transfer_conversation", "type": "users_select",
                                                    "selected_user": COLLEAGUE})

    assert pressed.status_code == 200
    desk.wait_until(lambda: f"Transferred to <@{COLLEAGUE}> by <@{LIBRARIAN}>" in state_of(current(desk, card)),
                    message="the card refreshed by the transfer's retry")
    quiet(desk)
    assert injected(desk, failing) == before + 1  # the fault did happen
    assert told(desk, "already has this conversation") == []
    assert len([m for m in thread_of(desk, card) if ":arrows_counterclockwise:" in m["text"]]) == 1


@pytest.mark.parametrize("failing", ["chat.postMessage", "chat.update"])  # the thread's line; the card
def test_a_block_whose_slack_call_failed_once_refreshes_the_card_on_its_retry(desk, failing):
    card = sms_card(desk)
    before = injected(desk, failing)
    desk.post_json("/_local/api/faults", {"slack": {"method": failing, "status": 500}})

    pressed = block_actions(desk, card, LIBRARIAN, {"action_id": "block_patron", "type": "button",
                                                    "value": conversation_id(card)})

    assert pressed.status_code == 200
    desk.wait_until(lambda: f"Patron blocked by <@{LIBRARIAN}>" in state_of(current(desk, card)),
                    message="the card refreshed by the block's retry")
    quiet(desk)
    assert injected(desk, failing) == before + 1  # the fault did happen
    assert "claim_conversation" not in action_ids(current(desk, card))
    assert told(desk, "already blocked") == []
    assert len([m for m in thread_of(desk, card) if ":no_entry_sign:" in m["text"]]) == 1


# --- 3. The first reply's claim: its card update failed, or its answer was lost -------------------

FIRST_REPLY_FAULTS = {
    # The claim was written; the card's refresh failed once.
    "card-update-failed": {"slack": {"method": "chat.update", "status": 500}},
    # The claim was written, its answer lost; boto3's own retry writes again and gets the claimed item.
    "claim-answer-lost": {"dynamodb": {**THROTTLED, "commit": True}},
    # The claim was written, every answer lost (boto3's 3 attempts): the job's retry finds it claimed.
    "claim-answer-lost-past-boto3-retries": {"dynamodb": [{**THROTTLED, "commit": True}, {**THROTTLED, "count": 2}]},
}


@pytest.mark.parametrize("fault", FIRST_REPLY_FAULTS.values(), ids=FIRST_REPLY_FAULTS.keys())
def test_a_first_reply_whose_claim_was_interrupted_shows_the_librarian_on_the_card_and_in_the_widget(desk, fault):
    session, card = web_chat(desk)
    assert listed(desk, session)["queue"]["state"] == "waiting"
    card_updates_refused = injected(desk, "chat.update")
    desk.post_json("/_local/api/faults", fault)

    answer = f"Yes: room 2 until 5 pm ({marker()})"
    sent = reply(desk, card, answer)

    desk.wait_until(lambda: "white_check_mark" in reactions_on(desk, sent), message="✅ on the reply")
    quiet(desk)
    assert injected(desk, "chat.update") == card_updates_refused + ("slack" in fault)  # the Slack fault did happen
    assert f"Claimed by <@{LIBRARIAN}>" in state_of(current(desk, card))
    assert "claim_conversation" not in action_ids(current(desk, card))
    widget = listed(desk, session)  # the widget's poll, as a reload reads it
    assert widget["queue"] == {"state": "claimed", "by": "Amanda"}  # "Amanda joined", no place in line
    assert [m["text"] for m in widget["messages"] if m["from"] == "librarian"] == [answer]


# --- 4. The SMS webhook's claim written, its answer lost ------------------------------------------

def test_an_sms_whose_claim_answer_was_lost_is_shown_once_without_twilio_sending_it_again(desk):
    question = f"Can I renew by text? {marker()}"
    quiet(desk)
    # The claim is the webhook's first UpdateItem: it is written and its answer lost, and boto3's
    # two retries are throttled; nothing else runs meanwhile.
    desk.post_json("/_local/api/faults", {"dynamodb": [{**THROTTLED, "commit": True}, {**THROTTLED, "count": 2}]})

    answered = desk.text_in(new_patron(), question)  # sent once: Twilio does not retry on its own

    assert answered.status_code == 200, answered.text
    card_for(desk, question)
    quiet(desk)
    time.sleep(1)  # long enough for a double to show
    assert len([m for m in messages(desk) if question in json.dumps(m["blocks"])]) == 1
    assert desk.get_json("/_local/api/dlq")["count"] == 0
