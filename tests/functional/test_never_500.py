"""Property tests: every route of template.yaml (HTTP and WebSocket) answers whatever it is sent with
a 2xx, 3xx or 4xx, never a 500 and never an exception, whether the request is unsigned junk or correctly
signed but nonsensical; and the parsers behind them either parse or refuse with BadRequest.

Signed requests are realistic ones (the events/ fixtures of record, one per kind of payload) with a few
fields replaced by what a string or id should never be: a list or an object, a lone UTF-16 surrogate
(JSON "\\ud800", which json.loads accepts and no UTF-8 encoder does), a number of 5,000 digits, NaN,
Infinity or 1e999, a ts of "NaN", "-1" or full-width digits. A refused request (4xx) queues no job.
The regression tests at the end are issue 15's cases, each answered with a 4xx."""
from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import string
import time
import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local.gateway import build_event, routes_of
from local.servers import FORM, JSON_TYPE, Request
from local.signing import slack_signature_headers, twilio_signature_header
from local.websocket import connect_event, disconnect_event, message_event, select_route
from tests.conftest import (AUTH_TOKEN, ENV, PUBLIC_BASE_URL, SIGNING_SECRET, _functions, fixture, http_event, invoke,
                            log_to_captured_stdout, template)

EXAMPLES = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
ROUTES = routes_of(list(_functions().values()))
FUNCTION_OF = {name: function.code_dir.name for name, function in
               {function.name: function for function in _functions().values()}.items()}

# --- what a field should never hold -------------------------------------------------------------


class Raw(str):
    """A JSON number written as is: json.dumps cannot write 5,000 digits (Python's int-string limit)
    and writes no 1e999."""


HUGE = "9" * 5000
lone_surrogate = st.characters(categories=["Cs"])
text_with_a_lone_surrogate = st.builds(lambda before, half, after: before + half + after,
                                       st.text(max_size=8), lone_surrogate, st.text(max_size=8))
odd_numbers = st.sampled_from([
    Raw(HUGE), Raw("-" + HUGE), Raw("1e999"), Raw("-1e999"), Raw("1" + "0" * 400 + ".5"),  # huge
    float("nan"), float("inf"), float("-inf"),  # json.dumps writes NaN, Infinity, -Infinity
    10 ** 30, 2 ** 63, -1, 0, 1.5, 1700000001.0002])
# Text that is no ts, id or count, though a careless int()/float() or a regex's \d may take it for one.
odd_text = st.sampled_from([
    "NaN", "nan", "Infinity", "-Infinity", "1e999", "-1", "-1700000001.000200", "１２３.４", "١٢٣٤",
    "1700000001.000200\n", " 1700000001.000200", "1_700_000_001.0", "0x1F", "1700000001", "1700000001.",
    ".000200", "", " ", HUGE, HUGE + ".000200", "1." + HUGE, "null", "[]", "{}", "\x00", "C0STAFF01\u202e",
    "U0AMANDA" * 200])
odd_leaves = odd_numbers | odd_text | text_with_a_lone_surrogate | st.none() | st.booleans()
odd_keys = st.text(max_size=8) | text_with_a_lone_surrogate
odd_nested = st.recursive(odd_leaves, lambda children: st.lists(children, max_size=3)
                          | st.dictionaries(odd_keys, children, max_size=3), max_leaves=6)
# Two times in three a list or an object.
odd_values = st.lists(odd_nested, max_size=3) | st.dictionaries(odd_keys, odd_nested, max_size=3) | odd_leaves
# The same, as a form field can carry them: text only (form_body sends a lone surrogate WTF-8-encoded).
odd_form_values = odd_text | text_with_a_lone_surrogate | st.text(max_size=40) | odd_numbers.map(str)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30) | odd_leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20)


