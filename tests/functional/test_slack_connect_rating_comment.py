"""Issue 17, item 5: a Slack Connect patron's rating takes an optional comment. Once they rated, the
thanks in their shared thread offers "Add a comment"; the button opens a modal (views.open from the
interactions webhook: the trigger_id lasts 3 s) with one optional input of at most 500 characters;
its submission queues the comment (rating 0, cleaned: names and identifiers masked), kept once, and
only the patron who rated may comment.

Fed the fixtures of record: events/slack_connect_message.json, events/slack_block_actions_close.json
and events/slack_view_submission_rating_comment.json."""
from __future__ import annotations

import json
import time
import urllib.parse
import uuid
from datetime import date

import pytest

from refdesk.assessment import COMMENT_MAX
from refdesk.slack import cards
from tests.conftest import fixture, invoke, pump, slack_event
from tests.functional.test_relay import calls_named
from tests.functional.test_slack_connect_relay import PARTNER_CHANNEL, open_partner_conversation, press_close

PATRON, PATRON_TEAM = "U0PARTNER1", "T0PARTNER"
COMMENT = fixture("slack_view_submission_rating_comment.json")["view"]["state"]["values"]["comment"]["comment"]["value"]


def interact(payload: dict) -> dict:
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    return invoke("slack_interactions", slack_event("/slack/interactions", body, "application/x-www-form-urlencoded"))


def press(message_ts: str, element: dict, *, user: str = PATRON, team: str = PATRON_TEAM) -> dict:
    """A button pressed on a post in the partner's shared thread, with a fresh trigger_id."""
    payload = fixture("slack_block_actions_close.json")
    payload["user"].update(id=user, team_id=team)
    payload["team"]["id"] = team
    payload["channel"] = {"id": PARTNER_CHANNEL}
    payload["container"] = {"type": "message", "channel_id": PARTNER_CHANNEL, "message_ts": message_ts}
    payload["message"]["ts"] = message_ts
    payload["trigger_id"] = f"{int(time.time())}.1379717998065.{uuid.uuid4().hex}"
    payload["actions"] = [{**element, "action_ts": f"{time.time():.6f}", "type": "button"}]
    response = interact(payload)
    assert response["statusCode"] == 200, response
    return response


def submit(view: dict, comment: str | None, *, user: str = PATRON, team: str = PATRON_TEAM) -> dict:
    """The modal as the stand-in opened it, submitted (the fixture of record's shape) with `comment`."""
    payload = fixture("slack_view_submission_rating_comment.json")
    payload["user"].update(id=user, team_id=team)
    payload["team"]["id"] = team
    values = {} if comment is None else {"comment": {"comment": {"type": "plain_text_input", "value": comment}}}
    payload["view"] = {**view, "state": {"values": values}}
    return interact(payload)


def blocks_of(call: dict) -> list[dict]:
    blocks = call.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def buttons(call: dict) -> list[dict]:
    return [element for block in blocks_of(call) if block["type"] == "actions" for element in block["elements"]]


def rated(aws, slack, rating: int = 4) -> dict:
    """A closed partner conversation the patron rated: the thanks, as the prompt was updated to."""
    conversation = open_partner_conversation(aws, slack)
    press_close(conversation)
    pump(aws)
    [prompt] = [post for post in slack.posts() if post["channel"] == PARTNER_CHANNEL and "How did we do?" in post["text"]]
    press(prompt["answered_ts"], buttons(prompt)[rating - 1])
    pump(aws)
    [thanks] = [call for call in calls_named(slack, "chat.update") if call["channel"] == PARTNER_CHANNEL]
    return {**conversation, "thanks": thanks, "thanks_ts": prompt["answered_ts"]}


def comment_modal(slack, conversation: dict, **who) -> dict:
    [add_comment] = buttons(conversation["thanks"])
    press(conversation["thanks_ts"], add_comment, **who)
    return slack.stand_in.open_views()[-1]


def comments() -> list:
    from refdesk import store

    return store.stats.comments(date(2000, 1, 1), date(2100, 1, 1))


def test_the_thanks_offers_a_comment_whose_modal_takes_500_characters_at_most(aws, slack):
    conversation = rated(aws, slack)
    assert conversation["thanks"]["text"].startswith("Thank you")
    [add_comment] = buttons(conversation["thanks"])
    assert (add_comment["action_id"], add_comment["value"]) == ("rating_comment", conversation["conversation_id"])
    slack.forget_calls()

    view = comment_modal(slack, conversation)

    assert slack.methods() == ["views.open"]  # opened by the webhook itself, the trigger still fresh
    assert view["callback_id"] == "rating_comment"
    [field] = [block for block in view["blocks"] if block["type"] == "input"]
    assert field["optional"] is True
    assert (field["element"]["type"], field["element"]["max_length"]) == ("plain_text_input", COMMENT_MAX) == (
        "plain_text_input", 500)  # Slack refuses a longer one before it is sent


