"""Shared fixtures, built from the local stack's own parts (local/), so that the tests and
`make dev` exercise the handlers the same way:

* `aws`: moto in this process for the session (local.aws.LocalAws(in_process=True)) holding template.yaml's table
  and queues, emptied before each test; the template's environment resolved to them;
* `slack` and `twilio`: one Slack and one Twilio stand-in per session (local/*_standin.py),
  reset before each test, reached by the real slack_sdk WebClient and twilio Client that
  refdesk.clients builds; they record calls and inject faults;
* `invoke`: the handlers called as local.handlers calls them; `pump`: the dispatcher invoked
  to drain the jobs queue, when the test says (the handlers' asynchronous invocations, its
  wake-ups among them, are only recorded by local.lambda_api: aws["lambda"]); `http_event`: API Gateway events built by local.gateway for the
  template's routes; `twilio_event` / `slack_event`: requests signed by local.signing."""
from __future__ import annotations

import functools
import json
import os
import sys
import urllib.parse
from pathlib import Path

import pytest

from local.aws import LocalAws
from local.environment import LOCAL_PARAMETER_VALUES
from local.faults import Fault
from local.gateway import NOT_FOUND, build_event, find_route, routes_of
from local.handlers import Invoker
from local.lambda_api import LambdaApi
from local.servers import FORM, JSON_TYPE, Request, Server
from local.signing import slack_signature_headers, twilio_signature_header
from local.slack_standin import SlackStandIn
from local.template import Template
from local.timer import ScheduleRunner
from local.twilio_standin import TwilioStandIn

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
PUBLIC_BASE_URL = "https://refdesk.example.org"
SIGNING_SECRET = "test-signing-secret"
AUTH_TOKEN = "test-auth-token"
STAFF_CHANNEL = "C0STAFF01"
LIBRARY_TEAM = "T0LIBRARY"  # the Slack stand-in's workspace (local.slack_standin.TEAM_ID) and the fixtures'
LIBRARY_NUMBER = "+15005550006"
# A text's reactions on its Slack message: 📤 when Twilio took it, ✅ when its status callback said
# delivered (the stand-in's default, reported by pump)
TEXT_DELIVERED = ["outbox_tray", "white_check_mark"]
PATRON_IP = "203.0.113.7"

# The tests' settings. With `aws`, the rest of template.yaml's environment (resolved to the
# session's table and queues) lies beneath them.
ENV = {
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "PATRON_ID_KEY": "test-patron-key",
    "REPORT_LINK_KEY": "test-report-link-key",
    "PUBLIC_BASE_URL": PUBLIC_BASE_URL, "SLACK_STAFF_CHANNEL": STAFF_CHANNEL, "TWILIO_FROM_NUMBER": LIBRARY_NUMBER,
    "SLACK_TEAM_ID": LIBRARY_TEAM,
    "SMS_ACK_TEXT": "Thanks! A librarian will text you back.", "CLOSING_TEXT": "This conversation is closed.",
    "REPLY_FORMAT": "{name} (library): {text}", "ALLOWED_ORIGINS": "https://library.example.org",
    "LIBRARY_TIMEZONE": "America/New_York", "MAX_DELIVERY_ATTEMPTS": "3",
    "OPENING_HOURS": json.dumps({day: "00:00-24:00" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}),
    "HOLIDAYS": "", "POWERTOOLS_SERVICE_NAME": "refdesk",
    "RETRY_DELAY_SCALE": "0",  # failed jobs are retried at once, as in the local stack
    "SWEEP_DELAY_SCALE": "0",  # the sweep's wake-ups not a minute apart at the least (refdesk.waiting)
    "SLACK_POSTS_PER_SECOND": "0",  # posts not paced, but by the tests of pacing
    "JOBS_RECEIVE_WAIT_SECONDS": "0",  # moto answers a short poll from every message, as the local stack's
}
# Powertools takes the service name when refdesk.observability is first imported, which a test
# module may do while it is collected, before any fixture runs: as in Lambda, it is set before.
os.environ["POWERTOOLS_SERVICE_NAME"] = ENV["POWERTOOLS_SERVICE_NAME"]
# The template's parameters, as the tests' settings have them.
PARAMETERS = {**LOCAL_PARAMETER_VALUES, "SlackStaffChannel": STAFF_CHANNEL, "TwilioFromNumber": LIBRARY_NUMBER,
              "MaxDeliveryAttempts": int(ENV["MAX_DELIVERY_ATTEMPTS"])}


