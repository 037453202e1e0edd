"""`make bench`: speed and cost of RefDesk's handlers, measured in one run and printed as ratios
and counts (the machine is noisy: compare numbers from the same run only).

1. AWS API calls per operation, counted by hooking botocore, with the real handlers fed
   template-shaped events against an embedded moto and the local Slack/Twilio stand-ins.
   Goal: at most 2 on any webhook's acknowledgement path.
2. Each handler's cold import, with the boto3 its first request imports, as a ratio to a bare
   `import boto3` (median of fresh processes). Goal: at most 1.5x.
3. Each webhook's warm handler time as a ratio to the time of the raw AWS calls it makes,
   against the same endpoint: the calls it made in each round, captured from its own clients,
   sent again with the same parameters on plain boto3 clients (fresh message, de-duplication and
   group ids); the dispatcher drains the queue between calls, as it does within a second in
   production, so the session item stays its production size. Goal: at most 1.3x.
4. The AWS cost of 1,000 conversations of 10 messages per channel, from the counted requests,
   Lambda GB-seconds and storage, at the on-demand prices in PRICES; web chat with the widget
   polling, and on its live connection (the WebSocket API's events fed to the real handler, the
   dispatcher's pushes counted). Goal for the live connection: at most $0.10.
5. The latency of a librarian's reply: from its event posted to /slack/events to its frame on
   the session's live_url, p50 and p99 over 100 replies on the local stack (`make dev`'s, in a
   process of its own). Goal: p99 under 1 s.
6. Presence behind the cache: the presence function's invocations per 1,000 page views of one
   library's site, a busy hour and a quiet one, through local/cdn.py (template.yaml's cache
   policies) on a simulated clock. Goal for the busy hour: under 50.
7. Redaction on the labelled corpus of patron messages (tests/unit/redaction_corpus.py), in
   process: per kind of identifier, the share masked (or kept, for those staff look up), and
   overall precision and recall. Goals: recall 100%, legitimate identifiers kept at least 98%.

Only the tables (and GOAL MISSED lines) reach stdout; what the local stack and the handlers print
(the stand-ins' console lines, Powertools' metrics and logs) goes to test-output/bench.log.

    python scripts/bench.py [--rounds 30]"""
from __future__ import annotations

import argparse
import collections
import copy
import json
import math
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Where the output of the local stack and the in-process handlers goes (stdout keeps the tables).
LOG = ROOT / "test-output" / "bench.log"

# us-east-1 on-demand prices as AWS published them (checked 2026-11-29; DynamoDB's since Nov 2024).
# WebSocket API: messages sent and received, metered in 32 KB units, and connection minutes.
PRICES = {
    "dynamodb_write_unit": 0.625 / 1e6, "dynamodb_read_unit": 0.125 / 1e6, "dynamodb_gb_month": 0.25,
    "http_api_request": 1.00 / 1e6, "lambda_request": 0.20 / 1e6, "lambda_gb_second_arm64": 0.0000133334,
    "sqs_fifo_request": 0.50 / 1e6, "websocket_message": 1.00 / 1e6, "websocket_connection_minute": 0.25 / 1e6,
}
PRICES_DATE = "2026-11-29"
WEBSOCKET_MESSAGE_UNIT = 32 * 1024
CHAT_OPEN_MINUTES = 10
WIDGET_POLL_SECONDS = 2.5  # how often the widget polled while a chat was open, before its live connection
# functions/presence/static/widget.js: POLL_OPEN, its polling when it cannot connect (at most this
# often), and PING_MS, its ping that keeps API Gateway from closing the connection as idle.
FALLBACK_POLL_SECONDS = 10
LIVE_PING_SECONDS = 300
LIVE_GOAL_DOLLARS = 0.10
REDACTION_KEPT_GOAL = 0.98
# Presence behind the cache: an hour of one library's site, through one edge location (its visitors
# are mostly on one campus). Every page carries the widget, which loads /widget.js (the tag as
# pasted) and asks /presence at once and every PRESENCE_REFRESH_SECONDS (widget.js's PRESENCE_MS)
# while the page stays open, on average PAGE_OPEN_MINUTES; the library's "Ask us" page, a share of
# the views, also keeps one LibraryH3lp status image. Page views at random times (fixed seed): a
# busy hour in term time and a quiet one.
PAGE_VIEWS = {"busy hour": 3000, "quiet hour": 100}
PRESENCE_REFRESH_SECONDS, PAGE_OPEN_MINUTES = 60, 2
WIDGET_SCRIPT, WIDGET_PRESENCE = "/widget.js", "/presence"
LIBRARYH3LP_IMAGE, LIBRARYH3LP_SHARE = "/presence/jid/ask/chat.library.example.edu/image", 0.10
PRESENCE_GOAL = 50
# Latency on the local stack: a librarian's replies in one chat, LATENCY_PAUSE_SECONDS after the frame of
# the one before arrived (a librarian types for longer).
LATENCY_REPLIES, LATENCY_PAUSE_SECONDS, LATENCY_GOAL_SECONDS = 100, 0.25, 1.0
# The shell's settings that would make the bench's stacks use an external AWS, Slack or Twilio.
EXTERNAL_ENDPOINTS = ("AWS_ENDPOINT_URL", "SLACK_API_URL", "TWILIO_API_URL")
# Draws charts (matplotlib) off the acknowledgement path: asynchronous, not held to the goal.
CHART_FUNCTIONS = {"reports"}
WARM_GOAL = 1.3


