"""The library's contact card: a vCard 3.0 served at GET|HEAD /contact.vcf (parsed here with
vobject), offered by GET /presence to the widget, and sent as MMS media with the first reply to
a new SMS patron only: once per patron (by keyed hash), not per conversation. Through the real
handlers, moto, and the local Slack and Twilio stand-ins."""
from __future__ import annotations

import json
import os
import re
import secrets
import time
import urllib.parse

import pytest
import vobject

from tests.conftest import (ENV, LIBRARY_NUMBER, PUBLIC_BASE_URL, close_value, fixture, http_event, invoke, pump,
                            slack_event, twilio_event)
from tests.functional.test_relay import CLOSING

PATRON = "+15551234567"
OTHER_PATRON = "+15557654321"
CARD_URL = f"{PUBLIC_BASE_URL}/contact.vcf"
PHONE_ANY_FORMAT = re.compile(r"\D{0,3}".join("5551234567"))


# --- helpers ---------------------------------------------------------------------------

def configure(monkeypatch, **env: str) -> None:
    from refdesk.settings import get_settings

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


def text_in(body: str, sender: str = PATRON, **extra) -> None:
    params = {**fixture("sms_inbound.json"), "Body": body, "From": sender, **extra}
    params["MessageSid"] = params["SmsMessageSid"] = params["SmsSid"] = "SM" + secrets.token_hex(16)
    assert invoke("sms_inbound", twilio_event(params))["statusCode"] == 200


def open_conversation(aws, slack, sender: str = PATRON) -> dict:
    text_in("Do you have The Power Broker?", sender)
    pump(aws)
    root = slack.roots()[-1]
    return {"conversation_id": close_value(root), "root_ts": root["answered_ts"]}


def reply(thread_ts: str, text: str) -> None:
    payload = fixture("slack_message_reply.json")
    payload["event"].update(thread_ts=thread_ts, text=text, user="U0AMANDA")
    payload["event"]["ts"] = payload["event"]["event_ts"] = f"{time.time():.6f}"
    payload["event_id"] = "Ev" + secrets.token_hex(6).upper()
    assert invoke("slack_events", slack_event("/slack/events", json.dumps(payload)))["statusCode"] == 200


def press_close(conversation_id: str) -> None:
    payload = fixture("slack_block_actions_close.json")
    payload["actions"][0]["value"] = conversation_id
    payload["actions"][0]["action_ts"] = f"{time.time():.6f}"
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    invoke("slack_interactions", slack_event("/slack/interactions", body, "application/x-www-form-urlencoded"))


def texts(twilio, to: str = PATRON) -> list[tuple[str, list[str]]]:
    """(body, media URLs) of each text the library sent to `to`."""
    return [(message["body"], message["media_urls"]) for message in twilio.stand_in.sent() if message["to"] == to]


def get(path: str, method: str = "GET") -> dict:
    return invoke("presence", http_event(method, path, headers={"Accept": "*/*"}))


def parse(card: str):
    [parsed] = list(vobject.readComponents(card))
    return parsed


# --- the card ---------------------------------------------------------------------------

def test_the_card_is_a_vcard_3_with_the_librarys_name_number_site_and_email(aws, monkeypatch):
    configure(monkeypatch, LIBRARY_NAME="Riverside Public Library", LIBRARY_WEBSITE="https://riverside.example.org/",
              LIBRARY_EMAIL="ask@riverside.example.org")

    response = get("/contact.vcf")

    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "text/vcard; charset=utf-8"
    card = parse(response["body"])
    assert card.version.value == "3.0"
    assert card.fn.value == "Riverside Public Library"
    assert card.org.value == ["Riverside Public Library"]
    assert card.tel.value == LIBRARY_NUMBER
    assert {type_.upper() for type_ in card.tel.params["TYPE"]} >= {"MSG"}
    assert card.url.value == "https://riverside.example.org/"
    assert card.email.value == "ask@riverside.example.org"
    assert all(line.endswith("\r") or not line for line in response["body"].split("\n")[:-1])  # CRLF


