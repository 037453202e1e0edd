"""The SMS <-> Slack relay end to end, in process: the webhook handlers fed the fixtures of record
(events/*.json), moto for DynamoDB and SQS, and the local Slack and Twilio stand-ins reached by the
real WebClient and twilio Client. The dispatcher is driven with conftest.pump, the way Lambda's
SQS integration would drive it."""
from __future__ import annotations

import json
import os
import re
import secrets
import time
import urllib.parse
import xml.etree.ElementTree as ET

import pytest

from local.signing import twilio_signature_header
from refdesk.channels.contract import REPLY_RATING_HINT
from tests.conftest import (AUTH_TOKEN, ENV, LIBRARY_NUMBER, PUBLIC_BASE_URL, STAFF_CHANNEL, TEXT_DELIVERED, close_value,
                            fixture, http_event, invoke, log_to_captured_stdout, pump, slack_event, twilio_event)

PATRON = "+15551234567"
# The patron's national number with up to three non-digits between digits: "+1 (555) 123-4567",
# "555.123.4567", "15551234567" ... all match.
PHONE_ANY_FORMAT = re.compile(r"\D{0,3}".join("5551234567"))
ACK = f"{ENV['SMS_ACK_TEXT']} Text DELETE to erase this conversation."
CLOSING = f"{ENV['CLOSING_TEXT']} {REPLY_RATING_HINT}"  # an SMS patron rates by reply (channels.closing_line)
BROKEN_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")


# --- helpers ---------------------------------------------------------------------------

def new_sid(prefix: str = "SM") -> str:
    return prefix + secrets.token_hex(16)


def sms_params(body: str | None = None, **overrides) -> dict:
    params = fixture("sms_inbound.json")
    if body is not None:
        params["Body"] = body
    params.update(overrides)
    sid = params["MessageSid"]
    params["SmsMessageSid"] = params["SmsSid"] = sid
    return params


def text_in(body: str | None = None, **overrides) -> dict:
    """A signed inbound SMS through the webhook. A fresh MessageSid unless one is given."""
    overrides.setdefault("MessageSid", new_sid())
    return invoke("sms_inbound", twilio_event(sms_params(body, **overrides)))


def twiml_message(response: dict) -> str | None:
    root = ET.fromstring(response["body"])
    assert root.tag == "Response"
    message = root.find("Message")
    return None if message is None else message.text


def error_of(response: dict) -> dict:
    assert response["headers"]["content-type"].startswith("application/json")
    body = json.loads(response["body"])
    assert set(body["error"]) >= {"code", "message"}
    return body["error"]


