"""`make bench`: speed and cost of RefDesk's handlers, measured in one run and printed as ratios
and counts (the machine is noisy: compare numbers from the same run only).

1. AWS API calls per operation, counted by hooking botocore, with the real handlers fed
   template-shaped events against an embedded moto and the local Slack/Twilio stand-ins.
   Goal: at most 2 on any webhook's acknowledgement path.
2. Each handler's cold import, with the boto3 its first request imports, as a ratio to a bare
   `import boto3` (median of fresh processes). Goal: at most 1.3x for the acknowledgement
   handlers (the webhooks, the web chat's API and live connection, presence); the dispatcher,
   reports and sweeper, which no one waits on, are reported only.
3. Each webhook's warm handler time as a ratio to the time of the raw AWS calls it makes,
   against the same endpoint: the calls it made in each round, captured from its own clients,
   sent again with the same parameters on plain boto3 clients (fresh message, de-duplication and
   group ids); the dispatcher drains the queue between calls, as it does within a second in
   production, so the session item stays its production size. Goal: at most 1.3x.
4. Each webhook's first invocation in a fresh process (import, init, its first request against
   the local stack's moto) as a ratio to a fresh process's `import boto3` and the same AWS calls
   sent raw (captured from a first invocation, sent with fresh ids). Reported, no goal.
5. The AWS cost of 1,000 conversations of 10 messages per channel, from the counted requests,
   DynamoDB's capacity units (item sizes, indexes, consistency: DynamoCapacity), Lambda
   GB-seconds, storage and log bytes, at the on-demand prices in PRICES; web chat with the widget
   polling by its cursor, and on its live connection (the WebSocket API's events fed to the real
   handler, the dispatcher's pushes counted); then where one conversation's units, invocations and
   requests come from, by function. Goal for the live connection: at most $0.10.
6. Issue 18, the monthly bill by service: idle (no conversation), read from template.yaml with its
   default parameters (alarms and the metrics they watch, dashboards, schedules, the queues Lambda
   polls, custom metrics published at idle; `monthly_bill(None)` computes it without the stack),
   and with 100 and 5,000 conversations a month from item 5. Goal: idle at most $0.50 a month.
   Each scheduled function is also run at idle and checked against what the bill states for it.
7. The latency of a librarian's reply: from its event posted to /slack/events to its frame on
   the session's live_url, p50 and p99 over 100 replies on the local stack (`make dev`'s, in a
   process of its own). Goal: p99 under 1 s.
8. Presence behind the cache: the presence function's invocations per 1,000 page views of one
   library's site, a busy hour and a quiet one, through local/cdn.py (template.yaml's cache
   policies) on a simulated clock. Goal for the busy hour: under 50.
9. Redaction on the labelled corpus of patron messages (tests/unit/redaction_corpus.py), in
   process: per kind of identifier, the share masked (or kept, for those staff look up), and
   overall precision and recall. Goals: recall 100%, legitimate identifiers kept at least 98%.

Only the tables (and GOAL MISSED lines) reach stdout; what the local stack and the handlers print
(the stand-ins' console lines, Powertools' metrics and logs) goes to test-output/bench.log.

    python scripts/bench.py [--rounds 30] [--only bill|first-invocation|cold]"""
from __future__ import annotations

import argparse
import collections
import copy
import datetime
import functools
import json
import marshal
import math
import os
import random
import re
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