def to_json(value) -> str:
    """json.dumps, but a Raw number is written as it is."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(key))}:{to_json(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(map(to_json, value)) + "]"
    return json.dumps(value)


def form_body(fields: dict[str, str]) -> str:
    """A form as a client that encodes a lone surrogate anyway (WTF-8: %ED%A0%80) would send it."""
    def encode(text) -> str:
        return urllib.parse.quote(str(text).encode("utf-8", "surrogatepass"), safe="")

    return "&".join(f"{encode(name)}={encode(value)}" for name, value in fields.items())


# --- realistic payloads, a few of their fields replaced -----------------------------------------

# The fields RefDesk reads (and the objects and lists holding them): most mutations pick one.
READ_FIELDS = {"type", "subtype", "event_id", "event", "channel", "user", "text", "ts", "thread_ts", "bot_id",
               "team", "user_team", "source_team", "team_id", "enterprise_id", "user_id", "is_bot", "authorizations",
               "is_ext_shared_channel", "files", "message", "previous_message", "edited", "tab", "challenge",
               "actions", "action_id", "value", "selected_option", "selected_user", "action_ts", "container",
               "message_ts", "channel_id", "id", "view", "callback_id", "private_metadata", "state", "values",
               "trigger_id", "department", "note"}


def _paths(value, prefix: tuple = ()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield prefix + (key,)
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield prefix + (index,)
            yield from _paths(item, prefix + (index,))


@st.composite
def mutated(draw, base, values=odd_values, structured: bool = True):
    """`base` with one to four fields replaced (by `values`, or, if `structured`, by the field
    wrapped in a list or an object) or removed. A form's fields are text: not `structured`."""
    value = copy.deepcopy(base)
    # Which field: nine times in ten one RefDesk reads, each name as likely as any other (however
    # often it occurs); drawn with a Random, as sampled_from's first examples favour the first fields.
    chance = draw(st.randoms(use_true_random=True))
    for _ in range(chance.randint(1, 4)):
        paths = list(_paths(value))
        if not paths:
            break
        read = [path for path in paths if all(step in READ_FIELDS for step in path if isinstance(step, str))]
        if read and chance.random() < 0.9:
            name = chance.choice(sorted({str(path[-1]) for path in read}))
            path = chance.choice([path for path in read if str(path[-1]) == name])
        else:
            path = chance.choice(paths)
        parent = value
        for step in path[:-1]:
            parent = parent[step]
        how = draw(st.sampled_from(["replace", "replace", "wrap", "delete"] if structured else ["replace", "delete"]))
        if how == "delete":
            del parent[path[-1]]
        else:
            current = parent[path[-1]]
            parent[path[-1]] = draw(values) if how == "replace" else draw(st.sampled_from([[current],
                                                                                            {"value": current}]))
    return value


def _app_home_opened() -> dict:
    envelope = fixture("slack_message_reply.json")
    envelope["event"] = {"type": "app_home_opened", "user": "U0AMANDA", "channel": "D0AMANDA", "tab": "home",
                         "event_ts": "1700000100.000200"}
    return envelope


SLACK_EVENTS = [fixture(f"{name}.json") for name in (
    "slack_message_reply", "slack_thread_broadcast", "slack_file_share", "slack_message_changed",
    "slack_message_deleted", "slack_outsider_in_staff_thread", "slack_connect_message", "slack_connect_thread_reply",
    "slack_app_mention", "slack_bot_echo", "slack_url_verification")] + [_app_home_opened()]


def _block_actions(action: dict, container: dict | None = None) -> dict:
    payload = fixture("slack_block_actions_close.json")
    payload["actions"] = [{"block_id": "conversation", "type": "button", "action_ts": "1700000200.123456", **action}]
    if container:
        payload["container"] = container
    return payload


