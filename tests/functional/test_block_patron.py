"""Block patron, end to end in process: the signed block_actions press on the card and the Home
tab's Unblock, the dispatcher fed by conftest.pump, moto, and the local Slack and Twilio
stand-ins. A blocked patron reaches no one (no Slack post, one configured answer on their own
channel, then silence), on SMS, web chat and Slack Connect; Unblock restores them. Also the
sweeper's handler fed the EventBridge scheduled event of record."""
from __future__ import annotations

import copy
import json
import secrets
import time
import urllib.parse
import uuid

import pytest

from tests.conftest import STAFF_CHANNEL, close_value, fixture, invoke, pump, slack_event, twilio_event

PATRON = "+15551234567"
LIBRARIAN = "U0AMANDA"
BLOCKED_TEXT = "This service can't take your messages. Please contact the library another way."


# --- helpers --------------------------------------------------------------------------------

def text_in(body: str = "Do you have the new Ishiguro?", sender: str = PATRON) -> dict:
    params = fixture("sms_inbound.json")
    sid = "SM" + secrets.token_hex(16)
    params.update(Body=body, From=sender, MessageSid=sid, SmsMessageSid=sid, SmsSid=sid)
    response = invoke("sms_inbound", twilio_event(params))
    assert response["statusCode"] == 200
    return response


def interaction(payload: dict, **signing) -> dict:
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    return invoke("slack_interactions", slack_event("/slack/interactions", body, "application/x-www-form-urlencoded",
                                                    **signing))


def block_payload(card: dict, *, user: str = LIBRARIAN, action_ts: str = "1700000300.000100") -> dict:
    payload = fixture("slack_block_actions_close.json")
    payload["user"]["id"] = user
    payload["container"]["message_ts"] = payload["message"]["ts"] = card["answered_ts"]
    [action] = payload["actions"]
    action.update(action_id="block_patron", value=close_value(card), action_ts=action_ts,
                  text={"type": "plain_text", "text": "Block patron", "emoji": True})
    action.pop("style")
    return payload


def unblock_payload(patron_id: str, *, user: str = LIBRARIAN, action_ts: str = "1700000400.000100") -> dict:
    """A press in the Home tab: the container is the view, there is no channel or message."""
    payload = fixture("slack_block_actions_close.json")
    for name in ("channel", "message"):
        payload.pop(name)
    payload["user"]["id"] = user
    payload["container"] = {"type": "view", "view_id": "V0HOME0001"}
    payload["view"] = {"id": "V0HOME0001", "type": "home", "blocks": []}
    payload["actions"] = [{"action_id": "unblock_patron", "block_id": f"blocked:{patron_id}", "type": "button",
                           "text": {"type": "plain_text", "text": "Unblock"}, "value": patron_id,
                           "action_ts": action_ts}]
    return payload


def press(payload: dict) -> None:
    response = interaction(payload)
    assert response["statusCode"] == 200, response


def block_button(card: dict) -> dict:
    return next(element for block in card["blocks"] if block["type"] == "actions"
                for element in block["elements"] if element.get("action_id") == "block_patron")


def thread_posts(slack, card: dict) -> list[dict]:
    return [post for post in slack.posts() if post.get("thread_ts") == card["answered_ts"]]


def create_session() -> dict:
    response = invoke("webchat", fixture("webchat_create_session.json"))
    assert response["statusCode"] == 201, response
    return json.loads(response["body"])


def send(session: dict, text: str) -> dict:
    event = fixture("webchat_post_message.json")
    path = f"/chat/sessions/{session['session_id']}/messages"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["pathParameters"] = {"id": session["session_id"]}
    event["headers"]["authorization"] = f"Bearer {session['token']}"
    raw = json.dumps({"text": text, "client_id": str(uuid.uuid4())})
    event["headers"]["content-length"] = str(len(raw))
    event["body"], event["isBase64Encoded"] = raw, False
    return invoke("webchat", event)


def poll(session: dict) -> dict:
    from tests.conftest import http_event

    response = invoke("webchat", http_event(
        "GET", f"/chat/sessions/{session['session_id']}/messages",
        headers={"Origin": "https://library.example.org", "Authorization": f"Bearer {session['token']}"}))
    assert response["statusCode"] == 200, response
    return json.loads(response["body"])


def partner_message(text: str, *, ts: str, thread_ts: str | None = None) -> None:
    """A partner organisation's member writes in the Slack Connect channel (fixtures of record)."""
    payload = fixture("slack_connect_thread_reply.json" if thread_ts else "slack_connect_message.json")
    payload["event"].update(ts=ts, event_ts=ts, text=text)
    if thread_ts:
        payload["event"]["thread_ts"] = thread_ts
    payload["event_id"] = f"Ev{ts.replace('.', '')[-11:]}"
    response = invoke("slack_events", slack_event("/slack/events", json.dumps(payload)))
    assert response["statusCode"] == 200, response