def queue_depth(aws, queue: str = "queue") -> int:
    attributes = aws["sqs"].get_queue_attributes(
        QueueUrl=aws[queue], AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def table_items(aws) -> list[dict]:
    import boto3

    return boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"]).scan()["Items"]


def strings(value):
    """Every string inside a (nested) Slack call."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings(item)


def section_texts(blocks: list[dict]) -> list[str]:
    return [block["text"]["text"] for block in blocks or [] if block.get("type") == "section"]




def calls_named(slack, method: str) -> list[dict]:
    return [kwargs for name, kwargs in slack.calls if name == method]


def reactions(slack) -> list[tuple[str, str]]:
    return [(kwargs["timestamp"], kwargs["name"]) for kwargs in calls_named(slack, "reactions.add")]




def conversation_of(root: dict) -> dict:
    return {"conversation_id": close_value(root), "root_ts": root["answered_ts"], "root": root}


def open_conversation(aws, slack, body: str | None = None) -> dict:
    response = text_in(body)
    assert response["statusCode"] == 200
    pump(aws)
    return conversation_of(slack.roots()[-1])


def slack_json(payload: dict, extra_headers: dict | None = None, **signing) -> dict:
    event = slack_event("/slack/events", json.dumps(payload), **signing)
    event["headers"].update({name.lower(): value for name, value in (extra_headers or {}).items()})
    return event


def reply_payload(thread_ts: str, text: str | None = None, *, ts: str | None = None,
                  event_id: str | None = None, user: str = "U0AMANDA") -> dict:
    payload = fixture("slack_message_reply.json")
    event = payload["event"]
    event["thread_ts"] = thread_ts
    event["user"] = user
    if text is not None:
        event["text"] = text
    if ts is not None:
        event["ts"] = event["event_ts"] = ts
    if event_id is not None:
        payload["event_id"] = event_id
    return payload


def staff_reply(thread_ts: str, text: str | None = None, *, headers: dict | None = None, **kwargs) -> dict:
    response = invoke("slack_events", slack_json(reply_payload(thread_ts, text, **kwargs), headers))
    assert response["statusCode"] == 200
    return response


def with_thread(name: str, thread_ts: str) -> dict:
    """An edit/delete fixture re-pointed at the conversation's real thread."""
    payload = fixture(name)
    for key in ("message", "previous_message"):
        if key in payload["event"]:
            payload["event"][key]["thread_ts"] = thread_ts
    if "thread_ts" in payload["event"]:
        payload["event"]["thread_ts"] = thread_ts
    return payload


def press_close(conversation_id: str, *, action_ts: str = "1700000200.123456", **signing) -> dict:
    payload = fixture("slack_block_actions_close.json")
    payload["actions"][0]["value"] = conversation_id
    payload["actions"][0]["action_ts"] = action_ts
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    return invoke("slack_interactions",
                  slack_event("/slack/interactions", body, "application/x-www-form-urlencoded", **signing))


# --- SMS in ----------------------------------------------------------------------------

def test_first_text_opens_a_conversation_and_posts_a_masked_card(aws, slack, twilio):
    question = fixture("sms_inbound.json")["Body"]

    response = text_in()

    assert response["statusCode"] == 200
    assert response["headers"]["content-type"].startswith("text/xml")
    assert twiml_message(response) == ACK
    assert slack.calls == []  # nothing reaches Slack before the dispatcher runs

    pump(aws)

    posts = slack.posts()
    assert len(posts) == 1
    card = posts[0]
    assert card["channel"] == STAFF_CHANNEL
    assert not card.get("thread_ts")
    sections = section_texts(card["blocks"])
    assert "SMS ···4567" in sections[0]
    assert any(question in text for text in sections[1:])
    actions = [block for block in card["blocks"] if block["type"] == "actions"]
    assert len(actions) == 1
    assert "close_conversation" in [element["action_id"] for element in actions[0]["elements"]]
    assert actions[0]["elements"][0]["value"].strip()
    everything = json.dumps(slack.calls, ensure_ascii=False)
    assert PHONE_ANY_FORMAT.search(everything) is None
    assert twilio.sent == []


def test_second_text_goes_into_the_same_thread_without_a_second_ack(aws, slack, twilio):
    conversation = open_conversation(aws, slack)

    response = text_in("Also, is it available as an ebook?")

    assert response["statusCode"] == 200
    assert response["headers"]["content-type"].startswith("text/xml")
    assert len(ET.fromstring(response["body"])) == 0  # an empty <Response/>
    assert twiml_message(response) is None
    pump(aws)
    posts = slack.posts()
    assert len(posts) == 2
    follow_up = posts[1]
    assert follow_up["channel"] == STAFF_CHANNEL
    assert follow_up["thread_ts"] == conversation["root_ts"]
    assert any("Also, is it available as an ebook?" in text for text in section_texts(follow_up["blocks"]))
    assert len(slack.roots()) == 1
    assert PHONE_ANY_FORMAT.search(json.dumps(slack.calls, ensure_ascii=False)) is None


def test_a_duplicate_delivery_is_stored_once_and_posted_once(aws, slack, twilio):
    params = sms_params(MessageSid=new_sid())

    first = invoke("sms_inbound", twilio_event(params))
    again = invoke("sms_inbound", twilio_event(params))

    assert first["statusCode"] == again["statusCode"] == 200
    assert twiml_message(first) == ACK
    assert again["headers"]["content-type"].startswith("text/xml")
    pump(aws)
    assert len(slack.posts()) == 1
    messages = [item for item in table_items(aws) if item["sk"].startswith("MSG#")]
    assert len(messages) == 1
    assert messages[0]["message_id"] == params["MessageSid"]


def test_a_redelivery_after_a_failed_enqueue_still_reaches_staff(aws, slack, twilio):
    """Twilio retries when the first delivery failed after the claim: the retry must enqueue."""
    from refdesk import clients

    params = sms_params(MessageSid=new_sid())
    sqs = clients.get("sqs")

    def refuse(**kwargs):
        raise RuntimeError("SQS unavailable")

    sqs.meta.events.register_first("before-call.sqs.SendMessage", refuse)
    with pytest.raises(RuntimeError):
        invoke("sms_inbound", twilio_event(params))
    sqs.meta.events.unregister("before-call.sqs.SendMessage", refuse)

    retry = invoke("sms_inbound", twilio_event(params))

    assert retry["statusCode"] == 200
    pump(aws)
    assert len(slack.roots()) == 1


@pytest.mark.parametrize("step", ["first", "follow-up", "duplicate"])
def test_the_webhook_makes_at_most_two_aws_calls_and_never_calls_slack_or_twilio(aws, slack, twilio, step):
    from refdesk import clients

    if step != "first":
        open_conversation(aws, slack)
        slack.forget_calls()
    params = sms_params(MessageSid=new_sid())
    if step == "duplicate":
        invoke("sms_inbound", twilio_event(params))
    calls = []
    table, sqs = clients.get("table"), clients.get("sqs")
    record = lambda model, **kwargs: calls.append(model.name)  # noqa: E731
    table.meta.client.meta.events.register("before-call", record)
    sqs.meta.events.register("before-call", record)

    response = invoke("sms_inbound", twilio_event(params))

    assert response["statusCode"] == 200
    assert 1 <= len(calls) <= 2, calls
    assert slack.calls == []
    assert twilio.sent == []


@pytest.mark.parametrize("when", ["opening", "follow-up"])
def test_patron_text_cannot_ping_anyone_in_slack(aws, slack, twilio, when):
    text = "<!channel> and <@U123> & co"
    if when == "follow-up":
        open_conversation(aws, slack)
    text_in(text)
    pump(aws)

    texts = list(strings(slack.calls))
    assert any("&lt;!channel&gt; and &lt;@U123&gt; &amp; co" in value for value in texts)
    for value in texts:
        assert "<!channel>" not in value
        assert "<@U123>" not in value
        assert BROKEN_ENTITY.search(value) is None, value


@pytest.mark.parametrize("when", ["opening", "follow-up"])
def test_a_5000_character_text_respects_slack_limits(aws, slack, twilio, when):
    words = " ".join(f"word{i:04d}" for i in range(600))[:5000]
    assert len(words) == 5000
    if when == "follow-up":
        open_conversation(aws, slack)
        slack.forget_calls()
    text_in(words)
    pump(aws)

    posts = slack.posts()
    assert posts
    shown = []
    for post in posts:
        assert len(post["blocks"]) <= 50
        assert len(post["text"]) <= 40_000
        for text in section_texts(post["blocks"]):
            assert 0 < len(text) <= 3000
            if "SMS ···4567" not in text:
                shown.append(text)
    assert "".join(shown).split() == words.split()


def test_a_sentence_containing_stop_is_still_a_question(aws, slack, twilio):
    response = text_in("Which bus stop is closest to the library?")
    assert twiml_message(response) == ACK
    assert queue_depth(aws) == 1


def test_an_mms_without_text_is_accepted_with_a_note(aws, slack, twilio):
    sid = new_sid("MM")
    response = text_in("", MessageSid=sid, NumMedia="1", MediaContentType0="image/jpeg",
                       MediaUrl0=f"https://api.twilio.com/2010-04-01/Accounts/{'AC' + '0' * 32}/Messages/{sid}"
                                 f"/Media/ME{secrets.token_hex(16)}")

    assert response["statusCode"] == 200
    assert twiml_message(response) == ACK
    pump(aws)
    card = slack.posts()[0]
    question = " ".join(section_texts(card["blocks"])[1:])
    assert "1 picture" in question


# --- SMS: refused input ----------------------------------------------------------------

def assert_refused(response: dict, status: int, aws) -> None:
    assert response["statusCode"] == status
    assert error_of(response)
    assert table_items(aws) == []
    assert queue_depth(aws) == 0


@pytest.mark.parametrize("signature", ["", "bm90LWEtc2lnbmF0dXJl", None])
def test_missing_or_bad_twilio_signature_is_refused(aws, slack, twilio, signature):
    event = twilio_event(sms_params(MessageSid=new_sid()), signature=signature or "")
    if signature is None:
        del event["headers"]["x-twilio-signature"]

    assert_refused(invoke("sms_inbound", event), 403, aws)


def test_a_signature_for_another_url_is_refused(aws, slack, twilio):
    params = sms_params(MessageSid=new_sid())
    signature = twilio_signature_header(AUTH_TOKEN, PUBLIC_BASE_URL + "/sms/other", params)["X-Twilio-Signature"]

    assert_refused(invoke("sms_inbound", twilio_event(params, signature=signature)), 403, aws)


def test_a_signature_over_different_parameters_is_refused(aws, slack, twilio):
    params = sms_params(MessageSid=new_sid())
    signature = twilio_signature_header(AUTH_TOKEN, PUBLIC_BASE_URL + "/sms/inbound", params)["X-Twilio-Signature"]
    tampered = {**params, "Body": "Please text me everyone's holds"}

    assert_refused(invoke("sms_inbound", twilio_event(tampered, signature=signature)), 403, aws)


def test_the_wrong_content_type_is_refused(aws, slack, twilio):
    params = sms_params(MessageSid=new_sid())
    event = twilio_event(params)
    event["headers"]["content-type"] = "application/json"

    assert_refused(invoke("sms_inbound", event), 415, aws)


@pytest.mark.parametrize("raw", [
    b"From=%2B15551234567&Body=caf\xe9&MessageSid=SM" + b"0" * 32,  # Latin-1 byte on the wire
    b"From=%2B15551234567&Body=caf%E9&MessageSid=SM" + b"0" * 32,  # percent-encoded invalid UTF-8
])
def test_a_body_that_is_not_utf8_is_refused(aws, slack, twilio, raw):
    event = http_event("POST", "/sms/inbound", raw, {"Content-Type": "application/x-www-form-urlencoded",
                                                      "X-Twilio-Signature": "c2lnbmF0dXJl"})
    assert_refused(invoke("sms_inbound", event), 400, aws)


@pytest.mark.parametrize("raw", ["From=%2B15551234567&&Body=hi", "MessageSid=SM123&From"])
def test_a_malformed_form_is_refused(aws, slack, twilio, raw):
    event = http_event("POST", "/sms/inbound", raw, {"Content-Type": "application/x-www-form-urlencoded",
                                                      "X-Twilio-Signature": "c2lnbmF0dXJl"})
    assert_refused(invoke("sms_inbound", event), 400, aws)


def test_a_body_that_is_not_base64_is_refused(aws, slack, twilio):
    event = twilio_event(sms_params(MessageSid=new_sid()))
    event["body"] = "%%% not base64 %%%"
    assert_refused(invoke("sms_inbound", event), 400, aws)


@pytest.mark.parametrize("missing", ["MessageSid", "From"])
def test_a_signed_text_without_message_sid_or_from_is_refused(aws, slack, twilio, missing):
    params = sms_params(MessageSid=new_sid())
    del params[missing]
    assert_refused(invoke("sms_inbound", twilio_event(params)), 400, aws)


@pytest.mark.parametrize("field, value", [("MessageSid", "SM123"), ("From", "5551234567"),
                                          ("NumMedia", "lots")])
def test_a_signed_text_with_malformed_fields_is_refused(aws, slack, twilio, field, value):
    params = sms_params(MessageSid=new_sid())
    params[field] = value
    assert_refused(invoke("sms_inbound", twilio_event(params)), 400, aws)


def test_an_oversize_body_is_refused(aws, slack, twilio):
    params = sms_params("x" * (64 * 1024 + 1), MessageSid=new_sid())
    assert_refused(invoke("sms_inbound", twilio_event(params)), 413, aws)


def test_unknown_extra_twilio_parameters_are_accepted(aws, slack, twilio):
    params = sms_params(MessageSid=new_sid(), MessagingServiceSid="MG" + secrets.token_hex(16),
                        AddOns='{"status":"successful","message":null,"code":null,"results":{}}',
                        SomeFutureParameter="", OptOutType="")
    response = invoke("sms_inbound", twilio_event(params))

    assert response["statusCode"] == 200
    assert twiml_message(response) == ACK
    assert queue_depth(aws) == 1


def test_a_query_string_on_the_webhook_url_is_part_of_the_signature(aws, slack, twilio):
    params = sms_params(MessageSid=new_sid())
    url = PUBLIC_BASE_URL + "/sms/inbound?branch=main"
    event = twilio_event(params, signature=twilio_signature_header(AUTH_TOKEN, url, params)["X-Twilio-Signature"])
    event["rawQueryString"] = "branch=main"

    assert invoke("sms_inbound", event)["statusCode"] == 200


# --- Slack events ----------------------------------------------------------------------

def test_url_verification_answers_the_challenge(aws, slack, twilio):
    payload = fixture("slack_url_verification.json")

    response = invoke("slack_events", slack_json(payload))

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"challenge": payload["challenge"]}