# One block_actions payload per element RefDesk listens to (slack/interactions.py), on a card or in
# the Home tab; and the Invite modal's submission.
SLACK_INTERACTIONS = [_block_actions(action) for action in (
    {"action_id": "close_conversation", "value": "c0CONVERSATION1"},
    {"action_id": "claim_conversation", "value": "c0CONVERSATION1"},
    {"action_id": "transfer_conversation", "type": "users_select", "selected_user": "U0OTHER"},
    {"action_id": "quick_reply", "type": "static_select", "selected_option": {"value": "hours"}},
    {"action_id": "invite_department", "value": "c0CONVERSATION1"},
    {"action_id": "block_patron", "value": "c0CONVERSATION1"},
    {"action_id": "read_level_3", "value": "c0CONVERSATION1:3"},
    {"action_id": "topic_tag", "type": "static_select", "selected_option": {"value": "c0CONVERSATION1:catalog"}},
    {"action_id": "rate_4", "value": "c0CONVERSATION1:4"},
    {"action_id": "reveal_original", "value": "c0CONVERSATION1"},
)] + [_block_actions({"action_id": action_id, "value": value}, {"type": "view", "view_id": "V0HOME"})
      for action_id, value in (("claim_conversation", "c0CONVERSATION1"), ("unblock_patron", "a" * 26))
      ] + [fixture("slack_view_submission_invite.json")]

SLASH_COMMAND = fixture("slack_command_on.json")
SMS = fixture("sms_inbound.json")
WEB_CHAT_MESSAGE = {"text": "Do you have any books on the history of the Erie Canal?",
                    "client_id": "3f1c9a4e-8b2d-4c6f-9e7a-1d5b2c8f0a63", "contact": "sam@example.org", "name": "Sam"}


def slack_events(values=odd_values):
    return st.sampled_from(SLACK_EVENTS).flatmap(lambda envelope: mutated(envelope, values))


def slack_interactions(values=odd_values):
    return st.sampled_from(SLACK_INTERACTIONS).flatmap(lambda payload: mutated(payload, values))


# Values as they reach the code behind the edge, which refuses NaN, Infinity, 1e999, integers
# beyond ±(2**53 - 1) and lone surrogates (refdesk.shapes.parse_json).
parsed_values = st.recursive(
    st.sampled_from([2 ** 53 - 1, -(2 ** 53 - 1), -1, 0, 1.5, 1e300]) | odd_text | st.none() | st.booleans(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6)


# --- requests --------------------------------------------------------------------------------------

def answer_status(function: str, event: dict) -> int:
    response = invoke(function, event)
    assert isinstance(response, dict) and "statusCode" in response, response
    return int(response["statusCode"])


def signed_slack(path: str, body: str, content_type: str = JSON_TYPE) -> dict:
    """A request signed as Slack signs it (conftest.slack_event also shows an event's message in the
    Slack stand-in, which needs a well-formed ts)."""
    return http_event("POST", path, body, {"Content-Type": content_type,
                                           **slack_signature_headers(SIGNING_SECRET, body)})


def signed_twilio(fields: dict[str, str], path: str = "/sms/inbound") -> dict:
    """A form POST as Twilio signs it; a form Twilio could not sign (a lone surrogate) is sent with a
    signature of junk: it is refused before the signature is checked."""
    fields = {str(name): str(value) for name, value in fields.items()}
    try:
        signature = twilio_signature_header(AUTH_TOKEN, PUBLIC_BASE_URL + path, fields)
    except UnicodeEncodeError:
        signature = {"X-Twilio-Signature": "junk"}
    return http_event("POST", path, form_body(fields), {"Content-Type": FORM, **signature})


def interaction_body(payload) -> str:
    return form_body({"payload": to_json(payload)})


def queued(aws) -> int:
    """Jobs on the jobs queue, in flight or not."""
    attributes = aws["sqs"].get_queue_attributes(
        QueueUrl=aws["queue"], AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def assert_clear_answer(aws, function: str, event: dict) -> int:
    """Never a 5xx; a refusal (4xx) queues nothing."""
    before = queued(aws)
    status = answer_status(function, event)
    assert status < 500
    if status >= 400:
        assert queued(aws) == before
    return status


# --- every route, anything --------------------------------------------------------------------------

header_text = st.text(st.characters(codec="latin-1", exclude_categories=("Cc",)), max_size=60)
odd_headers = header_text | st.sampled_from([
    HUGE, "-" + HUGE, "NaN", "Infinity", "1e999", "-1", "0", "+1700000000", " 1700000000", "1700000000.5",
    "0" * 30 + "1700000000", "1_700_000_000", "v0=" + "a" * 5000, "A" * 5000, "v0=", "=", "Bearer"])
content_types = st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain",
                                 "multipart/form-data; boundary=x", "", "application/json; charset=utf-8"])