class CallCounter:
    """Counts every botocore API call, by (service, operation), into the current bucket."""

    def __init__(self):
        self.calls: collections.Counter = collections.Counter()
        self.transact_items = 0

    def install(self) -> None:
        from botocore.client import BaseClient

        original, counter = BaseClient._make_api_call, self

        def counting(client, operation, params):
            counter.calls[(client.meta.service_model.service_name, operation)] += 1
            if operation == "TransactWriteItems":
                counter.transact_items += len(params.get("TransactItems", []))
            return original(client, operation, params)

        BaseClient._make_api_call = counting

    @contextmanager
    def bucket(self):
        self.calls, self.transact_items = collections.Counter(), 0
        yield self


class CallCapture:
    """The AWS calls a handler's own clients make while capturing: (service, operation, params),
    hooked on botocore's before-parameter-build after boto3's own handlers, so a DynamoDB
    resource's parameters are captured as it sends them (serialised: the low-level API's)."""

    def __init__(self):
        self.calls: list[tuple[str, str, dict]] = []
        self.active = False

    def hook(self, client) -> None:
        event = f"before-parameter-build.{client.meta.service_model.service_id.hyphenize()}"
        client.meta.events.register_last(event, self._record, unique_id=f"bench-capture-{id(self)}")

    def _record(self, params, model, **_) -> None:
        if self.active:
            self.calls.append((model.service_model.service_name, model.name, copy.deepcopy(params)))

    @contextmanager
    def capturing(self):
        self.calls, self.active = [], True
        try:
            yield self.calls
        finally:
            self.active = False


class RawCalls:
    """Plain boto3 clients on the same endpoint, with the handlers' retry settings (no
    resource layer, no handler): `seconds` sends captured calls again and times them."""

    def __init__(self):
        import boto3
        from botocore.config import Config

        from refdesk.clients import WEBHOOK_AWS_RETRIES

        self.clients = {service: boto3.client(service, config=Config(retries=WEBHOOK_AWS_RETRIES))
                        for service in ("dynamodb", "sqs")}

    def seconds(self, calls: list[tuple[str, str, dict]]) -> float:
        from botocore import xform_name

        total = 0.0
        for service, operation, params in calls:
            method = getattr(self.clients[service], xform_name(operation))
            started = time.perf_counter()
            method(**params)
            total += time.perf_counter() - started
        return total


def fresh_like(value: str) -> str:
    """A new id of the same shape: the same 2-character prefix ("SM", "Ev"), random hex after it."""
    return value[:2] + secrets.token_hex(len(value))[:len(value) - 2]


