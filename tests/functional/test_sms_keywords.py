"""Issue 17, item 2: only Twilio's `OptOutType` decides what a keyword is. Every other text, "Yes"
included, is a patron's message; a START or HELP Twilio answered reaches staff, noted as a keyword,
when the patron has a conversation open, and opens none otherwise; a STOP is never shown. Also the
acknowledgement, the first automated text of a conversation, which says how to erase it.

Fed the fixtures of record: events/sms_inbound.json and events/sms_inbound_opt_out_{start,help}.json."""
from __future__ import annotations

import pytest

from refdesk.channels.sms import DELETE_HINT, KEYWORD_NOTES
from tests.conftest import ENV, fixture, invoke, pump, twilio_event
from tests.functional.test_relay import (ACK, new_sid, open_conversation, queue_depth, section_texts, staff_reply,
                                         text_in, twiml_message)


def keyword_in(kind: str) -> dict:
    """Twilio's request for a keyword it answered itself (Advanced Opt-Out), a fresh MessageSid."""
    params = fixture(f"sms_inbound_opt_out_{kind.lower()}.json")
    params["MessageSid"] = params["SmsSid"] = params["SmsMessageSid"] = new_sid()
    response = invoke("sms_inbound", twilio_event(params))
    assert response["statusCode"] == 200
    return response


def stop_in() -> dict:
    return text_in("STOP", OptOutType="STOP")


def thread_texts(slack, root_ts: str) -> list[str]:
    return ["\n".join(section_texts(post["blocks"])) or post["text"] for post in slack.posts()
            if post.get("thread_ts") == root_ts]


def texts_to_patron(twilio) -> list[str]:
    return [sent["body"] for sent in twilio.sent]


@pytest.mark.parametrize("body", ["Yes", "Info", "End", "STOP", "yes please", "Help"])
def test_a_text_without_opt_out_type_is_a_patron_message_whatever_its_words(aws, slack, twilio, body):
    response = text_in(body)

    assert twiml_message(response) == ACK
    pump(aws)
    [card] = slack.roots()
    assert any(body in text for text in section_texts(card["blocks"])[1:])


def test_yes_in_an_open_conversation_reaches_its_thread(aws, slack, twilio):
    conversation = open_conversation(aws, slack)

    response = text_in("Yes")
    pump(aws)

    assert twiml_message(response) is None  # not a new conversation: no acknowledgement
    assert len(slack.roots()) == 1
    [shown] = thread_texts(slack, conversation["root_ts"])
    assert "Yes" in shown and not any(note in shown for note in KEYWORD_NOTES.values())


@pytest.mark.parametrize("kind", ["START", "HELP"])
def test_a_start_or_help_reaches_the_open_conversation_labelled_as_a_keyword(aws, slack, twilio, kind):
    conversation = open_conversation(aws, slack)

    response = keyword_in(kind)
    pump(aws)

    assert twiml_message(response) is None  # Twilio answered it; the desk adds nothing
    assert len(slack.roots()) == 1
    [shown] = thread_texts(slack, conversation["root_ts"])
    assert kind in shown and KEYWORD_NOTES[kind] in shown


@pytest.mark.parametrize("kind", ["START", "HELP"])
def test_a_start_or_help_without_an_open_conversation_opens_nothing(aws, slack, twilio, kind):
    response = keyword_in(kind)

    assert twiml_message(response) is None
    assert queue_depth(aws) == 0
    pump(aws)
    assert slack.calls == [] and twilio.sent == []


def test_a_start_or_help_after_the_close_opens_nothing(aws, slack, twilio):
    from tests.functional.test_relay import press_close

    conversation = open_conversation(aws, slack)
    press_close(conversation["conversation_id"])
    pump(aws)
    slack.forget_calls()

    keyword_in("HELP")
    pump(aws)

    assert slack.posts() == []


def test_a_stop_is_never_shown_open_conversation_or_not(aws, slack, twilio):
    stop_in()
    pump(aws)
    assert slack.calls == []

    conversation = open_conversation(aws, slack)  # texted after the STOP: a question all the same
    stop_in()
    pump(aws)

    assert thread_texts(slack, conversation["root_ts"]) == []


def test_a_start_in_an_open_conversation_still_clears_the_opt_out(aws, slack, twilio):
    conversation = open_conversation(aws, slack)
    stop_in()
    keyword_in("START")
    pump(aws)

    staff_reply(conversation["root_ts"], "It's on the shelf!")
    pump(aws)

    assert texts_to_patron(twilio) == ["Amanda (library): It's on the shelf!"]


def test_the_first_automated_text_says_how_to_erase_the_conversation_once(aws, slack, twilio):
    first = text_in("Do you have The Power Broker?")
    second = text_in("Also as an ebook?")

    assert twiml_message(first) == f"{ENV['SMS_ACK_TEXT']} {DELETE_HINT}"
    assert twiml_message(second) is None


def test_no_acknowledgement_configured_sends_no_hint_either(aws, slack, twilio, monkeypatch):
    from refdesk.settings import get_settings

    monkeypatch.setenv("SMS_ACK_TEXT", "")
    get_settings.cache_clear()

    assert twiml_message(text_in("Do you have The Power Broker?")) is None
