"""The HTTP functions on RefDesk's router (refdesk.http.Api, issue 6 item 5), end to end in
process with events built by the local gateway: bad input always gets a clear 4xx and one log
line, never a 500; Slack signatures are checked over the raw body bytes; TwiML comes from
twilio's MessagingResponse; metrics are published only when there are some."""
from __future__ import annotations

import base64
import json
import time
import urllib.parse
import warnings
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import (ENV, SIGNING_SECRET, fixture, http_event, invoke, log_to_captured_stdout, slack_event,
                            twilio_event)

FORM = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"
ORIGIN = ENV["ALLOWED_ORIGINS"]
OVERSIZED = 64 * 1024 + 1


def refusals(caplog) -> list[tuple[int, str]]:
    return [(record.status, record.code) for record in caplog.records if record.getMessage() == "request refused"]


def error_code(response: dict) -> str:
    assert response["headers"]["content-type"] == JSON_TYPE, response
    body = json.loads(response["body"])
    assert set(body["error"]) == {"code", "message"}
    return body["error"]["code"]


def sms_params(body: str = "Is the library open on Sunday?", **extra) -> dict:
    return {**fixture("sms_inbound.json"), "Body": body, **extra}


def slack_signed(path: str, raw: bytes, content_type: str, **header_overrides) -> dict:
    """A request whose body API Gateway base64-encoded, signed over its raw bytes."""
    from refdesk.signatures import slack_signature

    timestamp = str(int(time.time()))
    event = http_event("POST", path, raw, {"Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp,
                                           "X-Slack-Signature": slack_signature(SIGNING_SECRET, timestamp, raw),
                                           **header_overrides})
    if not event.get("isBase64Encoded"):
        event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode(), True
    return event


def with_body(event: dict, body: str, *, b64: bool) -> dict:
    return {**event, "body": body, "isBase64Encoded": b64}


# --- bad input: a clear 4xx and one log line -----------------------------------------------

def bad_sms_events() -> dict:
    signed = twilio_event(sms_params())
    return {
        "invalid base64": (with_body(signed, "TWVzc2FnZVNpZD1TTQ=%%", b64=True), 400, "bad_request"),
        "invalid utf-8": (with_body(signed, base64.b64encode(b"Body=\xff\xfe").decode(), b64=True), 400,
                          "bad_request"),
        "wrong content type": (http_event("POST", "/sms/inbound", "{}", {"Content-Type": JSON_TYPE}), 415,
                               "unsupported_media_type"),
        "oversized": (http_event("POST", "/sms/inbound", b"Body=" + b"x" * OVERSIZED, {"Content-Type": FORM}), 413,
                      "too_large"),
        "malformed form": (http_event("POST", "/sms/inbound", b"%%%=&&==", {"Content-Type": FORM}), 400,
                           "bad_request"),
        "unsigned": (http_event("POST", "/sms/inbound", urllib.parse.urlencode(sms_params()),
                                {"Content-Type": FORM}), 403, "forbidden"),
    }


@pytest.mark.parametrize("case", list(bad_sms_events()))
def test_bad_sms_webhooks_get_a_4xx_and_one_log_line(aws, caplog, case):
    event, status, code = bad_sms_events()[case]

    response = invoke("sms_inbound", event)

    assert response["statusCode"] == status
    assert error_code(response) == code
    assert refusals(caplog) == [(status, code)]


def bad_slack_events() -> dict:
    body = json.dumps(fixture("slack_url_verification.json"))
    return {
        "not json": (slack_signed("/slack/events", b"{not json", JSON_TYPE), 400, "bad_request"),
        "not utf-8, signed": (slack_signed("/slack/events", b'{"type": "\xff"}', JSON_TYPE), 400, "bad_request"),
        "not utf-8, unsigned": (http_event("POST", "/slack/events", b'{"type": "\xff"}', {
            "Content-Type": "application/octet-stream", "X-Slack-Request-Timestamp": str(int(time.time())),
            "X-Slack-Signature": "v0=" + "0" * 64}), 403, "forbidden"),
        "non-ascii signature": (slack_signed("/slack/events", body.encode(), JSON_TYPE,
                                             **{"X-Slack-Signature": "v0=\u00e9\u00e8"}), 403, "forbidden"),
        "non-ascii digits as timestamp": (slack_signed("/slack/events", body.encode(), JSON_TYPE, **{
            "X-Slack-Request-Timestamp": "\u00b9\u00b2\u00b3"}), 403, "forbidden"),
        "wrong content type": (slack_signed("/slack/events", body.encode(), "text/plain"), 415,
                               "unsupported_media_type"),
        "oversized": (slack_signed("/slack/events", b'{"a": "' + b"x" * (512 * 1024) + b'"}', JSON_TYPE), 413,
                      "too_large"),
        "json array": (slack_signed("/slack/events", b"[]", JSON_TYPE), 400, "bad_request"),
    }


