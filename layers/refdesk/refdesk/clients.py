"""Clients for AWS, Slack and Twilio: created on first use, cached for the container's life,
and replaceable in tests with `use(name, client)`. Slack's WebClient and twilio.rest are
imported only here, inside the factories, so webhook functions never pay for them."""
from __future__ import annotations

from typing import Any, Callable

from refdesk.settings import get_settings

_cache: dict[str, Any] = {}
_on_reset: list[Callable[[], None]] = []
# The table and the queue, which every webhook calls: boto3's standard retries (3 attempts in all,
# jittered waits of at most 1 s then 2 s) outlast a short burst of throttling or 5xx answers.
# The legacy default would try DynamoDB 10 times over some 25 s, past the webhooks' timeouts;
# what still fails becomes a 503 with Retry-After (refdesk.http) or a retried job (refdesk.retry).
WEBHOOK_AWS_RETRIES = {"mode": "standard", "total_max_attempts": 3}


def _dynamodb_table():
    import boto3
    from botocore.config import Config

    return boto3.resource("dynamodb", config=Config(retries=WEBHOOK_AWS_RETRIES)).Table(get_settings().table_name)


def _sqs():
    import boto3
    from botocore.config import Config

    return boto3.client("sqs", config=Config(retries=WEBHOOK_AWS_RETRIES))


def _slack():
    from slack_sdk import WebClient

    from refdesk.slack.rate_limits import ShortPauseRetry

    settings = get_settings()
    options = {"base_url": settings.slack_api_url} if settings.slack_api_url else {}
    client = WebClient(token=settings.secret("slack_bot_token"), timeout=10, **options)
    client.retry_handlers.append(ShortPauseRetry())  # a short 429 waited out; a long one: RetryLater
    return client


def _twilio():
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    settings = get_settings()

    class RedirectingHttpClient(TwilioHttpClient):
        """Sends to TWILIO_API_URL instead of https://api.twilio.com (the local stand-in)."""

        def request(self, method, url, *args, **kwargs):
            url = url.replace("https://api.twilio.com", settings.twilio_api_url, 1)
            return super().request(method, url, *args, **kwargs)

    http_client = RedirectingHttpClient(timeout=10) if settings.twilio_api_url else TwilioHttpClient(timeout=10)
    return Client(settings.secret("twilio_account_sid"), settings.secret("twilio_auth_token"),
                  http_client=http_client)


def _ses():
    """SES (API v2) for e-mail replies. Timeouts and retries kept well inside the dispatcher's
    30 s; what still fails is retried by the jobs queue."""
    import boto3
    from botocore.config import Config

    return boto3.client("sesv2", config=Config(connect_timeout=5, read_timeout=10,
                                               retries={"mode": "standard", "max_attempts": 3}))


def _s3():
    """S3: de-identified transcripts (refdesk.transcripts), files in web chat (refdesk.attachments).
    Presigned URLs are signed with SigV4 (the only signature newer regions accept) for the bucket's
    own host (virtual addressing; a local endpoint keeps its path style)."""
    import os

    import boto3
    from botocore.config import Config

    addressing = {} if os.environ.get("AWS_ENDPOINT_URL") else {"s3": {"addressing_style": "virtual"}}
    return boto3.client("s3", config=Config(signature_version="s3v4", **addressing))


def _scheduler():
    """EventBridge Scheduler for the sweep's one-time wake-ups (refdesk.waiting.arm): the
    dispatcher and the sweeper. A failure the retries do not mend fails the caller (see arm)."""
    import boto3
    from botocore.config import Config

    return boto3.client("scheduler", config=Config(connect_timeout=5, read_timeout=10,
                                                   retries={"mode": "standard", "max_attempts": 3}))


def _lambda():
    """Lambda, for asynchronous invocations: waking the dispatcher (refdesk.jobs.wake) and asking
    the reports function. Quick to fail: a webhook whose wake-up fails answers 503 and is sent
    again, its job de-duplicated by the queue."""
    import boto3
    from botocore.config import Config

    return boto3.client("lambda", config=Config(connect_timeout=2, read_timeout=5, retries=WEBHOOK_AWS_RETRIES))


def _live():
    """The @connections API of the web chat's WebSocket API (refdesk.live), at its stage's endpoint:
    the dispatcher pushes frames with it. Short timeouts, one retry: a push that fails is fetched
    by the widget when it reconnects, so it must never hold up the job."""
    import boto3
    from botocore.config import Config

    return boto3.client("apigatewaymanagementapi", endpoint_url=get_settings().live_connections_url,
                        config=Config(connect_timeout=2, read_timeout=5,
                                      retries={"mode": "standard", "max_attempts": 2}))


FACTORIES: dict[str, Callable[[], Any]] = {
    "table": _dynamodb_table,
    "sqs": _sqs,
    "slack": _slack,
    "twilio": _twilio,
    "ses": _ses,
    "s3": _s3,
    "live": _live,
    "scheduler": _scheduler,
    "lambda": _lambda,
}


def get(name: str):
    if name not in _cache:
        _cache[name] = FACTORIES[name]()
    return _cache[name]


def use(name: str, client) -> None:
    """Inject a client (a fake, or one pointed at moto)."""
    _cache[name] = client


def on_reset(forget: Callable[[], None]) -> None:
    """Register what to forget with the clients (caches of answers they gave)."""
    _on_reset.append(forget)


def reset() -> None:
    _cache.clear()
    for forget in _on_reset:
        forget()