def test_url_verification_with_a_bad_signature_is_refused(aws, slack, twilio):
    payload = fixture("slack_url_verification.json")
    response = invoke("slack_events", slack_json(payload, secret="not-the-signing-secret"))

    assert response["statusCode"] == 403
    assert payload["challenge"] not in response["body"]
    error_of(response)


@pytest.mark.parametrize("signing", [{"secret": "not-the-signing-secret"}, {"skew": -6 * 60}, {"skew": 6 * 60}],
                         ids=["wrong-secret", "6-minutes-old", "6-minutes-ahead"])
def test_a_bad_signature_or_stale_timestamp_is_refused(aws, slack, twilio, signing):
    # The timestamp is taken when the test runs: at collection it could be minutes stale.
    if "skew" in signing:
        signing = {"timestamp": int(time.time()) + signing["skew"]}
    response = invoke("slack_events", slack_json(reply_payload("1700000001.000000"), **signing))

    assert response["statusCode"] == 403
    error_of(response)
    assert queue_depth(aws) == 0


def test_missing_slack_signature_headers_are_refused(aws, slack, twilio):
    event = slack_json(reply_payload("1700000001.000000"))
    del event["headers"]["x-slack-signature"]
    response = invoke("slack_events", event)
    assert response["statusCode"] == 403
    error_of(response)