# --- template.yaml, read once and only by the tests that need it ----------------------

@functools.cache
def template() -> Template:
    return Template(ROOT / "template.yaml", PARAMETERS)


@functools.cache
def _functions() -> dict:
    """functions/<folder> -> its template.yaml function (tests name functions by folder)."""
    return {function.code_dir.name: function for function in template().functions()}


@functools.cache
def _invoker() -> Invoker:
    return Invoker(list(_functions().values()))


def function(name: str):
    """The handler of functions/<name>/app.py, imported now if it was not yet."""
    return _invoker().load(_functions()[name].name)


def invoke(name: str, event: dict):
    """Calls functions/<name>'s handler as the Lambda runtime would (local.handlers)."""
    return _invoker().invoke(_functions()[name].name, event)


def log_to_captured_stdout(monkeypatch) -> None:
    """Powertools' handler keeps the sys.stdout it saw when the first function was loaded (maybe
    another test's capture): point it at the current one so capfd sees what Lambda would."""
    import logging
    import sys

    for name in _functions():
        function(name)
    handlers = [handler for handler in logging.getLogger("refdesk").handlers
                if isinstance(handler, logging.StreamHandler)]
    assert handlers
    for handler in handlers:
        monkeypatch.setattr(handler, "stream", sys.stdout)


# --- order -----------------------------------------------------------------------------

# The slowest tiers first: xdist (`make test`: --dist loadfile --no-loadscope-reorder) hands out
# files in this order, so the last files to start are short ones that fill the workers' gaps
# instead of a minute-long end-to-end test started when the others are done.
TIERS_SLOWEST_FIRST = ("e2e", "browser", "build", "security", "functional", "unit")


def pytest_collection_modifyitems(items):
    def tier(item) -> int:
        parts = Path(str(item.fspath)).resolve().relative_to(ROOT / "tests").parts
        return TIERS_SLOWEST_FIRST.index(parts[0]) if parts[0] in TIERS_SLOWEST_FIRST else len(TIERS_SLOWEST_FIRST)

    items.sort(key=tier)  # stable: a file's tests stay together and in order


# The tiers that use the session's local stack (tests/e2e/conftest.py `stack`).
STACK_TIERS = ("e2e", "browser")


def pytest_runtest_setup(item):
    """Once this process runs a test of a later tier, it runs no more of the stack's (files are
    handed out in tier order): the session's stack is stopped, not left polling while the
    rest run (tests/e2e/conftest.py starts it again should a test ask for it after all)."""
    parts = Path(str(item.fspath)).resolve().relative_to(ROOT / "tests").parts
    e2e = sys.modules.get("tests.e2e.conftest")
    if e2e is not None and parts[0] not in STACK_TIERS:
        e2e.park_session_stack()


# --- settings ---------------------------------------------------------------------------

def _forget_settings_and_clients() -> None:
    from refdesk import clients
    from refdesk.settings import get_settings

    get_settings.cache_clear()
    clients.reset()