def again(calls: list[tuple[str, str, dict]], old_id: str) -> list[tuple[str, str, dict]]:
    """The captured calls with the message's (or event's) id replaced everywhere by a fresh one of
    its shape (a claim's condition then passes as the handler's did), and each SendMessage with
    fresh FIFO group and de-duplication ids (SHA-256 hex, as refdesk.jobs makes them)."""
    new_id = fresh_like(old_id)

    def replaced(value):
        if isinstance(value, str):
            return value.replace(old_id, new_id)
        if isinstance(value, dict):
            return {replaced(key): replaced(item) for key, item in value.items()}
        if isinstance(value, list):
            return [replaced(item) for item in value]
        return value

    result = []
    for service, operation, params in calls:
        params = replaced(params)
        if operation == "SendMessage":
            params["MessageGroupId"] = secrets.token_hex(len(params["MessageGroupId"]) // 2)
            params["MessageDeduplicationId"] = secrets.token_hex(len(params["MessageDeduplicationId"]) // 2)
        result.append((service, operation, params))
    return result


class LiveConnections:
    """The @connections API as the dispatcher calls it (refdesk.live): the frames it pushes,
    counted in the WebSocket API's message units."""

    def __init__(self):
        self.units = 0

    def post_to_connection(self, ConnectionId: str, Data: bytes) -> dict:  # noqa: N803 - boto3's names
        self.units += max(1, math.ceil(len(Data) / WEBSOCKET_MESSAGE_UNIT))
        return {}


class SimulatedClock:
    """Seconds that pass only when the bench says so."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Stack:
    """The local stack's parts in this process: moto, stand-ins, the handlers."""

    def __init__(self):
        from local import environment
        from local.aws import LocalAws
        from local.handlers import Invoker
        from local.slack_standin import SlackStandIn
        from local.template import Template
        from local.twilio_standin import TwilioStandIn

        for name in EXTERNAL_ENDPOINTS:
            os.environ.pop(name, None)
        self.template = Template(ROOT / "template.yaml", environment.LOCAL_PARAMETER_VALUES)
        self.aws = LocalAws(self.template)
        resolve = self.template.resolver(self.aws.refs, self.aws.attributes)
        self.port = 3999
        environment.apply(resolve(self.template.environment()), environment.local_values(self.port))
        os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
        self.slack = SlackStandIn(os.environ["SLACK_BOT_TOKEN"])
        self.twilio = TwilioStandIn(os.environ["TWILIO_ACCOUNT_SID"], os.environ["TWILIO_AUTH_TOKEN"],
                                    os.environ["TWILIO_FROM_NUMBER"])
        os.environ["SLACK_API_URL"], os.environ["TWILIO_API_URL"] = self.slack.api_url, self.twilio.api_url
        sys.path[:0] = [str(path) for path in self.template.layer_dirs()]
        self.functions = {function.name: function for function in self.template.functions()}
        self.invoker = Invoker(list(self.functions.values()))
        self.queue_url = self.aws.refs["JobsQueue"]
        self.durations: dict[str, list[float]] = collections.defaultdict(list)
        [self.live_api] = self.template.websocket_apis()
        from refdesk import clients

        self.pushes = LiveConnections()
        clients.use("live", self.pushes)

    def stop(self) -> None:
        self.slack.stop()
        self.twilio.stop()
        self.aws.stop()

    def http(self, function: str, method: str, path: str, body: str = "", headers: dict | None = None,
             query: str = "") -> dict:
        from local.gateway import build_event, find_route, routes_of
        from local.servers import Request

        request = Request(method=method, path=path, query=query, body=body.encode(), client_ip="203.0.113.9",
                          protocol="HTTP/1.1", headers=tuple((headers or {}).items()))
        route, params = find_route(routes_of([self.functions[function]]), method, path)
        return self.invoke(function, build_event(request, route, params, f"127.0.0.1:{self.port}"))

    def invoke(self, function: str, event: dict):
        started = time.perf_counter()
        result = self.invoker.invoke(function, event)
        self.durations[function].append(time.perf_counter() - started)
        return result

    def drain(self, counter: CallCounter) -> tuple[int, collections.Counter]:
        """Run every queued job through the dispatcher, one job per invocation (the low-traffic
        case). Returns (invocations, the calls Lambda's queue poller made, counted apart)."""
        sqs = self.aws.sqs
        poller: collections.Counter = collections.Counter()
        invocations = 0
        while True:
            before = counter.calls.copy()
            messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=1,
                                           MessageSystemAttributeNames=["All"]).get("Messages", [])
            poller.update(counter.calls - before)
            counter.calls = before
            if not messages:
                return invocations, poller
            record = {"messageId": messages[0]["MessageId"], "receiptHandle": messages[0]["ReceiptHandle"],
                      "body": messages[0]["Body"], "attributes": messages[0]["Attributes"], "messageAttributes": {},
                      "md5OfBody": messages[0]["MD5OfBody"], "eventSource": "aws:sqs",
                      "eventSourceARN": self.aws.attributes["JobsQueue.Arn"], "awsRegion": "us-east-1"}
            self.invoke("DispatcherFunction", {"Records": [record]})
            invocations += 1
            before = counter.calls.copy()
            sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])
            poller.update(counter.calls - before)
            counter.calls = before


class Driver:
    """Operations as Twilio, Slack and the widget perform them."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.env = os.environ

    def sms(self, number: str, text: str, sid: str = "") -> dict:
        from local.signing import twilio_signature_header

        sid = sid or "SM" + uuid.uuid4().hex
        params = {"MessageSid": sid, "SmsMessageSid": sid, "AccountSid": self.env["TWILIO_ACCOUNT_SID"], "From": number,
                  "To": self.env["TWILIO_FROM_NUMBER"], "Body": text, "NumMedia": "0", "NumSegments": "1"}
        url = self.env["PUBLIC_BASE_URL"] + "/sms/inbound"
        headers = {"content-type": "application/x-www-form-urlencoded",
                   **twilio_signature_header(self.env["TWILIO_AUTH_TOKEN"], url, params)}
        return self.stack.http("SmsInboundFunction", "POST", "/sms/inbound", urlencode(params), headers)

    def slack_post(self, function: str, path: str, body: str, content_type: str) -> dict:
        from local.signing import slack_signature_headers

        headers = {"content-type": content_type, **slack_signature_headers(self.env["SLACK_SIGNING_SECRET"], body)}
        return self.stack.http(function, "POST", path, body, headers)

    def staff_reply(self, thread_ts: str, text: str, event_id: str = "") -> dict:
        channel = self.env["SLACK_STAFF_CHANNEL"]
        ts = self.stack.slack.record_human(channel, "U0AMANDA", text, thread_ts)["ts"]  # what Slack shows
        event_id = event_id or "Ev" + uuid.uuid4().hex[:12]
        envelope = {"type": "event_callback", "event_id": event_id, "team_id": "T0LIBRARY",
                    "event": {"type": "message", "channel": self.env["SLACK_STAFF_CHANNEL"], "user": "U0AMANDA",
                              "text": text, "ts": ts, "thread_ts": thread_ts}}
        return self.slack_post("SlackEventsFunction", "/slack/events", json.dumps(envelope), "application/json")

    def close(self, card: dict) -> dict:
        button = next(element for block in card["blocks"] if block["type"] == "actions"
                      for element in block["elements"] if element.get("action_id") == "close_conversation")
        payload = {"type": "block_actions", "user": {"id": "U0AMANDA"}, "channel": {"id": card["channel"]},
                   "container": {"message_ts": card["ts"], "channel_id": card["channel"]},
                   "actions": [{"action_id": button["action_id"], "value": button["value"],
                                "action_ts": f"{time.time():.6f}"}]}
        return self.slack_post("SlackInteractionsFunction", "/slack/interactions",
                               urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")

    def command(self, text: str) -> dict:
        form = {"command": "/refdesk", "text": text, "user_id": "U0AMANDA", "user_name": "amanda",
                "channel_id": self.env["SLACK_STAFF_CHANNEL"]}
        return self.slack_post("SlackCommandsFunction", "/slack/commands", urlencode(form),
                               "application/x-www-form-urlencoded")

    def web(self, method: str, path: str, body: dict | None = None, token: str = ""):
        headers = {"content-type": "application/json", "origin": self.env["PUBLIC_BASE_URL"]}
        if token:
            headers["authorization"] = f"Bearer {token}"
        result = self.stack.http("WebChatFunction", method, path, json.dumps(body) if body is not None else "",
                                 headers)
        return json.loads(result["body"]) if result.get("body") else {}

    def root_card(self) -> dict:
        return [message for message in self.stack.slack.messages() if not message["thread_ts"]][-1]

    def live_connect(self, live_url: str) -> str:
        """The widget opens its live connection: API Gateway's $connect event, the connection id."""
        from local.websocket import connect_event

        connection = "bench" + uuid.uuid4().hex[:11]
        event = connect_event(self.stack.live_api, connection, urlsplit(live_url).query, [], "203.0.113.9",
                              urlsplit(live_url).netloc)
        answer = self.stack.invoke(self.stack.live_api.route("$connect").function, event)
        assert answer["statusCode"] == 200, answer
        return connection

    def live_ping(self, connection: str) -> None:
        from local.websocket import message_event, select_route

        frame = json.dumps({"type": "ping"})
        route = select_route(self.stack.live_api, frame)
        answer = self.stack.invoke(route.function, message_event(self.stack.live_api, connection, route.key, frame,
                                                                   "bench.local"))
        assert json.loads(answer["body"]) == {"type": "pong"}, answer

    def live_disconnect(self, connection: str) -> None:
        from local.websocket import disconnect_event

        self.stack.invoke(self.stack.live_api.route("$disconnect").function,
                          disconnect_event(self.stack.live_api, connection, time.time(), 1001, "", "bench.local"))