def patron_id_of(card: dict) -> str:
    from refdesk import store

    return store.conversations.get(close_value(card)).patron_id


def home_view(user: str = LIBRARIAN) -> dict:
    from refdesk.slack import home

    return home.view(user)


def blocked_section(view: dict) -> list[dict]:
    return [block for block in view["blocks"] if str(block.get("block_id", "")).startswith("blocked:")]


# --- the button -------------------------------------------------------------------------------

def test_the_card_has_a_block_button_behind_a_confirmation(aws, slack, twilio):
    text_in()
    pump(aws)
    button = block_button(slack.roots()[-1])
    assert button["value"] == close_value(slack.roots()[-1])
    assert button["confirm"]["confirm"]["text"] == "Block" and button["confirm"]["deny"]["text"] == "Cancel"


def test_the_press_is_acknowledged_at_once_and_the_work_queued(aws, slack, twilio):
    text_in()
    pump(aws)
    card = slack.roots()[-1]
    slack.forget_calls()
    response = interaction(block_payload(card))
    assert response["statusCode"] == 200
    assert slack.calls == []  # nothing is done on the webhook path
    pump(aws)
    from refdesk import store

    assert store.blocks.get(patron_id_of(card))


@pytest.mark.parametrize("mutate", [
    lambda payload: payload["actions"][0].pop("value"),
    lambda payload: payload["actions"][0].update(value=["not", "a", "string"]),
    lambda payload: payload.pop("user"),
    lambda payload: payload.update(user="U0AMANDA"),
])
def test_a_signed_but_malformed_block_press_is_a_400(aws, slack, twilio, mutate):
    text_in()
    pump(aws)
    payload = block_payload(slack.roots()[-1])
    mutate(payload)
    assert interaction(payload)["statusCode"] == 400


@pytest.mark.parametrize("value", ["", "+15551234567", "../../x", 42, None])
def test_a_signed_but_malformed_unblock_press_is_a_400(aws, slack, twilio, value):
    payload = unblock_payload("a" * 32)
    payload["actions"][0]["value"] = value
    assert interaction(payload)["statusCode"] == 400


def test_an_unsigned_block_press_is_refused_and_nothing_is_blocked(aws, slack, twilio):
    from refdesk import store

    text_in()
    pump(aws)
    card = slack.roots()[-1]
    assert interaction(block_payload(card), secret="wrong-secret")["statusCode"] in (401, 403)
    pump(aws)
    assert store.blocks.get(patron_id_of(card)) is None


# --- a blocked patron reaches no one -----------------------------------------------------------

def test_a_blocked_sms_patron_reaches_no_one_gets_one_answer_then_silence_and_unblock_restores(aws, slack, twilio):
    from refdesk import store

    text_in()
    pump(aws)
    card = slack.roots()[-1]
    press(block_payload(card))
    pump(aws)
    [note] = [post for post in thread_posts(slack, card) if ":no_entry_sign:" in post["text"]]
    assert f"<@{LIBRARIAN}> blocked this patron" in note["text"]
    assert store.conversations.get(close_value(card)).claimed_by == LIBRARIAN  # out of the queue: no nudges
    assert close_value(card) not in [c.conversation_id for c in store.queue.waiting()]

    posts_before = len(slack.posts())
    twilio.forget_sent()
    text_in("Hello? Anyone there?")
    pump(aws)
    assert len(slack.posts()) == posts_before  # reaches no one
    assert twilio.sent == [{"to": PATRON, "from_": twilio.sent[0]["from_"], "body": BLOCKED_TEXT}]

    for body in ("hello??", "answer me"):  # then silence
        response = text_in(body)
        assert "<Message>" not in response["body"]
    pump(aws)
    assert len(slack.posts()) == posts_before
    assert len(twilio.sent) == 1
    assert "answer me" not in json.dumps(_table_items(), default=str)  # not even stored

    patron = patron_id_of(card)
    press(unblock_payload(patron))
    pump(aws)
    assert store.blocks.get(patron) is None
    assert any(":white_check_mark:" in post["text"] and "unblocked" in post["text"] for post in thread_posts(slack, card))
    text_in("Thanks for unblocking, one more question")
    pump(aws)
    assert len([post for post in slack.posts() if "one more question" in json.dumps(post)]) == 1
    assert len(twilio.sent) == 1


