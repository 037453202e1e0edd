"""What the patron receives, through the real handlers: Slack markup made plain on SMS and in the
web chat, a thread_broadcast relayed once, a reply with files (text relayed, the librarian told
privately), notes in every formatting kept internal, the closing line worded per channel, and
Twilio's Advanced Opt-Out (OptOutType is never a question; an opted-out number is never texted).
moto for DynamoDB and SQS, the fake Slack and Twilio clients, the dispatcher driven by pump."""
from __future__ import annotations

import json
import re
import secrets
import time
import urllib.parse
import xml.etree.ElementTree as ET

import pytest

from refdesk.channels.contract import REPLY_RATING_HINT
from tests.conftest import ENV, STAFF_CHANNEL, TEXT_DELIVERED, close_value, fixture, invoke, pump, slack_event, twilio_event

PATRON = "+15551234567"
PHONE_ANY_FORMAT = re.compile(r"\D{0,3}".join("5551234567"))
PATRON_IP = "203.0.113.7"


# --- helpers ---------------------------------------------------------------------------

def text_in(body: str, **extra) -> dict:
    params = {**fixture("sms_inbound.json"), "Body": body, **extra}
    params["MessageSid"] = params["SmsMessageSid"] = params["SmsSid"] = extra.get("MessageSid",
                                                                               "SM" + secrets.token_hex(16))
    response = invoke("sms_inbound", twilio_event(params))
    assert response["statusCode"] == 200, response
    return response


def twiml_message(response: dict) -> str | None:
    message = ET.fromstring(response["body"]).find("Message")
    return None if message is None else message.text


def open_sms_conversation(aws, slack) -> str:
    """A patron texted a question and its card is in the staff channel: the thread's ts."""
    text_in("Do you have The Power Broker?")
    pump(aws)
    return slack.roots()[-1]["answered_ts"]


def open_web_chat(aws, slack) -> tuple[dict, str]:
    """A web patron asked a question: (session, the thread's ts)."""
    from refdesk import webchat as web

    session = web.create_session(PATRON_IP)
    web.post_message(session["session_id"], session["token"], {"text": "Is the Caro on the shelf?",
                                                               "client_id": secrets.token_hex(8)}, PATRON_IP)
    pump(aws)
    return session, slack.roots()[-1]["answered_ts"]


def widget_reads(session: dict) -> list[tuple[str, str]]:
    from refdesk import webchat as web

    listed = web.list_messages(session["session_id"], session["token"], "")["messages"]
    return [(message["from"], message["text"]) for message in listed if message["from"] != "patron"]


def slack_in(payload: dict) -> None:
    response = invoke("slack_events", slack_event("/slack/events", json.dumps(payload)))
    assert response["statusCode"] == 200, response


def reply(thread_ts: str, text: str, *, ts: str = "1700000100.000200", event_id: str = "Ev0REPLY00001",
          user: str = "U0AMANDA") -> dict:
    payload = fixture("slack_message_reply.json")
    payload["event"].update(thread_ts=thread_ts, text=text, ts=ts, event_ts=ts, user=user)
    payload["event_id"] = event_id
    return payload


def in_thread(name: str, thread_ts: str, **event) -> dict:
    """A fixture of record re-pointed at the conversation's real thread."""
    payload = fixture(name)
    payload["event"].update(thread_ts=thread_ts, **event)
    return payload


def calls_named(slack, method: str) -> list[dict]:
    return [kwargs for name, kwargs in slack.calls if name == method]


def reactions(slack) -> list[tuple[str, str]]:
    return [(kwargs["timestamp"], kwargs["name"]) for kwargs in calls_named(slack, "reactions.add")]


def thread_posts(slack, thread_ts: str) -> list[dict]:
    return [post for post in slack.posts() if post.get("thread_ts") == thread_ts]


def press_close(thread_ts: str, root: dict) -> None:
    payload = fixture("slack_block_actions_close.json")
    payload["actions"][0]["value"] = close_value(root)
    payload["container"]["message_ts"] = thread_ts
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    response = invoke("slack_interactions", slack_event("/slack/interactions", body,
                                                        "application/x-www-form-urlencoded"))
    assert response["statusCode"] == 200, response


def table_items() -> list[dict]:
    from refdesk import clients

    return clients.get("table").scan()["Items"]