def test_a_body_changed_after_signing_is_refused(aws, slack, twilio):
    event = slack_json(reply_payload("1700000001.000000"))
    event["body"] = event["body"].replace("Two copies", "Ten copies")
    response = invoke("slack_events", event)
    assert response["statusCode"] == 403
    assert queue_depth(aws) == 0


def test_a_librarian_reply_is_texted_to_the_patron_and_marked_sent(aws, slack, twilio):
    conversation = open_conversation(aws, slack)
    payload = reply_payload(conversation["root_ts"])

    response = invoke("slack_events", slack_json(payload))

    assert response["statusCode"] == 200
    assert twilio.sent == []  # acked before anything is sent
    pump(aws)
    assert twilio.sent == [{"to": PATRON, "from_": LIBRARY_NUMBER,
                            "body": "Amanda (library): " + payload["event"]["text"]}]
    assert reactions(slack) == [(payload["event"]["ts"], name) for name in TEXT_DELIVERED]
    assert {reaction["channel"] for reaction in calls_named(slack, "reactions.add")} == {STAFF_CHANNEL}


def test_slack_escapes_and_links_are_undone_for_sms(aws, slack, twilio):
    conversation = open_conversation(aws, slack)
    staff_reply(conversation["root_ts"],
                "Tom &amp; Jerry &lt;3 &gt; see <https://catalog.example.org/record/123|the catalog record> "
                "or <https://library.example.org/hours>")
    pump(aws)

    [sent] = twilio.sent
    assert sent["body"] == ("Amanda (library): Tom & Jerry <3 > see the catalog record "
                            "(https://catalog.example.org/record/123) or https://library.example.org/hours")


@pytest.mark.parametrize("text", ["note: she called yesterday too", "  NOTE: check ILL first"])
def test_a_note_stays_internal(aws, slack, twilio, text):
    conversation = open_conversation(aws, slack)
    staff_reply(conversation["root_ts"], text, ts="1700000150.000100")
    pump(aws)

    assert twilio.sent == []
    assert reactions(slack) == [("1700000150.000100", "lock")]


def test_a_retried_event_is_relayed_once(aws, slack, twilio):
    conversation = open_conversation(aws, slack)
    retry_headers = fixture("slack_message_retry_headers.json")

    staff_reply(conversation["root_ts"])
    staff_reply(conversation["root_ts"], headers=retry_headers)
    pump(aws)

    assert len(twilio.sent) == 1
    assert [name for _, name in reactions(slack)] == TEXT_DELIVERED


def test_a_late_retry_after_delivery_is_not_relayed_again(aws, slack, twilio):
    """Slack's last retry comes ~5 min later, past the FIFO de-duplication window."""
    conversation = open_conversation(aws, slack)
    staff_reply(conversation["root_ts"])
    pump(aws)
    retry_headers = {**fixture("slack_message_retry_headers.json"), "X-Slack-Retry-Num": "3"}

    staff_reply(conversation["root_ts"], headers=retry_headers)
    pump(aws)

    assert len(twilio.sent) == 1


def test_the_bots_own_messages_are_ignored(aws, slack, twilio):
    conversation = open_conversation(aws, slack)
    payload = with_thread("slack_bot_echo.json", conversation["root_ts"])

    response = invoke("slack_events", slack_json(payload))

    assert response["statusCode"] == 200
    assert queue_depth(aws) == 0
    pump(aws)
    assert twilio.sent == []


