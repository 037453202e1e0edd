"""Assessment (refdesk.assessment, store.stats): daily aggregates against a hand-computed fixture,
READ and topic recorded once from the closed card, the patron's 1-5 rating once per conversation
(web widget route, Slack Connect buttons)."""
from __future__ import annotations

import json
import urllib.parse
from datetime import date

import pytest

from tests.conftest import STAFF_CHANNEL, close_value, fixture, invoke, pump, slack_event
from tests.functional.test_relay import calls_named, open_conversation, press_close
from tests.functional.test_webchat import open_chat
from tests.functional.test_webchat import press_close as close_chat
from tests.functional.test_slack_connect_relay import PARTNER_CHANNEL, open_partner_conversation
from tests.functional.test_slack_connect_relay import press_close as close_partner
from tests.functional.test_slack_connect_rating_comment import press as press_in_shared_thread


# --- daily aggregates: a hand-computed fixture -------------------------------------------

def _closed(conversation_id, channel, patron, created, first_reply, closed, *, by="U0AMANDA", kind="reply",
            after_hours="", follow_up=False, transfers=(), status="closed"):
    """A closed conversation in the table, with known times (UTC), as the close leaves it: the
    patron's first message at `created` and, if `first_reply`, the first response then (`kind`:
    a librarian's reply by `by`, or the transfer line)."""
    from refdesk import store
    from refdesk.models import Author, Conversation, Message
    from refdesk.store import keys
    from refdesk.store.table import table

    item = {**keys.conversation(conversation_id), "conversation_id": conversation_id, "patron_id": patron,
            "channel": channel, "anchor": f"a-{conversation_id}", "label": "x", "status": status,
            "created_at": created, "closed_at": closed if status == "closed" else "",
            "closed_by": by if status == "closed" else "", "after_hours": after_hours, "follow_up": follow_up,
            "transfers": list(transfers), "expires_at": keys.keep_until()}
    table().put_item(Item=item)
    store.messages.put(conversation_id, Message(message_id=f"m-{conversation_id}", at=created,
                                                author=Author.PATRON, text="a question"))
    if first_reply and kind == "reply":
        store.messages.put(conversation_id, Message(message_id=f"slack-{conversation_id}", at=first_reply,
                                                    author=Author.LIBRARIAN, author_user=by, text="an answer"))
    elif first_reply:
        store.messages.put(conversation_id, Message(message_id=f"transfer-{conversation_id}", at=first_reply,
                                                    author=Author.SYSTEM, text="Another librarian will help you."))
    return Conversation.from_item(item)


# America/New_York is UTC-5 in early March 2026 (DST starts on the 8th); 2 March is a Monday.
FIXTURE = [  # id, channel, patron, created, first reply, closed, READ, rating
    ("cA", "sms", "p1", "2026-03-02T14:00:00.000000Z", "2026-03-02T14:01:30.000000Z", "2026-03-02T14:10:00.000000Z", 2, 0),
    ("cB", "web", "p2", "2026-03-02T15:30:00.000000Z", "2026-03-02T15:30:30.000000Z", "2026-03-02T15:50:00.000000Z", 2, 5),
    ("cC", "sms", "p1", "2026-03-02T20:00:00.000000Z", "", "2026-03-02T20:05:00.000000Z", 4, 0),
    # 23:30 on Monday in the library: counted on the 2nd although it is the 3rd in UTC.
    ("cD", "slack_connect", "p3", "2026-03-03T04:30:00.000000Z", "2026-03-03T04:46:40.000000Z",
     "2026-03-03T05:03:20.000000Z", 0, 3),
    ("cE", "web", "p4", "2026-03-03T14:00:00.000000Z", "2026-03-03T14:06:40.000000Z", "2026-03-03T14:08:20.000000Z", 0, 5),
]
# How each was answered: cB by Jo, cD after hours and via a transfer line (Amanda to Jo).
SHAPES = {"cB": {"by": "U0JO"}, "cD": {"kind": "transfer", "after_hours": "2026-03-03T13:00:00Z",
                                       "transfers": ("U0AMANDA>U0JO",)}}