@pytest.fixture(autouse=True)
def settings_env(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "SLACK_API_URL", "TWILIO_API_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    _forget_settings_and_clients()
    yield
    _forget_settings_and_clients()


# --- AWS --------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def local_aws():
    """moto for the session, in this process (local.aws: boto3's requests answered without a
    server between them, DynamoDB faults included), with template.yaml's table and queues."""
    aws = LocalAws(template(), use_in_this_process=False, in_process=True)
    yield aws
    aws.stop()


@pytest.fixture(scope="session")
def lambda_api():
    """Lambda's Invoke API for the session, recording only (local.lambda_api), on its own port."""
    api = LambdaApi(template().function_arns(template().resolver({}, {})))
    server = Server(api)
    yield api, server.url
    server.stop()


@pytest.fixture
def aws(local_aws, lambda_api, monkeypatch):
    """template.yaml's table and queues, empty, with boto3 (the handlers' too) pointed at them:
    {"queue": the jobs queue's URL, "dlq": its dead-letter queue's, "sqs": a client, "lambda":
    the recorded asynchronous invocations (local.lambda_api.LambdaApi), "schedules": the
    wake-ups' local.timer.ScheduleRunner (see fire_due_schedules())}."""
    local_aws.reset()
    recorder, lambda_url = lambda_api
    recorder.forget()
    resolve = template().resolver(local_aws.refs, local_aws.attributes)
    for name, value in {**resolve(template().environment()), **ENV, **local_aws.environment,
                        "AWS_ENDPOINT_URL_LAMBDA": lambda_url}.items():
        monkeypatch.setenv(name, str(value))
    _forget_settings_and_clients()
    [dead_letter_url] = local_aws.dead_letter_queue_urls
    [group] = template().resources("AWS::Scheduler::ScheduleGroup")
    targets = template().function_arns(resolve)
    return {"queue": local_aws.refs["JobsQueue"], "dlq": dead_letter_url, "sqs": local_aws.sqs, "lambda": recorder,
            # The one-time schedules (the sweep's and failed jobs' wake-ups), fired by
            # fire_due_schedules(); a failed invocation is retried a minute later, as Lambda
            # retries an asynchronous one.
            "schedules": ScheduleRunner(local_aws.scheduler, local_aws.refs[group], _invoker(), targets,
                                        retry_seconds=60, quiet=True)}


def pump(aws) -> list[str]:
    """Invokes the dispatcher (in this thread) as a wake-up would: it drains the jobs queue and
    returns each attempt's outcome in order, "done" or "retry" (refdesk.dispatch.drain). With
    RETRY_DELAY_SCALE 0 a failed job is visible again at once, so it is retried until the
    dispatcher gives it up and moves it to the dead-letter queue. Then, as Twilio after each
    send, the Twilio stand-in makes the status reports owed (a text is delivered unless a fault
    says otherwise: Phone.fail_delivery; none while Phone.holding_reports) to the status route in
    this thread, and the jobs they queue (a ✅ or ❌ to show) are drained too: their outcomes are
    not among those returned, which are the first drain's."""
    outcomes = invoke("dispatcher", {})["outcomes"]
    while _phone is not None and not _phone.holding_reports and _phone.stand_in.report_statuses(report_status):
        invoke("dispatcher", {})
    return outcomes


def report_status(url: str, params: dict, headers: dict) -> dict:
    """A Twilio status report, signed by the stand-in, to the status route's handler in this thread."""
    path = urllib.parse.urlsplit(url).path
    return invoke("sms_inbound", http_event("POST", path, urllib.parse.urlencode(params),
                                            {"Content-Type": FORM, **headers}))


def fire_due_schedules(aws, now=None) -> list[dict]:
    """Does what EventBridge Scheduler does with the sweep's one-time schedules (local.timer.
    ScheduleRunner, in this thread): each whose at(...) time `now` (default: the real time) has
    reached is deleted and invokes the sweeper with its Input; returns what the sweeps returned.
    A sweep that raised is in aws["schedules"].errors and retried once `now` is a minute on."""
    return aws["schedules"].fire_due(now)


# --- Slack ------------------------------------------------------------------------------

_slack_stand_in: SlackStandIn | None = None  # the session's, once a test asked for `slack`


class Slack:
    """The Slack stand-in as the tests see it: the Web API calls RefDesk made through the real
    WebClient, and faults to inject into the next ones."""

    BOT_USER = "U0REFDESK"

    def __init__(self, stand_in: SlackStandIn):
        self.stand_in = stand_in

    @property
    def calls(self) -> list[tuple[str, dict]]:
        """(method, parameters) of every call, failed ones included."""
        return [(call["method"], call["params"]) for call in self.stand_in.calls()]

    def forget_calls(self) -> None:
        self.stand_in.forget_calls()

    def methods(self) -> list[str]:
        return [method for method, _ in self.calls]

    def posts(self) -> list[dict]:
        """chat.postMessage calls that Slack accepted, each with the ts it answered as answered_ts."""
        return [{**call["params"], "answered_ts": call["response"]["ts"]} for call in self.stand_in.calls()
                if call["method"] == "chat.postMessage" and call["response"].get("ok")]

    def roots(self) -> list[dict]:
        """Posts that started a thread (conversation cards)."""
        return [post for post in self.posts() if not post.get("thread_ts")]

    def fail(self, method: str = "", *, error: str = "", status: int | None = None, count: int = 1,
             after: int = 0, retry_after: int = 1, commit: bool = False) -> None:
        """The next `count` calls of `method` (any method if "") answer {"ok": false, "error": error}
        with HTTP 200, or with HTTP `status` (429 adds Retry-After: `retry_after`); `after` calls
        succeed first. With `commit`, each call takes effect before it is answered with the failure."""
        self.stand_in.faults.add(Fault(method=method, error=error, status=status, count=count, after=after,
                                       retry_after=retry_after, commit=commit))

    def limit_posts(self, per_second: float, burst: int = 1) -> None:
        """Posts into one channel beyond `per_second` a second (bursts of `burst`) get HTTP 429."""
        self.stand_in.set_post_limit(per_second, burst)


@pytest.fixture(scope="session")
def slack_stand_in():
    global _slack_stand_in
    _slack_stand_in = SlackStandIn(ENV["SLACK_BOT_TOKEN"], console=False)
    yield _slack_stand_in
    _slack_stand_in.stop()
    _slack_stand_in = None


@pytest.fixture
def slack(slack_stand_in, monkeypatch) -> Slack:
    slack_stand_in.reset()
    monkeypatch.setenv("SLACK_API_URL", slack_stand_in.api_url)
    _forget_settings_and_clients()
    return Slack(slack_stand_in)


def close_value(card: dict) -> str:
    """The conversation id behind a card's Close button."""
    for block in card["blocks"]:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            if element.get("action_id") == "close_conversation":
                return element["value"]
    raise AssertionError("no Close button on the card")


# --- Twilio -----------------------------------------------------------------------------

class Phone:
    """The Twilio stand-in as the tests see it: the texts RefDesk sent through the real twilio
    Client, and faults to inject into the next sends."""

    def __init__(self, stand_in: TwilioStandIn):
        self.stand_in = stand_in
        self.holding_reports = False  # True: pump makes no status reports (the test makes them)

    @property
    def sent(self) -> list[dict]:
        """Each text Twilio accepted, as messages.create's arguments: {"to", "from_", "body"}."""
        return [{"to": message["to"], "from_": message["from"], "body": message["body"]}
                for message in self.stand_in.sent()]

    def attempts(self) -> int:
        """Sends tried, refused ones included."""
        return len(self.stand_in.attempts())

    def forget_sent(self) -> None:
        self.stand_in.forget_sent()

    def fail(self, status: int = 500, *, code: int | None = None, message: str = "", count: int = 1,
             after: int = 0, commit: bool = False) -> None:
        """The next `count` sends answer HTTP `status` with Twilio error `code` (20000 + status
        unless given) and `message`; `after` sends succeed first. With `commit`, each text is sent
        before it is answered with the failure."""
        self.stand_in.faults.add(Fault(status=status, code=code, message=message, count=count, after=after,
                                       commit=commit))

    def opt_out(self, *numbers: str) -> None:
        """Sends to these numbers fail with error 21610, as after the patron texted STOP."""
        self.stand_in.opt_out(list(numbers))

    def fail_delivery(self, delivery: str = "undelivered", code: int | None = 30006, count: int = 1) -> None:
        """The next `count` texts are accepted, then reported `delivery` ("undelivered" or
        "failed") with ErrorCode `code` (30006: a landline)."""
        self.stand_in.faults.add(Fault(delivery=delivery, code=code, count=count))


@pytest.fixture(scope="session")
def twilio_stand_in():
    stand_in = TwilioStandIn(ENV["TWILIO_ACCOUNT_SID"], AUTH_TOKEN, LIBRARY_NUMBER, console=False)
    yield stand_in
    stand_in.stop()


_phone: Phone | None = None  # the test's `twilio`, whose status reports pump makes


@pytest.fixture
def twilio(twilio_stand_in, monkeypatch) -> Phone:
    global _phone
    twilio_stand_in.reset()
    monkeypatch.setenv("TWILIO_API_URL", twilio_stand_in.api_url)
    _forget_settings_and_clients()
    _phone = Phone(twilio_stand_in)
    yield _phone
    _phone = None


# --- requests as API Gateway passes them -------------------------------------------------

class NoRoute(LookupError):
    """template.yaml has no route for the request: API Gateway answers `response` itself."""

    response = {"statusCode": NOT_FOUND.status, "headers": {name.lower(): value for name, value in NOT_FOUND.headers},
                "body": NOT_FOUND.body.decode()}


def http_event(method: str, path: str, body: bytes | str = b"", headers: dict | None = None, *,
               query: str = "", source_ip: str = PATRON_IP) -> dict:
    """The API Gateway payload 2.0 event for a request to PUBLIC_BASE_URL, built by the local
    stack's gateway for the template.yaml route that takes it."""
    found = find_route(routes_of(list(_functions().values())), method, path)
    if found is None:
        raise NoRoute(f"template.yaml has no route for {method} {path}")
    raw = body.encode() if isinstance(body, str) else body
    request = Request(method=method, path=path, query=query, headers=tuple((headers or {}).items()), body=raw,
                      client_ip=source_ip, protocol="HTTP/1.1")
    return build_event(request, *found, urllib.parse.urlsplit(PUBLIC_BASE_URL).netloc)


def twilio_event(params: dict, *, signature: str | None = None, path: str = "/sms/inbound") -> dict:
    """A form POST as Twilio sends it, signed over PUBLIC_BASE_URL + path (or with `signature`)."""
    signed = (twilio_signature_header(AUTH_TOKEN, PUBLIC_BASE_URL + path, params) if signature is None
              else {"X-Twilio-Signature": signature})
    return http_event("POST", path, urllib.parse.urlencode(params), {"Content-Type": FORM, **signed})


def slack_event(path: str, body: str, content_type: str = JSON_TYPE, *, timestamp: int | None = None,
                secret: str = SIGNING_SECRET) -> dict:
    """A request as Slack sends it, signed with `secret` at `timestamp` (now by default).

    Slack shows a person's message in the channel before it sends the event: when the event
    is one, the Slack stand-in records it first, so that reactions to it work as in Slack."""
    if path == "/slack/events" and _slack_stand_in is not None:
        _show_person_message(_slack_stand_in, body)
    headers = {"Content-Type": content_type, **slack_signature_headers(secret, body, timestamp)}
    return http_event("POST", path, body, headers)


def _show_person_message(stand_in: SlackStandIn, body: str) -> None:
    try:
        payload = json.loads(body)
    except ValueError:
        return
    event = payload.get("event") if isinstance(payload, dict) else None
    if not isinstance(event, dict):
        return
    person = event.get("user") and not event.get("bot_id") and event.get("subtype") in (None, "thread_broadcast",
                                                                                      "file_share")
    if event.get("type") == "message" and person and event.get("ts") and event.get("channel"):
        stand_in.record_human(event["channel"], event["user"], event.get("text", ""), event.get("thread_ts"),
                              ts=event["ts"])


def fixture(name: str):
    """An events/*.json fixture of record."""
    return json.loads((EVENTS / name).read_text())