@pytest.mark.parametrize("subtype", ["bot_message", "channel_join", "channel_topic"])
def test_other_message_subtypes_are_ignored(aws, slack, twilio, subtype):
    conversation = open_conversation(aws, slack)
    payload = reply_payload(conversation["root_ts"])
    payload["event"]["subtype"] = subtype

    assert invoke("slack_events", slack_json(payload))["statusCode"] == 200
    assert queue_depth(aws) == 0


def test_a_non_message_event_is_ignored(aws, slack, twilio):
    conversation = open_conversation(aws, slack)
    payload = with_thread("slack_app_mention.json", conversation["root_ts"])

    assert invoke("slack_events", slack_json(payload))["statusCode"] == 200
    assert queue_depth(aws) == 0
    pump(aws)
    assert twilio.sent == []


@pytest.mark.parametrize("name", ["slack_message_changed.json", "slack_message_deleted.json"])
def test_edits_and_deletions_are_not_relayed_but_explained(aws, slack, twilio, name):
    conversation = open_conversation(aws, slack)
    staff_reply(conversation["root_ts"])
    pump(aws)
    assert len(twilio.sent) == 1

    response = invoke("slack_events", slack_json(with_thread(name, conversation["root_ts"])))

    assert response["statusCode"] == 200
    pump(aws)
    assert len(twilio.sent) == 1
    [ephemeral] = calls_named(slack, "chat.postEphemeral")
    assert ephemeral["channel"] == STAFF_CHANNEL
    assert ephemeral["user"] == "U0AMANDA"
    assert ephemeral["thread_ts"] == conversation["root_ts"]


def test_a_message_changed_without_an_edit_is_not_reported_as_one(aws, slack, twilio):
    conversation = open_conversation(aws, slack)
    staff_reply(conversation["root_ts"])
    pump(aws)
    payload = with_thread("slack_message_changed.json", conversation["root_ts"])
    changed = payload["event"]["message"]
    changed.pop("edited")
    changed["text"] = payload["event"]["previous_message"]["text"]
    changed["attachments"] = [{"from_url": "https://catalog.example.org/record/123", "title": "The Power Broker",
                               "original_url": "https://catalog.example.org/record/123", "id": 1}]

    invoke("slack_events", slack_json(payload))
    pump(aws)

    assert len(twilio.sent) == 1
    assert calls_named(slack, "chat.postEphemeral") == []


@pytest.mark.parametrize("name", ["slack_message_changed.json", "slack_message_deleted.json"])
def test_edits_in_a_thread_that_is_not_a_conversation_are_ignored(aws, slack, twilio, name):
    open_conversation(aws, slack)
    slack.forget_calls()

    invoke("slack_events", slack_json(with_thread(name, "1699999999.000100")))
    pump(aws)

    assert slack.calls == []
    assert twilio.sent == []


@pytest.mark.parametrize("kind", ["app_rate_limited", "app_uninstalled_team"])
def test_other_callback_types_are_acknowledged_and_ignored(aws, slack, twilio, kind):
    payload = {"token": "TZRCrwS__g2WPV7Ph1Mh6ugd", "type": kind, "team_id": "T0LIBRARY",
               "minute_rate_limited": 1518467820, "api_app_id": "A0REFDESK1"}
    response = invoke("slack_events", slack_json(payload))
    assert response["statusCode"] == 200
    assert queue_depth(aws) == 0


def test_an_event_callback_without_an_event_id_is_refused(aws, slack, twilio):
    payload = reply_payload("1700000001.000000")
    del payload["event_id"]
    response = invoke("slack_events", slack_json(payload))
    assert response["statusCode"] == 400
    error_of(response)
    assert queue_depth(aws) == 0


def test_a_slack_event_that_is_not_json_is_refused(aws, slack, twilio):
    body = urllib.parse.urlencode({"payload": json.dumps(reply_payload("1700000001.000000"))})
    response = invoke("slack_events", slack_event("/slack/events", body, "application/x-www-form-urlencoded"))
    assert response["statusCode"] == 415
    error_of(response)


def test_a_reply_in_a_thread_that_is_not_a_conversation_is_ignored(aws, slack, twilio):
    open_conversation(aws, slack)
    slack.forget_calls()

    staff_reply("1699999999.000100", "Lunch order: two bagels")
    pump(aws)

    assert twilio.sent == []
    assert slack.calls == []


def test_a_reply_of_slacks_largest_size_is_accepted_and_relayed(aws, slack, twilio):
    """Slack allows 40,000 characters in a message: in 4-byte characters, with its blocks, the event
    is well over 64 KiB. It is accepted, and the patron gets all of it."""
    conversation = open_conversation(aws, slack)
    text = " ".join(["📚 " + "a" * 7] * 4000)  # 40,000 characters
    payload = reply_payload(conversation["root_ts"], text)
    payload["event"]["blocks"] = [{"type": "rich_text", "elements": [
        {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}]}]
    assert len(json.dumps(payload, ensure_ascii=False).encode()) > 64 * 1024

    response = invoke("slack_events", slack_json(payload))
    pump(aws)

    assert response["statusCode"] == 200
    bodies = [message["body"] for message in twilio.sent]
    assert " ".join(bodies).split() == ("Amanda (library): " + text).split()