def texts_sent(twilio) -> list[tuple[str, str]]:
    """(to, body) of each text Twilio accepted: a send that was attempted would be here."""
    return [(sent["to"], sent["body"]) for sent in twilio.sent]


def count_aws_calls() -> list[str]:
    """The AWS operations made from now on by the handlers' table and queue clients."""
    from refdesk import clients

    calls: list[str] = []
    record = lambda model, **kwargs: calls.append(model.name)  # noqa: E731
    clients.get("table").meta.client.meta.events.register("before-call", record)
    clients.get("sqs").meta.events.register("before-call", record)
    return calls


def queue_depth(aws) -> int:
    attributes = aws["sqs"].get_queue_attributes(
        QueueUrl=aws["queue"], AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


# --- Slack markup, as the patron reads it ------------------------------------------------------

REAL_REPLY = ("Good news <@U0BEN> :tada: it's back! Hold shelf at <https://library.example.org/main|Main> "
              "&amp; see <#C0STAFF01|ref-desk> :wave::skin-tone-3: <!here>")
READS = "Good news Ben 🎉 it's back! Hold shelf at Main (https://library.example.org/main) & see #ref-desk 👋🏼 @here"


def test_an_sms_patron_reads_emoji_names_and_links_not_slack_markup(aws, slack, twilio):
    thread = open_sms_conversation(aws, slack)

    slack_in(reply(thread, REAL_REPLY))
    pump(aws)

    assert texts_sent(twilio) == [(PATRON, f"Amanda (library): {READS}")]
    assert any(method == "users.info" and params.get("user") == "U0BEN"  # the mention, by first name
               for method, params in slack.calls)
    assert reactions(slack) == [("1700000100.000200", name) for name in TEXT_DELIVERED]


def test_a_web_patron_reads_the_same_plain_text(aws, slack):
    session, thread = open_web_chat(aws, slack)

    slack_in(reply(thread, REAL_REPLY))
    pump(aws)

    assert widget_reads(session) == [("librarian", READS)]


# --- thread_broadcast ------------------------------------------------------------------------

def test_a_reply_also_sent_to_the_channel_is_relayed_once(aws, slack, twilio):
    thread = open_sms_conversation(aws, slack)
    broadcast = in_thread("slack_thread_broadcast.json", thread)

    slack_in(broadcast)
    slack_in(broadcast)  # Slack's retry of the same event
    pump(aws)

    assert [body for _, body in texts_sent(twilio)] == [
        "Amanda (library): Good news Ben 🎉 the Caro is back. It's on hold for you at Main until Friday 👍🏼"]
    assert reactions(slack) == [(broadcast["event"]["ts"], name) for name in TEXT_DELIVERED]


def test_the_same_message_seen_as_a_reply_and_as_a_broadcast_is_relayed_once(aws, slack, twilio):
    """Dedup is per Slack message (its ts), whatever event carried it."""
    thread = open_sms_conversation(aws, slack)
    broadcast = in_thread("slack_thread_broadcast.json", thread)
    plain = reply(thread, broadcast["event"]["text"], ts=broadcast["event"]["ts"], event_id="Ev0OTHEREVENT")

    slack_in(broadcast)
    pump(aws)
    slack_in(plain)
    pump(aws)

    assert len(twilio.sent) == 1


def test_a_broadcast_reaches_the_web_widget_too(aws, slack):
    session, thread = open_web_chat(aws, slack)

    slack_in(in_thread("slack_thread_broadcast.json", thread))
    pump(aws)

    assert [text for _, text in widget_reads(session)] == [
        "Good news Ben 🎉 the Caro is back. It's on hold for you at Main until Friday 👍🏼"]


# --- file_share ---------------------------------------------------------------------------------

def test_a_reply_whose_file_slack_no_longer_has_sends_the_text_and_tells_the_librarian_privately(aws, slack, twilio):
    """The fixture's file is not in the stand-in: as if deleted before the dispatcher came. Files
    Slack hands over reach the patron: tests/functional/test_files_in_web_chat.py."""
    thread = open_sms_conversation(aws, slack)
    now = f"{time.time():.6f}"  # a reply just sent: relayed on time, so no note about lateness either
    shared = in_thread("slack_file_share.json", thread, ts=now, event_ts=now)

    slack_in(shared)
    pump(aws)

    assert [body for _, body in texts_sent(twilio)] == [
        "Amanda (library): Here is the floor map & the call number: 974.71 C"]
    assert reactions(slack) == [(shared["event"]["ts"], name) for name in TEXT_DELIVERED]
    [note] = calls_named(slack, "chat.postEphemeral")
    assert (note["channel"], note["user"], note["thread_ts"]) == (STAFF_CHANNEL, "U0AMANDA", thread)
    assert "file" in note["text"].lower() and "not" in note["text"].lower().replace("n't", " not")
    assert thread_posts(slack, thread) == []  # nothing public in the thread
    files = json.dumps(table_items(), default=str)
    assert "files.slack.com" not in files and "main-floor-2.png" not in files


def test_a_file_alone_that_slack_no_longer_has_sends_nothing_and_only_tells_the_librarian(aws, slack, twilio):
    thread = open_sms_conversation(aws, slack)
    before = len(slack.calls)

    slack_in(in_thread("slack_file_share.json", thread, text=""))
    pump(aws)

    assert twilio.sent == []
    assert reactions(slack) == []
    [note] = calls_named(slack, "chat.postEphemeral")
    assert note["user"] == "U0AMANDA" and note["thread_ts"] == thread
    assert [method for method in slack.methods()[before:] if method not in ("auth.test", "users.info")] == [
        "files.info", "chat.postEphemeral"]


def test_a_web_patron_gets_a_replys_text_and_nothing_of_a_file_alone_slack_no_longer_has(aws, slack):
    session, thread = open_web_chat(aws, slack)

    slack_in(in_thread("slack_file_share.json", thread))
    slack_in(in_thread("slack_file_share.json", thread, text="", ts="1700000130.000500", event_ts="1700000130.000500")
             | {"event_id": "Ev0FILESHARE2"})
    pump(aws)

    assert widget_reads(session) == [("librarian", "Here is the floor map & the call number: 974.71 C")]
    assert len(calls_named(slack, "chat.postEphemeral")) == 2


def test_a_note_with_a_file_stays_internal_without_a_private_message(aws, slack, twilio):
    thread = open_sms_conversation(aws, slack)
    shared = in_thread("slack_file_share.json", thread, text="*note:* the map is out of date")

    slack_in(shared)
    pump(aws)

    assert twilio.sent == []
    assert reactions(slack) == [(shared["event"]["ts"], "lock")]
    assert calls_named(slack, "chat.postEphemeral") == []


# --- notes, however Slack formats the prefix ------------------------------------------------

@pytest.mark.parametrize("text", ["note: she called yesterday", "*note:* fines on the card", "*note*: fines",
                                  "_note:_ ask Ben", "`note:` ILL first", "Note: check holds",
                                  "   NOTE: renewals blocked", "~note:~ old"])
def test_a_note_stays_internal_on_sms(aws, slack, twilio, text):
    thread = open_sms_conversation(aws, slack)

    slack_in(reply(thread, text))
    pump(aws)

    assert twilio.sent == []
    assert reactions(slack) == [("1700000100.000200", "lock")]


@pytest.mark.parametrize("text", ["*note:* fines on the card", "_note:_ ask Ben", "`note:` ILL first"])
def test_a_note_never_reaches_the_widget(aws, slack, text):
    session, thread = open_web_chat(aws, slack)

    slack_in(reply(thread, text))
    pump(aws)

    assert widget_reads(session) == []


# --- the closing line, per channel --------------------------------------------------------------

def test_the_web_patron_is_not_told_to_text_us(aws, slack, monkeypatch):
    from refdesk.settings import CLOSING_TEXTS, get_settings

    monkeypatch.delenv("CLOSING_TEXT", raising=False)
    get_settings.cache_clear()
    session, thread = open_web_chat(aws, slack)

    press_close(thread, slack.roots()[-1])
    pump(aws)

    assert widget_reads(session) == [("system", CLOSING_TEXTS["web"])]
    assert "text" not in CLOSING_TEXTS["web"].lower()


def test_the_sms_patron_gets_the_sms_closing_line(aws, slack, twilio, monkeypatch):
    from refdesk.settings import CLOSING_TEXTS, get_settings

    monkeypatch.delenv("CLOSING_TEXT", raising=False)
    get_settings.cache_clear()
    thread = open_sms_conversation(aws, slack)

    press_close(thread, slack.roots()[-1])
    pump(aws)

    assert [body for _, body in texts_sent(twilio)] == [f"{CLOSING_TEXTS['sms']} {REPLY_RATING_HINT}"]
    assert "text us" in CLOSING_TEXTS["sms"].lower()


def test_closing_text_changes_the_sms_line_and_not_the_web_one(aws, slack, twilio):
    from refdesk.settings import CLOSING_TEXTS

    thread = open_sms_conversation(aws, slack)
    press_close(thread, slack.roots()[-1])
    session, web_thread = open_web_chat(aws, slack)
    press_close(web_thread, slack.roots()[-1])
    pump(aws)

    assert [body for _, body in texts_sent(twilio)] == [f"{ENV['CLOSING_TEXT']} {REPLY_RATING_HINT}"]
    assert widget_reads(session) == [("system", CLOSING_TEXTS["web"])]


# --- Twilio's Advanced Opt-Out ----------------------------------------------------------------

@pytest.mark.parametrize("opt_out_type, body", [("STOP", "STOP"), ("STOP", "arret"), ("START", "START"),
                                                ("START", "unstop"), ("HELP", "HELP"), ("HELP", "info please")])
def test_a_request_carrying_opt_out_type_never_opens_a_conversation(aws, slack, twilio, opt_out_type, body):
    response = text_in(body, OptOutType=opt_out_type)

    assert twiml_message(response) is None
    assert queue_depth(aws) == 0
    pump(aws)
    assert slack.calls == []
    assert twilio.sent == []


# START and HELP also try to join an open conversation (one conditional write, failing when none is).
@pytest.mark.parametrize("opt_out_type, expected", [("STOP", ["PutItem"]), ("START", ["DeleteItem", "UpdateItem"]),
                                                    ("HELP", ["UpdateItem"])])
def test_a_keyword_without_a_conversation_costs_at_most_two_writes_and_no_enqueue(aws, slack, twilio, opt_out_type,
                                                                                   expected):
    calls = count_aws_calls()

    text_in(opt_out_type, OptOutType=opt_out_type)

    assert calls == expected


def test_a_normal_text_still_makes_at_most_two_aws_calls(aws, slack, twilio):
    calls = count_aws_calls()

    text_in("Do you have The Power Broker?")

    assert calls == ["UpdateItem", "SendMessage"]


def test_an_opted_out_number_gets_a_cross_and_a_note_and_twilio_is_never_called(aws, slack, twilio):
    thread = open_sms_conversation(aws, slack)
    text_in("STOP", OptOutType="STOP")

    slack_in(reply(thread, "It's on the shelf!"))
    responses = pump(aws)

    assert twilio.sent == []
    assert "retry" not in responses  # not retried
    assert reactions(slack) == [("1700000100.000200", "x")]
    [warning] = thread_posts(slack, thread)
    assert ":warning:" in warning["text"] and "STOP" in warning["text"] and "START" in warning["text"]
    assert PHONE_ANY_FORMAT.search(warning["text"]) is None


def test_after_start_the_number_is_texted_again(aws, slack, twilio):
    thread = open_sms_conversation(aws, slack)
    text_in("STOP", OptOutType="STOP")
    text_in("START", OptOutType="START")

    slack_in(reply(thread, "It's on the shelf!"))
    pump(aws)

    assert [body for _, body in texts_sent(twilio)] == ["Amanda (library): It's on the shelf!"]


def test_closing_a_conversation_with_an_opted_out_patron_closes_it_without_texting(aws, slack, twilio):
    thread = open_sms_conversation(aws, slack)
    root = slack.roots()[-1]
    text_in("STOP", OptOutType="STOP")

    press_close(thread, root)
    pump(aws)

    assert twilio.sent == []
    assert any(call["ts"] == thread and call["text"].startswith("[closed]")
               for call in calls_named(slack, "chat.update"))


def test_the_opt_out_record_never_holds_the_phone_number(aws, slack, twilio):
    open_sms_conversation(aws, slack)
    text_in("STOP", OptOutType="STOP")

    items = table_items()
    assert any(item["pk"].startswith("OPTOUT#") for item in items)
    for item in items:
        if item["sk"] != "REPLY_TO":
            assert PHONE_ANY_FORMAT.search(json.dumps(item, default=str)) is None, item
    [opt_out] = [item for item in items if item["pk"].startswith("OPTOUT#")]
    assert int(opt_out["expires_at"]) > 0
