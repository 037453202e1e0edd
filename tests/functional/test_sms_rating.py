"""Issue 17, item 5: an SMS patron rates by answering the closing line. A librarian's close sends
the closing line with "Reply 1-5 to rate this chat"; a text of one digit 1-5 within 10 minutes,
while the patron has no newer conversation open, rates the closed conversation (counted once),
gets a thanks, opens nothing and never reaches staff. Any other text, a digit after the window or
after an idle close (no closing line), is a message as before.

Fed the fixtures of record: events/sms_inbound.json and events/sms_inbound_rating.json."""
from __future__ import annotations

import time
from datetime import date, timedelta
from types import SimpleNamespace

import pytest

from refdesk.assessment import THANKS
from refdesk.channels.contract import REPLY_RATING_HINT
from tests.conftest import ENV, fixture, invoke, log_to_captured_stdout, pump, twilio_event
from tests.functional.test_relay import (ACK, PATRON, PHONE_ANY_FORMAT, new_sid, open_conversation, press_close,
                                         section_texts, table_items, text_in, twiml_message)


def ratings() -> dict[int, int]:
    from refdesk import store

    return {rating: n for day in store.stats.days(date(2000, 1, 1), date(2100, 1, 1))
            for rating, n in day.ratings.items()}


def rating_in(body: str | None = None, **overrides) -> dict:
    """The fixture of record's rating text ("4"), under a fresh MessageSid unless one is given."""
    params = fixture("sms_inbound_rating.json")
    if body is not None:
        params["Body"] = body
    params["MessageSid"] = params["SmsSid"] = params["SmsMessageSid"] = overrides.pop("MessageSid", None) or new_sid()
    params.update(overrides)
    response = invoke("sms_inbound", twilio_event(params))
    assert response["statusCode"] == 200
    return response


def closed_by_a_librarian(aws, slack) -> dict:
    conversation = open_conversation(aws, slack)
    press_close(conversation["conversation_id"])
    pump(aws)
    slack.forget_calls()
    return conversation


def minutes_later(monkeypatch, minutes: float) -> None:
    """The session's clock (store.sessions: the rating window) moved on."""
    from refdesk.store import sessions

    moved = time.time() + minutes * 60
    monkeypatch.setattr(sessions, "time", SimpleNamespace(time=lambda: moved))


def test_the_closing_line_says_how_to_rate_in_one_text(aws, slack, twilio):
    closed_by_a_librarian(aws, slack)

    assert twilio.sent[-1]["body"] == f"{ENV['CLOSING_TEXT']} {REPLY_RATING_HINT}"
    assert len(twilio.sent[-1]["body"]) <= 160  # one GSM-7 segment with the default line too
    from refdesk.settings import CLOSING_TEXTS

    assert len(f"{CLOSING_TEXTS['sms']} {REPLY_RATING_HINT}") <= 160


def test_the_hint_follows_the_librarys_own_closing_line_and_only_where_the_channel_rates_by_reply(monkeypatch):
    from refdesk import channels
    from refdesk.settings import CLOSING_TEXTS, get_settings

    monkeypatch.setenv("CLOSING_TEXT", "Closed. Text 555-0100 any time.")
    get_settings.cache_clear()
    try:
        assert channels.closing_line("sms") == f"Closed. Text 555-0100 any time. {REPLY_RATING_HINT}"
        assert channels.closing_line("web") == CLOSING_TEXTS["web"]  # the widget offers its own rating
        assert REPLY_RATING_HINT not in channels.closing_line("slack_connect")  # rated with buttons
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize("body", ["4", " 4 ", "4.", "4!", "\n4 !\n"])
def test_a_digit_within_ten_minutes_rates_the_closed_conversation_and_opens_nothing(aws, slack, twilio, body):
    closed_by_a_librarian(aws, slack)
    sent_before = len(twilio.sent)

    response = rating_in(body)
    pump(aws)

    assert twiml_message(response) == THANKS
    assert ratings() == {4: 1}
    assert slack.posts() == [] and len(slack.roots()) == 0  # staff see nothing, no card
    assert len(twilio.sent) == sent_before  # the thanks is the webhook's answer, nothing else is texted
    session = next(item for item in table_items(aws) if item["pk"].startswith("SESSION#sms-"))
    assert "conversation_id" not in session  # no conversation opened