def test_the_card_escapes_and_folds_what_the_library_configured(aws, monkeypatch):
    name = "Bibliothèque publique de Saint-Lambert; Annexe, Centre-Ville — « Réf »  " * 2
    configure(monkeypatch, LIBRARY_NAME=name.strip(), LIBRARY_WEBSITE="", LIBRARY_EMAIL="")

    body = get("/contact.vcf")["body"]

    assert all(len(line.encode()) <= 75 for line in body.split("\r\n"))
    card = parse(body)
    assert card.fn.value == name.strip()
    assert not hasattr(card, "url") and not hasattr(card, "email")
    assert card.tel.value == LIBRARY_NUMBER


def test_without_a_name_the_card_still_reads_as_the_desk(aws, monkeypatch):
    configure(monkeypatch, LIBRARY_NAME="")
    assert parse(get("/contact.vcf")["body"]).fn.value == "Ask a Librarian"


def test_the_card_is_cacheable_readable_anywhere_and_answers_head(aws):
    got, head = get("/contact.vcf"), get("/contact.vcf", "HEAD")

    for response in (got, head):
        assert response["statusCode"] == 200
        assert response["headers"]["content-type"] == "text/vcard; charset=utf-8"  # Twilio checks it
        assert response["headers"]["access-control-allow-origin"] == "*"
        directives = [part.strip() for part in response["headers"]["cache-control"].split(",")]
        assert "public" in directives and "max-age=3600" in directives
        assert response["headers"]["content-disposition"] == 'inline; filename="library.vcf"'
    assert head["body"] == "" and got["body"].startswith("BEGIN:VCARD")


def test_the_widget_that_offers_it_stays_under_12_kb_compressed():
    from tests.widget_budget import widget_within_budget

    widget = widget_within_budget()
    assert "Add to contacts" in widget and "'sms:'" in widget


def test_presence_tells_the_widget_the_number_and_the_card(aws):
    response = get("/presence")

    contact = json.loads(response["body"])["contact"]
    assert contact == {"sms": LIBRARY_NUMBER, "sms_label": "(500) 555-0006", "card": CARD_URL}


# --- once per new patron ------------------------------------------------------------------

def test_the_first_reply_to_a_new_patron_carries_the_card_and_no_other_does(aws, slack, twilio):
    first = open_conversation(aws, slack)
    reply(first["root_ts"], "Yes, two copies at Main.")
    pump(aws)
    reply(first["root_ts"], "They're on the new books shelf.")
    pump(aws)
    press_close(first["conversation_id"])
    pump(aws)
    second = open_conversation(aws, slack)
    assert second["conversation_id"] != first["conversation_id"]
    reply(second["root_ts"], "Welcome back! Yes, we're open Sunday.")
    pump(aws)

    sent = texts(twilio)
    assert [body for body, _ in sent] == ["Amanda (library): Yes, two copies at Main.",
                                          "Amanda (library): They're on the new books shelf.",
                                          CLOSING, "Amanda (library): Welcome back! Yes, we're open Sunday."]
    assert [media for _, media in sent] == [[CARD_URL], [], [], []]


def test_each_new_patron_gets_the_card_once(aws, slack, twilio):
    one = open_conversation(aws, slack, PATRON)
    two = open_conversation(aws, slack, OTHER_PATRON)
    for conversation in (one, two, one, two):
        reply(conversation["root_ts"], "An answer.")
        pump(aws)

    assert [media for _, media in texts(twilio, PATRON)] == [[CARD_URL], []]
    # (the second patron in line was also told their place: store.queue, not a reply)
    assert [media for body, media in texts(twilio, OTHER_PATRON) if "in line" not in body] == [[CARD_URL], []]