class DevStack:
    """`make dev`'s stack (python -m local.devstack) in a process of its own, with this process's
    Slack stand-in as its Slack Web API: the bench shows a librarian's message in Slack and signs
    its event itself, as Slack does."""

    def __init__(self, environment: dict[str, str]):
        import requests

        from local.environment import LOCAL_PARAMETER_VALUES, LOCAL_SECRETS
        from local.slack_standin import SlackStandIn

        self.signing_secret = LOCAL_SECRETS["SLACK_SIGNING_SECRET"]
        self.channel = LOCAL_PARAMETER_VALUES["SlackStaffChannel"]
        self.slack = SlackStandIn(LOCAL_SECRETS["SLACK_BOT_TOKEN"], console=False)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        self.http = requests.Session()
        self.http.trust_env = False  # straight to 127.0.0.1, whatever proxy the shell names
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local.devstack"], cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
            env={**environment, "PORT": str(port), "SLACK_API_URL": self.slack.api_url,
                 "SLACK_BOT_TOKEN": LOCAL_SECRETS["SLACK_BOT_TOKEN"], "SLACK_SIGNING_SECRET": self.signing_secret,
                 "SLACK_STAFF_CHANNEL": self.channel})
        self.wait_until(self.healthy, "the local stack to start", timeout=60)

    def stop(self) -> None:
        from local.servers import stop_process

        stop_process(self.process)
        self.slack.stop()
        self.log.close()

    def healthy(self) -> bool:
        if self.process.poll() is not None:
            self.log.seek(0)
            raise RuntimeError(f"local.devstack exited:\n{self.log.read().decode(errors='replace')[-4000:]}")
        try:
            return self.http.get(self.base_url + "/health", timeout=2).status_code == 200
        except OSError:
            return False

    @staticmethod
    def wait_until(predicate, what: str, timeout: float = 10):
        deadline = time.monotonic() + timeout
        while not (found := predicate()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout} s for {what}")
            time.sleep(0.05)
        return found

    def slack_post(self, path: str, body: str, content_type: str) -> None:
        from local.signing import slack_signature_headers

        answer = self.http.post(self.base_url + path, data=body.encode(), timeout=30, headers={
            "Content-Type": content_type, **slack_signature_headers(self.signing_secret, body)})
        assert answer.status_code == 200, answer.text

    def web(self, path: str, body: dict, token: str = "") -> dict:
        headers = {"Origin": self.base_url, **({"Authorization": f"Bearer {token}"} if token else {})}
        answer = self.http.post(self.base_url + path, json=body, headers=headers, timeout=30)
        assert answer.status_code == 201, answer.text
        return answer.json()

    def reply_event(self, thread_ts: str, text: str) -> str:
        """A librarian's thread reply: shown in Slack, then its event as Slack signs it (a body to
        POST to /slack/events)."""
        ts = self.slack.record_human(self.channel, "U0AMANDA", text, thread_ts)["ts"]
        return json.dumps({"type": "event_callback", "event_id": "Ev" + uuid.uuid4().hex[:12], "team_id": "T0LIBRARY",
                           "event_time": int(time.time()),
                           "event": {"type": "message", "channel": self.channel, "user": "U0AMANDA", "text": text,
                                     "ts": ts, "thread_ts": thread_ts, "channel_type": "channel"}})