# us-east-1 on-demand prices as AWS published them (checked 2026-11-29; DynamoDB's since Nov 2024),
# without the free tier. The only price table: the cost per 1,000 conversations and the monthly bill
# both read it. WebSocket API: messages sent and received, metered in 32 KB units, and connection
# minutes. CloudWatch (the project's shared FACTS.md, vendor docs): a standard alarm per metric it watches
# (a high-resolution one, period under 60 s, $0.30), a composite alarm $0.50, a dashboard $3.00, a
# custom metric $0.30 a month prorated by the hours it has data, logs $0.50 per GB ingested. S3
# Standard, SQS standard, CloudFront (North America/Europe, HTTPS) and EventBridge: their pricing
# pages as last read (scheduled rules' events are free; EventBridge Scheduler is $1.00 per million).
PRICES = {
    "dynamodb_write_unit": 0.625 / 1e6, "dynamodb_read_unit": 0.125 / 1e6, "dynamodb_gb_month": 0.25,
    "http_api_request": 1.00 / 1e6, "lambda_request": 0.20 / 1e6, "lambda_gb_second_arm64": 0.0000133334,
    "lambda_gb_second_x86_64": 0.0000166667,
    "sqs_fifo_request": 0.50 / 1e6, "sqs_standard_request": 0.40 / 1e6,
    "websocket_message": 1.00 / 1e6, "websocket_connection_minute": 0.25 / 1e6,
    "cloudwatch_alarm_metric_month": 0.10, "cloudwatch_high_resolution_alarm_metric_month": 0.30,
    "cloudwatch_composite_alarm_month": 0.50, "cloudwatch_dashboard_month": 3.00,
    "cloudwatch_custom_metric_month": 0.30, "cloudwatch_logs_gb_ingested": 0.50,
    "s3_gb_month": 0.023, "s3_put_request": 0.005 / 1000, "s3_get_request": 0.0004 / 1000,
    "eventbridge_rule_scheduled_event": 0.0, "eventbridge_scheduler_invocation": 1.00 / 1e6,
    "cloudfront_https_request": 0.0100 / 10_000, "cloudfront_gb_out": 0.085,
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
# The functions someone waits on (Slack's 3 s, Twilio, a browser), held to COLD_IMPORT_GOAL; the
# dispatcher, reports (which draws the charts) and sweeper run off the acknowledgement path.
ACKNOWLEDGEMENT_FUNCTIONS = {"slack_events", "slack_interactions", "slack_commands", "sms_inbound", "webchat", "live",
                             "presence"}
COLD_IMPORT_GOAL = 1.3
WARM_GOAL = 1.3
# The first invocation in a fresh process (import, init, first request) against the local stack's
# moto, vs a fresh process's `import boto3` and the same AWS calls sent raw: rounds per webhook (the
# web chat's sends stay under refdesk.channels.web's 12 a minute per session).
FIRST_INVOCATION_ROUNDS = 5

# The monthly bill (issue 18): what the stack costs with no patron at all, read from template.yaml
# with its default parameters (monthly_bill(None)), and with 100 and 5,000 conversations a month on
# top, from the cost per 1,000 conversations measured here, half SMS and half web chat on its live
# connection (BILL_MIX).
TEMPLATE = ROOT / "template.yaml"
HOURS_PER_MONTH = 730  # AWS's month, for prorating
BILL_VOLUMES = (0, 100, 5000)  # conversations a month: idle, a quiet desk, a busy one
BILL_MIX = {"SMS": 0.5, "web, live connection": 0.5}
IDLE_GOAL_DOLLARS = 0.50
BILL_SERVICES = ("Lambda", "HTTP API", "WebSocket API", "DynamoDB", "SQS", "EventBridge", "CloudFront", "S3",
                 "CloudWatch alarms", "CloudWatch dashboards", "CloudWatch custom metrics", "CloudWatch Logs")
CUSTOM_METRICS = "custom metrics"  # a per-1,000 key: metric -> how many of 1,000 conversations publish it
# Lambda polls each queue of an SQS trigger all the time, empty or not: 5 pollers, each a 20 s long
# poll (about 15 empty receives a minute per queue, as NumberOfEmptyReceives shows), all billed.
LAMBDA_SQS_POLLERS, SQS_LONG_POLL_SECONDS = 5, 20
# Each Lambda invocation writes START, END and REPORT lines to its log group (text format): events,
# bytes. CloudWatch Logs counts each event's message plus 26 bytes.
LAMBDA_PLATFORM_LOG = (3, 260)
LOG_EVENT_OVERHEAD_BYTES = 26
# A scheduled run at idle, per run, as stated here (arm64 Lambda, its INIT amortised; log bytes at
# the template's POWERTOOLS_LOG_LEVEL, without the platform lines): `make bench` runs each schedule's
# function at idle on the local stack and reports a GOAL MISSED line when it makes more AWS calls or
# writes more log bytes than stated. A scheduled function not listed is billed at its Timeout.
SCHEDULED_RUNS = {
    "ReportsFunction": {"seconds": 2.0, "log_events": 1, "log_bytes": 800, "dynamodb_reads": 40,
                        "s3_puts": 2, "s3_bytes": 8000, "kept_days_parameter": "ReportRetentionDays"},
}
UNSTATED_RUN = {"log_events": 2, "log_bytes": 2000, "dynamodb_reads": 1}
# A web conversation starts on a library page that loaded the widget through CloudFront: /widget.js
# and one /presence (page views without a chat are apart: see presence's figures).
WIDGET_PAGE_REQUESTS = (WIDGET_SCRIPT, WIDGET_PRESENCE)


class CallCounter:
    """Counts every botocore API call, by (service, operation), into the current bucket, and
    within a bucket the capacity units of each DynamoDB call (DynamoCapacity), by ("read" |
    "write", the function `where` names: the one running it). Outside a bucket (the timed warm
    rounds) nothing is sized."""

    def __init__(self):
        self.calls: collections.Counter = collections.Counter()
        self.units: collections.Counter = collections.Counter()
        self.sizing = False

    def install(self, where) -> None:
        from botocore.client import BaseClient

        original, counter, capacity = BaseClient._make_api_call, self, DynamoCapacity()

        def counting(client, operation, params):
            service = client.meta.service_model.service_name
            counter.calls[(service, operation)] += 1
            if not counter.sizing or service != "dynamodb" or operation not in DYNAMODB_WRITES + DYNAMODB_READS:
                return original(client, operation, params)
            if operation in DYNAMODB_READS:
                answer = original(client, operation, params)
                counter.units["read", where()] += capacity.read_units(operation, params, answer)
                return answer
            targets = capacity.targets(operation, params)
            before = [capacity.item(table, key) for table, key, _ in targets]
            try:
                return original(client, operation, params)
            finally:  # a write whose condition failed is billed too
                counter.units["write", where()] += sum(
                    capacity.write_units(table, old, capacity.item(table, key), twice=twice)
                    for (table, key, twice), old in zip(targets, before))

        BaseClient._make_api_call = counting

    @contextmanager
    def bucket(self):
        self.calls, self.units, self.sizing = collections.Counter(), collections.Counter(), True
        try:
            yield self
        finally:
            self.sizing = False


DYNAMODB_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems")
DYNAMODB_READS = ("GetItem", "Query")
WRITE_UNIT_BYTES, READ_UNIT_BYTES, INDEX_ENTRY_OVERHEAD_BYTES = 1024, 4096, 100


class DynamoCapacity:
    """DynamoDB's on-demand capacity units for calls to the embedded moto (in this process), item
    sizes as moto measures them (attribute names and values). A write: a unit per KB of the
    larger of the item before and after it (also when its condition fails), twice in a
    transaction, and for each global secondary index an entry of which it adds, removes or
    changes (a changed index key: removed and added), a unit per KB of the entry (its keys,
    projected attributes and 100 bytes), once also in a transaction. A read: a unit per 4 KB
    read, half when eventually consistent; a GetItem the whole item, a Query the items it answers
    (those a filter drops or a COUNT only counts are not sized: a small partition is one unit)."""

    def __init__(self):
        from moto.dynamodb.models import dynamodb_backends

        from local.template import ACCOUNT_ID, REGION

        self.backend = dynamodb_backends[ACCOUNT_ID][REGION]

    @staticmethod
    def targets(operation: str, params: dict) -> list[tuple[str, dict, bool]]:
        """(table, key or item, whether in a transaction) of each item the write touches."""
        if operation != "TransactWriteItems":
            return [(params["TableName"], params.get("Key") or params["Item"], False)]
        return [(body["TableName"], body.get("Key") or body["Item"], True)
                for entry in params["TransactItems"] for body in entry.values()]

    def item(self, table: str, key: dict):
        """A copy of the item as moto holds it now (which a write changes in place), None when
        absent; `key` may be the whole item."""
        from boto3.dynamodb.types import TypeSerializer

        schema = self.backend.get_table(table)
        typed = {name: value if isinstance(value, dict) else TypeSerializer().serialize(value)
                 for name, value in key.items() if name in (schema.hash_key_attr, schema.range_key_attr)}
        return copy.deepcopy(self.backend.get_item(table, typed))

    def write_units(self, table: str, before, after, *, twice: bool) -> int:
        """The item's units (twice in a transaction), then its index entries' (once: an index is
        kept up to date as after any write)."""
        units = _units(max(_size(before), _size(after)), WRITE_UNIT_BYTES) * (2 if twice else 1)
        for index in self.backend.get_table(table).global_indexes:
            old, new = _index_entry(index, before), _index_entry(index, after)
            if old == new:
                continue
            if old and new and all(old[name] == new[name] for name in index.schema_key_attrs):
                units += _units(max(_entry_size(old), _entry_size(new)), WRITE_UNIT_BYTES)
            else:
                units += sum(_units(_entry_size(entry), WRITE_UNIT_BYTES) for entry in (old, new) if entry)
        return units

    def read_units(self, operation: str, params: dict, answer: dict) -> float:
        from boto3.dynamodb.types import TypeSerializer
        from moto.dynamodb.models.dynamo_type import DynamoType

        if operation == "GetItem":
            size = _size(self.item(params["TableName"], params["Key"]))
        else:
            size = sum(len(name.encode()) + DynamoType(TypeSerializer().serialize(value)).size()
                       for item in answer.get("Items", []) for name, value in item.items())
        return _units(size, READ_UNIT_BYTES) * (1 if params.get("ConsistentRead") else 0.5)


def _units(size: int, unit_bytes: int) -> int:
    return max(1, math.ceil(size / unit_bytes))


def _size(item) -> int:
    return item.size() if item is not None else 0


def _index_entry(index, item) -> dict | None:
    """The attributes of `item` a global secondary index holds, None when it is not in the index."""
    if item is None or any(name not in item.attrs for name in index.schema_key_attrs):
        return None
    projection = index.projection.get("ProjectionType", "ALL")
    if projection == "ALL":
        return dict(item.attrs)
    kept = set(index.schema_key_attrs) | set(index.table_key_attrs)
    if projection == "INCLUDE":
        kept |= set(index.projection.get("NonKeyAttributes", []))
    return {name: value for name, value in item.attrs.items() if name in kept}


def _entry_size(entry: dict) -> int:
    return INDEX_ENTRY_OVERHEAD_BYTES + sum(len(name.encode()) + value.size() for name, value in entry.items())


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
                        for service in ("dynamodb", "sqs", "lambda")}

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
    fresh FIFO group and de-duplication ids (SHA-256 hex, as refdesk.jobs makes them). No old_id
    (a button press): the ids only."""
    new_id = fresh_like(old_id)

    def replaced(value):
        if isinstance(value, str):
            return value.replace(old_id, new_id) if old_id else value
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
        # Lambda's Invoke API, recording the webhooks' wake-ups of the dispatcher (drain() runs it).
        from local.lambda_api import LambdaApi
        from local.servers import Server

        self.wake_ups = Server(LambdaApi(self.template.function_arns(resolve)))
        os.environ["AWS_ENDPOINT_URL_LAMBDA"] = self.wake_ups.url
        self.durations: dict[str, list[float]] = collections.defaultdict(list)
        self.running = ""  # the function being invoked (CallCounter's `where`)
        [self.live_api] = self.template.websocket_apis()
        from refdesk import clients

        self.pushes = LiveConnections()
        clients.use("live", self.pushes)

    def stop(self) -> None:
        self.wake_ups.stop()
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
        started, self.running = time.perf_counter(), function
        try:
            result = self.invoker.invoke(function, event)
        finally:
            self.running = ""
        self.durations[function].append(time.perf_counter() - started)
        return result

    @contextmanager
    def recording(self):
        """Invocations are recorded, not run, meanwhile: the (function, event) pairs a Driver's
        operations would invoke, each answered 200 with an empty JSON body."""
        recorded = []

        def record(function: str, event: dict) -> dict:
            recorded.append((function, event))
            return {"statusCode": 200, "body": "{}"}

        self.invoke = record
        try:
            yield recorded
        finally:
            del self.invoke

    def drain(self) -> int:
        """The dispatcher woken, as a webhook's wake-up does (the webhooks' own wake-ups are only
        recorded, by local.lambda_api): one invocation drains the queue, its receives and deletes
        counted with its other calls. Returns the invocations it took (1)."""
        self.invoke("DispatcherFunction", {})
        return 1


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
        team = self.env["SLACK_TEAM_ID"]  # a staff member's message names the library's team (refdesk.staff)
        envelope = {"type": "event_callback", "event_id": event_id, "team_id": team, "is_ext_shared_channel": False,
                    "event": {"type": "message", "channel": self.env["SLACK_STAFF_CHANNEL"], "user": "U0AMANDA",
                              "text": text, "ts": ts, "thread_ts": thread_ts, "team": team, "user_team": team,
                              "source_team": team}}
        return self.slack_post("SlackEventsFunction", "/slack/events", json.dumps(envelope), "application/json")

    def close(self, card: dict) -> dict:
        button = next(element for block in card["blocks"] if block["type"] == "actions"
                      for element in block["elements"] if element.get("action_id") == "close_conversation")
        payload = {"type": "block_actions", "user": {"id": "U0AMANDA", "team_id": self.env["SLACK_TEAM_ID"]},
                   "team": {"id": self.env["SLACK_TEAM_ID"]}, "channel": {"id": card["channel"]},
                   "container": {"message_ts": card["ts"], "channel_id": card["channel"]},
                   "actions": [{"action_id": button["action_id"], "value": button["value"],
                                "action_ts": f"{time.time():.6f}"}]}
        return self.slack_post("SlackInteractionsFunction", "/slack/interactions",
                               urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")

    def command(self, text: str) -> dict:
        form = {"command": "/refdesk", "text": text, "user_id": "U0AMANDA", "user_name": "amanda",
                "channel_id": self.env["SLACK_STAFF_CHANNEL"], "team_id": self.env["SLACK_TEAM_ID"]}
        return self.slack_post("SlackCommandsFunction", "/slack/commands", urlencode(form),
                               "application/x-www-form-urlencoded")

    def web(self, method: str, path: str, body: dict | None = None, token: str = "", query: str = ""):
        headers = {"content-type": "application/json", "origin": self.env["PUBLIC_BASE_URL"]}
        if token:
            headers["authorization"] = f"Bearer {token}"
        result = self.stack.http("WebChatFunction", method, path, json.dumps(body) if body is not None else "",
                                 headers, query)
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
        self.team = LOCAL_PARAMETER_VALUES["SlackTeamId"]
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
        return json.dumps({"type": "event_callback", "event_id": "Ev" + uuid.uuid4().hex[:12], "team_id": self.team,
                           "event_time": int(time.time()), "is_ext_shared_channel": False,
                           "event": {"type": "message", "channel": self.channel, "user": "U0AMANDA", "text": text,
                                     "ts": ts, "thread_ts": thread_ts, "channel_type": "channel", "team": self.team,
                                     "user_team": self.team, "source_team": self.team}})


def reply_latencies(environment: dict[str, str]) -> list[float]:
    """Seconds from each librarian reply's event posted to /slack/events to its {"type": "message"}
    frame on the session's live_url, on the local stack; LATENCY_REPLIES replies after one that
    warms the stack up (its functions' first imports), each LATENCY_PAUSE_SECONDS after the frame
    before it arrived."""
    from websockets.sync.client import connect

    stack = DevStack(environment)
    try:
        stack.slack_post("/slack/commands", urlencode({"command": "/refdesk", "text": "on", "user_id": "U0AMANDA",
                                                       "user_name": "amanda", "channel_id": stack.channel,
                                                       "team_id": stack.team}),
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


class LogTally:
    """The JSON lines the handlers write to stdout, counted as CloudWatch Logs ingests them (a line
    an event): Powertools' log lines and EMF records, and the custom metrics those records publish.
    Everything is passed on to `stream` (the stand-ins' console lines, "[...]", are not counted)."""

    def __init__(self, stream):
        self.stream = stream
        self.events = self.bytes = 0
        self.metrics: collections.Counter = collections.Counter()

    def write(self, text: str) -> int:
        if text.startswith("{"):
            line = text.rstrip("\n")
            self.events += 1
            self.bytes += len(line.encode())
            if '"_aws"' in line:
                self.metrics.update(emf_metrics(json.loads(line)))
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)


def emf_metrics(record: dict) -> list[str]:
    """The custom metrics one EMF record publishes: "Name (dimension=value, ...)" for each metric and
    dimension set."""
    found = []
    for directive in record["_aws"]["CloudWatchMetrics"]:
        for dimensions in directive.get("Dimensions") or [[]]:
            labels = ", ".join(f"{name}={record.get(name)}" for name in sorted(dimensions))
            found += [f"{metric['Name']} ({labels})" for metric in directive["Metrics"]]
    return found


@contextmanager
def logs_counted(stack: Stack):
    """A LogTally of what the in-process handlers print meanwhile, logging at the template's
    POWERTOOLS_LOG_LEVEL (the bench otherwise logs at WARNING): the service's logger and its
    children (Logger(child=True), each with its own level), also those created meanwhile."""
    import logging

    from refdesk import observability

    def loggers() -> list[logging.Logger]:
        name = observability.logger.name
        return [logging.getLogger(name)] + [logger for key, logger in logging.Logger.manager.loggerDict.items()
                                            if key.startswith(name + ".") and isinstance(logger, logging.Logger)]

    production = str(stack.template.environment().get("POWERTOOLS_LOG_LEVEL", "INFO")).upper()
    bench_level = os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING")
    tally = LogTally(sys.stdout)
    handlers = [handler for handler in logging.getLogger(observability.logger.name).handlers
                if isinstance(handler, logging.StreamHandler)]
    saved = [(handler, handler.stream) for handler in handlers]
    os.environ["POWERTOOLS_LOG_LEVEL"] = production
    for logger in loggers():
        logger.setLevel(production)
    sys.stdout = tally  # EMF records are print()ed
    for handler in handlers:
        handler.stream = tally
    try:
        yield tally
    finally:
        sys.stdout = tally.stream
        for handler, stream in saved:
            handler.stream = stream
        os.environ["POWERTOOLS_LOG_LEVEL"] = bench_level
        for logger in loggers():
            logger.setLevel(bench_level)


@functools.cache
def access_log_bytes() -> dict[str, int]:
    """Bytes of one access-log line of the HTTP API and of the WebSocket API's stage, as the deployed
    template (default parameters) formats them (0: no access log), each $context variable taken at
    a typical length."""
    typical = {"requestId": 16, "requestTime": 26, "routeKey": 20, "eventType": 7, "status": 3, "protocol": 8,
               "responseLength": 3, "responseLatency": 2, "integrationStatus": 3, "integrationLatency": 2,
               "error.message": 1}
    with _template_at(TEMPLATE) as cfn:
        data = cfn.deployed()
        http_apis = cfn.deployed_resources(data, "AWS::Serverless::HttpApi", "AWS::ApiGatewayV2::Stage")
    sizes = {"http": 0, "websocket": 0}
    for resource in http_apis.values():
        log_format = resource.get("Properties", {}).get("AccessLogSettings", {}).get("Format")
        if isinstance(log_format, str):
            kind = "http" if resource["Type"] == "AWS::Serverless::HttpApi" else "websocket"
            sizes[kind] = len(re.sub(r"\$context\.([A-Za-z.]+)", lambda match: "x" * typical.get(match[1], 8),
                                     " ".join(log_format.split())).encode())
    return sizes


def scheduled_event(function: str, schedule: str) -> dict:
    """The event an EventBridge scheduled rule sends."""
    from local.template import ACCOUNT_ID, REGION

    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": ACCOUNT_ID, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/refdesk-{function}-{schedule}"], "detail": {}}