def test_daily_aggregates_match_the_hand_computed_fixture_and_retries_count_once(aws):
    from refdesk import assessment, store

    for conversation_id, channel, patron, created, first_reply, closed, read, rating in FIXTURE:
        conversation = _closed(conversation_id, channel, patron, created, first_reply, closed,
                               **SHAPES.get(conversation_id, {}))
        for _ in range(2):  # a retried close counts once
            assessment.closed(conversation)
        day = assessment.day_of(conversation)
        if read:
            assert store.stats.record_read(conversation_id, day, read)
            assert not store.stats.record_read(conversation_id, day, 6)  # a second click
        if rating:
            assert store.stats.record_rating(conversation_id, day, rating)
            assert not store.stats.record_rating(conversation_id, day, 1)

    monday, tuesday = store.stats.days(date(2026, 3, 1), date(2026, 3, 4))

    assert monday.day == date(2026, 3, 2)
    assert monday.conversations == {"sms": 2, "web": 1, "slack_connect": 1} and monday.total == 4
    assert (monday.new_patrons, monday.repeat_patrons) == (3, 1)  # p1 came back
    assert (monday.wait_seconds_sum, monday.wait_count) == (90 + 30 + 1000, 3)
    assert monday.wait_histogram == {"1_5m": 1, "under_1m": 1, "15_60m": 1}
    assert monday.waits == {"in_hours": [90, 30], "after_hours": [1000]}
    assert monday.outcomes == {"answered": 3, "unanswered": 1} and monday.kinds == {"live": 4}
    assert monday.staff["U0AMANDA"].answered == 1 and monday.staff["U0AMANDA"].first == [90, 1000]
    assert (monday.staff["U0AMANDA"].transfers_out, monday.staff["U0AMANDA"].transfers_in) == (1, 0)
    assert (monday.staff["U0JO"].answered, monday.staff["U0JO"].first, monday.staff["U0JO"].transfers_in) == (
        1, [30], 1)
    assert (monday.duration_seconds_sum, monday.duration_count) == (600 + 1200 + 300 + 2000, 4)
    assert monday.read == {2: 2, 4: 1}
    assert monday.ratings == {5: 1, 3: 1}
    assert monday.hour_of_week == {9: 1, 10: 1, 15: 1, 23: 1}
    assert monday.topics == {}
    assert tuesday.day == date(2026, 3, 3)
    assert tuesday.conversations == {"web": 1} and (tuesday.new_patrons, tuesday.repeat_patrons) == (1, 0)
    assert (tuesday.wait_seconds_sum, tuesday.wait_count, tuesday.wait_histogram) == (400, 1, {"5_15m": 1})
    assert (tuesday.duration_seconds_sum, tuesday.duration_count) == (500, 1)
    assert tuesday.ratings == {5: 1} and tuesday.read == {} and tuesday.hour_of_week == {24 + 9: 1}
    assert store.stats.days(date(2026, 3, 4), date(2026, 3, 31)) == []


def test_a_conversation_erased_while_open_is_counted_once_as_abandoned_and_keeps_no_comment(aws):
    from refdesk import assessment, store

    waiting = _closed("cW", "sms", "p9", "2026-03-02T14:00:00.000000Z", "", "", status="open")
    answered = _closed("cX", "sms", "p9", "2026-03-02T15:00:00.000000Z", "2026-03-02T15:00:20.000000Z", "",
                       status="open")
    for conversation in (waiting, answered, waiting):
        assessment.erased_while_open(conversation)
    [monday] = store.stats.days(date(2026, 3, 2), date(2026, 3, 2))
    assert monday.outcomes == {"abandoned": 1, "answered": 1} and monday.total == 2
    assert monday.waits == {"in_hours": [20]} and monday.duration_count == 0


def test_a_follow_up_waits_apart_and_a_web_chat_left_before_an_answer_is_abandoned(aws, monkeypatch):
    from refdesk import assessment, store
    from refdesk.settings import get_settings

    monkeypatch.setenv("LIVE_URL", "wss://live.example/chat")  # where live connections run, they tell who left
    get_settings.cache_clear()
    follow_up = _closed("cF", "web", "p5", "2026-03-02T14:00:00.000000Z", "2026-03-02T16:00:00.000000Z",
                        "2026-03-02T16:05:00.000000Z", follow_up=True)
    left = _closed("cL", "web", "p6", "2026-03-02T14:00:00.000000Z", "", "2026-03-02T14:30:00.000000Z")
    assessment.closed(follow_up)
    assessment.closed(left)
    [monday] = store.stats.days(date(2026, 3, 2), date(2026, 3, 2))
    assert monday.waits == {"follow_up": [7200]} and monday.kinds == {"follow_up": 1, "live": 1}
    assert monday.outcomes == {"answered": 1, "abandoned": 1}