def test_the_blocked_answer_is_configurable_and_comes_once_per_block(aws, slack, twilio, monkeypatch):
    from refdesk.settings import get_settings

    monkeypatch.setenv("BLOCKED_TEXT", "Please call the library at 555-0100.")
    get_settings.cache_clear()
    text_in()
    pump(aws)
    card = slack.roots()[-1]
    patron = patron_id_of(card)
    for round_ in range(2):
        press(block_payload(card, action_ts=f"17000005{round_}0.000100"))
        pump(aws)
        text_in("hi")
        text_in("hi again")
        pump(aws)
        press(unblock_payload(patron, action_ts=f"17000006{round_}0.000100"))
        pump(aws)
    assert [sent["body"] for sent in twilio.sent] == ["Please call the library at 555-0100."] * 2


def test_a_double_click_blocks_once_and_tells_the_second_press(aws, slack, twilio):
    text_in()
    pump(aws)
    card = slack.roots()[-1]
    press(block_payload(card, action_ts="1700000300.000100"))
    press(block_payload(card, action_ts="1700000300.000100"))  # Slack's retry: dropped by the queue
    press(block_payload(card, action_ts="1700000300.000900"))  # a second click
    pump(aws)
    assert len([post for post in thread_posts(slack, card) if ":no_entry_sign:" in post["text"]]) == 1
    ephemerals = [params for method, params in slack.calls if method == "chat.postEphemeral"]
    assert any("already blocked" in params["text"] for params in ephemerals)


def test_a_blocked_web_chat_patron_gets_the_line_in_the_widget_once_and_staff_see_nothing(aws, slack, twilio):
    session = create_session()
    assert send(session, "Is the library open late?")["statusCode"] == 201
    pump(aws)
    card = slack.roots()[-1]
    press(block_payload(card))
    pump(aws)
    posts_before = len(slack.posts())
    for text in ("hello?", "hello??"):
        assert send(session, text)["statusCode"] == 201
    pump(aws)
    assert len(slack.posts()) == posts_before
    texts = [message["text"] for message in poll(session)["messages"]]
    assert texts.count(BLOCKED_TEXT) == 1 and "hello?" not in texts
    assert twilio.sent == []


def test_a_blocked_patron_is_blocked_on_every_conversation_and_a_new_web_session_too(aws, slack, twilio):
    """The block is the patron's, not the conversation's: a conversation they open later is not
    shown to staff either (web chat: a new session from the same browser is a new patron id, so
    this is shown on SMS, where the number is the patron)."""
    from refdesk import store
    from refdesk.models import CloseJob
    from refdesk import relay

    text_in()
    pump(aws)
    card = slack.roots()[-1]
    press(block_payload(card))
    pump(aws)
    relay.close(CloseJob(conversation_id=close_value(card), user=LIBRARIAN, channel=STAFF_CHANNEL,
                         root_ts=card["answered_ts"], action_ts="1"))
    roots = len(slack.roots())
    text_in("a new question after the close")
    pump(aws)
    assert len(slack.roots()) == roots
    assert store.queue.waiting() == []


def test_a_blocked_slack_connect_partner_reaches_no_one(aws, slack, twilio):
    partner_message("Can my students use the archive?", ts="1700001000.000100")
    pump(aws)
    card = slack.roots()[-1]
    press(block_payload(card))
    pump(aws)
    posts_before = [post for post in slack.posts() if post["channel"] == STAFF_CHANNEL]
    partner_message("Hello?", ts="1700001000.000200", thread_ts="1700001000.000100")
    partner_message("Still there?", ts="1700001000.000300", thread_ts="1700001000.000100")
    pump(aws)
    staff_posts = [post for post in slack.posts() if post["channel"] == STAFF_CHANNEL]
    assert len(staff_posts) == len(posts_before)
    answers = [post for post in slack.posts() if post["channel"] != STAFF_CHANNEL and BLOCKED_TEXT in post["text"]]
    assert len(answers) == 1


# --- the Home tab -----------------------------------------------------------------------------

def test_blocked_patrons_are_listed_in_the_home_tab_by_masked_label_only(aws, slack, twilio):
    assert blocked_section(home_view()) == []
    text_in()
    pump(aws)
    card = slack.roots()[-1]
    press(block_payload(card))
    pump(aws)
    publishes = [params for method, params in slack.calls if method == "views.publish"]
    assert publishes and any("Blocked patrons" in json.dumps(params) for params in publishes)
    view = home_view()
    [row] = blocked_section(view)
    assert "SMS ···4567" in row["text"]["text"] and f"<@{LIBRARIAN}>" in row["text"]["text"]
    assert row["accessory"]["action_id"] == "unblock_patron" and row["accessory"]["value"] == patron_id_of(card)
    rendered = json.dumps(view)
    assert "5551234567" not in rendered and "555-123" not in rendered and "Ishiguro" not in rendered

    press(unblock_payload(patron_id_of(card)))
    pump(aws)
    assert blocked_section(home_view()) == []


