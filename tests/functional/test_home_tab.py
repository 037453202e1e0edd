"""The Home tab for a busy desk (refdesk.slack.home), in process: signed webhooks (Twilio, the
widget, Slack events and block_actions) through the real handlers, moto, the dispatcher driven by
pump, and the Slack stand-in whose views.publish calls are read back: the question's redacted
preview, true counts, and the filter (a channel, or Mine) remembered per librarian."""
from __future__ import annotations

import json
import time
import urllib.parse

from tests.conftest import close_value, fixture, invoke, pump, slack_event
from tests.functional.test_claim_transfer import open_home, press_claim, sms_card
from tests.functional.test_relay import calls_named, text_in
from tests.functional.test_webchat import create_session, send

LIBRARIAN = "U0BEN"


def choose(choice: str, *, user: str = LIBRARIAN, team: str = "T0LIBRARY") -> dict:
    """The Home tab's filter, chosen by `user` of `team`."""
    payload = fixture("slack_block_actions_home_filter.json")
    payload["user"].update(id=user, team_id=team)
    payload["team"]["id"] = team
    payload["actions"][0].update(selected_option={"value": choice}, action_ts=f"{time.time():.6f}")
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    return invoke("slack_interactions", slack_event("/slack/interactions", body, "application/x-www-form-urlencoded"))


def last_view(slack, user: str = LIBRARIAN) -> dict:
    published = [call for call in calls_named(slack, "views.publish") if call["user_id"] == user]
    assert published, "no views.publish for " + user
    view = published[-1]["view"]
    return json.loads(view) if isinstance(view, str) else view


def rows(view: dict, prefix: str = "waiting:") -> dict[str, str]:
    """Conversation id -> the row's text, in the tab's order."""
    return {block["block_id"][len(prefix):]: block["text"]["text"] for block in view["blocks"]
            if block.get("block_id", "").startswith(prefix)}


def context_lines(view: dict) -> list[str]:
    return [element["text"] for block in view["blocks"] if block["type"] == "context"
            for element in block["elements"]]


def chosen_filter(view: dict) -> str:
    [block] = [block for block in view["blocks"] if block.get("block_id") == "home_filter"]
    return block["elements"][0]["initial_option"]["value"]


def web_card(aws, slack, text: str) -> dict:
    session = create_session()
    assert send(session, text)["statusCode"] == 201
    pump(aws)
    return slack.roots()[-1]


# --- the question's preview ------------------------------------------------------------------

def test_each_waiting_row_previews_the_question_redacted_and_cut_between_words(aws, slack, twilio):
    question = ("Please call me back at 617-555-0147 about the interlibrary loan of Kazuo Ishiguro's "
                "Never Let Me Go, which I requested for my seminar next week")
    card = sms_card(aws, slack, "+15551230001", question)
    slack.forget_calls()

    open_home(LIBRARIAN)
    pump(aws)

    row = rows(last_view(slack))[close_value(card)]
    preview = row.split("\n", 1)[1]
    assert preview.startswith("Please call me back at [phone] about the interlibrary loan")
    assert preview.endswith("…") and len(preview) <= 81
    words = preview[:-1].split(" ")
    assert words[-1] in question.replace("617-555-0147", "[phone]").split(" ")  # a whole word, not cut inside
    assert "617" not in json.dumps(last_view(slack)) and "0147" not in json.dumps(last_view(slack))


def test_a_short_question_is_shown_whole(aws, slack, twilio):
    card = sms_card(aws, slack, "+15551230001", "Do you have the new Ishiguro?")
    open_home(LIBRARIAN)
    pump(aws)

    assert rows(last_view(slack))[close_value(card)].endswith("\nDo you have the new Ishiguro?")


def test_a_publish_reads_the_previews_in_one_batch_get_and_no_messages(aws, slack, twilio):
    from refdesk import clients

    for number in ("+15551230001", "+15551230002", "+15551230003"):
        sms_card(aws, slack, number, f"A question from {number[-4:]} about opening hours")
    open_home(LIBRARIAN)  # the first showing makes each preview, once
    pump(aws)
    calls: list[tuple[str, str]] = []

    def record(model, params, **kwargs):
        calls.append((model.name, json.dumps(params.get("body", ""), default=str)))

    clients.get("table").meta.client.meta.events.register("before-call.dynamodb", record)
    slack.forget_calls()

    open_home(LIBRARIAN)
    pump(aws)

    assert len(calls_named(slack, "views.publish")) == 1
    assert [name for name, _ in calls].count("BatchGetItem") == 1
    assert not [body for name, body in calls if name == "Query" and "MSG#" in body]  # no messages read
    assert all("about opening hours" in text for text in rows(last_view(slack)).values())


# --- true counts -----------------------------------------------------------------------------

def test_a_busy_desk_shows_forty_and_says_how_many_more_wait(aws, slack, twilio):
    for index in range(45):
        assert text_in(f"Question number {index}", From=f"+1555123{index:04d}")["statusCode"] == 200
    pump(aws)
    open_home(LIBRARIAN)
    pump(aws)

    view = last_view(slack)
    assert len(rows(view)) == 40
    assert "5 more waiting: claim the oldest first." in context_lines(view)
    assert not any("and more" in line for line in context_lines(view))
    assert len(view["blocks"]) <= 100


