"""Unit tests, no AWS: when a failed job is tried again (refdesk.retry). Transient failures of
Slack, Twilio and AWS are retried on a growing backoff for at least a day; anything else is
given up after MAX_DELIVERY_ATTEMPTS; RetryLater waits at least as long as it asked; the delay
scale changes the waits, never the number of attempts."""
from __future__ import annotations

import subprocess
import sys
import urllib.error
from email.message import Message as Headers

import pytest
import requests
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.slack_response import SlackResponse
from twilio.base.exceptions import TwilioRestException

from refdesk import retry
from refdesk.errors import NotFound, RetryLater
from refdesk.settings import get_settings
from tests.conftest import ENV, ROOT, template

DAY = 24 * 3600


@pytest.fixture
def scale(monkeypatch):
    """Sets RETRY_DELAY_SCALE (the tests' environment has 0: retries at once)."""
    def set_scale(value: str) -> None:
        monkeypatch.setenv("RETRY_DELAY_SCALE", value)
        get_settings.cache_clear()

    set_scale("1")
    return set_scale


def slack_error(status: int = 200, error: str = "") -> SlackApiError:
    response = SlackResponse(client=None, http_verb="POST", api_url="https://slack.com/api/chat.postMessage",
                             req_args={}, data={"ok": False, "error": error}, headers={}, status_code=status)
    return SlackApiError("The request to the Slack API failed.", response)


def twilio_error(status: int, code: int = 20500) -> TwilioRestException:
    return TwilioRestException(status, "https://api.twilio.com/2010-04-01/Accounts/AC/Messages.json", code=code)


def aws_error(code: str, status: int = 400, reasons: list[str] | None = None) -> ClientError:
    response = {"Error": {"Code": code, "Message": "..."}, "ResponseMetadata": {"HTTPStatusCode": status}}
    if reasons is not None:
        response["CancellationReasons"] = [{"Code": reason} for reason in reasons]
    return ClientError(response, "TransactWriteItems")


def http_error(status: int) -> urllib.error.HTTPError:
    return urllib.error.HTTPError("https://example.org/x", status, "answer", Headers(), None)


TRANSIENT = {
    "Slack HTTP 500": slack_error(500, "fatal_error"),
    "Slack HTTP 503": slack_error(503),
    "Slack 429": slack_error(429, "ratelimited"),
    "Slack internal_error": slack_error(200, "internal_error"),
    "Slack service_unavailable": slack_error(200, "service_unavailable"),
    "Slack request_timeout": slack_error(200, "request_timeout"),
    "Slack token revoked": slack_error(200, "token_revoked"),
    "Slack unreachable": urllib.error.URLError("Name or service not known"),
    "socket timeout": TimeoutError("timed out"),
    "connection reset": ConnectionResetError(104, "Connection reset by peer"),
    "HTTP 502": http_error(502),
    "Twilio 500": twilio_error(500),
    "Twilio 429": twilio_error(429, code=20429),
    "Twilio auth token rotated": twilio_error(401, code=20003),
    "Twilio unreachable": requests.ConnectionError("connection refused"),
    "Twilio timeout": requests.ReadTimeout("read timed out"),
    "DynamoDB throttled": aws_error("ProvisionedThroughputExceededException"),
    "DynamoDB ThrottlingException": aws_error("ThrottlingException"),
    "request limit": aws_error("RequestLimitExceeded"),
    "SES throttled": aws_error("TooManyRequestsException", 429),
    "SES sending quota": aws_error("LimitExceededException"),
    "AWS 500": aws_error("InternalServerError", 500),
    "AWS 503 of another code": aws_error("ServiceUnavailableException", 503),
    "transaction conflict": aws_error("TransactionCanceledException", reasons=["None", "TransactionConflict"]),
    "AWS unreachable": EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
    "AWS read timeout": ReadTimeoutError(endpoint_url="https://sqs.us-east-1.amazonaws.com"),
    "Slack asked for a pause": RetryLater("Slack asked for a pause", seconds=1),
}
NOT_TRANSIENT = {
    "a bug": KeyError("slack_ts"),
    "bad data": ValueError("not JSON"),
    "a Slack error": slack_error(200, "channel_not_found"),
    "Slack HTTP 404": slack_error(404),
    "HTTP 404": http_error(404),
    "Twilio 400": twilio_error(400, code=21617),
    "a failed condition": aws_error("ConditionalCheckFailedException"),
    "a cancelled transaction": aws_error("TransactionCanceledException",
                                         reasons=["None", "ConditionalCheckFailed"]),
    "a validation error": aws_error("ValidationException"),
    "a domain error": NotFound("no such conversation"),
}