def reply_latencies(environment: dict[str, str]) -> list[float]:
    """Seconds from each librarian reply's event posted to /slack/events to its {"type": "message"}
    frame on the session's live_url, on the local stack; LATENCY_REPLIES replies after one that
    warms the stack up (its functions' first imports), each LATENCY_PAUSE_SECONDS after the frame
    before it arrived."""
    from websockets.sync.client import connect

    stack = DevStack(environment)
    try:
        stack.slack_post("/slack/commands", urlencode({"command": "/refdesk", "text": "on", "user_id": "U0AMANDA",
                                                       "user_name": "amanda", "channel_id": stack.channel}),
                         "application/x-www-form-urlencoded")
        session = stack.web("/chat/sessions", {})
        latencies = []
        with connect(session["live_url"]) as live:
            marker = uuid.uuid4().hex[:8]
            stack.web(f"/chat/sessions/{session['session_id']}/messages",
                      {"text": f"Is a study room free? ({marker})", "client_id": uuid.uuid4().hex}, session["token"])
            card = stack.wait_until(lambda: next((message for message in stack.slack.messages() if not message[
                "thread_ts"] and marker in json.dumps(message["blocks"])), None), "the question's card")
            for n in range(LATENCY_REPLIES + 1):
                text = f"Reply {n}: room 2 is free until 5 pm."
                body = stack.reply_event(card["ts"], text)
                started = time.perf_counter()
                stack.slack_post("/slack/events", body, "application/json")
                frame = {}
                while frame.get("type") != "message" or frame["message"]["text"] != text:
                    frame = json.loads(live.recv(timeout=10))  # also status frames: the first reply claims the chat
                if n:
                    latencies.append(time.perf_counter() - started)
                time.sleep(LATENCY_PAUSE_SECONDS)
        return latencies
    finally:
        stack.stop()


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value at least `share` of the values are at or under."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def conversation_costs(stack: Stack, driver: Driver, counter: CallCounter, channel: str, *,
                       poll_seconds: float = 0, live: bool = False) -> dict:
    """Counts for one conversation of 5 patron messages and 5 replies, then Close. A web chat is
    open CHAT_OPEN_MINUTES, the widget polling every `poll_seconds` or on its `live` connection:
    $connect, the read it makes when a connection opens, a ping every LIVE_PING_SECONDS, the
    dispatcher's pushes, $disconnect."""
    totals = collections.Counter()
    http_requests = invocations = websocket_messages = connection_minutes = 0
    gb_seconds = 0.0
    stack.durations.clear()
    pushed_before = stack.pushes.units
    with counter.bucket():
        if channel == "sms":
            number = f"+1555{uuid.uuid4().int % 10**7:07d}"
            send = lambda text: driver.sms(number, text)  # noqa: E731
        else:
            session = driver.web("POST", "/chat/sessions", {})
            http_requests += 1
            path = f"/chat/sessions/{session['session_id']}/messages"

            def send(text):
                return driver.web("POST", path, {"text": text, "client_id": uuid.uuid4().hex},
                                  session["token"])
            if live:
                connection = driver.live_connect(session["live_url"])
                driver.web("GET", path, token=session["token"])
                http_requests += 1
        poller = collections.Counter()
        for n in range(5):
            send(f"question {n}")
            http_requests += 1
            done, polled = stack.drain(counter)
            invocations += done
            poller += polled
            driver.staff_reply(driver.root_card()["ts"], f"answer {n}")
            http_requests += 1
            done, polled = stack.drain(counter)
            invocations += done
            poller += polled
        driver.close(driver.root_card())
        http_requests += 1
        done, polled = stack.drain(counter)
        invocations += done
        poller += polled
        if poll_seconds:
            polls = int(CHAT_OPEN_MINUTES * 60 / poll_seconds)
            repeated(stack, counter, "WebChatFunction", lambda: driver.web("GET", path, token=session["token"]), polls)
            http_requests += polls
        if live:
            pings = CHAT_OPEN_MINUTES * 60 // LIVE_PING_SECONDS
            repeated(stack, counter, "LiveFunction", lambda: driver.live_ping(connection), pings)
            driver.live_disconnect(connection)
            # Each ping and its pong; $connect and $disconnect counted as a message each, to be safe.
            websocket_messages = stack.pushes.units - pushed_before + 2 * pings + 2
            connection_minutes = CHAT_OPEN_MINUTES
        totals.update(counter.calls)
        transact_items = counter.transact_items
    for name, durations in stack.durations.items():
        gb_seconds += sum(durations) * stack.functions[name].memory_mb / 1024
        invocations += len(durations) if name != "DispatcherFunction" else 0
    return {"calls": totals, "poller": poller, "http": http_requests, "invocations": invocations,
            "gb_seconds": gb_seconds, "transact_items": transact_items, "websocket_messages": websocket_messages,
            "connection_minutes": connection_minutes}