# --- the filter ------------------------------------------------------------------------------

def test_the_filter_shows_one_channel_and_is_remembered_across_publishes(aws, slack, twilio):
    sms = sms_card(aws, slack, "+15551230001", "A question by text")
    web = web_card(aws, slack, "A question from the website")
    open_home(LIBRARIAN)
    pump(aws)
    assert set(rows(last_view(slack))) == {close_value(sms), close_value(web)}
    assert chosen_filter(last_view(slack)) == "all"
    slack.forget_calls()

    assert choose("web")["statusCode"] == 200
    pump(aws)

    view = last_view(slack)
    assert chosen_filter(view) == "web"
    assert set(rows(view)) == {close_value(web)}
    assert any(block["type"] == "header" and "Web chat" in block["text"]["text"] for block in view["blocks"])
    slack.forget_calls()

    sms_card(aws, slack, "+15551230002", "Another question by text")  # the desk changes: republished
    open_home(LIBRARIAN)
    pump(aws)

    view = last_view(slack)
    assert chosen_filter(view) == "web" and set(rows(view)) == {close_value(web)}


def test_mine_shows_the_open_conversations_this_librarian_has(aws, slack, twilio):
    cards = [sms_card(aws, slack, number, f"Question from {number[-4:]}")
             for number in ("+15551230001", "+15551230002", "+15551230003")]
    press_claim(cards[0], LIBRARIAN)
    press_claim(cards[1], "U0AMANDA")
    pump(aws)
    slack.forget_calls()

    assert choose("mine")["statusCode"] == 200
    pump(aws)

    view = last_view(slack)
    assert chosen_filter(view) == "mine"
    mine = rows(view, "mine:")
    assert list(mine) == [close_value(cards[0])]
    assert "SMS ···0001" in mine[close_value(cards[0])] and "Question from 0001" in mine[close_value(cards[0])]
    assert not rows(view)  # the waiting line is not shown under Mine


def test_the_filter_menu_names_every_channel_as_the_channels_do(aws, slack, twilio):
    from refdesk import channels

    open_home(LIBRARIAN)
    pump(aws)

    [block] = [block for block in last_view(slack)["blocks"] if block.get("block_id") == "home_filter"]
    labels = [option["text"]["text"] for option in block["elements"][0]["options"]]
    assert labels == ["All channels", *(channels.traits(name).display_name for name in channels.CHANNELS), "Mine"]


def test_an_outsiders_filter_is_refused_and_nothing_is_remembered(aws, slack, twilio):
    from refdesk import store

    response = choose("mine", user="U0PARTNER2", team="T0PARTNER")
    pump(aws)

    assert response["statusCode"] == 200
    assert store.home.filter_of("U0PARTNER2") == ""
    assert calls_named(slack, "views.publish") == []


def test_an_unknown_filter_is_a_400(aws, slack, twilio):
    assert choose("everything")["statusCode"] == 400
    pump(aws)
    assert calls_named(slack, "views.publish") == []


def test_the_local_control_api_chooses_the_filter_as_slack_sends_it(aws, slack, twilio, monkeypatch):
    """/_local/api/slack/home/click picks an option of the Home tab's static_select (the local staff
    view's filter menu): sent with selected_option, it reaches the real listener."""
    from local.control import Control
    from local.servers import Request

    web = web_card(aws, slack, "A question from the website")
    sms_card(aws, slack, "+15551230001", "A question by text")
    open_home(LIBRARIAN)
    pump(aws)
    control = Control("http://gateway.invalid", aws=None, slack=slack.stand_in, twilio=None)
    sent = []

    def post(path: str, body: str, headers: dict) -> tuple[int, str]:
        sent.append(json.loads(urllib.parse.parse_qs(body)["payload"][0]))
        response = invoke("slack_interactions", slack_event(path, body, headers["Content-Type"]))
        return response["statusCode"], response.get("body") or ""
    monkeypatch.setattr(control, "_post", post)

    def click(data: dict) -> tuple[int, dict]:
        request = Request("POST", "/_local/api/slack/home/click", "", (("Content-Type", "application/json"),),
                          json.dumps(data).encode(), "127.0.0.1", "HTTP/1.1")
        response = control(request)
        return response.status, json.loads(response.body)

    status, answer = click({"user": LIBRARIAN, "action_id": "home_filter", "value": "web"})
    pump(aws)

    assert (status, answer) == (200, {"status": 200})
    [action] = sent[0]["actions"]
    assert action["type"] == "static_select" and action["selected_option"]["value"] == "web"
    assert action["selected_option"]["text"]["text"] == "Web chat"
    view = last_view(slack)
    assert chosen_filter(view) == "web" and set(rows(view)) == {close_value(web)}
    assert click({"user": LIBRARIAN, "action_id": "home_filter", "value": "everything"})[0] == 404
    assert click({"user": LIBRARIAN, "action_id": "home_filter"})[0] == 400  # a pick needs its value
    assert len(sent) == 1  # neither reached the app
