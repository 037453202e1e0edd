"""refdesk.http's one error mapping for AWS that is busy or out of reach after boto3's own
retries: a 503 with Retry-After, so that Twilio and Slack deliver again, never a 500; any other
AWS error is a bug and stays one. A RetryLater raised by a route is answered the same way."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from refdesk import errors
from tests.unit.test_http_api import error_of, raising  # noqa: F401 - `raising` is a fixture


def client_error(code: str, status: int, operation: str = "UpdateItem") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "the table's item for +15551234567"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


BUSY = [
    client_error("ProvisionedThroughputExceededException", 400),
    client_error("ThrottlingException", 400),
    client_error("InternalServerError", 500),
    client_error("ServiceUnavailable", 503, "SendMessage"),
    EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
    ReadTimeoutError(endpoint_url="https://sqs.us-east-1.amazonaws.com"),
]


@pytest.mark.parametrize("error", BUSY, ids=["throughput", "throttling", "internal_error", "sqs_unavailable",
                                             "no_connection", "read_timeout"])
def test_aws_busy_or_unreachable_is_a_503_with_retry_after_and_one_warning(raising, caplog, error):  # noqa: F811
    answer = raising(error)

    assert answer["statusCode"] == 503
    assert error_of(answer)["code"] == "retry_later"
    assert int(answer["headers"]["retry-after"]) >= 1
    [line] = [record for record in caplog.records if record.getMessage() == "service busy or unreachable"]
    assert line.error == type(error).__name__ and line.route == "GET /things"
    assert "+15551234567" not in caplog.text  # AWS's message is never logged


@pytest.mark.parametrize("error", [client_error("ConditionalCheckFailedException", 400),
                                   client_error("ValidationException", 400),
                                   client_error("AccessDeniedException", 400)],
                         ids=["conditional", "validation", "access_denied"])
def test_any_other_aws_error_is_raised_as_the_bug_it_is(raising, error):  # noqa: F811
    with pytest.raises(ClientError) as raised:
        raising(error)

    assert raised.value is error


def test_a_retry_later_answers_503_with_its_seconds_rounded_up(raising):  # noqa: F811
    answer = raising(errors.RetryLater("Slack asked for a pause", seconds=2.2))

    assert answer["statusCode"] == 503
    assert answer["headers"]["retry-after"] == "3"
