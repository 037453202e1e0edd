"""DynamoDB throttling at the webhooks, with faults injected into the embedded moto (local.aws):
boto3's standard retries (refdesk.clients) outlast a short burst; throttling that outlasts them
is a 503 with Retry-After (refdesk.http), never a 500, with nothing written; and the caller's
later delivery of the same request (Twilio's and Slack's retries, the widget sending again)
gets through exactly once.

boto3's jittered waits between attempts are left out here (not the attempts themselves):
tests/e2e/test_dynamodb_throttling_e2e.py keeps them."""
from __future__ import annotations

import json
import urllib.parse

import pytest

from local.faults import Fault
from tests.conftest import STAFF_CHANNEL, fixture, invoke, pump, slack_event, twilio_event
from tests.functional import test_slack_connect_relay as connect
from tests.functional import test_webchat as web
from tests.functional.test_relay import ACK, new_sid, queue_depth, sms_params, table_items, twiml_message

THROTTLED = "ProvisionedThroughputExceededException"
FOREVER = 1000  # more attempts than any request makes


@pytest.fixture(autouse=True)
def no_waits_between_attempts(monkeypatch):
    import botocore.retries.standard

    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)


def throttle(local_aws, count: int = FOREVER, *, method: str = "", error: str = THROTTLED, commit: bool = False):
    local_aws.dynamodb_faults.add(Fault(method=method, error=error, count=count, commit=commit))


def cards(slack) -> list[dict]:
    return [post for post in slack.roots() if post["channel"] == STAFF_CHANNEL]


def assert_busy(response: dict) -> None:
    assert response["statusCode"] == 503, response
    assert json.loads(response["body"])["error"]["code"] == "retry_later"
    assert int(response["headers"]["retry-after"]) >= 1


# --- each webhook route: one request, sent again as its caller would ------------------------

def sms(question: str = "Is the library open on Monday?"):
    event = twilio_event(sms_params(question, MessageSid=new_sid()))
    return lambda: invoke("sms_inbound", event)


def partner_message():
    event = slack_event("/slack/events", json.dumps(connect.partner_says()))
    return lambda: invoke("slack_events", event)


def slash_command():
    body = urllib.parse.urlencode(fixture("slack_command_on.json"))
    event = slack_event("/slack/commands", body, "application/x-www-form-urlencoded")
    return lambda: invoke("slack_commands", event)


def chat_session():
    return lambda: invoke("webchat", web.create_event())


def chat_message():
    event = web.message_event(web.create_session(), {"text": "Do you have Braille books?", "client_id": "c-1"})
    return lambda: invoke("webchat", event)


ROUTES = {"sms_inbound": sms, "slack_connect_message": partner_message, "slack_command": slash_command,
          "chat_session": chat_session, "chat_message": chat_message}


@pytest.mark.parametrize("route", ROUTES)
def test_throttling_that_outlasts_the_retries_is_a_503_that_writes_nothing(aws, slack, twilio, local_aws, route):
    send = ROUTES[route]()
    before = table_items(aws)
    throttle(local_aws)

    assert_busy(send())

    local_aws.dynamodb_faults.clear()  # the test's own reads
    assert table_items(aws) == before
    assert queue_depth(aws) == 0


@pytest.mark.parametrize("route", ["sms_inbound", "slack_connect_message", "chat_message"])
def test_the_callers_retry_after_the_throttling_delivers_the_message_once(aws, slack, twilio, local_aws, route):
    send = ROUTES[route]()
    throttle(local_aws)
    assert_busy(send())
    local_aws.dynamodb_faults.clear()

    answer = send()

    assert answer["statusCode"] in (200, 201), answer
    assert send()["statusCode"] in (200, 201)  # and once more: a plain duplicate
    pump(aws)
    assert len(cards(slack)) == 1


def test_the_slash_command_retried_after_the_throttling_puts_the_librarian_on_duty(aws, slack, local_aws):
    send = slash_command()
    throttle(local_aws)
    assert_busy(send())
    local_aws.dynamodb_faults.clear()

    answer = send()

    assert answer["statusCode"] == 200
    assert [item for item in table_items(aws) if item["pk"] == "DUTY"]


def test_a_short_burst_is_absorbed_by_boto3s_own_retries(aws, slack, twilio, local_aws):
    throttle(local_aws, 2, method="UpdateItem")

    response = sms()()

    assert response["statusCode"] == 200
    assert twiml_message(response) == ACK
    pump(aws)
    assert len(cards(slack)) == 1


def test_three_throttled_attempts_in_a_row_are_all_boto3_makes(aws, slack, twilio, local_aws):
    """Standard retries: 3 attempts in all, not the legacy 10 over ~25 s that would outlive the
    webhooks' timeouts (Twilio 15 s, Slack 3 s)."""
    send = sms()
    throttle(local_aws, 3, method="UpdateItem")

    assert_busy(send())

    assert local_aws.dynamodb_faults.take("UpdateItem") is None  # all three were used, and no more
    assert twiml_message(send()) == ACK


def test_a_claim_that_took_effect_behind_throttled_answers_is_queued_at_once_and_a_retry_is_a_duplicate(
        aws, slack, twilio, local_aws):
    """The claim was written, but every answer DynamoDB gave was a throttle: one consistent read
    finds the message claimed, so the webhook queues it and answers 200; Twilio's retry, if its
    policy sends one, is a duplicate."""
    send = sms()
    throttle(local_aws, 3, method="UpdateItem", commit=True)
    assert send()["statusCode"] == 200
    local_aws.dynamodb_faults.clear()
    assert queue_depth(aws) == 1

    assert send()["statusCode"] == 200

    pump(aws)
    assert len(cards(slack)) == 1
    assert "Is the library open on Monday?" in json.dumps(cards(slack)[0]["blocks"])


@pytest.mark.parametrize("error", ["ThrottlingException", "RequestLimitExceeded", "InternalServerError"])
def test_every_busy_answer_dynamodb_gives_is_a_503_too(aws, slack, twilio, local_aws, error):
    throttle(local_aws, error=error)

    assert_busy(sms()())


def test_a_fault_with_an_error_dynamodb_does_not_give_is_refused(local_aws):
    with pytest.raises(ValueError):
        local_aws.dynamodb_faults.set({"error": "ConditionalCheckFailedException"})


# (A web chat message counts its rate limits with UpdateItem before its claim: its claim is the
# same code, checked through the other two routes.)
@pytest.mark.parametrize("route", ["sms_inbound", "slack_connect_message"])
def test_a_claim_whose_answer_was_lost_is_queued_and_shown_once_without_a_redelivery(aws, slack, twilio, local_aws,
                                                                                    route):
    send = ROUTES[route]()
    throttle(local_aws, 1, method="UpdateItem", commit=True)  # the claim went through; its answer was lost
    throttle(local_aws, 2, method="UpdateItem")  # and boto3's two retries were refused

    answer = send()

    assert answer["statusCode"] in (200, 201), answer  # one consistent read found it claimed: queued
    assert queue_depth(aws) == 1
    pump(aws)
    assert len(cards(slack)) == 1  # the caller never sent it again, and it was shown all the same
