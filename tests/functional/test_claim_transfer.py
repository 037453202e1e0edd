"""One waiting queue, Claim and Transfer, in process: signed webhooks (Twilio, the widget, Slack
events and block_actions) through the real handlers, moto, the dispatcher driven by pump, and
the Slack and Twilio stand-ins whose calls are asserted."""
from __future__ import annotations

import json
import time
import urllib.parse

import pytest

from tests.conftest import close_value, fixture, invoke, pump, slack_event
from tests.functional.test_relay import calls_named, staff_reply, text_in
from tests.functional.test_webchat import create_session, poll, send

THIRD = "A librarian will be with you shortly — you are number 3 in line."
SECOND = THIRD.replace("3", "2")
TRANSFER_LINE = "You're being connected to a colleague who can help with this. One moment, please."
PATRONS = ["+15551230001", "+15551230002", "+15551230003"]


# --- helpers ---------------------------------------------------------------------------

def interaction(action: dict, *, user="U0AMANDA", root_ts: str = "1700000001.000000", payload_changes=None) -> dict:
    payload = fixture("slack_block_actions_close.json")
    payload["user"]["id"] = user
    payload["container"]["message_ts"] = payload["message"]["ts"] = root_ts
    payload["actions"] = [{"block_id": "conversation", "action_ts": f"{time.time():.6f}", **action}]
    for name, value in (payload_changes or {}).items():
        payload[name] = value
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    return invoke("slack_interactions", slack_event("/slack/interactions", body, "application/x-www-form-urlencoded"))


def press_claim(card: dict, user: str = "U0AMANDA", **kwargs) -> dict:
    response = interaction({"action_id": "claim_conversation", "type": "button", "value": close_value(card)},
                           user=user, root_ts=card["answered_ts"], **kwargs)
    assert response["statusCode"] == 200, response
    return response


def pick_transfer(card: dict, to_user: str, user: str = "U0AMANDA") -> dict:
    response = interaction({"action_id": "transfer_conversation", "type": "users_select", "selected_user": to_user},
                           user=user, root_ts=card["answered_ts"])
    assert response["statusCode"] == 200, response
    return response


def open_home(user: str = "U0AMANDA") -> None:
    payload = {"type": "event_callback", "team_id": "T0LIBRARY", "api_app_id": "A0REFDESK1",
               "event_id": f"Ev{time.time_ns()}", "event_time": int(time.time()),
               "event": {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home",
                         "event_ts": f"{time.time():.6f}"}}
    response = invoke("slack_events", slack_event("/slack/events", json.dumps(payload)))
    assert response["statusCode"] == 200, response


def sms_card(aws, slack, number: str = PATRONS[0], body: str = "Do you have the new Ishiguro?") -> dict:
    assert text_in(body, From=number)["statusCode"] == 200
    pump(aws)
    return slack.roots()[-1]


def texts_to(twilio, number: str) -> list[str]:
    return [message["body"] for message in twilio.sent if message["to"] == number]