def test_only_the_first_part_of_a_long_first_reply_carries_it(aws, slack, twilio):
    conversation = open_conversation(aws, slack)
    reply(conversation["root_ts"], " ".join(["word"] * 500))
    pump(aws)

    media = [media for _, media in texts(twilio)]
    assert len(media) == 2 and media == [[CARD_URL], []]


def test_a_first_reply_retried_after_a_twilio_outage_still_carries_it(aws, slack, twilio):
    conversation = open_conversation(aws, slack)
    twilio.fail(500)
    reply(conversation["root_ts"], "Yes, we have it.")
    pump(aws)

    assert [media for _, media in texts(twilio)] == [[CARD_URL]]
    assert twilio.attempts() == 2


def test_a_first_reply_that_never_arrived_leaves_the_card_for_the_next(aws, slack, twilio):
    conversation = open_conversation(aws, slack)
    twilio.fail(400, code=21211, message="Invalid 'To' Phone Number")
    reply(conversation["root_ts"], "Yes, we have it.")
    pump(aws)
    reply(conversation["root_ts"], "Trying again.")
    pump(aws)

    assert [(body, media) for body, media in texts(twilio)] == [("Amanda (library): Trying again.", [CARD_URL])]


def test_notes_and_the_sms_acknowledgement_never_carry_it(aws, slack, twilio):
    conversation = open_conversation(aws, slack)
    reply(conversation["root_ts"], "note: I'll check the shelf first")
    pump(aws)
    assert texts(twilio) == []
    reply(conversation["root_ts"], "It's there.")
    pump(aws)

    assert texts(twilio) == [("Amanda (library): It's there.", [CARD_URL])]


def test_web_chat_patrons_are_not_sent_a_card(aws, slack, twilio):
    from refdesk import webchat as web

    session = web.create_session("203.0.113.7")
    web.post_message(session["session_id"], session["token"], {"text": "Hello?", "client_id": "c1"}, "203.0.113.7")
    pump(aws)
    reply(slack.roots()[-1]["answered_ts"], "Hi there!")
    pump(aws)

    assert twilio.stand_in.sent() == []


def test_send_contact_card_false_turns_it_off(aws, slack, twilio, monkeypatch):
    configure(monkeypatch, SEND_CONTACT_CARD="false")
    conversation = open_conversation(aws, slack)
    reply(conversation["root_ts"], "Yes.")
    pump(aws)

    assert texts(twilio) == [("Amanda (library): Yes.", [])]
    assert not any(item["pk"].startswith("CARD#") for item in table_items())


def test_without_a_public_base_url_the_card_is_on_the_apis_own_url(aws, slack, twilio, monkeypatch):
    configure(monkeypatch, API_URL="https://abc123.execute-api.us-east-1.amazonaws.com")
    conversation = open_conversation(aws, slack)
    configure(monkeypatch, PUBLIC_BASE_URL="")
    reply(conversation["root_ts"], "Yes.")
    pump(aws)

    assert texts(twilio) == [("Amanda (library): Yes.",
                              ["https://abc123.execute-api.us-east-1.amazonaws.com/contact.vcf"])]


def test_the_table_remembers_the_patron_by_hash_only_and_with_an_expiry(aws, slack, twilio):
    conversation = open_conversation(aws, slack)
    reply(conversation["root_ts"], "Yes.")
    pump(aws)

    [card] = [item for item in table_items() if item["pk"].startswith("CARD#")]
    assert int(card["expires_at"]) > time.time()
    assert PHONE_ANY_FORMAT.search(json.dumps(card, default=str)) is None


def table_items() -> list[dict]:
    import boto3

    return boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"]).scan()["Items"]


@pytest.mark.parametrize("number, label", [("+15005550006", "(500) 555-0006"), ("+442071234567", "+442071234567")])
def test_the_number_reads_like_a_phone_number(number, label):
    from refdesk.contact_card import sms_label

    assert sms_label(number) == label