segment = st.text(st.characters(codec="utf-8", exclude_characters="/?#%"), min_size=1, max_size=40)
bodies = (st.binary(max_size=3000) | st.text(max_size=3000).map(str.encode)
          | json_values.map(lambda value: to_json(value).encode()))


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: f"{route.method} {route.path}")
@EXAMPLES
@given(data=st.data())
def test_any_request_to_any_route_gets_a_clear_answer(aws, slack, twilio, route, data):
    path = re.sub(r"\{[^}]+\}", lambda _: urllib.parse.quote(data.draw(segment), safe=""), route.path)
    params = {name: urllib.parse.unquote(part) for name, part in
              zip(re.findall(r"\{([^}]+)\}", route.path), [p for p, t in zip(path.split("/"), route.path.split("/"))
                                                           if t.startswith("{")])}
    headers = {"Content-Type": data.draw(content_types), "Origin": data.draw(st.sampled_from(
        ["", ENV["ALLOWED_ORIGINS"], "https://evil.example", "null"])), "Authorization": "Bearer " + data.draw(header_text),
        "X-Slack-Signature": data.draw(odd_headers), "X-Slack-Request-Timestamp": data.draw(odd_headers),
        "X-Twilio-Signature": data.draw(odd_headers)}
    headers = {name: value for name, value in headers.items() if value}
    body = data.draw(bodies)
    query = data.draw(st.sampled_from(["", "after=" + data.draw(st.text(string.printable, max_size=40)),
                                       "cb=" + data.draw(st.text(max_size=20)), "after=%ZZ"]))
    request = Request(method=route.method, path=path, query=urllib.parse.quote(query, safe="=&"),
                      headers=tuple(headers.items()), body=body, client_ip="203.0.113.7", protocol="HTTP/1.1")
    event = build_event(request, route, params, urllib.parse.urlsplit(PUBLIC_BASE_URL).netloc)

    assert answer_status(FUNCTION_OF[route.function], event) < 500


# --- correctly signed, nonsensical --------------------------------------------------------------------

@EXAMPLES
@given(payload=slack_events())
def test_signed_slack_events_of_any_shape_get_a_clear_answer(aws, slack, payload):
    assert_clear_answer(aws, "slack_events", signed_slack("/slack/events", to_json(payload)))


@EXAMPLES
@given(payload=slack_interactions())
def test_signed_slack_interactions_of_any_shape_get_a_clear_answer(aws, slack, payload):
    event = signed_slack("/slack/interactions", interaction_body(payload), FORM)
    assert_clear_answer(aws, "slack_interactions", event)


@EXAMPLES
@given(form=mutated(SLASH_COMMAND, odd_form_values, structured=False)
       | st.fixed_dictionaries({"text": st.sampled_from(["on", "off", "status", "stats 7d", "stats", "help"])
                                | odd_form_values}, optional={name: odd_form_values for name in (
                                    "user_id", "user_name", "team_id", "command", "trigger_id", "channel_id")}))
def test_signed_slash_commands_of_any_shape_get_a_clear_answer(aws, slack, form):
    event = signed_slack("/slack/commands", form_body(form), FORM)
    assert answer_status("slack_commands", event) < 500


@EXAMPLES
@given(form=mutated(SMS, odd_form_values, structured=False)
       | mutated({**SMS, "NumMedia": "1", "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC0/Media/ME1",
                  "MediaContentType0": "image/jpeg"}, odd_form_values, structured=False)
       | mutated({**SMS, "OptOutType": "STOP"}, odd_form_values, structured=False)
       | st.dictionaries(st.sampled_from(["MessageSid", "From", "Body", "NumMedia", "MediaUrl0", "MediaContentType0",
                                          "OptOutType", "To", "AccountSid"]) | st.text(max_size=10),
                         st.text(max_size=80), max_size=9))
def test_signed_twilio_webhooks_of_any_shape_get_a_clear_answer(aws, form):
    assert_clear_answer(aws, "sms_inbound", signed_twilio(form))