def scheduled_runs_at_idle(stack: Stack, counter: CallCounter, rounds: int = 3) -> dict[str, dict]:
    """Each scheduled function run as its schedule runs it, on the local stack with nothing in it
    (before any conversation): function -> per run, the AWS calls, log events and bytes (at the
    template's log level), the custom metrics published, and the median seconds of `rounds` runs
    after a first one (its import)."""
    measured = {}
    for function in stack.template.functions():
        if not function.schedules:
            continue
        event = scheduled_event(function.name, function.schedules[0].name)
        with logs_counted(stack) as tally, counter.bucket():
            for _ in range(rounds + 1):
                stack.invoke(function.name, event)
            calls = collections.Counter({key: n / (rounds + 1) for key, n in counter.calls.items()})
        measured[function.name] = {
            "seconds": statistics.median(stack.durations[function.name][-rounds:]), "calls": calls,
            "log_events": tally.events / (rounds + 1), "log_bytes": tally.bytes / (rounds + 1),
            "metrics": sorted(tally.metrics)}
    return measured


def scheduled_run_lines(measured: dict[str, dict], inventory: dict) -> tuple[list[str], list[str]]:
    """The table of scheduled runs, stated (SCHEDULED_RUNS, what the idle bill uses) and measured at
    idle; and the goals missed: a run that makes more AWS calls, or writes more log bytes, than
    stated, or publishes a custom metric the idle bill does not count (idle_inventory)."""
    lines = ["| scheduled function, per run at idle | AWS calls | log lines, bytes | custom metrics | ms |",
             "|---|---|---|---|---|"]
    missed = []
    for function, run in measured.items():
        stated = SCHEDULED_RUNS.get(function, {})
        reads = sum(n for (service, op), n in run["calls"].items() if service == "dynamodb" and
                    op in ("GetItem", "Query", "Scan", "BatchGetItem"))
        puts = sum(n for (service, op), n in run["calls"].items() if service == "s3")
        others = sum(run["calls"].values()) - reads - puts
        calls = ", ".join(f"{op} {n:g}" for (_, op), n in sorted(run["calls"].items())) or "none"
        lines.append(f"| {function}: stated | {stated.get('dynamodb_reads', 0)} DynamoDB reads"
                     + (f", {stated['s3_puts']} S3 PutObject" if stated.get("s3_puts") else "")
                     + f" | {stated.get('log_events', '?')}, {stated.get('log_bytes', '?')} | none | "
                     f"{stated.get('seconds', 0) * 1000:g} (arm64, INIT amortised) |")
        lines.append(f"| {function}: measured | {calls} | {run['log_events']:g}, {run['log_bytes']:,.0f} | "
                     f"{', '.join(run['metrics']) or 'none'} | {run['seconds'] * 1000:.1f} (here, in process) |")
        if not stated:
            missed.append(f"{function}: a scheduled function without SCHEDULED_RUNS (billed at its Timeout)")
        elif reads > stated.get("dynamodb_reads", 0) or puts > stated.get("s3_puts", 0) or others:
            missed.append(f"{function}: {sum(run['calls'].values()):g} AWS calls a scheduled run, over SCHEDULED_RUNS")
        elif run["log_bytes"] > stated.get("log_bytes", 0):
            missed.append(f"{function}: {run['log_bytes']:,.0f} log bytes a scheduled run, over SCHEDULED_RUNS")
        uncounted = [metric for metric in run["metrics"] if metric.split(" ")[0] not in inventory["idle_metrics"]]
        if uncounted:
            missed.append(f"{function}: publishes {', '.join(uncounted)} at idle, not in the idle bill")
    return lines, missed


