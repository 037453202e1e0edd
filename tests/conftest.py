"""Shared fixtures: settings from env, moto-backed AWS, fake Slack and Twilio clients, and
API Gateway events signed the way Slack and Twilio sign them."""
from __future__ import annotations

import base64
import importlib.util
import json
import time
import urllib.parse
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
PUBLIC_BASE_URL = "https://refdesk.example.org"
SIGNING_SECRET = "test-signing-secret"
AUTH_TOKEN = "test-auth-token"
STAFF_CHANNEL = "C0STAFF01"
LIBRARY_NUMBER = "+15005550006"

ENV = {
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    "TABLE_NAME": "refdesk-test", "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "PATRON_ID_KEY": "test-patron-key",
    "PUBLIC_BASE_URL": PUBLIC_BASE_URL, "SLACK_STAFF_CHANNEL": STAFF_CHANNEL, "TWILIO_FROM_NUMBER": LIBRARY_NUMBER,
    "SMS_ACK_TEXT": "Thanks! A librarian will text you back.", "CLOSING_TEXT": "This conversation is closed.",
    "REPLY_FORMAT": "{name} (library): {text}", "ALLOWED_ORIGINS": "https://library.example.org",
    "LIBRARY_TIMEZONE": "America/New_York", "MAX_DELIVERY_ATTEMPTS": "3",
    "OPENING_HOURS": json.dumps({day: "00:00-24:00" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}),
    "HOLIDAYS": "", "POWERTOOLS_SERVICE_NAME": "refdesk",
}