def repeated(stack: Stack, counter: CallCounter, function: str, operation, times: int) -> None:
    """Runs `operation` (a poll, a ping: the same each time) once and counts it `times`: its AWS
    calls and its function's time."""
    before = counter.calls.copy()
    operation()
    for key, count in (counter.calls - before).items():
        counter.calls[key] += count * (times - 1)
    stack.durations[function] += [stack.durations[function][-1]] * (times - 1)


def presence_invocations(stack: Stack, page_views: int) -> collections.Counter:
    """The presence function's invocations by URL in an hour of `page_views` page views of one
    library's site (see PAGE_VIEWS) through CloudFront's local stand-in (local/cdn.py, template.yaml's
    cache policies), on a simulated clock."""
    from local import cdn
    from local.gateway import to_response
    from local.servers import Request

    clock = SimulatedClock()
    invocations: collections.Counter = collections.Counter()

    def origin(request: Request):
        invocations[request.path] += 1
        return to_response(stack.http("PresenceFunction", request.method, request.path, query=request.query))

    edge = cdn.Cdn(cdn.behaviors(stack.template), origin, clock)
    views = random.Random(11)
    asked = []
    for _ in range(page_views):
        opened = views.uniform(0, 3600)
        refreshes = int(views.expovariate(1 / (PAGE_OPEN_MINUTES * 60)) // PRESENCE_REFRESH_SECONDS)
        asked += [(opened, WIDGET_SCRIPT)] + [(opened + n * PRESENCE_REFRESH_SECONDS, WIDGET_PRESENCE)
                                              for n in range(refreshes + 1)]
        if views.random() < LIBRARYH3LP_SHARE:
            asked.append((opened, LIBRARYH3LP_IMAGE))
    for at, path in sorted(request for request in asked if request[0] < 3600):
        clock.now = at
        answer = edge(Request("GET", cdn.PREFIX + path, "", (), b"", "203.0.113.9", "HTTP/1.1"))
        assert answer.status == 200, answer
    return invocations


def dollars(costs: dict) -> dict:
    calls, transact = costs["calls"], costs["transact_items"]
    writes = sum(n for (service, op), n in calls.items() if service == "dynamodb" and op in
                 ("PutItem", "UpdateItem", "DeleteItem")) + 2 * transact
    reads = sum(n for (service, op), n in calls.items() if service == "dynamodb" and op in ("GetItem", "Query")) * 0.5
    sqs = sum(n for (service, _), n in calls.items() if service == "sqs") + sum(costs["poller"].values())
    parts = {
        "HTTP API": costs["http"] * PRICES["http_api_request"],
        "WebSocket API": costs["websocket_messages"] * PRICES["websocket_message"]
        + costs["connection_minutes"] * PRICES["websocket_connection_minute"],
        "Lambda": costs["invocations"] * PRICES["lambda_request"]
        + costs["gb_seconds"] * PRICES["lambda_gb_second_arm64"],
        "DynamoDB": writes * PRICES["dynamodb_write_unit"] + reads * PRICES["dynamodb_read_unit"]
        + 10 * 1024 / 1e9 * PRICES["dynamodb_gb_month"],  # about 1 KB a message, kept one month
        "SQS": sqs * PRICES["sqs_fifo_request"],
    }
    return {name: value * 1000 for name, value in parts.items()}  # per 1,000 conversations


def cold_import_seconds(code_dir: Path | None) -> float:
    """One fresh process: import the handler (or only boto3) and report the seconds it took."""
    paths = [str(ROOT / "layers" / "refdesk")] + ([str(code_dir)] if code_dir else [])
    # Every handler needs boto3 on its first request (imported lazily): count it in.
    statement = "import app; import boto3" if code_dir else "import boto3"
    script = (f"import sys, time; sys.path[:0] = {paths!r}; t = time.perf_counter(); {statement}; "
              "print(time.perf_counter() - t)")
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "true"}
    return float(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                                env=env, cwd=code_dir or ROOT).stdout)


def cold_import_ratios(rounds: int) -> dict[str, tuple[float, float]]:
    """Function -> (median seconds, median of bare boto3 imports run alternately with it)."""
    results = {}
    for name in sorted(path.name for path in (ROOT / "functions").iterdir() if (path / "app.py").exists()):
        pairs = [(cold_import_seconds(ROOT / "functions" / name), cold_import_seconds(None)) for _ in range(rounds)]
        results[name] = (statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs))
    return results


def warm_ratio(stack: Stack, driver: Driver, counter: CallCounter,
               rounds: int) -> dict[str, tuple[float, float, list[str]]]:
    """Webhook -> (median seconds of the handler's invocation, median seconds of the same AWS
    calls sent raw, those calls' operations). Each round: the handler (its calls captured from its
    own clients), the dispatcher, the captured calls again with fresh ids (again()), the
    dispatcher. A first round, not counted, warms the raw clients up."""
    from refdesk import clients

    capture, raw = CallCapture(), RawCalls()

    def measured(function: str, new_id, send) -> tuple[float, float, list[str]]:
        handler, replayed = [], []
        for n in range(rounds + 1):
            sent = new_id()
            with capture.capturing() as calls:
                answer = send(n, sent)
            assert answer["statusCode"] == 200, answer
            took = stack.durations[function][-1]
            stack.drain(counter)  # as the dispatcher does within a second: the parked message unparked
            seconds = raw.seconds(again(calls, sent))
            stack.drain(counter)
            if n:
                handler.append(took)
                replayed.append(seconds)
        return statistics.median(handler), statistics.median(replayed), [operation for _, operation, _ in calls]

    number = "+15550001111"
    driver.sms(number, "warm up")  # opens the conversation: the rounds are later texts
    stack.drain(counter)
    capture.hook(clients.get("table").meta.client)
    capture.hook(clients.get("sqs"))
    results = {"sms_inbound": measured("SmsInboundFunction", lambda: "SM" + uuid.uuid4().hex,
                                       lambda n, sid: driver.sms(number, f"warm {n}", sid))}
    card = driver.root_card()
    results["slack_events"] = measured("SlackEventsFunction", lambda: "Ev" + uuid.uuid4().hex[:12],
                                       lambda n, event_id: driver.staff_reply(card["ts"], f"reply {n}", event_id))
    return results