@pytest.mark.parametrize("case", list(bad_slack_events()))
def test_bad_slack_events_get_a_4xx_and_one_log_line(aws, caplog, case):
    event, status, code = bad_slack_events()[case]

    response = invoke("slack_events", event)

    assert response["statusCode"] == status
    assert error_code(response) == code
    assert refusals(caplog) == [(status, code)]


@pytest.mark.parametrize("function, path", [("slack_interactions", "/slack/interactions"),
                                            ("slack_commands", "/slack/commands")])
@pytest.mark.parametrize("raw, content_type, status, code", [
    (b"payload=%7B%7D", JSON_TYPE, 415, "unsupported_media_type"),
    (b"text=" + b"x" * OVERSIZED, FORM, 413, "too_large"),
    (b"text=\xff", FORM, 400, "bad_request"),
], ids=["wrong-type", "oversized", "not-utf8"])
def test_bad_slack_forms_get_a_4xx_and_one_log_line(aws, caplog, function, path, raw, content_type, status, code):
    response = invoke(function, slack_signed(path, raw, content_type))

    assert response["statusCode"] == status
    assert error_code(response) == code
    assert refusals(caplog) == [(status, code)]


@pytest.mark.parametrize("case, body, content_type, status, code", [
    ("not json", "{not json", JSON_TYPE, 400, "bad_request"),
    ("wrong content type", "text=hi", FORM, 415, "unsupported_media_type"),
    ("oversized", json.dumps({"text": "x" * OVERSIZED, "client_id": "c1"}), JSON_TYPE, 413, "too_large"),
])
def test_bad_chat_messages_get_a_4xx_and_one_log_line(aws, caplog, case, body, content_type, status, code):
    created = invoke("webchat", http_event("POST", "/chat/sessions", headers={"Origin": ORIGIN}))
    session = json.loads(created["body"])
    caplog.clear()

    response = invoke("webchat", http_event("POST", f"/chat/sessions/{session['session_id']}/messages", body, {
        "Origin": ORIGIN, "Content-Type": content_type, "Authorization": f"Bearer {session['token']}"}))

    assert response["statusCode"] == status
    assert error_code(response) == code
    assert response["headers"]["access-control-allow-origin"] == ORIGIN
    assert refusals(caplog) == [(status, code)]


def test_a_refusal_log_line_holds_no_body_or_number(aws, capfd):
    import logging
    import sys

    for handler in logging.getLogger("refdesk").handlers:  # Powertools keeps the stdout it first saw
        handler.stream = sys.stdout
    capfd.readouterr()

    invoke("sms_inbound", twilio_event(sms_params("My card number is 4111 1111"), signature="AAAA"))

    logs = capfd.readouterr().out
    assert "request refused" in logs
    assert "4111" not in logs and fixture("sms_inbound.json")["From"] not in logs


def test_a_method_the_function_has_no_route_for_is_a_404_json_answer(aws, caplog):
    event = twilio_event(sms_params())
    event["requestContext"]["http"]["method"] = "GET"

    response = invoke("sms_inbound", event)

    assert response["statusCode"] == 404
    assert error_code(response) == "not_found"
    assert refusals(caplog) == [(404, "not_found")]


# --- Slack: signed over the raw bytes ------------------------------------------------------

@pytest.mark.parametrize("base64_encoded", [False, True])
def test_a_slack_request_is_verified_over_its_raw_bytes_however_api_gateway_passed_them(aws, base64_encoded):
    raw = json.dumps({**fixture("slack_url_verification.json"), "challenge": "caf\u00e9-\u2615"},
                     ensure_ascii=False).encode()
    event = slack_signed("/slack/events", raw, JSON_TYPE)
    if not base64_encoded:
        event["body"], event["isBase64Encoded"] = raw.decode(), False

    response = invoke("slack_events", event)

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"challenge": "caf\u00e9-\u2615"}


def test_the_recorded_url_verification_still_works(aws):
    body = json.dumps(fixture("slack_url_verification.json"))

    response = invoke("slack_events", slack_event("/slack/events", body))

    assert response["statusCode"] == 200
    assert response["body"] == json.dumps({"challenge": fixture("slack_url_verification.json")["challenge"]},
                                          separators=(",", ":"))