@pytest.fixture(autouse=True)
def settings_env(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "SLACK_API_URL", "TWILIO_API_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    from refdesk import clients
    from refdesk.settings import get_settings

    def forget():
        get_settings.cache_clear()
        clients.reset()

    forget()
    yield
    forget()


class FakeSlack:
    """Records Web API calls; answers like Slack does."""

    BOT_USER = "U0REFDESK"
    PEOPLE = {"U0AMANDA": "Amanda Reyes", "U0BEN": "Ben Okafor"}

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.failures: list[Exception] = []
        self._ts = 1700000000.0

    def _record(self, method, **kwargs):
        self.calls.append((method, kwargs))
        if self.failures:
            raise self.failures.pop(0)

    def chat_postMessage(self, **kwargs):
        self._record("chat.postMessage", **kwargs)
        self._ts += 1
        ts = f"{self._ts:.6f}"
        self.calls[-1][1]["answered_ts"] = ts  # so tests know a thread's root ts
        return {"ok": True, "channel": kwargs["channel"], "ts": ts}

    def chat_update(self, **kwargs):
        self._record("chat.update", **kwargs)
        return {"ok": True}

    def chat_postEphemeral(self, **kwargs):
        self._record("chat.postEphemeral", **kwargs)
        return {"ok": True}

    def reactions_add(self, **kwargs):
        self._record("reactions.add", **kwargs)
        return {"ok": True}

    def auth_test(self):
        self._record("auth.test")
        return {"ok": True, "user_id": self.BOT_USER}

    def users_info(self, user):
        self._record("users.info", user=user)
        real = self.PEOPLE.get(user, "Someone Else")
        return {"ok": True, "user": {"id": user, "real_name": real, "profile": {"first_name": real.split()[0]}}}

    def posts(self):
        return [kwargs for method, kwargs in self.calls if method == "chat.postMessage"]

    def roots(self):
        """Posts that started a thread (conversation cards)."""
        return [post for post in self.posts() if not post.get("thread_ts")]

    def methods(self):
        return [method for method, _ in self.calls]


def close_value(card: dict) -> str:
    """The conversation id behind a card's Close button."""
    for block in card["blocks"]:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            if element.get("action_id") == "close_conversation":
                return element["value"]
    raise AssertionError("no Close button on the card")


class FakeTwilio:
    """twilio.rest.Client's messages.create, recorded; `fail_with` raises instead."""

    def __init__(self):
        self.sent: list[dict] = []
        self.fail_with: list[Exception] = []
        self.messages = self

    def create(self, **kwargs):
        if self.fail_with:
            raise self.fail_with.pop(0)
        self.sent.append(kwargs)
        return {"sid": f"SM{len(self.sent):032d}"}


@pytest.fixture
def slack():
    from refdesk import clients

    fake = FakeSlack()
    clients.use("slack", fake)
    return fake


@pytest.fixture
def twilio():
    from refdesk import clients

    fake = FakeTwilio()
    clients.use("twilio", fake)
    return fake


@pytest.fixture
def aws(monkeypatch):
    """moto in-process, with the table and queues shaped as in template.yaml."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        boto3.client("dynamodb").create_table(
            TableName=ENV["TABLE_NAME"], BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}])
        sqs = boto3.client("sqs")
        dlq = sqs.create_queue(QueueName="dead.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queue = sqs.create_queue(QueueName="jobs.fifo", Attributes={
            "FifoQueue": "true", "VisibilityTimeout": "0",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": ENV["MAX_DELIVERY_ATTEMPTS"]})})["QueueUrl"]
        monkeypatch.setenv("JOBS_QUEUE_URL", queue)
        from refdesk.settings import get_settings

        get_settings.cache_clear()
        yield {"queue": queue, "dlq": dlq, "sqs": sqs}


class LambdaContext:
    function_name = "test"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:test"
    aws_request_id = "test-request"
    log_group_name = log_stream_name = "test"

    @staticmethod
    def get_remaining_time_in_millis():
        return 10_000


_loaded: dict[str, object] = {}


def function(name: str):
    """functions/<name>/app.py as a module (they are all called app)."""
    if name not in _loaded:
        spec = importlib.util.spec_from_file_location(f"refdesk_function_{name}", ROOT / "functions" / name / "app.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _loaded[name] = module
    return _loaded[name]


def invoke(name: str, event: dict) -> dict:
    return function(name).handler(event, LambdaContext())


def http_event(method: str, path: str, body: bytes | str = b"", headers: dict | None = None,
               path_params: dict | None = None, query: str = "", base64_body: bool = True,
               source_ip: str = "203.0.113.7") -> dict:
    raw = body.encode() if isinstance(body, str) else body
    return {
        "version": "2.0", "routeKey": f"{method} {path}", "rawPath": path, "rawQueryString": query,
        "headers": {k.lower(): v for k, v in (headers or {}).items()},
        "queryStringParameters": dict(urllib.parse.parse_qsl(query)) or None,
        "pathParameters": path_params,
        "requestContext": {"http": {"method": method, "path": path, "sourceIp": source_ip, "userAgent": "test"},
                           "domainName": "refdesk.example.org", "stage": "$default", "requestId": "r"},
        "body": base64.b64encode(raw).decode() if base64_body else raw.decode("utf-8", "surrogateescape"),
        "isBase64Encoded": base64_body,
    }


def twilio_event(params: dict, *, signature: str | None = None, path: str = "/sms/inbound") -> dict:
    from twilio.request_validator import RequestValidator

    if signature is None:
        signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_BASE_URL + path, params)
    return http_event("POST", path, urllib.parse.urlencode(params),
                      {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})


def slack_headers(body: str, *, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict:
    from slack_sdk.signature import SignatureVerifier

    ts = str(timestamp if timestamp is not None else int(time.time()))
    return {"X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)}


def slack_event(path: str, body: str, content_type: str = "application/json", **signing) -> dict:
    return http_event("POST", path, body, {"Content-Type": content_type, **slack_headers(body, **signing)},
                      base64_body=content_type != "application/json")


def fixture(name: str):
    """An events/*.json fixture of record."""
    return json.loads((EVENTS / name).read_text())


def pump(aws, max_rounds: int = 20) -> list[dict]:
    """Feed queued jobs to the dispatcher as Lambda's SQS integration does; returns each
    batch response. Failed records stay for the next receive (visibility timeout 0)."""
    sqs, responses = aws["sqs"], []
    for _ in range(max_rounds):
        messages = sqs.receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10,
                                       AttributeNames=["All"]).get("Messages", [])
        if not messages:
            break
        records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                    "attributes": m["Attributes"], "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:jobs.fifo",
                    "awsRegion": "us-east-1"} for m in messages]
        response = invoke("dispatcher", {"Records": records})
        responses.append(response)
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=aws["queue"], ReceiptHandle=message["ReceiptHandle"])
    return responses