def test_a_long_reply_is_sent_as_several_sms(aws, slack, twilio):
    conversation = open_conversation(aws, slack)
    text = " ".join(f"Step {i}: check the catalog, then the shelf list." for i in range(80))
    assert len(text) > 3200
    staff_reply(conversation["root_ts"], text)
    pump(aws)

    bodies = [sent["body"] for sent in twilio.sent]
    assert len(bodies) >= 3
    assert all(len(body) <= 1600 for body in bodies)
    assert all(sent["to"] == PATRON for sent in twilio.sent)
    assert " ".join(bodies).split() == ("Amanda (library): " + text).split()
    assert [name for _, name in reactions(slack)] == TEXT_DELIVERED


def test_a_later_message_and_reply_leave_unchanged_items_unwritten(aws, slack, twilio):
    """Every write is billed, also one that changes nothing or whose condition fails: once the
    conversation is open, claimed and answered, a patron message and a reply read the
    conversation, where replies go and the contact card, and write none of them."""
    from refdesk import clients

    conversation = open_conversation(aws, slack)
    staff_reply(conversation["root_ts"], "First answer.", ts="1700000401.000100")
    pump(aws)
    written: list[tuple[str, str]] = []

    def record(params, **kwargs):
        key = params.get("Key") or params.get("Item")
        if key:
            written.append((key["pk"].split("#")[0], key["sk"].split("#")[0]))

    events = clients.get("table").meta.client.meta.events
    for operation in ("PutItem", "UpdateItem", "DeleteItem"):
        events.register(f"provide-client-params.dynamodb.{operation}", record)

    assert text_in("And the sequel?")["statusCode"] == 200
    staff_reply(conversation["root_ts"], "That one too.", ts="1700000402.000100")
    pump(aws)

    assert len(twilio.sent) == 2
    assert ("CONV", "MSG") in written and ("CONV", "ID") in written  # each message, stored once
    assert not {("CONV", "META"), ("CONV", "REPLY_TO"), ("CARD", "META")} & set(written), written


# --- failures --------------------------------------------------------------------------

def test_a_reply_stored_only_as_far_as_its_marker_is_completed_once_by_the_retry(aws, slack, twilio, local_aws):
    """Storing a message is two conditional writes, its marker first: a job that stopped between
    them is retried, finds the marker and completes the same message, placed when it is stored
    (a reader's cursor may have moved past the place first chosen)."""
    from local.faults import Fault
    from refdesk import store

    conversation = open_conversation(aws, slack)
    # The marker's PutItem goes through; the message's fails each of boto3's 3 attempts.
    local_aws.dynamodb_faults.add(Fault(method="PutItem", error="InternalServerError", after=1, count=3))
    payload = reply_payload(conversation["root_ts"], "We have it on the shelf.")
    invoke("slack_events", slack_json(payload))

    responses = pump(aws)

    assert responses[0] == "retry"  # the first attempt stopped after the marker
    stored = [message for message in store.messages.list_after(conversation["conversation_id"])
              if message.text == "We have it on the shelf."]
    assert len(stored) == 1
    # where its marker points: the retry completed the message the first attempt began
    assert store.messages.get(conversation["conversation_id"], stored[0].message_id) == stored[0]
    [before] = [message for message in store.messages.list_after(conversation["conversation_id"])
                if message.text != "We have it on the shelf."][-1:]
    assert before.sort_key < stored[0].sort_key  # after what was stored before it
    assert [sent["body"] for sent in twilio.sent] == ["Amanda (library): We have it on the shelf."]
    assert reactions(slack) == [(payload["event"]["ts"], name) for name in TEXT_DELIVERED]
    assert queue_depth(aws) == 0


def test_a_message_completed_long_after_its_attempt_stopped_comes_after_a_readers_cursor(aws, slack):
    """The stopped attempt's marker chose a place an hour ago; a widget has read past it since."""
    import boto3

    from refdesk import store
    from refdesk.models import Author, Delivery, Message
    from refdesk.store import keys

    conversation_id = open_conversation(aws, slack)["conversation_id"]
    place = keys.message(conversation_id, "2026-01-01T00:00:00.000000Z", "late-reply")["sk"]
    boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"]).put_item(Item={
        **keys.message_marker(conversation_id, "late-reply"), "message_sk": place, "expires_at": 4_102_444_800})
    cursor = store.messages.list_after(conversation_id)[-1].sort_key

    stored, created = store.messages.put(conversation_id, Message(
        message_id="late-reply", at="2026-01-01T00:00:00.000000Z", author=Author.LIBRARIAN, text="Found it.",
        delivery=Delivery.PENDING))

    assert created and [message.message_id for message in store.messages.list_after(conversation_id, after=cursor)] \
        == ["late-reply"]
    assert store.messages.get(conversation_id, "late-reply") == stored
    assert store.messages.put(conversation_id, stored)[1] is False  # and once only


def test_a_transient_twilio_failure_is_retried_and_sent_once(aws, slack, twilio):
    conversation = open_conversation(aws, slack)
    twilio.fail(500)
    payload = reply_payload(conversation["root_ts"])
    invoke("slack_events", slack_json(payload))

    responses = pump(aws)

    assert responses[0] == "retry"  # the first attempt failed and went back to the queue
    assert twilio.attempts() == 2
    assert len(twilio.sent) == 1
    assert reactions(slack) == [(payload["event"]["ts"], name) for name in TEXT_DELIVERED]
    assert queue_depth(aws) == 0
    assert queue_depth(aws, "dlq") == 0