def test_unblocking_someone_not_blocked_is_harmless(aws, slack, twilio):
    press(unblock_payload("b" * 32))
    pump(aws)
    assert not [post for post in slack.posts() if "unblocked" in post.get("text", "")]


# --- the sweeper, as EventBridge invokes it ---------------------------------------------------

def test_the_sweeper_handler_takes_the_wake_up_of_record(aws, slack, twilio, monkeypatch):
    """The event a one-time schedule (refdesk.waiting.arm) invokes the sweeper with."""
    from refdesk import store
    from refdesk.settings import get_settings

    event = fixture("sweep_wake_up.json")
    assert invoke("sweeper", copy.deepcopy(event)) == {"open": True, "waiting": 0, "nudged": 0}

    store.duty.set_on(LIBRARIAN, "Amanda", int(time.time()) + 3600)
    text_in()
    pump(aws)
    assert invoke("sweeper", copy.deepcopy(event))["nudged"] == 0  # has not waited NudgeMinutes yet
    monkeypatch.setenv("NUDGE_MINUTES", "0")
    get_settings.cache_clear()
    assert invoke("sweeper", copy.deepcopy(event)) == {"open": True, "waiting": 1, "nudged": 1}
    pump(aws)
    [digest] = [post for post in slack.roots() if ":hourglass_flowing_sand:" in post["text"]]
    assert f"<@{LIBRARIAN}>" in digest["text"]


def test_the_sweeper_does_nothing_while_the_desk_is_closed(aws, slack, twilio, monkeypatch):
    from refdesk.settings import get_settings

    monkeypatch.setenv("OPENING_HOURS", "{}")
    monkeypatch.setenv("NUDGE_MINUTES", "0")
    get_settings.cache_clear()
    text_in()
    pump(aws)
    assert invoke("sweeper", fixture("sweep_wake_up.json"))["open"] is False
    pump(aws)
    assert not [post for post in slack.posts() if ":hourglass_flowing_sand:" in post.get("text", "")]


def _table_items() -> list[dict]:
    import os

    import boto3

    return boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"]).scan()["Items"]


# --- one lifecycle: Block reaches every view (refdesk.lifecycle) -------------------------------

def root_updates(slack, card: dict) -> list[dict]:
    return [params for method, params in slack.calls if method == "chat.update" and params["ts"] == card["answered_ts"]]


def test_block_rebuilds_the_card_without_claim_and_saying_who_blocked(aws, slack, twilio):
    text_in()
    pump(aws)
    card = slack.roots()[-1]
    assert "Claim" in json.dumps(card["blocks"])

    press(block_payload(card))
    pump(aws)

    [update] = root_updates(slack, card)
    shown = json.dumps(update["blocks"])
    assert f"Patron blocked by <@{LIBRARIAN}>" in shown and '"Claim"' not in shown
    assert "Waiting for a librarian" not in shown


def test_a_block_whose_thread_line_failed_once_finishes_on_its_retry_and_is_not_already_blocked(aws, slack, twilio):
    text_in()
    pump(aws)
    card = slack.roots()[-1]
    slack.fail("chat.postMessage", status=503, commit=True)  # the line was posted; its answer was lost

    press(block_payload(card))
    pump(aws)

    shown = [message for message in slack.stand_in.messages() if message.get("thread_ts") == card["answered_ts"]]
    assert len([message for message in shown if ":no_entry_sign:" in message["text"]]) == 1  # not posted again
    assert [params["text"] for method, params in slack.calls if method == "chat.postEphemeral"] == []
    [update] = root_updates(slack, card)
    assert "Patron blocked by" in json.dumps(update["blocks"])


def test_unblock_takes_the_blocked_line_off_the_card(aws, slack, twilio):
    text_in()
    pump(aws)
    card = slack.roots()[-1]
    press(block_payload(card))
    pump(aws)
    from refdesk import identity

    press(unblock_payload(identity.patron_id("sms", PATRON)))
    pump(aws)

    last = root_updates(slack, card)[-1]
    assert "Patron blocked by" not in json.dumps(last["blocks"]) and f"Claimed by <@{LIBRARIAN}>" in json.dumps(
        last["blocks"])