def test_the_patrons_comment_is_kept_once_cleaned_and_the_button_goes(aws, slack):
    conversation = rated(aws, slack, rating=4)
    view = comment_modal(slack, conversation)
    slack.forget_calls()

    response = submit(view, "Thanks, this is Priya Raman: text me on 555-123-4567 if the 1925 edition turns up")
    assert (response["statusCode"], response["body"]) == (200, "")  # an empty 200 closes the modal
    assert submit(view, "A second comment")["statusCode"] == 200
    pump(aws)

    [kept] = comments()
    assert kept.rating == 4
    assert "Priya" not in kept.text and "555" not in kept.text and "1925 edition" in kept.text
    [updated] = [call for call in calls_named(slack, "chat.update") if call["channel"] == PARTNER_CHANNEL]
    assert updated["ts"] == conversation["thanks_ts"] and buttons(updated) == []  # commented: no second offer


def test_the_fixture_of_records_comment_is_kept_as_written(aws, slack):
    conversation = rated(aws, slack, rating=5)
    assert submit(comment_modal(slack, conversation), COMMENT)["statusCode"] == 200
    pump(aws)

    assert [(kept.rating, kept.text) for kept in comments()] == [(5, COMMENT)]


@pytest.mark.parametrize("who", [{"user": "U0PARTNER2"}, {"user": "U0AMANDA", "team": "T0LIBRARY"}])
def test_someone_other_than_the_patron_cannot_comment(aws, slack, who):
    conversation = rated(aws, slack)
    view = comment_modal(slack, conversation, **who)  # anyone in the shared channel may open it
    slack.forget_calls()

    assert submit(view, "Not the patron's words", **who)["statusCode"] == 200
    pump(aws)

    assert comments() == []
    assert not calls_named(slack, "chat.update")
    assert submit(view, "The patron's own words")["statusCode"] == 200  # the patron still can
    pump(aws)
    assert [kept.text for kept in comments()] == ["The patron's own words"]


def test_a_comment_before_any_rating_is_not_kept(aws, slack):
    conversation = open_partner_conversation(aws, slack)
    press_close(conversation)
    pump(aws)
    _, blocks = cards.rating_thanks(conversation["conversation_id"], "Thank you")  # as if it had been rated
    view = comment_modal(slack, {"thanks": {"blocks": blocks}, "thanks_ts": "1700000900.000100"})

    assert submit(view, "Nice")["statusCode"] == 200
    pump(aws)

    assert comments() == []


def test_an_empty_comment_queues_nothing(aws, slack):
    view = comment_modal(slack, rated(aws, slack))

    for empty in (None, "   "):
        assert submit(view, empty)["statusCode"] == 200
    pump(aws)

    assert comments() == []


def test_a_comment_over_500_characters_is_refused_by_our_check_too(aws, slack):
    view = comment_modal(slack, rated(aws, slack))

    response = submit(view, "x" * (COMMENT_MAX + 1))  # only a forged submission gets past Slack's max_length
    pump(aws)

    assert response["statusCode"] == 400
    assert comments() == []
    assert submit(view, "y" * COMMENT_MAX)["statusCode"] == 200
    pump(aws)
    assert [len(kept.text) for kept in comments()] == [COMMENT_MAX]


@pytest.mark.parametrize("breakage", ["no_metadata", "bad_metadata", "values_not_an_object", "value_a_number"])
def test_a_malformed_submission_is_a_400_and_queues_nothing(aws, slack, breakage):
    view = comment_modal(slack, rated(aws, slack))
    payload = fixture("slack_view_submission_rating_comment.json")
    payload["view"] = {**view, "state": payload["view"]["state"]}
    if breakage == "no_metadata":
        del payload["view"]["private_metadata"]
    elif breakage == "bad_metadata":
        payload["view"]["private_metadata"] = json.dumps({"conversation_id": "c1", "channel": "#general", "ts": "x"})
    elif breakage == "values_not_an_object":
        payload["view"]["state"] = {"values": ["comment"]}
    else:
        payload["view"]["state"] = {"values": {"comment": {"comment": {"value": 5}}}}

    assert interact(payload)["statusCode"] == 400
    pump(aws)
    assert comments() == []
