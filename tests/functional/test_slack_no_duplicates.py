"""Nothing doubled in Slack, and Slack's pacing honoured, in process: the webhooks, moto, the
dispatcher driven with conftest.pump, and the Slack stand-in behind the real WebClient. A post
whose answer was lost (the stand-in carries it out, then answers an error: a "commit" fault) is
found by its metadata on the retry instead of being posted again; a reaction that failed after
the reply was handed over is added by a job of its own, once; Slack's 429 is waited out or handed to
the queue as RetryLater."""
from __future__ import annotations

import json
import secrets
import time
import urllib.parse
import uuid

import pytest

from refdesk.errors import RetryLater
from refdesk.slack import api
from tests.conftest import LIBRARY_NUMBER, STAFF_CHANNEL, TEXT_DELIVERED, fixture, invoke, pump, slack_event, twilio_event

PATRON = "+15551234567"
FORM = "application/x-www-form-urlencoded"


def text_in(body: str) -> None:
    params = fixture("sms_inbound.json")
    sid = "SM" + secrets.token_hex(16)
    params.update(Body=body, From=PATRON, MessageSid=sid, SmsMessageSid=sid, SmsSid=sid)
    assert invoke("sms_inbound", twilio_event(params))["statusCode"] == 200


def staff_reply(thread_ts: str, text: str, ts: str) -> None:
    payload = fixture("slack_message_reply.json")
    payload["event_id"] = "Ev" + uuid.uuid4().hex[:12].upper()
    payload["event"].update(thread_ts=thread_ts, text=text, ts=ts, event_ts=ts)
    assert invoke("slack_events", slack_event("/slack/events", json.dumps(payload)))["statusCode"] == 200


def choose_quick_reply(root_ts: str, reply_id: str = "hours") -> None:
    payload = fixture("slack_block_actions_close.json")
    payload["container"]["message_ts"] = payload["message"]["ts"] = root_ts
    payload["actions"] = [{"block_id": "conversation", "action_ts": f"{time.time():.6f}",
                           "action_id": "quick_reply", "type": "static_select",
                           "selected_option": {"text": {"type": "plain_text", "text": reply_id}, "value": reply_id}}]
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    assert invoke("slack_interactions", slack_event("/slack/interactions", body, FORM))["statusCode"] == 200


def channel(slack) -> list[dict]:
    """What the staff channel shows, oldest first (whatever the API answered)."""
    return [message for message in slack.stand_in.messages()
            if message["channel"] == STAFF_CHANNEL and not message["ephemeral"]]


def roots(slack) -> list[dict]:
    return [message for message in channel(slack) if not message["thread_ts"]]


def in_thread(slack, root_ts: str) -> list[dict]:
    return [message for message in channel(slack) if message["thread_ts"] == root_ts]


def failed_jobs(outcomes: list[str]) -> int:
    return outcomes.count("retry")


def open_conversation(aws, slack) -> str:
    text_in("Do you have the new Ishiguro?")
    pump(aws)
    [root] = roots(slack)
    return root["ts"]


def reply_reaches_patron(aws, twilio, root_ts: str) -> bool:
    """The thread is the conversation's: a librarian's reply in it is texted to the patron."""
    twilio.forget_sent()
    staff_reply(root_ts, "Yes, two copies at Main.", f"{time.time():.6f}")
    pump(aws)
    return [sent["body"] for sent in twilio.sent] == ["Amanda (library): Yes, two copies at Main."]


# --- a post whose answer was lost ------------------------------------------------------------

def test_a_root_card_whose_answer_was_lost_is_found_and_not_posted_again(aws, slack, twilio):
    slack.fail("chat.postMessage", status=500, commit=True)
    text_in("Do you have the new Ishiguro?")

    responses = pump(aws)

    [root] = roots(slack)
    assert failed_jobs(responses) == 1  # the first attempt saw the error
    assert "conversations.history" in slack.methods()
    assert root["metadata"]["event_type"] == "refdesk_message"
    assert reply_reaches_patron(aws, twilio, root["ts"])