def widget_page_load(stack: Stack) -> tuple[int, int]:
    """CloudFront's part of a web conversation: the requests of the page load that showed the widget
    (WIDGET_PAGE_REQUESTS) and the bytes they send, compressed as CloudFront compresses them. Taken
    from the presence function's own answers, outside any conversation's counts."""
    import base64
    import gzip

    sent = 0
    for path in WIDGET_PAGE_REQUESTS:
        from local.gateway import build_event, find_route, routes_of
        from local.servers import Request

        request = Request(method="GET", path=path, query="", body=b"", client_ip="203.0.113.9", protocol="HTTP/1.1",
                          headers=())
        route, params = find_route(routes_of([stack.functions["PresenceFunction"]]), "GET", path)
        event = build_event(request, route, params, f"127.0.0.1:{stack.port}")
        answer = stack.invoker.invoke("PresenceFunction", event)
        body = answer.get("body", "")
        body = base64.b64decode(body) if answer.get("isBase64Encoded") else body.encode()
        sent += len(gzip.compress(body))
    return len(WIDGET_PAGE_REQUESTS), sent


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value at least `share` of the values are at or under."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def conversation_costs(stack: Stack, driver: Driver, counter: CallCounter, channel: str, *,
                       poll_seconds: float = 0, live: bool = False) -> dict:
    """Counts for one conversation of 5 patron messages and 5 replies, then Close. A web chat is
    open CHAT_OPEN_MINUTES, the widget polling every `poll_seconds` or on its `live` connection:
    $connect, the read it makes when a connection opens, a ping every LIVE_PING_SECONDS, the
    dispatcher's pushes, $disconnect. The widget reads by the cursor it keeps: one poll after each
    job finds what it stored, the others find nothing new. Logs at the template's level: the
    handlers' lines and EMF records, each invocation's platform lines (LAMBDA_PLATFORM_LOG) and the
    access log's lines, with the custom metrics published. DynamoDB in capacity units
    (DynamoCapacity), by the function that used them."""
    totals = collections.Counter()
    http_requests = invocations = websocket_messages = connection_minutes = finding_polls = 0
    gb_seconds = 0.0
    stack.durations.clear()
    pushed_before = stack.pushes.units
    with counter.bucket(), logs_counted(stack) as tally:
        if channel == "sms":
            number = f"+1555{uuid.uuid4().int % 10**7:07d}"
            send = lambda text: driver.sms(number, text)  # noqa: E731
        else:
            session = driver.web("POST", "/chat/sessions", {})
            http_requests += 1
            path, cursor = f"/chat/sessions/{session['session_id']}/messages", ""

            def send(text):
                return driver.web("POST", path, {"text": text, "client_id": uuid.uuid4().hex},
                                  session["token"])

            def read():  # GET …/messages as the widget makes it, after the cursor it keeps
                nonlocal cursor
                cursor = driver.web("GET", path, token=session["token"],
                                    query=urlencode({"after": cursor}) if cursor else "")["cursor"]
            if live:
                connection = driver.live_connect(session["live_url"])
                read()
                http_requests += 1

        def job_done():  # the dispatcher drains the job; a poll finds what it stored
            nonlocal invocations, http_requests, finding_polls
            invocations += stack.drain()
            if poll_seconds:
                read()
                http_requests += 1
                finding_polls += 1
        for n in range(5):
            send(f"question {n}")
            http_requests += 1
            job_done()
            driver.staff_reply(driver.root_card()["ts"], f"answer {n}")
            http_requests += 1
            job_done()
        driver.close(driver.root_card())
        http_requests += 1
        job_done()
        if poll_seconds:  # the rest of the polls find nothing new
            unchanged = int(CHAT_OPEN_MINUTES * 60 / poll_seconds) - finding_polls
            repeated(stack, counter, "WebChatFunction", read, unchanged, tally)
            http_requests += unchanged
        if live:
            pings = CHAT_OPEN_MINUTES * 60 // LIVE_PING_SECONDS
            repeated(stack, counter, "LiveFunction", lambda: driver.live_ping(connection), pings, tally)
            driver.live_disconnect(connection)
            # Each ping and its pong; $connect and $disconnect counted as a message each, to be safe.
            websocket_messages = stack.pushes.units - pushed_before + 2 * pings + 2
            connection_minutes = CHAT_OPEN_MINUTES
        totals.update(counter.calls)
        units = counter.units.copy()
    for name, durations in stack.durations.items():
        gb_seconds += sum(durations) * stack.functions[name].memory_mb / 1024
        invocations += len(durations) if name != "DispatcherFunction" else 0
    platform_events, platform_bytes = LAMBDA_PLATFORM_LOG
    access = access_log_bytes()
    access_lines = http_requests + (websocket_messages if access["websocket"] else 0)
    log_events = tally.events + invocations * platform_events + access_lines
    log_bytes = (tally.bytes + invocations * platform_bytes + http_requests * access["http"]
                 + (websocket_messages * access["websocket"]) + log_events * LOG_EVENT_OVERHEAD_BYTES)
    return {"calls": totals, "units": units, "http": http_requests, "invocations": invocations,
            "invocations_by_function": {name: len(durations) for name, durations in stack.durations.items()},
            "gb_seconds": gb_seconds, "websocket_messages": websocket_messages,
            "pushed": stack.pushes.units - pushed_before, "connection_minutes": connection_minutes,
            "log_events": log_events, "log_bytes": log_bytes, "metrics": set(tally.metrics)}


def repeated(stack: Stack, counter: CallCounter, function: str, operation, times: int,
             tally: LogTally | None = None) -> None:
    """Runs `operation` (a poll, a ping: the same each time) once and counts it `times`: its AWS
    calls and capacity units, its function's time and the log lines it wrote (`tally`)."""
    before, units_before = counter.calls.copy(), counter.units.copy()
    logged = (tally.events, tally.bytes) if tally else (0, 0)
    operation()
    for tally_of, earlier in ((counter.calls, before), (counter.units, units_before)):
        for key, count in (tally_of - earlier).items():
            tally_of[key] += count * (times - 1)
    stack.durations[function] += [stack.durations[function][-1]] * (times - 1)
    if tally:
        tally.events += (tally.events - logged[0]) * (times - 1)
        tally.bytes += (tally.bytes - logged[1]) * (times - 1)


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
    """Service -> dollars per 1,000 conversations like the one `costs` counted (conversation_costs)."""
    calls = costs["calls"]
    writes = sum(n for (kind, _), n in costs["units"].items() if kind == "write")
    reads = sum(n for (kind, _), n in costs["units"].items() if kind == "read")
    sqs = sum(n for (service, _), n in calls.items() if service == "sqs")
    s3_puts = sum(n for (service, op), n in calls.items() if service == "s3" and not op.startswith(("Get", "Head")))
    s3_gets = sum(n for (service, op), n in calls.items() if service == "s3" and op.startswith(("Get", "Head")))
    parts = {
        "HTTP API": costs["http"] * PRICES["http_api_request"],
        "WebSocket API": costs["websocket_messages"] * PRICES["websocket_message"]
        + costs["connection_minutes"] * PRICES["websocket_connection_minute"],
        "Lambda": costs["invocations"] * PRICES["lambda_request"]
        + costs["gb_seconds"] * PRICES["lambda_gb_second_arm64"],
        "DynamoDB": writes * PRICES["dynamodb_write_unit"] + reads * PRICES["dynamodb_read_unit"]
        + 10 * 1024 / 1e9 * PRICES["dynamodb_gb_month"],  # about 1 KB a message, kept one month
        "SQS": sqs * PRICES["sqs_fifo_request"],
        "S3": s3_puts * PRICES["s3_put_request"] + s3_gets * PRICES["s3_get_request"],
        "CloudFront": costs.get("cdn_requests", 0) * PRICES["cloudfront_https_request"]
        + costs.get("cdn_bytes", 0) / 1e9 * PRICES["cloudfront_gb_out"],
        "CloudWatch Logs": costs.get("log_bytes", 0) / 1e9 * PRICES["cloudwatch_logs_gb_ingested"],
    }
    return {name: value * 1000 for name, value in parts.items()}  # per 1,000 conversations


def sources_lines(costs_by_channel: dict[str, dict]) -> list[str]:
    """Where one conversation's billed units come from: DynamoDB capacity units and Lambda
    invocations by function, SQS requests by operation, WebSocket messages pushed and in all."""

    def by(counts: dict) -> str:
        parts = ", ".join(f"{name.removesuffix('Function')} {count:g}"
                          for name, count in sorted(counts.items()) if count)
        return f"{sum(counts.values()):g}" + (f" ({parts})" if parts else "")

    lines = ["| one conversation | DynamoDB write units | read units | Lambda invocations | SQS requests | "
             "WebSocket messages (pushed) |", "|---|---|---|---|---|---|"]
    for name, costs in costs_by_channel.items():
        units = {kind: {function: n for (of_kind, function), n in costs["units"].items() if of_kind == kind}
                 for kind in ("write", "read")}
        sqs = {operation: n for (service, operation), n in costs["calls"].items() if service == "sqs"}
        lines.append(f"| {name} | {by(units['write'])} | {by(units['read'])} | {by(costs['invocations_by_function'])} "
                     f"| {by(sqs)} | {costs['websocket_messages']} ({costs['pushed']}) |")
    return lines


def per_1000_for_the_bill(costs_by_channel: dict[str, dict]) -> dict:
    """monthly_bill's per-1,000 figures from conversation_costs' counts of the channels in BILL_MIX:
    dollars per service, and under CUSTOM_METRICS how many of 1,000 conversations publish each
    metric (a metric is one name and set of dimensions)."""
    per_1000: dict = collections.defaultdict(float)
    published: collections.Counter = collections.Counter()
    for channel, share in BILL_MIX.items():
        for service, value in dollars(costs_by_channel[channel]).items():
            per_1000[service] += share * value
        for metric in costs_by_channel[channel]["metrics"]:
            published[metric] += share * 1000
    return {**per_1000, CUSTOM_METRICS: dict(published)}