def test_a_failure_midway_through_a_long_reply_does_not_resend_the_parts_already_sent(aws, slack, twilio):
    conversation = open_conversation(aws, slack)
    twilio.fail(500, after=1)  # the second part fails
    text = " ".join(f"Step {i}: check the catalog, then the shelf list." for i in range(80))
    staff_reply(conversation["root_ts"], text)
    pump(aws)

    bodies = [sent["body"] for sent in twilio.sent]
    assert twilio.attempts() == len(bodies) + 1
    assert len(bodies) == len(set(bodies)) >= 3
    assert " ".join(bodies).split() == ("Amanda (library): " + text).split()


def test_a_reply_that_fails_every_attempt_ends_in_the_dead_letter_queue(aws, slack, twilio, monkeypatch):
    from refdesk import retry
    from refdesk.settings import get_settings

    # Twilio failing: retried for RETRY_HORIZON_HOURS (a day by default, tests/unit/test_retry.py),
    # 6 minutes here (6 attempts, not 32: each costs the suite time)
    monkeypatch.setenv("RETRY_HORIZON_HOURS", "0.1")
    get_settings.cache_clear()
    conversation = open_conversation(aws, slack)
    attempts = retry.transient_attempts(0.1)
    twilio.fail(500, count=attempts + 2)
    payload = reply_payload(conversation["root_ts"])
    invoke("slack_events", slack_json(payload))

    pump(aws)

    assert twilio.attempts() == attempts  # tried exactly that many times
    assert twilio.sent == []
    assert queue_depth(aws) == 0
    dead = aws["sqs"].receive_message(QueueUrl=aws["dlq"], MaxNumberOfMessages=10).get("Messages", [])
    assert len(dead) == 1
    job = json.loads(dead[0]["Body"])
    assert job["kind"] == "staff_reply"
    assert job["ts"] == payload["event"]["ts"]
    warnings = [post for post in slack.posts() if ":warning:" in post["text"]]
    assert len(warnings) == 1
    assert warnings[0]["thread_ts"] == conversation["root_ts"]
    assert warnings[0]["channel"] == STAFF_CHANNEL
    assert reactions(slack) == [(payload["event"]["ts"], "x")]


def test_a_permanent_twilio_error_is_not_retried(aws, slack, twilio):
    conversation = open_conversation(aws, slack)
    twilio.opt_out(PATRON)  # Twilio refuses with error 21610
    payload = reply_payload(conversation["root_ts"])
    invoke("slack_events", slack_json(payload))

    responses = pump(aws)

    assert twilio.attempts() == 1  # one attempt only
    assert "retry" not in responses
    assert reactions(slack) == [(payload["event"]["ts"], "x")]
    warnings = [post for post in slack.posts() if post.get("thread_ts") == conversation["root_ts"]]
    assert len(warnings) == 1
    assert ":warning:" in warnings[0]["text"]
    assert queue_depth(aws) == 0
    assert queue_depth(aws, "dlq") == 0


def test_a_reaction_slack_already_shows_is_not_a_failure(aws, slack, twilio):
    """Slack answers already_reacted when the mark is there already: the reply is done all the same."""
    conversation = open_conversation(aws, slack)
    slack.fail("reactions.add", error="already_reacted")
    staff_reply(conversation["root_ts"])

    responses = pump(aws)

    assert "retry" not in responses
    assert len(twilio.sent) == 1
    assert queue_depth(aws) == 0
    assert queue_depth(aws, "dlq") == 0


def test_a_drain_whose_job_fails_tells_no_phone_number_and_succeeds(aws, slack, twilio, capfd, monkeypatch):
    conversation = open_conversation(aws, slack)
    log_to_captured_stdout(monkeypatch)
    twilio.fail(500, message=f"Could not send to {PATRON}")
    staff_reply(conversation["root_ts"])
    capfd.readouterr()

    try:
        responses = pump(aws)
    except Exception:
        import traceback

        print(traceback.format_exc())  # what the Lambda runtime would log
        raise
    finally:
        out = capfd.readouterr()
        assert PHONE_ANY_FORMAT.search(out.out + out.err) is None

    assert responses[0] == "retry"  # the invocation itself succeeds: Lambda would log a raised error's text
    assert len(twilio.sent) == 1


# --- closing ---------------------------------------------------------------------------

def test_close_acks_at_once_and_queues_the_work(aws, slack, twilio):
    conversation = open_conversation(aws, slack)
    slack.forget_calls()

    response = press_close(conversation["conversation_id"])

    assert response["statusCode"] == 200
    assert response["body"] == ""
    assert slack.calls == []
    assert twilio.sent == []
    assert queue_depth(aws) == 1


def test_close_updates_the_card_texts_the_patron_and_frees_the_number(aws, slack, twilio):
    conversation = open_conversation(aws, slack)
    staff_reply(conversation["root_ts"], "We have it. Come by any time!", ts=f"{time.time():.6f}")
    pump(aws)
    twilio.forget_sent()

    press_close(conversation["conversation_id"])
    pump(aws)

    *_, update = calls_named(slack, "chat.update")  # the first: the reply claimed it (the card's state)
    assert update["channel"] == STAFF_CHANNEL
    assert update["ts"] == conversation["root_ts"]
    # No Close (nor Claim) any more; only the assessment's READ and topic (refdesk.assessment).
    assert all(block["type"] != "actions" or block.get("block_id") == "assessment" for block in update["blocks"])
    contexts = [element["text"] for block in update["blocks"] if block["type"] == "context"
                for element in block["elements"]]
    assert any("Closed by <@U0AMANDA>" in text for text in contexts)
    question = fixture("sms_inbound.json")["Body"]
    assert any(question in text for text in section_texts(update["blocks"]))
    assert PHONE_ANY_FORMAT.search(json.dumps(update, ensure_ascii=False)) is None
    assert twilio.sent == [{"to": PATRON, "from_": LIBRARY_NUMBER, "body": CLOSING}]

    response = text_in("One more question: are you open Sunday?")

    assert twiml_message(response) == ACK
    pump(aws)
    roots = slack.roots()
    assert len(roots) == 2
    assert close_value(roots[1]) != conversation["conversation_id"]
    assert any("are you open Sunday?" in text for text in section_texts(roots[1]["blocks"]))