@EXAMPLES
@given(body=mutated(WEB_CHAT_MESSAGE) | json_values, rating=mutated({"rating": 4}) | json_values,
       token=header_text, address=st.integers(1, 254))
def test_web_chat_sends_and_ratings_of_any_shape_get_a_clear_answer(aws, body, rating, token, address):
    source_ip = f"198.51.100.{address}"  # sessions are rate-limited per address
    created = invoke("webchat", http_post_json("/chat/sessions", {}, source_ip=source_ip))
    assert created["statusCode"] in (201, 429)
    if created["statusCode"] == 429:
        return
    session = json.loads(created["body"])
    for path, payload in ((f"/chat/sessions/{session['session_id']}/messages", body),
                          (f"/chat/sessions/{session['session_id']}/rating", rating)):
        event = http_post_json(path, payload, token=data_token(token, session["token"]), source_ip=source_ip)
        assert_clear_answer(aws, "webchat", event)


# template.yaml's WebSocket API: its routes are not HTTP routes (ROUTES above) but take API
# Gateway's WebSocket events, built by the local stack (local.websocket) as for `make dev`.
WEBSOCKET_API = template().websocket_apis()[0]
WEBSOCKET_DOMAIN = "abc123.execute-api.us-east-1.amazonaws.com"
connection_ids = st.text(st.characters(codec="utf-8"), max_size=30) | st.just("L0SM9cOFvHcCIhw=")


@EXAMPLES
@given(data=st.data(), address=st.integers(1, 254))
def test_any_websocket_event_gets_a_clear_answer(aws, data, address):
    from refdesk import webchat as web

    session = web.create_session(f"198.51.100.{address}")  # sessions are rate-limited per address
    connection = data.draw(connection_ids)
    token = data_token(data.draw(header_text), session["token"])
    query = data.draw(st.sampled_from([
        urllib.parse.urlencode({"session": session["session_id"], "token": token}),
        urllib.parse.urlencode({"session": data.draw(st.text(max_size=40)), "token": token}),
        data.draw(st.text(max_size=100)), ""]))
    frame = data.draw(st.text(max_size=1500) | st.binary(max_size=1500) | json_values.map(to_json)
                      | mutated({"type": "ping"}).map(to_json))
    route = select_route(WEBSOCKET_API, frame)
    events = [connect_event(WEBSOCKET_API, connection, query, [("Host", WEBSOCKET_DOMAIN)], "203.0.113.7",
                            WEBSOCKET_DOMAIN),
              message_event(WEBSOCKET_API, connection, route.key, frame, WEBSOCKET_DOMAIN),
              disconnect_event(WEBSOCKET_API, connection, 0, data.draw(st.integers(1000, 4999)),
                               data.draw(st.text(max_size=40)), WEBSOCKET_DOMAIN)]

    assert [answer_status(FUNCTION_OF[route.function], event) < 500 for event in events] == [True] * 3


def data_token(drawn: str, real: str) -> str:
    return real if len(drawn) % 2 else drawn  # half the time the real token, so the body is what is tested


def http_post_json(path: str, body, token: str = "", source_ip: str = "203.0.113.7") -> dict:
    headers = {"Content-Type": "application/json", "Origin": ENV["ALLOWED_ORIGINS"]}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return http_event("POST", path, to_json(body), headers, source_ip=source_ip)


# --- the parsers behind the routes ------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(fields=st.dictionaries(st.text(max_size=12), st.text(max_size=40), max_size=8)
       | mutated(SMS, odd_text | st.text(max_size=40), structured=False))
def test_the_sms_parser_parses_or_refuses(fields):
    from refdesk.channels import sms
    from refdesk.errors import BadRequest

    fields.pop("OptOutType", None)  # recording an opt-out writes to the table: the route test covers it
    try:
        sms.CHANNEL.parse(fields)
    except BadRequest:
        pass


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(envelope=parsed_values | slack_events(parsed_values))
def test_the_slack_event_router_routes_or_refuses(aws, envelope):
    """`aws`: a Slack Connect partner's message is accepted by the router itself (a write and a send)."""
    from refdesk.errors import BadRequest
    from refdesk.slack.events import router

    try:
        router.job_for_event(envelope if isinstance(envelope, dict) else {"event": envelope, "event_id": "Ev1"})
    except BadRequest:
        pass


