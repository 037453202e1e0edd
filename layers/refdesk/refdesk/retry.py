"""When a failed job is tried again, and when it is given up.

A *transient* failure (Slack, Twilio or AWS busy, failing or unreachable; a pause Slack asked
for, `RetryLater`; a revoked or rotated credential, which an administrator fixes) is retried on
a growing backoff (5 s, 15 s, 45 s … at most an hour apart) until the waits add up to
RETRY_HORIZON_HOURS (default 25: a whole day's outage, with its start and end, is outlived).
Any other failure is a bug or bad data: trying for a day would not help, so it is given up
after MAX_DELIVERY_ATTEMPTS, with the early delays.

RETRY_DELAY_SCALE multiplies the delays (the local stack and the tests set 0: retries at once),
never the number of attempts. Errors are recognised by their class names, so that neither
slack_sdk nor twilio is imported here (the webhooks' cold starts import this layer)."""
from __future__ import annotations

import math

from refdesk.errors import RetryLater
from refdesk.settings import get_settings

FIRST_DELAY = 5  # seconds after the first failure
GROWTH = 3  # each delay is this many times the one before …
LONGEST_DELAY = 3600  # … up to an hour
# SQS keeps a received message invisible for at most 12 hours from the receive; the attempt
# itself has used up to the dispatcher's 30 s timeout of that.
MAX_DELAY = 12 * 3600 - 60

# Exceptions that mean "the other side is unreachable or timed out", by module and class name,
# anywhere in the error's class hierarchy.
UNREACHABLE = {
    "builtins.TimeoutError",  # socket.timeout
    "builtins.ConnectionError",  # refused, reset, aborted (urllib, Slack's WebClient)
    "urllib.error.URLError",  # DNS and connection failures as urllib reports them
    "http.client.HTTPException",  # a connection closed mid-answer
    "requests.exceptions.ConnectionError",  # Twilio's HTTP client
    "requests.exceptions.Timeout",
    "botocore.exceptions.ConnectionError",  # EndpointConnectionError, ConnectTimeoutError
    "botocore.exceptions.HTTPClientError",  # ReadTimeoutError, ConnectionClosedError
    "refdesk.downloads.Transient",  # a file download from Slack or Twilio: refused for now, or too slow
}
SLACK_TRANSIENT = {"ratelimited", "internal_error", "service_unavailable", "request_timeout", "fatal_error",
                   # the bot token revoked or rotated: passes once the new one is in SSM (docs/OPERATIONS.md)
                   "invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
# AWS error codes for "too many requests now" and conflicts that resolve themselves. A
# transaction cancelled by a concurrent one (TransactionConflict) succeeds when tried again;
# SES's LimitExceededException is its sending quota, which refills within a day.
AWS_TRANSIENT = {"ProvisionedThroughputExceededException", "ThrottlingException", "Throttling", "RequestLimitExceeded",
                 "RequestThrottled", "TooManyRequestsException", "LimitExceededException",
                 "TransactionConflictException", "TransactionInProgressException", "InternalServerError",
                 "ServiceUnavailable"}
AWS_TRANSIENT_CANCELLATIONS = {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}


def delay(attempt: int) -> int:
    """Seconds between attempt `attempt` (1 = the first) failing and the next one, unscaled."""
    return min(FIRST_DELAY * GROWTH ** (attempt - 1), LONGEST_DELAY)


def transient_attempts(horizon_hours: float) -> int:
    """How many attempts a job with transient failures gets: enough that the delays between them
    add up to at least the horizon."""
    attempts, waited = 1, 0
    while waited < horizon_hours * 3600:
        waited += delay(attempts)
        attempts += 1
    return attempts


def is_transient(error: BaseException) -> bool:
    """Whether trying again later can succeed where this attempt failed."""
    if isinstance(error, RetryLater):
        return True
    names = {f"{kind.__module__}.{kind.__qualname__}" for kind in type(error).__mro__}
    if "urllib.error.HTTPError" in names:  # an answer, not a lost connection (though a URLError)
        return _busy_status(getattr(error, "code", 0))
    if names & UNREACHABLE:
        return True
    if "slack_sdk.errors.SlackApiError" in names:
        response = getattr(error, "response", None)
        slack_error = response.get("error") if hasattr(response, "get") else None
        return _busy_status(getattr(response, "status_code", 0)) or slack_error in SLACK_TRANSIENT
    if "twilio.base.exceptions.TwilioRestException" in names:  # 401: the auth token rotated
        return _busy_status(getattr(error, "status", 0)) or getattr(error, "status", 0) == 401
    if "botocore.exceptions.ClientError" in names:
        return _aws_transient(getattr(error, "response", {}) or {})
    return False


def _busy_status(status) -> bool:
    return isinstance(status, int) and (status == 429 or status >= 500)


def _aws_transient(response: dict) -> bool:
    code = response.get("Error", {}).get("Code", "")
    if code in AWS_TRANSIENT or _busy_status(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)):
        return True
    reasons = {reason.get("Code") for reason in response.get("CancellationReasons") or [] if isinstance(reason, dict)}
    return code == "TransactionCanceledException" and bool(reasons & AWS_TRANSIENT_CANCELLATIONS)


def next_try(error: BaseException, attempt: int) -> int | None:
    """Seconds until a job whose attempt `attempt` failed with `error` is tried again, or None
    when it is given up: after the transient attempts, or MAX_DELIVERY_ATTEMPTS for any other
    error. A RetryLater waits at least as long as it asked."""
    settings = get_settings()
    transient = is_transient(error)
    attempts = transient_attempts(settings.retry_horizon_hours) if transient else settings.max_delivery_attempts
    if attempt >= attempts:
        return None
    seconds = max(delay(attempt), error.seconds) if isinstance(error, RetryLater) else delay(attempt)
    return min(math.ceil(seconds * settings.retry_delay_scale), MAX_DELAY)
