"""Property tests: every route of template.yaml (HTTP and WebSocket) answers whatever it is sent with
a 2xx, 3xx or 4xx, never a 500 and never an exception, whether the request is unsigned junk or correctly
signed but nonsensical; and the parsers behind them either parse or refuse with BadRequest."""
from __future__ import annotations

import base64
import json
import re
import string
import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local.gateway import build_event, routes_of
from local.websocket import connect_event, disconnect_event, message_event, select_route
from local.servers import Request
from tests.conftest import ENV, PUBLIC_BASE_URL, _functions, http_event, invoke, slack_event, template, twilio_event

EXAMPLES = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
ROUTES = routes_of(list(_functions().values()))
FUNCTION_OF = {name: function.code_dir.name for name, function in
               {function.name: function for function in _functions().values()}.items()}

header_text = st.text(st.characters(codec="latin-1", exclude_categories=("Cc",)), max_size=60)
content_types = st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain",
                                 "multipart/form-data; boundary=x", "", "application/json; charset=utf-8"])
segment = st.text(st.characters(codec="utf-8", exclude_characters="/?#%"), min_size=1, max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20)


def answer_status(function: str, event: dict) -> int:
    response = invoke(function, event)
    assert isinstance(response, dict) and "statusCode" in response, response
    return int(response["statusCode"])


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
        "X-Slack-Signature": data.draw(header_text), "X-Slack-Request-Timestamp": data.draw(header_text),
        "X-Twilio-Signature": data.draw(header_text)}
    headers = {name: value for name, value in headers.items() if value}
    body = data.draw(st.binary(max_size=3000) | st.text(max_size=3000).map(str.encode))
    query = data.draw(st.sampled_from(["", "after=" + data.draw(st.text(string.printable, max_size=40)),
                                       "cb=" + data.draw(st.text(max_size=20)), "after=%ZZ"]))
    request = Request(method=route.method, path=path, query=urllib.parse.quote(query, safe="=&"),
                      headers=tuple(headers.items()), body=body, client_ip="203.0.113.7", protocol="HTTP/1.1")
    event = build_event(request, route, params, urllib.parse.urlsplit(PUBLIC_BASE_URL).netloc)

    assert answer_status(FUNCTION_OF[route.function], event) < 500


@EXAMPLES
@given(payload=json_values)
def test_signed_slack_events_of_any_shape_get_a_clear_answer(aws, slack, payload):
    assert answer_status("slack_events", slack_event("/slack/events", json.dumps(payload))) < 500


@EXAMPLES
@given(payload=json_values, wrap=st.booleans())
def test_signed_slack_interactions_of_any_shape_get_a_clear_answer(aws, slack, payload, wrap):
    if wrap:  # the shape of a block action, with anything inside
        payload = {"type": "block_actions", "actions": payload, "user": payload, "container": payload}
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    event = slack_event("/slack/interactions", body, "application/x-www-form-urlencoded")
    assert answer_status("slack_interactions", event) < 500


@EXAMPLES
@given(form=st.dictionaries(st.sampled_from(["MessageSid", "From", "Body", "NumMedia", "MediaUrl0",
                                             "MediaContentType0", "OptOutType", "To", "AccountSid"])
                            | st.text(max_size=10), st.text(max_size=80), max_size=9))
def test_signed_twilio_webhooks_of_any_shape_get_a_clear_answer(aws, form):
    assert answer_status("sms_inbound", twilio_event(form)) < 500


@EXAMPLES
@given(form=st.dictionaries(st.sampled_from(["text", "user_id", "user_name", "command", "trigger_id",
                                             "channel_id"]), st.text(max_size=60), max_size=6))
def test_signed_slash_commands_of_any_shape_get_a_clear_answer(aws, slack, form):
    body = urllib.parse.urlencode(form)
    assert answer_status("slack_commands", slack_event("/slack/commands", body,
                                                       "application/x-www-form-urlencoded")) < 500


@EXAMPLES
@given(body=json_values, token=header_text, address=st.integers(1, 254))
def test_web_chat_sends_of_any_shape_get_a_clear_answer(aws, body, token, address):
    source_ip = f"198.51.100.{address}"  # sessions are rate-limited per address
    created = invoke("webchat", http_post_json("/chat/sessions", {}, source_ip=source_ip))
    assert created["statusCode"] in (201, 429)
    if created["statusCode"] == 429:
        return
    session = json.loads(created["body"])
    event = http_post_json(f"/chat/sessions/{session['session_id']}/messages", body,
                           token=data_token(token, session["token"]), source_ip=source_ip)
    assert answer_status("webchat", event) < 500


# template.yaml's WebSocket API: its routes are not HTTP routes (ROUTES above) but take API
# Gateway's WebSocket events, built by the local stack (local.websocket) as for `make dev`.
WEBSOCKET_API = template().websocket_apis()[0]
WEBSOCKET_DOMAIN = "abc123.execute-api.us-east-1.amazonaws.com"
connection_ids = st.text(st.characters(codec="utf-8"), max_size=30) | st.just("L0SM9cOFvHcCIhw=")


@EXAMPLES
@given(data=st.data(), address=st.integers(1, 254))
def test_any_websocket_event_gets_a_clear_answer(aws, data, address):
    from refdesk.channels import web

    session = web.create_session(f"198.51.100.{address}")  # sessions are rate-limited per address
    connection = data.draw(connection_ids)
    token = data_token(data.draw(header_text), session["token"])
    query = data.draw(st.sampled_from([
        urllib.parse.urlencode({"session": session["session_id"], "token": token}),
        urllib.parse.urlencode({"session": data.draw(st.text(max_size=40)), "token": token}),
        data.draw(st.text(max_size=100)), ""]))
    frame = data.draw(st.text(max_size=1500) | st.binary(max_size=1500) | json_values.map(json.dumps))
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
    return http_event("POST", path, json.dumps(body), headers, source_ip=source_ip)


# --- the parsers behind the routes ------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(fields=st.dictionaries(st.text(max_size=12), st.text(max_size=40), max_size=8))
def test_the_sms_parser_parses_or_refuses(fields):
    from refdesk.channels import sms
    from refdesk.errors import BadRequest

    fields.pop("OptOutType", None)  # recording an opt-out writes to the table: the route test covers it
    try:
        sms.CHANNEL.parse(fields)
    except BadRequest:
        pass


@settings(max_examples=200, deadline=None)
@given(envelope=json_values)
def test_the_slack_event_router_routes_or_refuses(envelope):
    from refdesk.errors import BadRequest
    from refdesk.slack.events import router

    try:
        router.job_for_event(envelope if isinstance(envelope, dict) else {"event": envelope, "event_id": "Ev1"})
    except BadRequest:
        pass


@settings(max_examples=200, deadline=None)
@given(cursor=st.text(max_size=80) | st.binary(max_size=60).map(lambda raw: base64.urlsafe_b64encode(raw).decode()))
def test_a_chat_cursor_decodes_or_is_refused(cursor):
    from refdesk.channels import web
    from refdesk.errors import BadRequest

    try:
        web._decode_cursor(cursor)
    except BadRequest:
        pass