# --- The monthly bill: the template's idle costs, and conversations on top ---

@contextmanager
def _template_at(path: Path):
    """tests/security/cfn.py, whose helpers read template.yaml (cached), reading `path` for a while."""
    from local.environment import LOCAL_PARAMETER_VALUES
    from local.template import Template
    from tests.security import cfn

    if Path(path).resolve() == cfn.TEMPLATE_PATH.resolve():
        yield cfn
        return
    original = cfn.template
    cfn.template = functools.cache(lambda: Template(Path(path), LOCAL_PARAMETER_VALUES).data)
    try:
        yield cfn
    finally:
        cfn.template = original


def _enabled(properties: dict, parameters: dict) -> bool:
    """A schedule, rule or trigger's Enabled / State, as deployed (true unless turned off)."""
    enabled = str(_plain(properties.get("Enabled", True), parameters)).lower() != "false"
    return enabled and _plain(properties.get("State", "ENABLED"), parameters) != "DISABLED"


def _plain(value, parameters: dict):
    """A property's value with a Ref to a parameter resolved; other intrinsics stay as they are."""
    if isinstance(value, dict) and list(value) == ["Ref"] and value["Ref"] in parameters:
        return parameters[value["Ref"]]
    return value


_CRON_NAMES = {3: {name: n for n, name in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), 1)},
               4: {name: n for n, name in enumerate("SUN MON TUE WED THU FRI SAT".split(), 1)}}
_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (1, 7))


def _cron_values(field: str, position: int) -> set[int]:
    """The values one field of an EventBridge cron() takes: *, ?, lists, ranges (also wrapping:
    FRI-MON), steps, month and weekday names (weekdays 1-7 = SUN-SAT). L, W and # are not modelled."""
    low, high = _CRON_RANGES[position]
    names = _CRON_NAMES.get(position, {})

    def number(text: str) -> int:
        return names.get(text.upper()) or int(text)

    values = set()
    for part in field.split(","):
        if any(mark in part.upper() for mark in ("L", "W", "#")) and part.upper() not in names:
            raise ValueError(f"cron field {field!r}: L, W and # are not modelled")
        base, _, step = part.partition("/")
        if base in ("*", "?"):
            start, end = low, high
        elif "-" in base:
            start, end = (number(item) for item in base.split("-"))
        else:
            start = number(base)
            end = high if step else start
        span = range(start, end + 1) if start <= end else [*range(start, high + 1), *range(low, end + 1)]
        values.update(list(span)[::int(step or 1)])
    return values


def schedule_runs(expression: str) -> tuple[float, float]:
    """(runs a month, clock hours a month with a run) of an EventBridge schedule expression:
    rate(N unit), cron(minutes hours day-of-month month day-of-week year) counted over a year of 365
    days (the year field is not modelled), at(...) once ever (0)."""
    text = " ".join(str(expression).split())
    rate = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", text)
    if rate:
        seconds = int(rate[1]) * {"minute": 60, "hour": 3600, "day": 86400}[rate[2].rstrip("s")]
        runs = HOURS_PER_MONTH * 3600 / seconds
        return runs, min(runs, HOURS_PER_MONTH)
    if text.startswith("at("):
        return 0.0, 0.0
    cron = re.fullmatch(r"cron\((.+)\)", text)
    if not cron or len(cron[1].split()) != 6:
        raise ValueError(f"not a schedule expression: {expression!r}")
    minutes, hours, days, months, weekdays = (_cron_values(field, n) for n, field in enumerate(cron[1].split()[:5]))
    start = datetime.date(2027, 1, 1)  # any year of 365 days
    run_days = 0
    for offset in range(365):
        day = start + datetime.timedelta(days=offset)
        if day.month in months and day.day in days and day.isoweekday() % 7 + 1 in weekdays:
            run_days += 1
    return run_days * len(hours) * len(minutes) / 12, run_days * len(hours) / 12


def _function_file(cfn, data: dict, function: dict) -> Path:
    code = Path(cfn.deployed_setting(data, function, "CodeUri") or ".")
    module = str(cfn.deployed_setting(data, function, "Handler") or "app.handler").rpartition(".")[0]
    return ROOT / code / (module.replace(".", "/") + ".py")


def _metrics_in(path: Path) -> set[str]:
    """The metric names a handler's own module adds: count("Name", ...) and seconds("Name", ...)
    (refdesk.observability), also as observability.count(...)."""
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if called in ("count", "seconds") and isinstance(node.args[0].value, str):
                names.add(node.args[0].value)
    return names


def _published_metrics() -> frozenset:
    """refdesk.observability.PUBLISHED: the only metrics that reach CloudWatch (others are log lines)."""
    layer = str(ROOT / "layers" / "refdesk")
    if layer not in sys.path:
        sys.path.append(layer)
    from refdesk import observability

    return observability.PUBLISHED


def _open_hours_a_month(opening_hours: str) -> float:
    """Clock hours a month the desk is open, from the OpeningHours parameter ({"mon": "09:00-17:00,
    18:00-20:00", ...}): each range's clock hours, started ones included."""
    weekly = 0
    for ranges in json.loads(opening_hours).values():
        for span in filter(None, (item.strip() for item in ranges.split(","))):
            start, end = ([int(part) for part in moment.split(":")] for moment in span.split("-"))
            weekly += math.ceil(end[0] + end[1] / 60) - start[0]
    return weekly * 365 / 7 / 12


def idle_inventory(template_path: Path = TEMPLATE) -> dict:
    """What the stack does and costs a month with no patron, read from the template deployed with
    its default parameters (tests/security/cfn.py's deployed()): its alarms and the metrics each
    watches, dashboards, scheduled functions (runs a month at their MemorySize and architecture,
    SCHEDULED_RUNS per run), the queues Lambda polls for SQS triggers, and the RefDesk custom
    metrics the scheduled functions publish (refdesk.observability.PUBLISHED). "costs": service ->
    dollars a month."""
    with _template_at(template_path) as cfn:
        data, parameters = cfn.deployed(), cfn.parameter_values()
        resources = data["Resources"]
        functions = cfn.deployed_resources(data, "AWS::Serverless::Function", "AWS::Lambda::Function")

        alarms, alarm_dollars = {}, 0.0
        for name, alarm in cfn.deployed_resources(data, "AWS::CloudWatch::Alarm").items():
            props = alarm["Properties"]
            watched = [props] if "MetricName" in props else [query["MetricStat"] for query in props.get("Metrics", [])
                                                               if "MetricStat" in query]
            alarms[name] = len(watched)
            for metric in watched:
                high_resolution = int(_plain(metric.get("Period", 60), parameters)) < 60
                alarm_dollars += PRICES["cloudwatch_high_resolution_alarm_metric_month" if high_resolution
                                        else "cloudwatch_alarm_metric_month"]
        composite = cfn.deployed_resources(data, "AWS::CloudWatch::CompositeAlarm")
        alarm_dollars += len(composite) * PRICES["cloudwatch_composite_alarm_month"]
        dashboards = sorted(cfn.deployed_resources(data, "AWS::CloudWatch::Dashboard"))

        def target(arn) -> str | None:
            found = cfn.get_att(arn) or (cfn.ref(arn), "")
            return found[0] if found[0] in functions else None

        schedules = []  # (function, expression, kind)
        for name, function in functions.items():
            for event in function.get("Properties", {}).get("Events", {}).values():
                props = event.get("Properties", {})
                if event["Type"] in ("Schedule", "ScheduleV2") and _enabled(props, parameters):
                    expression = _plain(props.get("Schedule") or props.get("ScheduleExpression"), parameters)
                    schedules.append((name, expression, "rule" if event["Type"] == "Schedule" else "scheduler"))
        for rule in cfn.deployed_resources(data, "AWS::Events::Rule").values():
            props = rule["Properties"]
            if "ScheduleExpression" in props and _enabled(props, parameters):
                schedules += [(function, _plain(props["ScheduleExpression"], parameters), "rule")
                              for function in map(target, (t["Arn"] for t in props.get("Targets", []))) if function]
        for schedule in cfn.deployed_resources(data, "AWS::Scheduler::Schedule").values():
            props = schedule["Properties"]
            if _enabled(props, parameters) and target(props["Target"]["Arn"]):
                schedules.append((target(props["Target"]["Arn"]), _plain(props["ScheduleExpression"], parameters),
                                  "scheduler"))

        triggers = []  # (function, queue logical id); then queues: (function, queue, FIFO?)
        for name, function in functions.items():
            for event in function.get("Properties", {}).get("Events", {}).values():
                if event["Type"] == "SQS" and _enabled(event["Properties"], parameters):
                    triggers.append((name, (cfn.get_att(event["Properties"]["Queue"]) or ("?",))[0]))
        for mapping in cfn.deployed_resources(data, "AWS::Lambda::EventSourceMapping").values():
            props = mapping["Properties"]
            queue = (cfn.get_att(props.get("EventSourceArn")) or ("",))[0]
            if resources.get(queue, {}).get("Type") == "AWS::SQS::Queue" and _enabled(props, parameters):
                triggers.append((cfn.ref(props["FunctionName"]) or "?", queue))
        queues = [(function, queue, str(_plain(resources.get(queue, {}).get("Properties", {}).get("FifoQueue", False),
                                                parameters)).lower() == "true") for function, queue in triggers]

        published = _published_metrics()
        costs = collections.Counter()
        runs, idle_metrics = [], {}
        for function, expression, kind in schedules:
            spec = functions[function]
            memory = int(_plain(cfn.deployed_setting(data, spec, "MemorySize") or 128, parameters))
            [architecture] = [_plain(item, parameters) for item in cfn.deployed_setting(data, spec, "Architectures")
                              or ["x86_64"]]
            stated = SCHEDULED_RUNS.get(function) or {
                **UNSTATED_RUN, "seconds": float(_plain(cfn.deployed_setting(data, spec, "Timeout") or 3, parameters))}
            count, hours = schedule_runs(expression)
            runs.append({"function": function, "expression": expression, "kind": kind, "runs": count,
                         "memory_mb": memory, "architecture": architecture, **stated})
            costs["Lambda"] += count * (PRICES["lambda_request"] + stated["seconds"] * memory / 1024
                                        * PRICES[f"lambda_gb_second_{architecture}"])
            costs["EventBridge"] += count * PRICES["eventbridge_rule_scheduled_event" if kind == "rule"
                                                   else "eventbridge_scheduler_invocation"]
            events, platform = LAMBDA_PLATFORM_LOG
            ingested = stated["log_bytes"] + platform + (stated["log_events"] + events) * LOG_EVENT_OVERHEAD_BYTES
            costs["CloudWatch Logs"] += count * ingested / 1e9 * PRICES["cloudwatch_logs_gb_ingested"]
            costs["DynamoDB"] += count * (stated.get("dynamodb_reads", 0) * 0.5 * PRICES["dynamodb_read_unit"]
                                          + stated.get("dynamodb_writes", 0) * PRICES["dynamodb_write_unit"])
            kept_months = int(parameters.get(stated.get("kept_days_parameter", ""), 0)) / (365 / 12)
            costs["S3"] += count * (stated.get("s3_puts", 0) * PRICES["s3_put_request"]
                                    + stated.get("s3_bytes", 0) * kept_months / 1e9 * PRICES["s3_gb_month"])
            for metric in _metrics_in(_function_file(cfn, data, spec)) & published:
                idle_metrics[metric] = min(HOURS_PER_MONTH, idle_metrics.get(metric, 0) + hours)
        polls = LAMBDA_SQS_POLLERS * 60 / SQS_LONG_POLL_SECONDS * 60 * HOURS_PER_MONTH
        for _, _, fifo in queues:
            costs["SQS"] += polls * PRICES["sqs_fifo_request" if fifo else "sqs_standard_request"]
        costs["CloudWatch alarms"] = alarm_dollars
        costs["CloudWatch dashboards"] = len(dashboards) * PRICES["cloudwatch_dashboard_month"]
        costs["CloudWatch custom metrics"] = sum(idle_metrics.values()) / HOURS_PER_MONTH \
            * PRICES["cloudwatch_custom_metric_month"]
        return {"alarms": alarms, "composite_alarms": sorted(composite), "dashboards": dashboards,
                "schedules": runs, "polled_queues": queues, "polls_per_queue": polls, "idle_metrics": idle_metrics,
                "open_hours": _open_hours_a_month(parameters["OpeningHours"]),
                "costs": {service: costs.get(service, 0.0) for service in BILL_SERVICES}}