@settings(max_examples=200, deadline=None)
@given(payload=slack_interactions(parsed_values))
def test_the_slack_interaction_router_routes_or_refuses(payload):
    from refdesk.errors import BadRequest
    from refdesk.slack.interactions import router

    try:
        if payload.get("type") == "view_submission":
            router.job_for_view(payload)
        else:
            router.modal_for_interaction(payload)
            router.job_for_interaction(payload)
    except BadRequest:
        pass


@settings(max_examples=200, deadline=None)
@given(cursor=st.text(max_size=80) | st.binary(max_size=60).map(lambda raw: base64.urlsafe_b64encode(raw).decode()))
def test_a_chat_cursor_decodes_or_is_refused(cursor):
    from refdesk import webchat as web
    from refdesk.errors import BadRequest

    try:
        web._decode_cursor(cursor)
    except BadRequest:
        pass


@settings(max_examples=200, deadline=None)
@given(text=json_values.map(to_json) | st.text(max_size=200))
def test_json_from_outside_is_strict_json_or_refused(text):
    from refdesk.errors import BadRequest
    from refdesk.shapes import parse_json

    try:
        value = parse_json(text)
    except BadRequest:
        return
    # What is taken can be written back as strict JSON and as UTF-8, its integers read exactly anywhere.
    json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
    assert all(abs(number) < 2 ** 53 for number in integers_in(value))


def integers_in(value):
    if isinstance(value, int) and not isinstance(value, bool):
        yield value
    elif isinstance(value, (dict, list)):
        for item in value.values() if isinstance(value, dict) else value:
            yield from integers_in(item)


# --- issue 15's cases: each is a 4xx, and queues nothing ---------------------------------------------

def error_code(response: dict) -> str:
    assert 400 <= response["statusCode"] < 500, response
    return json.loads(response["body"])["error"]["code"]


def refusal(response: dict) -> str | int:
    """The error code of a 4xx; the status of anything else."""
    return json.loads(response["body"])["error"]["code"] if 400 <= response["statusCode"] < 500 \
        else response["statusCode"]


def with_changes(payload: dict, *changes: tuple[tuple, object]) -> dict:
    changed = copy.deepcopy(payload)
    for path, value in changes:
        parent = changed
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = value
    return changed


REPLY = fixture("slack_message_reply.json")
CLOSE = fixture("slack_block_actions_close.json")
INVITE = fixture("slack_view_submission_invite.json")
PARTNER = fixture("slack_connect_message.json")


def slack_events_refusals(payloads: dict[str, dict]) -> dict[str, str | int]:
    return {name: refusal(invoke("slack_events", signed_slack("/slack/events", to_json(payload))))
            for name, payload in payloads.items()}


@pytest.mark.parametrize("payload", [
    with_changes(REPLY, (("event", "type"), ["message"])),
    with_changes(REPLY, (("event", "subtype"), {"subtype": "thread_broadcast"})),
    with_changes(REPLY, (("event", "subtype"), ["thread_broadcast"])),
], ids=["event type a list", "event subtype an object", "event subtype a list"])
def test_an_event_with_a_list_or_object_as_its_type_is_a_4xx(aws, slack, payload):
    response = invoke("slack_events", signed_slack("/slack/events", to_json(payload)))

    assert error_code(response) == "bad_request"
    assert queued(aws) == 0


@pytest.mark.parametrize("payload", [
    with_changes(CLOSE, (("actions", 0, "action_id"), ["close_conversation"])),
    with_changes(CLOSE, (("actions", 0, "action_id"), {"id": "close_conversation"})),
    with_changes(INVITE, (("view", "callback_id"), ["invite_department"])),
    with_changes(INVITE, (("view", "callback_id"), {"id": "invite_department"})),
], ids=["action_id a list", "action_id an object", "callback_id a list", "callback_id an object"])
def test_an_interaction_with_a_list_or_object_as_its_listener_key_is_a_4xx(aws, slack, payload):
    response = invoke("slack_interactions", signed_slack("/slack/interactions", interaction_body(payload), FORM))

    assert error_code(response) == "bad_request"
    assert queued(aws) == 0