def test_a_rating_keeps_its_comment_de_identified_until_the_patrons_delete(aws):
    from refdesk import assessment, store

    conversation = _closed("cR", "web", "p7", "2026-03-02T14:00:00.000000Z", "2026-03-02T14:00:30.000000Z",
                           "2026-03-02T14:10:00.000000Z")
    day = assessment.day_of(conversation)
    comment = assessment.clean_comment("  Great help, thanks! Call me on 555-201-4444 if needed.\n- Priya  ")
    assert store.stats.record_rating("cR", day, 5, comment, keep_days=30)
    assert not store.stats.record_comment("cR", day, 5, "again", keep_days=30)  # a comment is given with it
    [kept] = store.stats.comments(date(2026, 3, 1), date(2026, 3, 31))
    assert (kept.day, kept.rating) == (date(2026, 3, 2), 5)
    assert "Priya" not in kept.text and "555" not in kept.text and kept.text.startswith("Great help, thanks!")
    store.stats.forget_comment("cR", day)
    assert store.stats.comments(date(2026, 3, 1), date(2026, 3, 31)) == []
    with pytest.raises(Exception, match="at most 500"):
        assessment.clean_comment("x" * 501)


def test_the_aggregates_hold_counts_only(aws):
    import boto3

    from refdesk import assessment

    for row in FIXTURE[:2]:
        assessment.closed(_closed(*row[:6]))
    items = boto3.resource("dynamodb").Table(__import__("os").environ["TABLE_NAME"]).scan()["Items"]
    [day] = [item for item in items if item["pk"] == "STATS"]
    assert "p1" not in json.dumps(day, default=str) and "cA" not in json.dumps(day, default=str)
    from decimal import Decimal

    def numbers(value) -> bool:
        return isinstance(value, Decimal) or isinstance(value, list) and all(isinstance(one, Decimal) for one in value)

    assert {name for name, value in day.items() if not numbers(value)} == {"pk", "sk"}
    assert int(day["expires_at"]) > 0
    [seen] = [item for item in items if item["pk"].startswith("SEEN#")][:1] or [None]
    assert seen is not None and int(seen["expires_at"]) > 0  # identity for statistics: finite


# --- READ and topic on the closed card ---------------------------------------------------

def click(action: dict, root_ts: str, user: str = "U0AMANDA") -> dict:
    payload = fixture("slack_block_actions_close.json")
    payload["user"]["id"] = user
    payload["container"]["message_ts"] = payload["message"]["ts"] = root_ts
    payload["actions"] = [{"block_id": "assessment", "action_ts": "1700000300.000001", **action}]
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    return invoke("slack_interactions", slack_event("/slack/interactions", body, "application/x-www-form-urlencoded"))


def assessment_elements(blocks) -> list[str]:
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    return [element["action_id"] for block in blocks if block.get("block_id") == "assessment"
            for element in block["elements"]]


def test_the_closed_card_offers_read_and_topic_and_each_is_recorded_once(aws, slack, twilio):
    from refdesk import store

    conversation = open_conversation(aws, slack)
    cid, root = conversation["conversation_id"], conversation["root_ts"]
    press_close(cid)
    pump(aws)
    *_, closed = calls_named(slack, "chat.update")
    assert assessment_elements(closed["blocks"]) == [f"read_level_{n}" for n in range(1, 7)] + ["topic_tag"]

    assert click({"action_id": "read_level_3", "type": "button", "value": f"{cid}:3"}, root)["statusCode"] == 200
    assert click({"action_id": "read_level_5", "type": "button", "value": f"{cid}:5"}, root)["statusCode"] == 200
    pump(aws)
    assert store.conversations.get(cid).read_level == 3
    *_, card = calls_named(slack, "chat.update")
    assert "read_level_1" not in assessment_elements(card["blocks"]) and "READ 3" in json.dumps(card["blocks"])
    [told] = calls_named(slack, "chat.postEphemeral")
    assert "READ 3 was already recorded" in told["text"]

    topic = {"action_id": "topic_tag", "type": "static_select",
             "selected_option": {"value": f"{cid}:local_history", "text": {"type": "plain_text", "text": "x"}}}
    click(topic, root)
    click({**topic, "selected_option": {"value": f"{cid}:research"}}, root)
    pump(aws)
    assert store.conversations.get(cid).topic == "local_history"
    [today] = store.stats.days(date(2000, 1, 1), date(2100, 1, 1))
    assert today.read == {3: 1} and today.topics == {"local_history": 1} and today.conversations == {"sms": 1}