def _custom_metric_dollars(inventory: dict, published: dict[str, float], conversations: int) -> float:
    """A month's custom metrics: those published at idle in the hours they have data, and those a
    conversation publishes (`published`: metric -> how many of 1,000 conversations publish it), each
    conversation in one clock hour of the desk's opening hours, at random: a metric published by n
    conversations has data in H(1 - (1 - 1/H)^n) of the H open hours."""
    open_hours = inventory["open_hours"]
    hours = dict(inventory["idle_metrics"])
    for metric, per_1000 in published.items():
        n = per_1000 * conversations / 1000
        busy = open_hours * (1 - (1 - 1 / open_hours) ** n)
        idle = hours.get(metric.split(" ")[0], 0)  # published at idle too: its idle hours already count
        hours[metric] = busy * (1 - idle / HOURS_PER_MONTH)
    return sum(hours.values()) / HOURS_PER_MONTH * PRICES["cloudwatch_custom_metric_month"]


def monthly_bill(per_1000: dict | None = None, template_path: Path = TEMPLATE) -> dict:
    """The month's AWS bill (us-east-1, PRICES, no free tier) by service: idle, read from the
    template alone (idle_inventory), and, given per_1000 (service -> dollars per 1,000 conversations,
    and CUSTOM_METRICS: metric -> how many of 1,000 conversations publish it), with each of
    BILL_VOLUMES conversations a month on top. Without per_1000, the idle column only.
    {"volumes", "rows": service -> [dollars per volume], "total": [...], "idle": idle_inventory}."""
    inventory = idle_inventory(template_path)
    volumes = BILL_VOLUMES if per_1000 is not None else BILL_VOLUMES[:1]
    rows = {}
    for service in BILL_SERVICES:
        idle = inventory["costs"][service]
        if service == "CloudWatch custom metrics":
            rows[service] = [idle if not volume else
                             _custom_metric_dollars(inventory, per_1000.get(CUSTOM_METRICS, {}), volume)
                             for volume in volumes]
        else:
            rows[service] = [idle + (per_1000.get(service, 0.0) * volume / 1000 if volume else 0.0)
                             for volume in volumes]
    return {"volumes": volumes, "rows": rows, "total": [sum(column) for column in zip(*rows.values())],
            "idle": inventory}


def money(value: float) -> str:
    """$0, < $0.0001, $0.0042 under a cent, $0.42 and up."""
    if not value:
        return "$0"
    return "< $0.0001" if value < 0.0001 else f"${value:.4f}" if value < 0.01 else f"${value:.2f}"


def bill_lines(bill: dict) -> list[str]:
    """The bill as a Markdown table: a row per service, a column per volume, the total."""
    head = ["service", *("idle (no conversation)" if not volume else f"{volume:,} conversations a month"
                         for volume in bill["volumes"])]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += [f"| {service} | " + " | ".join(money(value) for value in values) + " |"
              for service, values in bill["rows"].items()]
    goal = "✅" if bill["total"][0] <= IDLE_GOAL_DOLLARS else "❌"
    lines.append("| **total** | " + " | ".join(
        f"**${value:.2f}**" + (f" (goal ≤ ${IDLE_GOAL_DOLLARS:.2f} {goal})" if not volume else "")
        for volume, value in zip(bill["volumes"], bill["total"])) + " |")
    return lines


def idle_lines(inventory: dict) -> list[str]:
    """What the idle column counts, as read from the template."""
    alarms = inventory["alarms"]
    runs = "; ".join(f"{run['function']} {run['expression']} ({run['kind']}): {run['runs']:,.0f} "
                     f"run{'' if round(run['runs']) == 1 else 's'} at "
                     f"{run['memory_mb']} MB {run['architecture']}, {run['seconds'] * 1000:g} ms and "
                     f"{run['log_bytes']:,} log bytes each" for run in inventory["schedules"]) or "none"
    queues = ", ".join(f"{queue} ({'FIFO' if fifo else 'standard'}, {function})"
                       for function, queue, fifo in inventory["polled_queues"]) or "none"
    metrics = ", ".join(f"{name} {hours:,.0f} h" for name, hours in inventory["idle_metrics"].items()) or "none"
    return [f"Idle, from template.yaml with its default parameters: {len(alarms)} alarms watching "
            f"{sum(alarms.values())} metrics ({', '.join(f'{name} {n}' for name, n in alarms.items())})"
            + (f", {len(inventory['composite_alarms'])} composite" if inventory["composite_alarms"] else "")
            + f"; {len(inventory['dashboards'])} dashboards; schedules: {runs}; queues Lambda polls for its SQS "
            f"triggers ({LAMBDA_SQS_POLLERS} pollers, {SQS_LONG_POLL_SECONDS} s long polls: "
            f"{inventory['polls_per_queue']:,.0f} empty receives a month each): {queues}; custom metrics "
            f"published at idle: {metrics}."]


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