@pytest.mark.parametrize("envelope", [PARTNER, REPLY], ids=["partner message", "staff reply"])
def test_authorizations_that_are_not_a_list_of_installations_are_a_4xx(aws, slack, envelope):
    refusals = slack_events_refusals({name: with_changes(envelope, (("authorizations",), value)) for name, value in {
        "a number": 5, "true": True, "a string": "T0LIBRARY", "an object": {"team_id": "T0LIBRARY"},
        "a list of lists": [["T0LIBRARY"]],
        "lists in an installation": [{"team_id": ["T0LIBRARY"], "is_bot": True, "user_id": {"id": "U0REFDESK"}}],
    }.items()})

    assert refusals == dict.fromkeys(refusals, "bad_request")
    assert queued(aws) == 0


def test_a_slack_event_with_a_lone_surrogate_is_a_400_and_queues_nothing(aws, slack):
    payloads = {field: with_changes(REPLY, (path, value)) for field, path, value in (
        ("text", ("event", "text"), "half an emoji \ud83d"),
        ("thread_ts", ("event", "thread_ts"), "\ud800"),
        ("user", ("event", "user"), "U0AMANDA\udfff"),
        ("event_id", ("event_id",), "Ev\ud83d"),
        ("a field RefDesk never reads", ("event", "blocks", 0, "block_id"), "\udc00"),
    )}
    assert all("\\ud" in to_json(payload) for payload in payloads.values())  # escaped: the body is ASCII

    refusals = slack_events_refusals(payloads)

    assert refusals == dict.fromkeys(payloads, "bad_request")
    assert queued(aws) == 0


def test_an_interaction_with_a_lone_surrogate_is_a_400_and_queues_nothing(aws, slack):
    refusals = {field: refusal(invoke("slack_interactions", signed_slack(
        "/slack/interactions", interaction_body(with_changes(CLOSE, (path, value))), FORM)))
        for field, path, value in (("action_ts", ("actions", 0, "action_ts"), "1700000200.123456\ud800"),
                                   ("value", ("actions", 0, "value"), "\ud83d"),
                                   ("user id", ("user", "id"), "U0AMANDA\ud800"),
                                   ("container message_ts", ("container", "message_ts"), "\udfff"))}

    assert refusals == dict.fromkeys(refusals, "bad_request")
    assert queued(aws) == 0


def test_a_web_chat_message_with_a_lone_surrogate_is_a_400_logged_without_its_text(aws, capfd, monkeypatch):
    from refdesk import webchat as web

    log_to_captured_stdout(monkeypatch)
    session = web.create_session("198.51.100.1")
    capfd.readouterr()

    response = invoke("webchat", http_post_json(f"/chat/sessions/{session['session_id']}/messages",
                                                {"text": "Erie Canal maps \ud83d", "client_id": "c1"},
                                                token=session["token"]))

    assert error_code(response) == "bad_request"
    assert queued(aws) == 0
    logged = capfd.readouterr().out
    assert "request refused" in logged and "Erie Canal" not in logged


def test_a_text_message_with_a_lone_surrogate_is_a_400(aws, twilio):
    response = invoke("sms_inbound", signed_twilio({**SMS, "Body": "Erie Canal maps \ud83d"}))

    assert error_code(response) == "bad_request"
    assert queued(aws) == 0
    assert twilio.sent == []


def slack_request_stamped(stamp: str, body: str) -> dict:
    """Signed correctly over `stamp`, however long: Slack's own helper cannot write a 5,000-digit int."""
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{stamp}:".encode("utf-8", "surrogatepass") + body.encode(),
                      hashlib.sha256).hexdigest()
    return http_event("POST", "/slack/events", body, {"Content-Type": JSON_TYPE, "X-Slack-Request-Timestamp": stamp,
                                                      "X-Slack-Signature": f"v0={digest}"})