def test_a_digit_after_ten_minutes_is_a_message_that_opens_a_conversation(aws, slack, twilio, monkeypatch):
    closed_by_a_librarian(aws, slack)
    minutes_later(monkeypatch, 10.1)

    response = rating_in("4")
    pump(aws)

    assert twiml_message(response) == ACK
    [card] = slack.roots()
    assert "4" in section_texts(card["blocks"])[1:]
    assert ratings() == {}


def test_a_digit_just_inside_the_window_still_rates(aws, slack, twilio, monkeypatch):
    closed_by_a_librarian(aws, slack)
    minutes_later(monkeypatch, 9.9)

    assert twiml_message(rating_in("2")) == THANKS
    pump(aws)
    assert ratings() == {2: 1}


def test_a_second_digit_is_thanked_but_not_counted_again(aws, slack, twilio):
    closed_by_a_librarian(aws, slack)

    first, second = rating_in("4"), rating_in("1")
    pump(aws)

    assert twiml_message(first) == twiml_message(second) == THANKS
    assert ratings() == {4: 1}
    assert slack.posts() == []


@pytest.mark.parametrize("body", ["Yes", "6", "0", "45", "4 stars", "four", "4?"])
def test_any_other_text_within_the_window_is_a_message(aws, slack, twilio, body):
    closed_by_a_librarian(aws, slack)

    response = rating_in(body)
    pump(aws)

    assert twiml_message(response) == ACK
    [card] = slack.roots()
    assert any(body.strip() in text for text in section_texts(card["blocks"])[1:])
    assert ratings() == {}


def test_a_digit_while_a_newer_conversation_is_open_joins_it(aws, slack, twilio):
    closed_by_a_librarian(aws, slack)
    text_in("Yes")  # a new question: a newer conversation holds the session
    pump(aws)
    [card] = slack.roots()

    response = rating_in("5")
    pump(aws)

    assert twiml_message(response) is None  # joined the open conversation: no acknowledgement, no thanks
    assert ratings() == {}
    assert [post for post in slack.posts() if post.get("thread_ts") == card["answered_ts"]]


def test_a_retried_rating_text_after_the_window_is_a_duplicate_not_a_conversation(aws, slack, twilio, monkeypatch):
    closed_by_a_librarian(aws, slack)
    sid = new_sid()
    assert twiml_message(rating_in("3", MessageSid=sid)) == THANKS
    minutes_later(monkeypatch, 30)

    response = rating_in("3", MessageSid=sid)  # Twilio's retry, or a replay
    pump(aws)

    assert twiml_message(response) is None
    assert slack.roots() == [] and ratings() == {3: 1}


def test_the_rating_webhook_makes_two_aws_calls_and_never_calls_slack_or_twilio(aws, slack, twilio):
    from tests.functional.test_slack_connect_relay import aws_calls

    closed_by_a_librarian(aws, slack)
    sent_before = len(twilio.sent)
    calls = aws_calls()

    assert twiml_message(rating_in("4")) == THANKS

    assert calls == ["UpdateItem", "SendMessage"]  # the session's conditional write, the job
    assert slack.calls == [] and len(twilio.sent) == sent_before
    calls.clear()
    assert twiml_message(rating_in("Thanks a lot")) == ACK  # not a digit: no extra call before the claim
    assert calls == ["UpdateItem", "SendMessage"]


def test_the_rating_webhook_logs_no_number_and_no_text(aws, slack, twilio, capfd, monkeypatch):
    closed_by_a_librarian(aws, slack)
    log_to_captured_stdout(monkeypatch)
    capfd.readouterr()

    rating_in("5")
    pump(aws)

    logged = "".join(capfd.readouterr())
    assert ratings() == {5: 1}
    assert not PHONE_ANY_FORMAT.search(logged) and PATRON not in logged


def test_a_digit_after_an_idle_close_is_a_message(aws, slack, twilio, monkeypatch):
    """The idle close sends no closing line, so nothing asked for a rating."""
    from tests.functional.test_idle_close import answered, idle_closed, settle
    from tests.functional.test_sweep_wakeups import moved_clock

    from refdesk import idle
    from refdesk.store import table

    clock = moved_clock(monkeypatch, table, idle)
    conversation = answered(aws, slack)
    clock.passes(timedelta(hours=24))
    settle(aws, clock)
    assert idle_closed(slack, conversation)
    assert not any(REPLY_RATING_HINT in sent["body"] for sent in twilio.sent)

    response = rating_in("4")
    pump(aws)

    assert twiml_message(response) == ACK
    assert len(slack.roots()) == 2 and ratings() == {}