def test_pressing_close_twice_only_tells_the_librarian(aws, slack, twilio):
    conversation = open_conversation(aws, slack)
    press_close(conversation["conversation_id"], action_ts="1700000200.000001")
    pump(aws)

    press_close(conversation["conversation_id"], action_ts="1700000203.000002")
    pump(aws)

    assert len(calls_named(slack, "chat.update")) == 1
    assert [sent["body"] for sent in twilio.sent] == [CLOSING]
    [ephemeral] = calls_named(slack, "chat.postEphemeral")
    assert ephemeral["user"] == "U0AMANDA"
    assert ephemeral["channel"] == STAFF_CHANNEL
    assert "already closed" in ephemeral["text"]


@pytest.mark.parametrize("outage", ["card update", "closing text"])
def test_a_close_that_fails_once_resumes_and_finishes_on_its_retry(aws, slack, twilio, outage):
    """Close stores its state before calling Slack and Twilio: a single transient failure must not
    leave a closed conversation with an open card, no closing line, and a librarian told it was
    already closed. The retry finishes the close, doing nothing twice."""
    conversation = open_conversation(aws, slack)
    if outage == "card update":
        slack.fail("chat.update", status=500)
    else:
        twilio.fail(500)
    press_close(conversation["conversation_id"])

    responses = pump(aws)

    assert "retry" in responses  # the first attempt failed
    updates = calls_named(slack, "chat.update")
    assert "Closed by" in json.dumps(updates[-1]["blocks"])
    assert [sent["body"] for sent in twilio.sent] == [CLOSING]
    assert calls_named(slack, "chat.postEphemeral") == []
    assert text_in("A new question after the close")["statusCode"] == 200  # the number was freed


def test_two_quick_presses_before_the_dispatcher_runs_close_once(aws, slack, twilio):
    conversation = open_conversation(aws, slack)
    press_close(conversation["conversation_id"], action_ts="1700000200.000001")
    press_close(conversation["conversation_id"], action_ts="1700000200.900002")
    pump(aws)

    assert len(calls_named(slack, "chat.update")) == 1
    assert [sent["body"] for sent in twilio.sent] == [CLOSING]
    assert len(calls_named(slack, "chat.postEphemeral")) == 1


def test_a_close_press_with_a_bad_signature_is_refused(aws, slack, twilio):
    conversation = open_conversation(aws, slack)
    response = press_close(conversation["conversation_id"], secret="not-the-signing-secret")
    assert response["statusCode"] == 403
    error_of(response)
    assert queue_depth(aws) == 0


def test_an_interaction_without_a_json_payload_is_refused(aws, slack, twilio):
    body = urllib.parse.urlencode({"payload": "{not json"})
    response = invoke("slack_interactions",
                      slack_event("/slack/interactions", body, "application/x-www-form-urlencoded"))
    assert response["statusCode"] == 400
    error_of(response)


# --- privacy ---------------------------------------------------------------------------

def test_logs_never_hold_the_phone_number_or_the_texts(aws, slack, twilio, capfd, monkeypatch):
    question = "Looking for my grandmother Rosalind Okonkwo's 1998 obituary"
    answer = "Found it: Springfield Ledger, 3 March 1998, page B4"
    log_to_captured_stdout(monkeypatch)
    capfd.readouterr()

    first = sms_params(question, MessageSid=new_sid())
    invoke("sms_inbound", twilio_event(first))
    invoke("sms_inbound", twilio_event(first))  # Twilio's retry
    pump(aws)
    conversation = conversation_of(slack.roots()[0])
    text_in("Her maiden name was Adeyemi, if that helps")
    invoke("sms_inbound", twilio_event(sms_params("Adeyemi again", MessageSid=new_sid()), signature="AAAA"))
    text_in("STOP")
    pump(aws)
    staff_reply(conversation["root_ts"], answer, ts=f"{time.time():.6f}", event_id="Ev0PRIVACY001")
    pump(aws)
    twilio.fail(400, code=21211, message=f"The 'To' number {PATRON} is not a valid phone number.")
    staff_reply(conversation["root_ts"], "Also try the Herald archive", ts=f"{time.time() + 1:.6f}",
                event_id="Ev0PRIVACY002")
    pump(aws)
    twilio.fail(500, message=f"Could not send to {PATRON}")
    staff_reply(conversation["root_ts"], "Microfilm is on floor 2", ts=f"{time.time() + 2:.6f}",
                event_id="Ev0PRIVACY003")
    pump(aws)
    press_close(conversation["conversation_id"])
    pump(aws)
    out = capfd.readouterr()
    logs = out.out + out.err

    assert "patron message accepted" in logs and "reply handed over" in logs  # the logs were captured
    assert len(twilio.sent) >= 3
    assert PHONE_ANY_FORMAT.search(logs) is None
    assert "duplicate delivery" in logs and "request refused" in logs
    for secret_text in (question, "Okonkwo", "Adeyemi", answer, "Ledger", "Herald archive", "Microfilm"):
        assert secret_text not in logs