def test_a_slack_timestamp_of_any_other_shape_is_a_403(aws, slack):
    now = str(int(time.time()))
    stamps = {"5,000 digits": "1" * 5000, "now after 4,990 zeros": "0" * 4990 + now, "-5,000 digits": "-" + "1" * 5000,
              "NaN": "NaN", "Infinity": "Infinity", "1e999": "1e999", "-1": "-1", "full-width digits": "１７００００００００",
              "a plus sign": "+" + now, "a fraction": f"{time.time():.3f}", "a space": " " + now, "empty": ""}

    refusals = {name: refusal(invoke("slack_events", slack_request_stamped(stamp, to_json(REPLY))))
                for name, stamp in stamps.items()}

    assert refusals == dict.fromkeys(stamps, "forbidden")
    assert refusal(invoke("slack_events", slack_request_stamped(now, to_json(REPLY)))) == 200  # the same, signed now


def test_a_twilio_signature_of_any_other_shape_is_a_403(aws):
    signatures = ["A" * 5000, "9" * 5000, "ü" * 100, "=", "NaN"]

    refusals = [refusal(invoke("sms_inbound", http_event("POST", "/sms/inbound", form_body(SMS), {
        "Content-Type": FORM, "X-Twilio-Signature": signature}))) for signature in signatures]

    assert refusals == ["forbidden"] * len(signatures)
    assert queued(aws) == 0


@pytest.mark.parametrize("field", ["ts", "thread_ts"])
def test_a_reply_with_a_ts_that_is_no_slack_ts_is_a_4xx_and_queues_no_job(aws, slack, field):
    refusals = slack_events_refusals({name: with_changes(REPLY, (("event", field), ts)) for name, ts in {
        "NaN": "NaN", "Infinity": "Infinity", "1e999": "1e999", "-1": "-1", "negative": "-1700000100.000200",
        "full-width digits": "１２３.４", "no fraction": "1700000100", "a newline after": "1700000100.000200\n",
        "5,000 digits": "9" * 5000, "5,000 digits and a fraction": "9" * 5000 + ".000200"}.items()})

    assert refusals == dict.fromkeys(refusals, "bad_request")
    assert queued(aws) == 0


NOT_JSON_NUMBERS = {"NaN": Raw("NaN"), "Infinity": Raw("Infinity"), "-Infinity": Raw("-Infinity"),
                    "1e999": Raw("1e999"), "5,000 digits": Raw(HUGE), "400 digits": Raw("-" + "9" * 400),
                    "2**53": Raw(str(2 ** 53))}


@pytest.mark.parametrize("route", ["slack_events", "slack_interactions", "chat messages", "chat rating"])
def test_json_with_numbers_json_has_not_is_a_400_on_every_json_route_in_any_field(aws, slack, route):
    """Each number is in a field RefDesk does not read: the edge refuses it (refdesk.shapes.parse_json)."""
    from refdesk import webchat as web

    session = web.create_session("198.51.100.2")
    chat = f"/chat/sessions/{session['session_id']}"
    request = {
        "slack_events": lambda number: ("slack_events", signed_slack(
            "/slack/events", to_json(with_changes(REPLY, (("event_time",), number))))),
        "slack_interactions": lambda number: ("slack_interactions", signed_slack("/slack/interactions", interaction_body(
            with_changes(CLOSE, (("message", "reply_count"), number))), FORM)),
        "chat messages": lambda number: ("webchat", http_post_json(
            f"{chat}/messages", {**WEB_CHAT_MESSAGE, "sent_at": number}, token=session["token"])),
        "chat rating": lambda number: ("webchat", http_post_json(f"{chat}/rating", {"rating": 4, "sent_at": number},
                                                                 token=session["token"])),
    }[route]

    refusals = {name: refusal(invoke(*request(number))) for name, number in NOT_JSON_NUMBERS.items()}

    assert refusals == dict.fromkeys(NOT_JSON_NUMBERS, "bad_request")
    assert queued(aws) == 0
