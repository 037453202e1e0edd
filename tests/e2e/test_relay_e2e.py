"""The relay end to end: the local stack over HTTP, requests signed here exactly as Twilio and
Slack sign them, and what the Slack and Twilio stand-ins received."""
from __future__ import annotations

import json
import time
import urllib.parse
import uuid

import pytest
from slack_sdk.signature import SignatureVerifier
from twilio.request_validator import RequestValidator

SIGNING_SECRET = "e2e-signing-secret"
AUTH_TOKEN = "e2e-auth-token"
PATRON = "+15557654321"


@pytest.fixture(scope="module")
def relay(start_devstack):
    return start_devstack(SLACK_SIGNING_SECRET=SIGNING_SECRET, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
                          SMS_ACK_TEXT="Thanks! A librarian will text you back.")


def text_in(stack, body: str, *, token: str = AUTH_TOKEN):
    config = stack.config
    params = {"ToCountry": "US", "SmsMessageSid": "", "NumMedia": "0", "ToCity": "", "Body": body,
              "To": config["twilio_from_number"], "MessageSid": "SM" + uuid.uuid4().hex,
              "AccountSid": "AC" + "0" * 32, "From": PATRON, "ApiVersion": "2010-04-01"}
    params["SmsMessageSid"] = params["SmsSid"] = params["MessageSid"]
    url = config["public_base_url"] + "/sms/inbound"
    signature = RequestValidator(token).compute_signature(url, params)
    return stack.post("/sms/inbound", data=urllib.parse.urlencode(params),
                      headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})


def slack_post(stack, path: str, body: str, content_type: str = "application/json", *, age: int = 0, headers=None):
    timestamp = str(int(time.time()) - age)
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=timestamp, body=body)
    return stack.post(path, data=body.encode(), headers={
        "Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature,
        **(headers or {})})


def slack_messages(stack):
    return stack.get_json("/_local/api/slack/messages")["messages"]


def texts_to_patron(stack):
    return [m["body"] for m in stack.get_json("/_local/api/phone/messages", number=PATRON)["messages"]]


def root_for(stack, question: str):
    def find():
        return next((m for m in slack_messages(stack)
                     if not m["thread_ts"] and question in json.dumps(m["blocks"])), None)
    return stack.wait_until(find, message=f"a root card for {question!r}")


def test_forged_signatures_are_refused(relay):
    assert text_in(relay, "forged", token="not-the-auth-token").status_code == 403
    body = json.dumps({"type": "url_verification", "challenge": "abc"})
    assert slack_post(relay, "/slack/events", body, age=6 * 60).status_code in (401, 403)
    answer = slack_post(relay, "/slack/events", body)
    assert answer.status_code == 200 and answer.json() == {"challenge": "abc"}


def test_text_in_reply_from_the_thread_close_and_text_again(relay):
    question = f"Do you have <!channel> large-print mysteries? {("k" + uuid.uuid4().hex[:7])}"
    answer = text_in(relay, question)
    assert answer.status_code == 200
    assert ("<Message>Thanks! A librarian will text you back. Text DELETE to erase this conversation.</Message>"
            in answer.text)

    root = root_for(relay, question.split("? ")[1])
    card = json.dumps(root["blocks"], ensure_ascii=False)
    assert "SMS ···4321" in card and "&lt;!channel&gt;" in card
    assert "7654321" not in json.dumps(slack_messages(relay)), "the patron's number reached Slack"

    reply = relay.post_json("/_local/api/slack/reply", {"thread_ts": root["ts"], "user": "U0AMANDA",
                                                        "text": "Yes - 12 titles at Main & Eastside."})
    assert reply["status"] == 200
    expected = "Amanda (library): Yes - 12 titles at Main & Eastside."
    relay.wait_until(lambda: expected in texts_to_patron(relay), message="the reply by SMS")
    relay.wait_until(lambda: any(m["ts"] == reply["ts"] and "white_check_mark" in m["reactions"]
                                 for m in slack_messages(relay)), message="the sent reaction")

    # Slack retries the same message (a timeout on its side): the patron still gets it once.
    event = {"type": "event_callback", "event_id": "Ev" + ("k" + uuid.uuid4().hex[:7]), "team_id": "T0LIBRARY",
             "event": {"type": "message", "channel": root["channel"], "user": "U0AMANDA", "ts": reply["ts"],
                       "thread_ts": root["ts"], "text": "Yes - 12 titles at Main &amp; Eastside."}}
    retried = slack_post(relay, "/slack/events", json.dumps(event),
                         headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert retried.status_code == 200
    later = text_in(relay, f"thanks! {("k" + uuid.uuid4().hex[:7])}")
    assert later.status_code == 200 and "<Message>" not in later.text
    relay.wait_until(lambda: sum("thanks!" in json.dumps(m["blocks"]) for m in slack_messages(relay)
                                 if m["thread_ts"] == root["ts"]), message="the follow-up in the thread")

    assert relay.post_json("/_local/api/slack/click", {"ts": root["ts"], "action_id": "close_conversation",
                                                       "user": "U0AMANDA"})["status"] == 200
    relay.wait_until(lambda: any(m["ts"] == root["ts"] and "Closed by" in json.dumps(m["blocks"])
                                 for m in slack_messages(relay)), message="the closed card")
    relay.wait_until(lambda: any("closed" in body.lower() for body in texts_to_patron(relay)),
                     message="the closing text")
    # Close shares the thread's queue group, so the retried event was handled before it.
    assert texts_to_patron(relay).count(expected) == 1

    fresh = f"New question: opening hours on Sunday? {("k" + uuid.uuid4().hex[:7])}"
    assert "<Message>" in text_in(relay, fresh).text
    assert root_for(relay, fresh.split("? ")[1])["ts"] != root["ts"]