# --- TwiML -------------------------------------------------------------------------------

def test_the_acknowledgement_is_twiml_from_messaging_response_escaped(aws, slack, monkeypatch):
    from refdesk.settings import get_settings

    monkeypatch.setenv("SMS_ACK_TEXT", "Q&A <desk>: we'll text you \"soon\"")
    get_settings.cache_clear()

    response = invoke("sms_inbound", twilio_event(sms_params()))

    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "text/xml; charset=utf-8"
    assert response["body"].startswith('<?xml version="1.0" encoding="UTF-8"?><Response><Message>')
    assert ET.fromstring(response["body"]).find("Message").text.startswith("Q&A <desk>: we'll text you \"soon\" ")


def test_a_keyword_twilio_answers_itself_gets_an_empty_response(aws):
    response = invoke("sms_inbound", twilio_event(sms_params("HELP", OptOutType="HELP")))

    assert response["statusCode"] == 200
    assert len(ET.fromstring(response["body"])) == 0


# --- headers and metrics -----------------------------------------------------------------

def test_every_function_answers_header_names_in_lower_case(aws, slack):
    body = json.dumps(fixture("slack_url_verification.json"))
    answers = [
        invoke("sms_inbound", twilio_event(sms_params())),
        invoke("slack_events", slack_event("/slack/events", body)),
        invoke("webchat", http_event("POST", "/chat/sessions", headers={"Origin": ORIGIN})),
        invoke("presence", http_event("GET", "/widget.js")),
        invoke("presence", http_event("GET", "/presence/jid/ask/chat.libraryh3lp.com/nope")),
    ]

    for answer in answers:
        assert answer["headers"] and all(name == name.lower() for name in answer["headers"]), answer["headers"]


def emf_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def metric_lines(out: str, name: str) -> list[dict]:
    """A metric no alarm or dashboard reads, as its log line says it (refdesk.observability)."""
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [{key: line[key] for key in ("value", "unit", "dimensions") if key in line} for line in lines
            if line.get("message") == "metric" and line.get("metric") == name]


def test_a_new_sms_conversation_is_counted_with_its_channel(aws, slack, capsys, monkeypatch):
    log_to_captured_stdout(monkeypatch)
    capsys.readouterr()

    invoke("sms_inbound", twilio_event(sms_params()))

    out = capsys.readouterr().out
    lines = emf_lines(out)
    [opened] = [emf for emf in lines if "ConversationOpened" in emf]  # the dashboard reads it: published
    assert opened["channel"] == "sms" and opened["service"] == "refdesk" and opened["ConversationOpened"] in (1.0, [1.0])
    assert not any("PatronMessageAccepted" in emf for emf in lines)  # read by nothing: logged only
    assert metric_lines(out, "PatronMessageAccepted") == [{"value": 1, "unit": "Count", "dimensions": {"channel": "sms"}}]
    assert fixture("sms_inbound.json")["From"] not in out


def test_a_refused_request_is_counted(aws, capsys, monkeypatch):
    log_to_captured_stdout(monkeypatch)
    capsys.readouterr()

    invoke("sms_inbound", twilio_event(sms_params(), signature="AAAA"))

    out = capsys.readouterr().out
    assert metric_lines(out, "RequestRefused") == [{"value": 1, "unit": "Count"}] and emf_lines(out) == []


def test_a_request_that_adds_no_metrics_publishes_none_and_warns_nothing(aws, capsys):
    capsys.readouterr()

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        response = invoke("presence", http_event("GET", "/widget.js"))

    assert response["statusCode"] == 200
    assert emf_lines(capsys.readouterr().out) == []


def test_slack_is_refused_with_a_403_until_the_signing_secret_is_stored(aws, monkeypatch):
    """A first deploy: Slack verifies the Events URL as soon as the app exists, before its signing
    secret is in SSM. RefDesk answers 403 (not a 500 that would trip the error alarm); once the
    secret is stored, Slack's Retry is answered at once (a missing parameter is not cached)."""
    import boto3

    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    verification = json.dumps(fixture("slack_url_verification.json"))
    response = invoke("slack_events", slack_event("/slack/events", verification))
    assert response["statusCode"] == 403 and error_code(response) == "not_configured"

    boto3.client("ssm").put_parameter(Name="/refdesk/slack-signing-secret", Value=SIGNING_SECRET,
                                      Type="SecureString")
    response = invoke("slack_events", slack_event("/slack/events", verification))
    assert response["statusCode"] == 200 and json.loads(response["body"])["challenge"]