def redaction_on_the_corpus(show) -> list[str]:
    """Issue 15: the labelled corpus's score, per kind of identifier and overall (in process, no
    stack); the goals missed."""
    from tests.unit.redaction_corpus import MASKS, score

    corpus = score()
    show("\n## Issue 15: redaction on the labelled corpus of patron messages\n")
    show("| identifier | should be | handled right | rate |\n|---|---|---|---|")
    for kind, tally in sorted(corpus.by_kind.items(), key=lambda item: item[0] not in MASKS):  # masked kinds first
        should = "masked" if kind in MASKS else "kept"
        show(f"| {kind} | {should} | {tally.right} of {tally.total} | {tally.rate:.0%} |")
    show(f"\nRecall {corpus.recall:.1%} (goal 100%); legitimate identifiers kept {corpus.kept:.1%} (goal ≥ 98%); "
         f"precision {corpus.precision:.1%} ({corpus.masks_on_identifiers} of {corpus.masks} masks on an "
         "identifier to mask).")
    missed = []
    if corpus.recall < 1:
        missed.append(f"redaction: recall {corpus.recall:.1%}")
    if corpus.kept < REDACTION_KEPT_GOAL:
        missed.append(f"redaction: {corpus.kept:.1%} of legitimate identifiers kept")
    return missed