@pytest.mark.parametrize("error", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_failures_of_slack_twilio_and_aws_that_can_pass_are_transient(error):
    assert retry.is_transient(error)


@pytest.mark.parametrize("error", NOT_TRANSIENT.values(), ids=NOT_TRANSIENT.keys())
def test_bugs_bad_data_and_refusals_are_not_transient(error):
    assert not retry.is_transient(error)


def test_the_delays_grow_threefold_from_five_seconds_up_to_an_hour():
    delays = [retry.delay(attempt) for attempt in range(1, 12)]
    assert delays[:6] == [5, 15, 45, 135, 405, 1215]
    assert delays[6:] == [3600] * 5


@pytest.mark.parametrize("hours", [24, 25, 48])
def test_transient_failures_are_retried_until_the_horizon_and_no_longer(hours):
    attempts = retry.transient_attempts(hours)
    waits = [retry.delay(attempt) for attempt in range(1, attempts)]  # between one attempt and the next
    assert sum(waits) >= hours * 3600
    assert sum(waits[:-1]) < hours * 3600  # one attempt fewer would not reach it


def test_by_default_a_slack_outage_is_outlived_for_more_than_a_day(scale):
    error = TRANSIENT["Slack HTTP 503"]
    waits, attempt = [], 1
    while (seconds := retry.next_try(error, attempt)) is not None:
        waits.append(seconds)
        attempt += 1
    assert sum(waits) >= DAY
    assert attempt == retry.transient_attempts(get_settings().retry_horizon_hours)  # the last one gave up
    assert max(waits) == 3600


def test_other_failures_are_given_up_after_max_delivery_attempts_with_the_early_delays(scale):
    limit = int(ENV["MAX_DELIVERY_ATTEMPTS"])
    error = NOT_TRANSIENT["a bug"]
    assert [retry.next_try(error, attempt) for attempt in range(1, limit + 1)] == \
        [retry.delay(attempt) for attempt in range(1, limit)] + [None]


def test_retry_later_waits_as_long_as_it_asked_and_at_least_the_schedule(scale):
    assert retry.next_try(RetryLater("pause", seconds=120), 1) == 120
    assert retry.next_try(RetryLater("pause", seconds=2), 3) == retry.delay(3)
    assert retry.next_try(RetryLater("pause", seconds=1.2), 1) == 5
    assert retry.next_try(RetryLater("pause", seconds=7.2), 1) == 8  # whole seconds, never early


def test_no_delay_passes_what_sqs_allows_a_received_message(scale):
    assert retry.next_try(RetryLater("pause", seconds=3 * DAY), 1) == retry.MAX_DELAY < 12 * 3600


def test_the_delay_scale_changes_the_waits_and_not_the_attempts(scale):
    error = TRANSIENT["Twilio 500"]
    attempts = retry.transient_attempts(get_settings().retry_horizon_hours)
    scale("0")
    assert [retry.next_try(error, attempt) for attempt in (1, 2, attempts - 1)] == [0, 0, 0]
    assert retry.next_try(error, attempts) is None
    assert retry.next_try(RetryLater("pause", seconds=30), 1) == 0
    scale("0.5")
    assert [retry.next_try(error, attempt) for attempt in (1, 2, 3)] == [3, 8, 23]  # rounded up


def test_the_horizon_is_a_setting(scale, monkeypatch):
    monkeypatch.setenv("RETRY_HORIZON_HOURS", "1")
    get_settings.cache_clear()
    error = TRANSIENT["Slack HTTP 500"]
    attempts = retry.transient_attempts(1)
    assert attempts < retry.transient_attempts(25)
    assert retry.next_try(error, attempts - 1) is not None
    assert retry.next_try(error, attempts) is None


def test_the_queue_never_dead_letters_a_job_the_dispatcher_is_still_retrying():
    """The jobs queue's maxReceiveCount is only a safety net for crashed invocations: it must stay
    above every count of attempts the dispatcher gives a job."""
    max_receive_count = template().resources("AWS::SQS::Queue")["JobsQueue"]["RedrivePolicy"]["maxReceiveCount"]
    parameter = template().data["Parameters"]["MaxDeliveryAttempts"]
    assert retry.transient_attempts(get_settings().retry_horizon_hours) < max_receive_count
    assert int(parameter["MaxValue"]) < max_receive_count


def test_importing_the_retry_rules_imports_neither_slack_sdk_nor_twilio():
    """Webhook functions import the layer: their cold starts must not pay for the vendors' SDKs."""
    code = ("import sys; import refdesk.retry; "
            "print(sorted({name.split('.')[0] for name in sys.modules} & {'slack_sdk', 'twilio', 'requests'}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT / "layers" / "refdesk"), "PATH": ""})
    assert out.stdout.strip() == "[]"