@pytest.mark.parametrize("value", ["cX:7", "cX:0", "cX", "", ":3", "cX:3:1"])
def test_a_read_click_with_a_bad_value_is_refused(aws, slack, value):
    response = click({"action_id": "read_level_3", "type": "button", "value": value}, "1700000001.000000")
    assert response["statusCode"] == 400


# --- ratings -------------------------------------------------------------------------------

def rate(session: dict, body, token: str | None = None) -> dict:
    from tests.functional.test_webchat import ORIGIN
    from tests.conftest import http_event

    raw = body if isinstance(body, str) else json.dumps(body)
    return invoke("webchat", http_event("POST", f"/chat/sessions/{session['session_id']}/rating", raw, {
        "content-type": "application/json", "authorization": f"Bearer {token or session['token']}",
        "origin": ORIGIN}))


def test_a_web_patron_rates_a_closed_chat_once_and_only_1_to_5(aws, slack):
    from refdesk import store

    session, root = open_chat(aws, slack)
    assert rate(session, {"rating": 4})["statusCode"] == 409  # still open
    close_chat(close_value(root))
    pump(aws)

    for bad in ({"rating": 0}, {"rating": 6}, {"rating": "5"}, {"rating": 4.5}, {"rating": True}, {}):
        assert rate(session, bad)["statusCode"] == 400, bad
    assert rate(session, {"rating": 4}, token="not-the-token")["statusCode"] == 403
    assert rate(session, {"rating": 4})["statusCode"] == 202
    assert rate(session, {"rating": 2})["statusCode"] == 409
    pump(aws)

    [today] = store.stats.days(date(2000, 1, 1), date(2100, 1, 1))
    assert today.ratings == {4: 1}


def test_a_rating_for_an_unknown_session_is_404(aws):
    assert rate({"session_id": "s" + "0" * 20, "token": "x"}, {"rating": 3})["statusCode"] == 404


def test_a_slack_connect_patron_gets_1_to_5_after_the_closing_line_and_rates_once(aws, slack):
    from refdesk import store

    conversation = open_partner_conversation(aws, slack)
    close_partner(conversation)
    pump(aws)
    [prompt] = [post for post in slack.posts() if post["channel"] == PARTNER_CHANNEL and post.get("blocks")
                and "How did we do?" in post["text"]]
    blocks = json.loads(prompt["blocks"]) if isinstance(prompt["blocks"], str) else prompt["blocks"]
    [buttons] = [block["elements"] for block in blocks if block["type"] == "actions"]
    assert [button["action_id"] for button in buttons] == [f"rate_{n}" for n in range(1, 6)]
    prompt_ts = prompt["answered_ts"]

    def press(button, user="U0PARTNER1", team="T0PARTNER"):
        return press_in_shared_thread(prompt_ts, button, user=user, team=team)

    # Anyone else in the shared channel (a colleague of the patron's, a librarian) cannot rate for them.
    assert press(buttons[0], user="U0PARTNER2")["statusCode"] == 200
    assert press(buttons[0], user="U0AMANDA", team="T0LIBRARY")["statusCode"] == 200
    pump(aws)
    assert store.stats.days(date(2000, 1, 1), date(2100, 1, 1))[0].ratings == {}
    assert not [call for call in calls_named(slack, "chat.update") if call["channel"] == PARTNER_CHANNEL]

    assert press(buttons[4])["statusCode"] == 200
    assert press(buttons[0])["statusCode"] == 200
    pump(aws)
    [today] = store.stats.days(date(2000, 1, 1), date(2100, 1, 1))
    assert today.ratings == {5: 1} and today.conversations == {"slack_connect": 1}
    thanks = [call for call in calls_named(slack, "chat.update") if call["channel"] == PARTNER_CHANNEL]
    assert thanks and thanks[0]["text"].startswith("Thank you")
    assert STAFF_CHANNEL != PARTNER_CHANNEL