@contextmanager
def output_to_log(path: Path):
    """This process's stdout and stderr (file descriptors 1 and 2: the stand-ins' console lines,
    Powertools' metrics and logs, moto's) into `path`, the tables onto the original stdout through
    the writer it yields. A traceback that ends the bench is printed after both are restored."""
    path.parent.mkdir(exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        with open(path, "w") as log, os.fdopen(os.dup(saved[0]), "w", buffering=1) as tables:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            try:
                yield tables
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def bench(options: argparse.Namespace, show) -> int:
    # For the local stack's own process, before this one's stack fills the environment in.
    shell = {name: value for name, value in os.environ.items() if name not in EXTERNAL_ENDPOINTS}
    counter = CallCounter()
    stack = Stack()
    counter.install()
    driver = Driver(stack)
    failures = []
    try:
        driver.command("on")
        show("\n## AWS calls per acknowledgement (goal for the Twilio and Slack webhooks: at most 2)\n")
        show("| operation | AWS calls |\n|---|---|")
        checks = {
            "SMS: first text": lambda: driver.sms("+15550009999", "first"),
            "SMS: later text": lambda: driver.sms("+15550009999", "second"),
            "Slack: thread reply": lambda: driver.staff_reply(driver.root_card()["ts"], "hello"),
            "Slack: Close": lambda: driver.close(driver.root_card()),
            "Slack: /refdesk status": lambda: driver.command("status"),
        }
        session = driver.web("POST", "/chat/sessions", {})
        web_path = f"/chat/sessions/{session['session_id']}/messages"
        checks.update({
            "Web: send": lambda: driver.web("POST", web_path, {"text": "hi", "client_id": uuid.uuid4().hex},
                                            session["token"]),
            "Web: poll": lambda: driver.web("GET", web_path, token=session["token"]),
        })
        for name, operation in checks.items():
            with counter.bucket():
                operation()
                count = sum(counter.calls.values())
            show(f"| {name} | {count} ({', '.join(f'{op} {n}' for (_, op), n in sorted(counter.calls.items()))}) |")
            if count > 2 and name.startswith(("SMS", "Slack")):  # the webhooks
                failures.append(f"{name}: {count} AWS calls")
            stack.drain(counter)

        show("\n## Warm handler time vs the same AWS calls sent raw (goal: at most 1.3x)\n")
        show("| webhook | its AWS calls | handler ms | raw AWS calls ms | ratio |\n|---|---|---|---|---|")
        for name, (handler, raw, operations) in warm_ratio(stack, driver, counter, options.rounds).items():
            show(f"| {name} | {', '.join(operations)} | {handler * 1000:.1f} | {raw * 1000:.1f} | "
                  f"{handler / raw:.2f}x |")
            if handler / raw > WARM_GOAL:
                failures.append(f"{name}: warm handler {handler / raw:.2f}x its raw AWS calls")
        show(f"\nMedians of {options.rounds} rounds: the handler's invocation (Lambda's part, without API Gateway's) "
              "and the same calls, captured from its clients, sent again on plain boto3 clients with fresh ids; "
              "the dispatcher drains the queue after each.")

        show(f"\n## AWS cost per 1,000 conversations of 10 messages (prices of {PRICES_DATE}, us-east-1)\n")
        show("| conversations | HTTP API | WebSocket API | Lambda | DynamoDB | SQS | total |\n"
              "|---|---|---|---|---|---|---|")
        channels = {
            "SMS": {"channel": "sms"},
            f"web, polling every {WIDGET_POLL_SECONDS} s (before the live connection)":
                {"channel": "web", "poll_seconds": WIDGET_POLL_SECONDS},
            "web, live connection": {"channel": "web", "live": True},
            f"web, no live connection: polling every {FALLBACK_POLL_SECONDS} s":
                {"channel": "web", "poll_seconds": FALLBACK_POLL_SECONDS},
        }
        totals = {}
        for name, conversation in channels.items():
            parts = dollars(conversation_costs(stack, driver, counter, **conversation))
            totals[name] = sum(parts.values())
            show(f"| {name} | " + " | ".join(f"${value:.4f}" for value in parts.values()) + f" | ${totals[name]:.4f} |")
        show(f"\nA web chat is open {CHAT_OPEN_MINUTES} minutes. On its live connection the widget reads the "
              f"conversation once when it connects and pings every {LIVE_PING_SECONDS} s; every frame the "
              "dispatcher pushed is counted in 32 KB units, with each ping and its pong, and $connect and "
              "$disconnect as one message each. Carrier fees are apart: an SMS conversation of 10 messages "
              "is at least 10 Twilio segments (5 in, 5 out) at the account's per-segment price. Lambda time "
              "is measured here, not on arm64.")
        if totals["web, live connection"] > LIVE_GOAL_DOLLARS:
            failures.append(f"live web chat: ${totals['web, live connection']:.4f} per 1,000 conversations")

        latencies = reply_latencies(shell)
        p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
        hours = {name: presence_invocations(stack, views) for name, views in PAGE_VIEWS.items()}
        show("\n## Issue 11: real-time web chat and the presence cache\n")
        show("| measure | result | goal |\n|---|---|---|")
        show(f"| AWS cost per 1,000 web conversations of 10 messages open {CHAT_OPEN_MINUTES} minutes, live "
              f"connection | ${totals['web, live connection']:.4f} | ≤ ${LIVE_GOAL_DOLLARS:.2f} |")
        show(f"| a librarian's reply event to its frame on live_url, {len(latencies)} replies, local stack | "
              f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms | p99 < {LATENCY_GOAL_SECONDS:g} s |")
        for name, invocations in hours.items():
            views, total = PAGE_VIEWS[name], sum(invocations.values())
            show(f"| presence function invocations per 1,000 page views through the cache, {name} ({views:,} "
                  f"views: {total} invocations, {invocations[WIDGET_PRESENCE]} of them the widget's presence) | "
                  f"{total * 1000 / views:.0f} | " + (f"< {PRESENCE_GOAL} |" if name == "busy hour" else "— |"))
        show(f"\nLatency: from POST /slack/events (the event signed as Slack signs it) to the frame's arrival on a "
              f"WebSocket client, replies {LATENCY_PAUSE_SECONDS:g} s after the one before arrived, after one that "
              "warms the stack up; the local pump long-polls the jobs queue and moto wakes it when a job "
              "arrives, as Lambda's SQS poller does. Presence: an hour of one library's site through local/cdn.py "
              "(template.yaml's cache policies, one edge location); every page loads /widget.js and asks "
              f"{WIDGET_PRESENCE} at once and every {PRESENCE_REFRESH_SECONDS} s while open (on average "
              f"{PAGE_OPEN_MINUTES} minutes), and {LIBRARYH3LP_SHARE:.0%} of the views also show one LibraryH3lp "
              f"status image ({LIBRARYH3LP_IMAGE}). The function is asked at most once a lifetime per URL "
              "whatever the views, so the figure per 1,000 views falls as traffic grows.")
        if p99 >= LATENCY_GOAL_SECONDS:
            failures.append(f"reply latency: p99 {p99:.3f} s")
        busy = sum(hours["busy hour"].values()) * 1000 / PAGE_VIEWS["busy hour"]
        if busy >= PRESENCE_GOAL:
            failures.append(f"presence: {busy:.0f} invocations per 1,000 page views in a busy hour")
    finally:
        stack.stop()

    show("\n## Cold import of app.py and boto3, ratio to a bare `import boto3` (goal: at most 1.5x)\n")
    show("| function | seconds | bare boto3 seconds | ratio |\n|---|---|---|---|")
    for name, (seconds, baseline) in cold_import_ratios(max(3, options.rounds // 4)).items():
        show(f"| {name} | {seconds:.3f} | {baseline:.3f} | {seconds / baseline:.2f}x |")
        if seconds / baseline > 1.5 and name not in CHART_FUNCTIONS:
            failures.append(f"{name}: cold import {seconds / baseline:.2f}x boto3")
    failures += redaction_on_the_corpus(show)
    for failure in failures:
        show(f"GOAL MISSED: {failure}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    options = parser.parse_args()
    with output_to_log(LOG) as tables:
        return bench(options, lambda *parts: print(*parts, file=tables))


if __name__ == "__main__":
    sys.exit(main())