def cold_imports(rounds: int, show) -> list[str]:
    """The cold import table (a quarter of `rounds` fresh processes per function, at least 3); the
    acknowledgement handlers over COLD_IMPORT_GOAL."""
    show(f"\n## Cold import of app.py and boto3, ratio to a bare `import boto3` (goal: at most "
         f"{COLD_IMPORT_GOAL}x for the acknowledgement handlers)\n")
    show("| function | seconds | bare boto3 seconds | ratio |\n|---|---|---|---|")
    failures = []
    for name, (seconds, baseline) in cold_import_ratios(max(3, rounds // 4)).items():
        held = name in ACKNOWLEDGEMENT_FUNCTIONS
        show(f"| {name}{'' if held else ' (not held to the goal)'} | {seconds:.3f} | {baseline:.3f} | "
             f"{seconds / baseline:.2f}x |")
        if held and seconds / baseline > COLD_IMPORT_GOAL:
            failures.append(f"{name}: cold import {seconds / baseline:.2f}x boto3")
    return failures


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
            stack.drain()  # as the dispatcher does within a second: the parked message unparked
            seconds = raw.seconds(again(calls, sent))
            stack.drain()
            if n:
                handler.append(took)
                replayed.append(seconds)
        return statistics.median(handler), statistics.median(replayed), [operation for _, operation, _ in calls]

    number = "+15550001111"
    driver.sms(number, "warm up")  # opens the conversation: the rounds are later texts
    stack.drain()
    capture.hook(clients.get("table").meta.client)
    capture.hook(clients.get("sqs"))
    capture.hook(clients.get("lambda"))  # the wake-up
    results = {"sms_inbound": measured("SmsInboundFunction", lambda: "SM" + uuid.uuid4().hex,
                                       lambda n, sid: driver.sms(number, f"warm {n}", sid))}
    card = driver.root_card()
    results["slack_events"] = measured("SlackEventsFunction", lambda: "Ev" + uuid.uuid4().hex[:12],
                                       lambda n, event_id: driver.staff_reply(card["ts"], f"reply {n}", event_id))
    return results


# A fresh process's first invocation: the handler (imported, initialised, its first request served
# against the local stack's moto) or `import boto3` and the same AWS calls sent raw on plain clients.
# Only sys, time and marshal (built in) are imported before the clock starts; "capture" (not timed)
# records the calls the handler's own clients send, as the warm ratio's CallCapture does.
FIRST_INVOCATION_CHILD = r"""
import marshal, sys, time
given = marshal.loads(sys.stdin.buffer.read())
sys.path[:0] = given["paths"]
captured = []
if given["mode"] == "capture":
    import copy
    from botocore.client import BaseClient
    original = BaseClient._make_api_call
    def record(params, model, **_):
        captured.append((model.service_model.service_name, model.name, copy.deepcopy(params)))
    def hooked(client, operation, params):
        event = "before-parameter-build." + client.meta.service_model.service_id.hyphenize()
        client.meta.events.register_last(event, record, unique_id="bench-first-invocation")
        return original(client, operation, params)
    BaseClient._make_api_call = hooked
class Context:
    def __init__(self, values):
        self.__dict__.update(values)
    def get_remaining_time_in_millis(self):
        return 10000
context = Context(given["context"])
started = time.perf_counter()
if given["mode"] == "raw":
    import boto3
    from botocore.config import Config
    clients, status = {}, 200
    for service, method, params in given["calls"]:
        if service not in clients:
            clients[service] = boto3.client(service, config=Config(retries=given["retries"]))
        getattr(clients[service], method)(**params)
else:
    handler = getattr(__import__(given["module"]), given["attribute"])
    status = handler(given["event"], context).get("statusCode")
seconds = time.perf_counter() - started
with open(given["out"], "wb") as out:
    marshal.dump({"seconds": seconds, "status": status, "calls": captured}, out)
"""


def first_invocation(mode: str, work: Path, function=None, event: dict | None = None,
                     calls: list | None = None) -> dict:
    """One fresh process (FIRST_INVOCATION_CHILD) in `mode`: "handler" or "capture" runs `function`'s
    handler on `event`, "raw" sends `calls` ((service, method, params)). {"seconds", "status", "calls"}."""
    from local.handlers import LambdaContext

    from refdesk.clients import WEBHOOK_AWS_RETRIES

    out = work / f"{uuid.uuid4().hex}.out"
    given = {"mode": mode, "out": str(out), "paths": [], "context": {}, "calls": calls or [],
             "retries": WEBHOOK_AWS_RETRIES}
    if function:
        module, _, attribute = function.handler.rpartition(".")
        context = LambdaContext(function)
        given.update(paths=[str(ROOT / "layers" / "refdesk"), str(function.code_dir)], module=module,
                     attribute=attribute, event=event,
                     context={name: value for name, value in vars(context).items() if not name.startswith("_")})
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "true"}
    subprocess.run([sys.executable, "-c", FIRST_INVOCATION_CHILD], input=marshal.dumps(given), check=True,
                   capture_output=True, env=env, cwd=function.code_dir if function else ROOT)
    result = marshal.loads(out.read_bytes())
    out.unlink()
    return result


def first_invocation_ratios(stack: Stack, driver: Driver, counter: CallCounter,
                            rounds: int) -> dict[str, tuple[float, float, list[str]]]:
    """Webhook -> (median seconds of a fresh process's import, init and first request, median
    seconds of a fresh process's `import boto3` and the same AWS calls sent raw, those calls'
    operations). The calls are captured once from a fresh process's first request (not timed);
    each round then times a fresh handler process on a new delivery and a fresh raw process on
    the captured calls with fresh ids (again()), the dispatcher draining the queue after each."""
    from botocore import xform_name

    number = "+15550002222"
    driver.sms(number, "opens the conversation")  # the rounds are later texts, as in the warm ratio
    stack.drain()
    sms_card = driver.root_card()
    session = driver.web("POST", "/chat/sessions", {})
    web_path = f"/chat/sessions/{session['session_id']}/messages"
    driver.web("POST", web_path, {"text": "opens the chat", "client_id": uuid.uuid4().hex}, session["token"])
    stack.drain()
    web_card = driver.root_card()
    webhooks = {  # run in this order: the last closes the web chat
        "sms_inbound": (lambda: "SM" + uuid.uuid4().hex, lambda sid: driver.sms(number, "first invocation", sid)),
        "slack_events": (lambda: "Ev" + uuid.uuid4().hex[:12],
                         lambda event_id: driver.staff_reply(sms_card["ts"], "first invocation", event_id)),
        "webchat": (lambda: uuid.uuid4().hex, lambda client_id: driver.web(
            "POST", web_path, {"text": "first invocation", "client_id": client_id}, session["token"])),
        "slack_interactions": (lambda: "", lambda _: driver.close(web_card)),
    }
    results = {}
    with tempfile.TemporaryDirectory() as work:
        def run(mode: str, new_id, send) -> tuple[str, dict]:
            sent = new_id()
            with stack.recording() as recorded:
                send(sent)
            [(function, event)] = recorded
            result = first_invocation(mode, Path(work), stack.functions[function], event)
            assert 200 <= result["status"] < 300, (function, result)  # the web chat's send answers 201
            stack.drain()
            return sent, result

        for name, (new_id, send) in webhooks.items():
            captured_id, captured = run("capture", new_id, send)
            handler, raw = [], []
            for _ in range(rounds):
                handler.append(run("handler", new_id, send)[1]["seconds"])
                calls = [(service, xform_name(operation), params)
                         for service, operation, params in again(captured["calls"], captured_id)]
                raw.append(first_invocation("raw", Path(work), calls=calls)["seconds"])
                stack.drain()
            results[name] = (statistics.median(handler), statistics.median(raw),
                             [operation for _, operation, _ in captured["calls"]])
    return {name: results[name] for name in ("sms_inbound", "slack_events", "slack_interactions", "webchat")}


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
    wanted = {"all": {"calls", "warm", "first", "bill", "latency", "cold", "redaction", "stats"},
              "bill": {"bill"}, "first-invocation": {"first"}, "cold": {"cold"}, "stats": {"stats"}}[options.only]
    if wanted == {"stats"}:  # a local stack of its own
        for failure in stats_check(shell, show):
            show(f"GOAL MISSED: {failure}")
        return 0
    if wanted == {"cold"}:  # fresh processes of their own: no local stack to start
        for failure in cold_imports(options.rounds, show):
            show(f"GOAL MISSED: {failure}")
        return 0
    counter = CallCounter()
    stack = Stack()
    counter.install(where=lambda: stack.running)
    driver = Driver(stack)
    failures, totals = [], {}
    try:
        idle_runs = scheduled_runs_at_idle(stack, counter) if "bill" in wanted else {}  # before any conversation
        driver.command("on")
        if "calls" in wanted:
            failures += calls_per_acknowledgement(stack, driver, counter, show)

        if "warm" in wanted:
            show("\n## Warm handler time vs the same AWS calls sent raw (goal: at most 1.3x)\n")
            show("| webhook | its AWS calls | handler ms | raw AWS calls ms | ratio |\n|---|---|---|---|---|")
            for name, (handler, raw, operations) in warm_ratio(stack, driver, counter, options.rounds).items():
                show(f"| {name} | {', '.join(operations)} | {handler * 1000:.1f} | {raw * 1000:.1f} | "
                     f"{handler / raw:.2f}x |")
                if handler / raw > WARM_GOAL:
                    failures.append(f"{name}: warm handler {handler / raw:.2f}x its raw AWS calls")
            show(f"\nMedians of {options.rounds} rounds: the handler's invocation (Lambda's part, without API "
                 "Gateway's) and the same calls, captured from its clients, sent again on plain boto3 clients with "
                 "fresh ids; the dispatcher drains the queue after each.")

        if "first" in wanted:
            rounds = min(FIRST_INVOCATION_ROUNDS, max(3, options.rounds // 6))
            show("\n## First invocation (import, init, first request) vs `import boto3` and the same AWS calls "
                 "sent raw\n")
            show("| webhook | its AWS calls | first invocation ms | `import boto3` + raw calls ms | ratio |\n"
                 "|---|---|---|---|---|")
            for name, (handler, raw, operations) in first_invocation_ratios(stack, driver, counter, rounds).items():
                show(f"| {name} | {', '.join(operations)} | {handler * 1000:.0f} | {raw * 1000:.0f} | "
                     f"{handler / raw:.2f}x |")
            show(f"\nMedians of {rounds} rounds, each two fresh processes on loopback to the local stack's moto: one "
                 "imports the function's app.py and serves one delivery (as Lambda's first invocation of a new "
                 "instance, secrets from the environment instead of SSM), the other imports boto3, makes plain "
                 "clients and sends the calls the first one made (captured once, not timed), with fresh ids.")

        if "bill" in wanted:
            show(f"\n## AWS cost per 1,000 conversations of 10 messages (prices of {PRICES_DATE}, us-east-1)\n")
            channels = {
                "SMS": {"channel": "sms"},
                f"web, polling every {WIDGET_POLL_SECONDS} s (before the live connection)":
                    {"channel": "web", "poll_seconds": WIDGET_POLL_SECONDS},
                "web, live connection": {"channel": "web", "live": True},
                f"web, no live connection: polling every {FALLBACK_POLL_SECONDS} s":
                    {"channel": "web", "poll_seconds": FALLBACK_POLL_SECONDS},
            }
            page_requests, page_bytes = widget_page_load(stack)
            costs_by_channel, totals = {}, {}
            for name, conversation in channels.items():
                costs = conversation_costs(stack, driver, counter, **conversation)
                if conversation["channel"] == "web":
                    costs.update(cdn_requests=page_requests, cdn_bytes=page_bytes)
                costs_by_channel[name] = costs
                parts = dollars(costs)
                if name == "SMS":
                    show("| conversations | " + " | ".join(parts) + " | total |\n|" + "---|" * (len(parts) + 2))
                totals[name] = sum(parts.values())
                show(f"| {name} | " + " | ".join(f"${value:.4f}" for value in parts.values())
                     + f" | ${totals[name]:.4f} |")
            show("\n" + "\n".join(sources_lines(costs_by_channel)))
            logs = {name: costs["log_bytes"] / costs["log_events"] for name, costs in costs_by_channel.items()}
            show(f"\nA web chat is open {CHAT_OPEN_MINUTES} minutes. On its live connection the widget reads the "
                 f"conversation once when it connects and pings every {LIVE_PING_SECONDS} s; every frame the "
                 "dispatcher pushed is counted in 32 KB units, with each ping and its pong, and $connect and "
                 "$disconnect as one message each. A web chat's page load through CloudFront is "
                 f"{page_requests} requests ({', '.join(WIDGET_PAGE_REQUESTS)}), {page_bytes:,} bytes compressed. "
                 "CloudWatch Logs: the handlers' lines at the template's log level and their EMF records, "
                 f"{LAMBDA_PLATFORM_LOG[0]} platform lines per invocation and an access-log line per request "
                 f"({LOG_EVENT_OVERHEAD_BYTES} bytes more per line): "
                 + ", ".join(f"{costs['log_bytes'] / 1024:,.0f} KB for {name}"
                             for name, costs in costs_by_channel.items())
                 + f" ({min(logs.values()):,.0f}–{max(logs.values()):,.0f} bytes a line). Carrier fees are apart: an "
                 "SMS conversation of 10 messages is at least 10 Twilio segments (5 in, 5 out) at the account's "
                 "per-segment price. Lambda time is measured here, not on arm64.")
            if totals["web, live connection"] > LIVE_GOAL_DOLLARS:
                failures.append(f"live web chat: ${totals['web, live connection']:.4f} per 1,000 conversations")
            failures += show_bill(per_1000_for_the_bill(costs_by_channel), idle_runs, show)

        if "latency" in wanted:
            failures += latency_and_presence(stack, shell, totals.get("web, live connection"), show)
    finally:
        stack.stop()

    if "cold" in wanted:
        failures += cold_imports(options.rounds, show)
    if "redaction" in wanted:
        failures += redaction_on_the_corpus(show)
    if "stats" in wanted:
        failures += stats_check(shell, show)
    for failure in failures:
        show(f"GOAL MISSED: {failure}")
    return 0


def stats_check(shell: dict[str, str], show) -> list[str]:
    """Issue 17: `/refdesk stats` against a scripted day with known waits (local/scripted_day.py)."""
    from local import scripted_day

    checked = scripted_day.check_on_a_fresh_stack(shell)
    show(f"\n## Issue 17: the stats of a scripted day ({len(scripted_day.SCRIPT)} conversations with known waits, "
         "local stack), as `/refdesk stats <from> <to>` answers\n")
    show("| expected line | in the answer |\n|---|---|")
    for line, found in checked:
        show(f"| {line} | {'yes' if found else 'NO'} |")
    right = sum(found for _, found in checked)
    show(f"\n{right} of {len(checked)} figures exactly as the script implies.")
    return [f"stats check: {line!r} not in the answer" for line, found in checked if not found]


def calls_per_acknowledgement(stack: Stack, driver: Driver, counter: CallCounter, show) -> list[str]:
    """The AWS calls of each operation's acknowledgement; the goals missed."""
    failures = []
    show("\n## AWS calls per acknowledgement (goal for the Twilio and Slack webhooks: at most 2 to store and queue, "
         "then the dispatcher's wake-up)\n")
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
            count = sum(n for (service, _), n in counter.calls.items() if service != "lambda")
        show(f"| {name} | {count} ({', '.join(f'{op} {n}' for (_, op), n in sorted(counter.calls.items()))}) |")
        if count > 2 and name.startswith(("SMS", "Slack")):  # the webhooks, besides their wake-up
            failures.append(f"{name}: {count} AWS calls")
        stack.drain()
    return failures


def show_bill(per_1000: dict, idle_runs: dict[str, dict], show) -> list[str]:
    """Issue 18: the monthly bill, and the scheduled runs behind its idle column; the goals missed."""
    bill = monthly_bill(per_1000)
    inventory = bill["idle"]
    show(f"\n## Issue 18: the monthly AWS bill (us-east-1, prices of {PRICES_DATE}, no free tier)\n")
    show("\n".join(bill_lines(bill)))
    published = ", ".join(sorted(per_1000[CUSTOM_METRICS])) or "none"
    show("\n" + "\n".join(idle_lines(inventory)))
    mix = " and ".join(f"{share:.0%} {name}" for name, share in BILL_MIX.items())
    show(f"\nConversations: the cost per 1,000 above, {mix}, "
         f"scaled; custom metrics a conversation publishes ({published}) are billed for the hours they have data, "
         f"each conversation in one of the desk's {inventory['open_hours']:.0f} open hours a month (OpeningHours) at "
         "random. Not counted: Twilio's fees, SES, SSM and KMS requests (secrets, a few per cold start), log "
         "storage ($0.03 per GB-month, kept LogRetentionDays), CloudFront for page views without a chat, and the "
         "sweeps a conversation arms (a one-time EventBridge Scheduler schedule: its CreateSchedule is free, its "
         "invocation $1.00 per million, and the sweeper's run are not counted).")
    lines, missed = scheduled_run_lines(idle_runs, inventory)
    show("\n" + "\n".join(lines))
    if bill["total"][0] > IDLE_GOAL_DOLLARS:
        missed.append(f"idle bill: ${bill['total'][0]:.2f} a month with no patron (goal ≤ ${IDLE_GOAL_DOLLARS:.2f}); "
                      + ", ".join(f"{service} {money(values[0])}" for service, values in bill["rows"].items()
                                  if values[0] >= 0.01))
    return missed


def latency_and_presence(stack: Stack, shell: dict[str, str], live_cost: float | None, show) -> list[str]:
    """Issue 11: a reply's latency to its live frame, presence behind the cache; the goals missed."""
    failures = []
    latencies = reply_latencies(shell)
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    hours = {name: presence_invocations(stack, views) for name, views in PAGE_VIEWS.items()}
    show("\n## Issue 11: real-time web chat and the presence cache\n")
    show("| measure | result | goal |\n|---|---|---|")
    if live_cost is not None:
        show(f"| AWS cost per 1,000 web conversations of 10 messages open {CHAT_OPEN_MINUTES} minutes, live "
             f"connection | ${live_cost:.4f} | ≤ ${LIVE_GOAL_DOLLARS:.2f} |")
    show(f"| a librarian's reply event to its frame on live_url, {len(latencies)} replies, local stack | "
         f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms | p99 < {LATENCY_GOAL_SECONDS:g} s |")
    for name, invocations in hours.items():
        views, total = PAGE_VIEWS[name], sum(invocations.values())
        show(f"| presence function invocations per 1,000 page views through the cache, {name} ({views:,} "
             f"views: {total} invocations, {invocations[WIDGET_PRESENCE]} of them the widget's presence) | "
             f"{total * 1000 / views:.0f} | " + (f"< {PRESENCE_GOAL} |" if name == "busy hour" else "— |"))
    show(f"\nLatency: from POST /slack/events (the event signed as Slack signs it) to the frame's arrival on a "
         f"WebSocket client, replies {LATENCY_PAUSE_SECONDS:g} s after the one before arrived, after one that "
         "warms the stack up; the webhook wakes the dispatcher (an asynchronous invocation, run at once by the "
         "local stack's Lambda API, local/lambda_api.py), which drains the queue. Presence: an hour of one library's site through local/cdn.py "
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
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--only", choices=("all", "bill", "first-invocation", "cold", "stats"), default="all",
                        help="bill: the scheduled runs at idle, the cost per 1,000 conversations and the monthly "
                             "bill; first-invocation: that table (both start the local stack); cold: the cold "
                             "import table (fresh processes, no local stack); stats: the scripted day's figures")
    options = parser.parse_args()
    with output_to_log(LOG) as tables:
        return bench(options, lambda *parts: print(*parts, file=tables))


if __name__ == "__main__":
    sys.exit(main())