def test_a_thread_post_whose_answer_was_lost_is_found_and_not_posted_again(aws, slack, twilio):
    root_ts = open_conversation(aws, slack)
    slack.fail("chat.postMessage", status=500, commit=True)
    text_in("And is it in large print?")

    responses = pump(aws)

    assert failed_jobs(responses) == 1
    assert [message["text"] for message in in_thread(slack, root_ts)] == ["SMS ···4567: And is it in large print?"]
    assert "conversations.replies" in slack.methods()
    assert len(roots(slack)) == 1


def test_a_quick_reply_whose_post_was_lost_is_posted_and_sent_once(aws, slack, twilio):
    root_ts = open_conversation(aws, slack)
    slack.fail("chat.postMessage", status=500, commit=True)
    choose_quick_reply(root_ts)

    pump(aws)

    [post] = in_thread(slack, root_ts)
    assert post["reactions"] == TEXT_DELIVERED
    assert len(twilio.sent) == 1


def test_a_first_attempt_asks_slack_for_nothing_before_posting(aws, slack, twilio):
    root_ts = open_conversation(aws, slack)
    text_in("And is it in large print?")
    pump(aws)

    assert not [method for method in slack.methods() if method.startswith("conversations.")]
    assert len(in_thread(slack, root_ts)) == 1


# --- every reaction once, and eventually ------------------------------------------------------

@pytest.mark.parametrize("text, reaction", [("Yes, two copies at Main.", "outbox_tray"),
                                            ("note: she called yesterday too", "lock")])
def test_a_reaction_that_failed_is_added_by_its_own_job_exactly_once(aws, slack, twilio, text, reaction):
    twilio.holding_reports = True  # the reply's own reaction; Twilio's ✅ is test_delivery_status's
    root_ts = open_conversation(aws, slack)
    slack.fail("reactions.add", status=500)
    staff_reply(root_ts, text, "1795950000.000100")

    responses = pump(aws)
    staff_reply(root_ts, text, "1795950000.000100")  # Slack delivers the same message again
    pump(aws)

    assert failed_jobs(responses) == 0  # the reply's job finished; its reaction was tried again apart
    [reply] = [message for message in in_thread(slack, root_ts) if message["ts"] == "1795950000.000100"]
    assert reply["reactions"] == [reaction]
    assert slack.methods().count("reactions.add") == 2  # the failed call and its own job's; none on the redelivery
    assert len(twilio.sent) == (0 if reaction == "lock" else 1)


@pytest.mark.parametrize("failing", ["reaction", "note"])
def test_an_undeliverable_reply_gets_its_cross_and_one_note_after_a_failure(aws, slack, twilio, failing):
    root_ts = open_conversation(aws, slack)
    twilio.opt_out(PATRON)  # Twilio refuses for good (21610)
    if failing == "reaction":
        slack.fail("reactions.add", status=500)
    else:
        slack.fail("chat.postMessage", status=500, commit=True)
    staff_reply(root_ts, "Yes, two copies at Main.", "1795950000.000200")

    responses = pump(aws)

    assert failed_jobs(responses) == (0 if failing == "reaction" else 1)  # a reaction is tried again apart
    thread = in_thread(slack, root_ts)
    [reply] = [message for message in thread if message["ts"] == "1795950000.000200"]
    assert reply["reactions"] == ["x"]
    [note] = [message for message in thread if message["user"] == slack.BOT_USER]
    assert "Not delivered to the patron (Twilio error 21610" in note["text"]
    assert twilio.attempts() == 1  # the failure was recorded: the retry did not text again


# --- Slack's 429 ------------------------------------------------------------------------------