def card_state(slack, card: dict) -> str:
    """The state line of the card as last posted or updated."""
    blocks = card["blocks"]
    for update in calls_named(slack, "chat.update"):
        if update["ts"] == card["answered_ts"]:
            blocks = update["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    [state] = [block for block in blocks if block.get("block_id") == "state"]
    return state["elements"][0]["text"]


def card_action_ids(slack, card: dict) -> list[str]:
    blocks = [update["blocks"] for update in calls_named(slack, "chat.update") if update["ts"] == card["answered_ts"]]
    blocks = blocks[-1] if blocks else card["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    return [element["action_id"] for block in blocks if block["type"] == "actions" for element in block["elements"]]


def ephemerals(slack, user: str) -> list[str]:
    return [call["text"] for call in calls_named(slack, "chat.postEphemeral") if call["user"] == user]


def conversation(card: dict):
    from refdesk import store

    return store.conversations.get(close_value(card))


# --- the queue and the patron's place ---------------------------------------------------

def test_the_third_patron_in_line_is_told_3_by_sms_and_the_first_is_told_nothing(aws, slack, twilio):
    for number in PATRONS:
        sms_card(aws, slack, number)

    assert not any("in line" in text for text in texts_to(twilio, PATRONS[0]))
    assert texts_to(twilio, PATRONS[1]) == [SECOND]
    assert texts_to(twilio, PATRONS[2]) == [THIRD]


def test_the_place_is_told_once_per_wait(aws, slack, twilio):
    for number in PATRONS:
        sms_card(aws, slack, number)
    text_in("Also, is it in large print?", From=PATRONS[2])
    pump(aws)

    assert texts_to(twilio, PATRONS[2]) == [THIRD]


def test_the_third_web_patron_is_told_3_and_the_widget_shows_the_place_then_who_joined(aws, slack):
    sessions = []
    for _ in range(3):
        session = create_session()
        assert send(session)["statusCode"] in (200, 201, 202)
        pump(aws)
        sessions.append(session)

    answer = poll(sessions[2])
    assert answer["queue"] == {"state": "waiting", "position": 3}
    assert [message["text"] for message in answer["messages"] if message["from"] == "system"] == [THIRD]
    assert poll(sessions[0])["queue"] == {"state": "waiting", "position": 1}
    assert not [message for message in poll(sessions[0])["messages"] if message["from"] == "system"]

    press_claim(slack.roots()[0])
    pump(aws)

    assert poll(sessions[0])["queue"] == {"state": "claimed", "by": "Amanda"}
    assert poll(sessions[2])["queue"] == {"state": "waiting", "position": 2}


def test_the_queue_spans_channels_in_arrival_order(aws, slack, twilio):
    sms_card(aws, slack, PATRONS[0])
    session = create_session()
    send(session)
    pump(aws)
    sms_card(aws, slack, PATRONS[1])

    assert poll(session)["queue"] == {"state": "waiting", "position": 2}
    assert texts_to(twilio, PATRONS[1]) == [THIRD]


def test_the_poll_makes_at_most_one_more_read_while_waiting_and_none_once_claimed(aws, slack, monkeypatch):
    from refdesk import store

    session = create_session()
    send(session)
    pump(aws)
    counted = []
    original = store.queue.position
    monkeypatch.setattr(store.queue, "position", lambda key: counted.append(key) or original(key))

    poll(session)
    assert len(counted) == 1
    press_claim(slack.roots()[-1])
    pump(aws)
    poll(session)
    assert len(counted) == 1


def test_the_home_tab_lists_the_waiting_oldest_first_with_claim_buttons(aws, slack):
    cards = [sms_card(aws, slack, number) for number in PATRONS]
    press_claim(cards[1])
    pump(aws)
    slack.forget_calls()

    open_home("U0BEN")
    pump(aws)

    [published] = calls_named(slack, "views.publish")
    assert published["user_id"] == "U0BEN"
    view = json.loads(published["view"]) if isinstance(published["view"], str) else published["view"]
    assert view["type"] == "home"
    rows = [block for block in view["blocks"] if block.get("accessory", {}).get("action_id") == "claim_conversation"]
    assert [row["accessory"]["value"] for row in rows] == [close_value(cards[0]), close_value(cards[2])]
    assert "SMS ···0001" in rows[0]["text"]["text"] and "waiting" in rows[0]["text"]["text"]
    assert "+1555" not in json.dumps(view)


def test_claiming_in_the_home_tab_claims_and_republishes(aws, slack):
    card = sms_card(aws, slack)
    payload = fixture("slack_block_actions_close.json")
    home_container = {"type": "view", "view_id": "V0HOME"}
    slack.forget_calls()

    response = interaction({"action_id": "claim_conversation", "type": "button", "value": close_value(card)},
                           user="U0BEN", payload_changes={"container": home_container, "channel": None,
                                                          "message": None, "view": {"id": "V0HOME"}})
    assert response["statusCode"] == 200
    pump(aws)

    assert conversation(card).claimed_by == "U0BEN"
    assert "Claimed by <@U0BEN>" in card_state(slack, card)
    assert any(call["user_id"] == "U0BEN" for call in calls_named(slack, "views.publish"))
    assert payload  # the recorded payload is the shape changed above


# --- claim -------------------------------------------------------------------------------

def test_claim_assigns_updates_the_card_in_place_and_a_second_claim_is_told_who_has_it(aws, slack, twilio):
    card = sms_card(aws, slack)
    assert "Waiting" in card_state(slack, card)
    assert "claim_conversation" in card_action_ids(slack, card)

    press_claim(card, "U0AMANDA")
    press_claim(card, "U0BEN")
    pump(aws)

    assert conversation(card).claimed_by == "U0AMANDA"
    assert "Claimed by <@U0AMANDA>" in card_state(slack, card)
    assert "claim_conversation" not in card_action_ids(slack, card)
    assert "transfer_conversation" in card_action_ids(slack, card)
    assert len([call for call in calls_named(slack, "chat.update") if call["ts"] == card["answered_ts"]]) == 1
    assert ephemerals(slack, "U0BEN") == ["<@U0AMANDA> already has this conversation."]
    assert not ephemerals(slack, "U0AMANDA")
    assert not any("in line" in text for text in texts_to(twilio, PATRONS[0]))


def test_a_retried_or_double_clicked_claim_is_harmless(aws, slack):
    card = sms_card(aws, slack)
    press_claim(card)
    press_claim(card)
    pump(aws)

    assert conversation(card).claimed_by == "U0AMANDA"
    assert not calls_named(slack, "chat.postEphemeral")


def test_the_first_staff_reply_claims_and_records_first_reply_at(aws, slack, twilio):
    card = sms_card(aws, slack)
    staff_reply(card["answered_ts"], "Yes, two copies at Main.", ts=f"{time.time():.6f}")
    pump(aws)

    claimed = conversation(card)
    assert claimed.claimed_by == "U0AMANDA" and claimed.first_reply_at
    assert "Claimed by <@U0AMANDA>" in card_state(slack, card)
    assert texts_to(twilio, PATRONS[0]) == ["Amanda (library): Yes, two copies at Main."]


def test_a_note_does_not_claim(aws, slack):
    card = sms_card(aws, slack)
    staff_reply(card["answered_ts"], "note: checking the catalogue", ts=f"{time.time():.6f}")
    pump(aws)

    assert conversation(card).claimed_by == ""


def test_a_reply_from_someone_else_is_relayed_and_the_assignee_is_told(aws, slack, twilio):
    card = sms_card(aws, slack)
    press_claim(card, "U0AMANDA")
    pump(aws)

    staff_reply(card["answered_ts"], "It's on the new books shelf.", ts=f"{time.time():.6f}", user="U0BEN")
    pump(aws)

    assert texts_to(twilio, PATRONS[0]) == ["Ben (library): It's on the new books shelf."]
    [notice] = ephemerals(slack, "U0AMANDA")
    assert "<@U0BEN>" in notice
    assert conversation(card).claimed_by == "U0AMANDA"


# --- transfer ----------------------------------------------------------------------------

def test_transfer_reassigns_mentions_the_colleague_tells_the_patron_and_updates_the_card(aws, slack, twilio):
    card = sms_card(aws, slack)
    press_claim(card, "U0AMANDA")
    pump(aws)

    pick_transfer(card, "U0BEN")
    pump(aws)

    assert conversation(card).claimed_by == "U0BEN"
    mentions = [post for post in slack.posts() if post.get("thread_ts") == card["answered_ts"]]
    assert any("<@U0BEN>" in post["text"] for post in mentions)
    assert texts_to(twilio, PATRONS[0]) == [TRANSFER_LINE]
    assert "Transferred to <@U0BEN> by <@U0AMANDA>" in card_state(slack, card)
    assert {call["user_id"] for call in calls_named(slack, "views.publish")} >= {"U0AMANDA", "U0BEN"}


def test_transfer_on_the_web_shows_who_joined(aws, slack):
    session = create_session()
    send(session)
    pump(aws)
    pick_transfer(slack.roots()[-1], "U0BEN")
    pump(aws)

    answer = poll(session)
    assert answer["queue"] == {"state": "claimed", "by": "Ben"}
    assert TRANSFER_LINE in [message["text"] for message in answer["messages"]]


def test_a_second_identical_transfer_tells_the_librarian_and_changes_nothing(aws, slack, twilio):
    card = sms_card(aws, slack)
    pick_transfer(card, "U0BEN")
    pick_transfer(card, "U0BEN")
    pump(aws)

    assert texts_to(twilio, PATRONS[0]) == [TRANSFER_LINE]
    assert ephemerals(slack, "U0AMANDA") == ["<@U0BEN> already has this conversation."]


def test_transfer_to_someone_outside_the_library_is_refused(aws, slack, twilio):
    card = sms_card(aws, slack)
    pick_transfer(card, "U0PARTNER1")
    pump(aws)

    assert conversation(card).claimed_by == ""
    assert texts_to(twilio, PATRONS[0]) == []
    assert ephemerals(slack, "U0AMANDA")


def test_closing_leaves_the_queue_and_the_card_shows_closed(aws, slack, twilio):
    from refdesk import store

    card = sms_card(aws, slack)
    response = interaction({"action_id": "close_conversation", "type": "button", "value": close_value(card)},
                           root_ts=card["answered_ts"])
    assert response["statusCode"] == 200
    pump(aws)

    assert store.queue.waiting() == []
    [update] = [call for call in calls_named(slack, "chat.update") if call["ts"] == card["answered_ts"]]
    blocks = json.loads(update["blocks"]) if isinstance(update["blocks"], str) else update["blocks"]
    assert not [block for block in blocks if block.get("block_id") == "state"]


# --- malformed, correctly signed ---------------------------------------------------------

@pytest.mark.parametrize("change", ["actions-not-a-list", "user-not-an-object", "user-without-id",
                                    "missing-selected-user", "selected-user-not-a-string", "claim-without-value"])
def test_malformed_but_signed_payloads_get_400(aws, change):
    action = {"action_id": "transfer_conversation", "type": "users_select", "selected_user": "U0BEN"}
    changes = {}
    if change == "actions-not-a-list":
        changes = {"actions": {"action_id": "claim_conversation"}}
    elif change == "user-not-an-object":
        changes = {"user": "U0AMANDA"}
    elif change == "user-without-id":
        changes = {"user": {"name": "amanda"}}
    elif change == "missing-selected-user":
        del action["selected_user"]
    elif change == "selected-user-not-a-string":
        action["selected_user"] = ["U0BEN"]
    else:
        action = {"action_id": "claim_conversation", "type": "button"}

    response = interaction(action, payload_changes=changes)

    assert response["statusCode"] == 400, response


# --- one lifecycle: a retry after a failed Slack call brings every view up to date ------------

def test_a_transfer_whose_thread_line_failed_once_finishes_on_its_retry(aws, slack, twilio):
    card = sms_card(aws, slack)
    slack.fail("chat.postMessage", status=503, commit=True)  # the line was posted; its answer was lost

    pick_transfer(card, "U0BEN")
    pump(aws)

    assert ephemerals(slack, "U0AMANDA") == []  # not "already has this conversation"
    assert "Transferred to <@U0BEN> by <@U0AMANDA>" in card_state(slack, card)
    shown = [message for message in slack.stand_in.messages() if message.get("thread_ts") == card["answered_ts"]]
    assert len([message for message in shown if ":arrows_counterclockwise:" in message["text"]]) == 1
    assert texts_to(twilio, PATRONS[0]) == [TRANSFER_LINE]


def test_a_first_reply_whose_card_update_failed_once_claims_and_updates_the_card_on_its_retry(aws, slack, twilio):
    session = create_session()
    send(session)
    pump(aws)
    card = slack.roots()[-1]
    slack.fail("chat.update", status=503)  # the claim was written; the card's refresh failed

    staff_reply(card["answered_ts"], "Yes, it is on the shelf.")
    pump(aws)

    assert "Claimed by <@U0AMANDA>" in card_state(slack, card)
    assert poll(session)["queue"] == {"state": "claimed", "by": "Amanda"}
    assert {call["user_id"] for call in calls_named(slack, "views.publish")} >= {"U0AMANDA"}


def test_a_home_tab_opened_off_duty_is_republished_when_the_desk_changes(aws, slack, twilio):
    card = sms_card(aws, slack)
    open_home("U0BEN")  # not on duty: only looking
    pump(aws)
    slack.forget_calls()

    press_claim(card, "U0AMANDA")
    pump(aws)

    assert "U0BEN" in {call["user_id"] for call in calls_named(slack, "views.publish")}


def test_an_open_home_tab_shows_a_patron_who_starts_waiting(aws, slack, twilio):
    open_home("U0BEN")
    pump(aws)
    slack.forget_calls()

    card = sms_card(aws, slack)

    [published] = [call for call in calls_named(slack, "views.publish") if call["user_id"] == "U0BEN"]
    view = json.loads(published["view"]) if isinstance(published["view"], str) else published["view"]
    assert close_value(card) in json.dumps(view)  # its Claim button: not "nobody is waiting"


def test_an_open_home_tab_stops_listing_a_waiting_patron_who_deletes_their_conversation(aws, slack, twilio):
    card = sms_card(aws, slack)
    open_home("U0BEN")
    pump(aws)
    slack.forget_calls()

    assert text_in("DELETE", From=PATRONS[0])["statusCode"] == 200
    pump(aws)

    published = [call for call in calls_named(slack, "views.publish") if call["user_id"] == "U0BEN"]
    assert published and close_value(card) not in json.dumps(published[-1]["view"])