def test_a_short_retry_after_is_waited_out_in_process(aws, slack, twilio):
    slack.fail("chat.postMessage", status=429, retry_after=1)
    started = time.monotonic()
    text_in("Do you have the new Ishiguro?")

    responses = pump(aws)

    assert time.monotonic() - started >= 1
    assert failed_jobs(responses) == 0
    assert len(roots(slack)) == 1
    assert [method for method in slack.methods() if method == "chat.postMessage"] == ["chat.postMessage"] * 2


def test_a_long_retry_after_hands_the_job_back_to_the_queue(aws, slack, twilio):
    slack.fail("chat.postMessage", status=429, retry_after=30)
    started = time.monotonic()
    text_in("Do you have the new Ishiguro?")

    responses = pump(aws)  # retried at once: RETRY_DELAY_SCALE is 0 here

    assert time.monotonic() - started < 10  # 30 s were not slept in-process
    assert failed_jobs(responses) == 1
    assert len(roots(slack)) == 1


@pytest.mark.parametrize("retry_after, count, seconds", [(30, 1, 30), (1, 2, 1)])
def test_a_429_the_client_does_not_wait_out_raises_retry_later_with_slacks_pause(slack, retry_after, count,
                                                                                  seconds):
    slack.fail("chat.postMessage", status=429, retry_after=retry_after, count=count)

    with pytest.raises(RetryLater) as raised:
        api.post(STAFF_CHANNEL, "hello")

    assert raised.value.seconds == seconds
    assert channel(slack) == []


def test_posts_paced_within_the_channels_limit_are_never_refused(aws, slack, monkeypatch):
    slack.limit_posts(5, burst=3)  # one more than the client's burst: room for network jitter
    monkeypatch.setenv("SLACK_POSTS_PER_SECOND", "5")
    monkeypatch.setenv("SLACK_POST_BURST", "2")
    api.get_settings.cache_clear()
    api.clients.reset()

    for index in range(8):
        api.post(STAFF_CHANNEL, f"post {index}")

    assert [call["status"] for call in slack.stand_in.calls()] == [200] * 8
    assert [message["text"] for message in channel(slack)] == [f"post {index}" for index in range(8)]


def test_unpaced_posts_over_the_channels_limit_are_refused_then_waited_out(slack):
    slack.limit_posts(5, burst=2)

    for index in range(4):
        api.post(STAFF_CHANNEL, f"post {index}")

    refused = [call for call in slack.stand_in.calls() if call["status"] == 429]
    assert refused and all(call["response"]["error"] == "ratelimited" for call in refused)
    assert [message["text"] for message in channel(slack)] == [f"post {index}" for index in range(4)]


# --- the stand-in, as Slack: metadata only when asked for ------------------------------------

def test_metadata_is_returned_only_with_include_all_metadata(slack):
    client = api.clients.get("slack")
    metadata = {"event_type": "refdesk_message", "event_payload": {"message_id": "SM1", "part": 0}}
    root = client.chat_postMessage(channel=STAFF_CHANNEL, text="card", metadata=metadata)["ts"]
    client.chat_postMessage(channel=STAFF_CHANNEL, text="reply", thread_ts=root, metadata=metadata)

    def listed(method, **args):
        return [message.get("metadata") for message in method(channel=STAFF_CHANNEL, **args)["messages"]]

    assert listed(client.conversations_history) == [None]
    assert listed(client.conversations_history, include_all_metadata=True) == [metadata]
    assert listed(client.conversations_replies, ts=root) == [None, None]
    assert listed(client.conversations_replies, ts=root, include_all_metadata=True) == [metadata, metadata]


def test_a_committing_twilio_fault_sends_the_text_then_answers_the_error(twilio):
    from twilio.base.exceptions import TwilioRestException

    from local.faults import Fault

    twilio.stand_in.faults.add(Fault(status=500, commit=True))
    with pytest.raises(TwilioRestException):
        api.clients.get("twilio").messages.create(to=PATRON, from_=LIBRARY_NUMBER, body="Hello")

    assert [sent["body"] for sent in twilio.sent] == ["Hello"]
