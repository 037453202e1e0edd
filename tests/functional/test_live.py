"""The web chat's live connection in process: functions/live fed API Gateway's WebSocket events
(built by local.websocket from template.yaml's WebSocket API), and the dispatcher's pushes reaching
a real WebSocket client through the local stack's WebSocket API and its @connections server, with
moto and the Slack stand-in as in the other functional tests."""
from __future__ import annotations

import json
import time

import boto3
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from local.environment import live_values
from local.websocket import LiveApi, connect_event, disconnect_event, message_event
from refdesk import live, store
from tests.conftest import _forget_settings_and_clients, _invoker, close_value, invoke, pump, template
from tests.functional.test_webchat import create_session, open_chat, poll, press_close, send, staff_reply

API = template().websocket_apis()[0]
DOMAIN = "abc123.execute-api.us-east-1.amazonaws.com"


def query_of(session: dict) -> str:
    return session["live_url"].split("?", 1)[1]


def connect_with(query: str, connection_id: str = "L0SM9cOFvHcCIhw=") -> dict:
    return invoke("live", connect_event(API, connection_id, query, [("Host", DOMAIN), ("User-Agent", "Mozilla/5.0")],
                                        "203.0.113.7", DOMAIN))


# --- the handler, fed API Gateway's events -----------------------------------------------

def test_the_template_routes_connect_disconnect_ping_and_default_to_the_live_function():
    assert {route.key: (route.function, route.two_way) for route in API.routes} == {
        "$connect": ("LiveFunction", False), "$disconnect": ("LiveFunction", False),
        "ping": ("LiveFunction", True), "$default": ("LiveFunction", True)}
    assert API.selection_expression == "$request.body.type"


def test_connect_ping_and_disconnect_events_are_answered(aws):
    session = create_session()

    assert connect_with(query_of(session))["statusCode"] == 200
    assert [c.connection_id for c in store.connections.of_session(session["session_id"])] == ["L0SM9cOFvHcCIhw="]
    pong = invoke("live", message_event(API, "L0SM9cOFvHcCIhw=", "ping", '{"type":"ping"}', DOMAIN))
    assert json.loads(pong["body"]) == {"type": "pong"}
    error = invoke("live", message_event(API, "L0SM9cOFvHcCIhw=", "$default", b"\x00\x01", DOMAIN))  # binary
    assert json.loads(error["body"])["code"] == "not_json"

    closed = invoke("live", disconnect_event(API, "L0SM9cOFvHcCIhw=", 0, 1001, "Going away", DOMAIN))
    assert closed["statusCode"] == 200
    assert store.connections.of_session(session["session_id"]) == []


@pytest.mark.parametrize("query, status", [
    ("", 401),
    ("session={session_id}", 401),
    ("session={session_id}&token=not-the-token", 403),
    ("session={session_id}&token={token}&session=s0000", 403),  # the last value wins, as in API Gateway
])
def test_a_connect_event_without_the_sessions_token_is_refused(aws, query, status):
    session = create_session()

    answer = connect_with(query.format(**session))

    assert answer["statusCode"] == status
    assert store.connections.of_session(session["session_id"]) == []


# --- over a real WebSocket, through the local WebSocket API --------------------------------

@pytest.fixture
def live_api(aws, monkeypatch):
    """template.yaml's WebSocket API served locally; new sessions' live_url and the dispatcher's
    @connections endpoint point at it."""
    server = LiveApi(API, _invoker())
    for name, value in live_values(server.url, server.connections_url).items():
        monkeypatch.setenv(name, value)
    _forget_settings_and_clients()
    yield server
    server.stop()


def frames(socket, count: int) -> list[dict]:
    return [json.loads(socket.recv(timeout=5)) for _ in range(count)]


def nothing_more(socket) -> bool:
    try:
        socket.recv(timeout=0.3)
    except TimeoutError:
        return True
    return False


def test_a_librarians_reply_is_pushed_as_the_object_get_messages_lists_and_notes_never_are(aws, live_api, slack):
    session, root = open_chat(aws, slack)
    assert session["live_url"].startswith(live_api.url + "?session=")
    with connect(session["live_url"]) as socket:
        staff_reply(root, "note: prefers large print")
        staff_reply(root, "Yes! Two copies at FIC ERD.")
        pump(aws)

        claimed, reply = frames(socket, 2)
        assert claimed == {"type": "status", "status": "open", "queue": {"state": "claimed", "by": "Amanda"}}
        assert reply == {"type": "message", "message": poll(session)["messages"][-1]}
        assert reply["message"]["text"] == "Yes! Two copies at FIC ERD."
        assert nothing_more(socket)


def test_the_place_in_line_and_the_close_are_pushed_and_the_patrons_own_messages_are_not(aws, live_api, slack):
    session = create_session()
    with connect(session["live_url"]) as socket:
        assert send(session, "Is the library open on Sunday?")["statusCode"] == 201
        pump(aws)
        assert frames(socket, 1) == [{"type": "status", "status": "open",
                                      "queue": {"state": "waiting", "position": 1}}]
        assert nothing_more(socket)  # the widget already shows the patron's message

        press_close(close_value(slack.roots()[0]))
        pump(aws)
        closing, status = frames(socket, 2)
        assert closing == {"type": "message", "message": poll(session)["messages"][-1]}
        assert closing["message"]["from"] == "system"
        assert status == {"type": "status", "status": "closed", "queue": None}


def test_pings_are_answered_and_bad_frames_get_an_error_frame_on_an_open_connection(aws, live_api):
    session = create_session()
    with connect(session["live_url"]) as socket:
        socket.send('{"type":"ping"}')
        assert frames(socket, 1) == [{"type": "pong"}]
        socket.send("x" * 2000)
        assert frames(socket, 1)[0]["code"] == "too_large"
        socket.send('{"type":"subscribe"}')  # no such route: $default answers
        assert frames(socket, 1)[0]["code"] == "unknown_type"
        socket.send('{"type":"ping"}')
        assert frames(socket, 1) == [{"type": "pong"}]


@pytest.mark.parametrize("change, status", [
    (lambda url: url.split("&token=")[0], 401),
    (lambda url: url.replace("&token=", "&token=x"), 403),
    (lambda url: url.replace("/live?", "/prod?"), 403),  # another stage: API Gateway's own 403
])
def test_a_refused_connect_refuses_the_handshake_with_its_status(aws, live_api, change, status):
    session = create_session()

    with pytest.raises(InvalidStatus) as refused:
        connect(change(session["live_url"]))

    assert refused.value.response.status_code == status
    assert store.connections.of_session(session["session_id"]) == []


def test_a_fourth_connection_is_refused_while_three_are_open(aws, live_api):
    session = create_session()
    sockets = [connect(session["live_url"]) for _ in range(3)]
    try:
        with pytest.raises(InvalidStatus) as refused:
            connect(session["live_url"])
        assert refused.value.response.status_code == 403
    finally:
        for socket in sockets:
            socket.close()


def test_a_connection_closed_by_the_client_frees_its_slot(aws, live_api):
    session = create_session()
    with connect(session["live_url"]):
        assert len(store.connections.of_session(session["session_id"])) == 1

    wait_for(lambda: not store.connections.of_session(session["session_id"]))


def test_a_push_meeting_410_from_the_connections_api_removes_the_connection(aws, live_api, slack, monkeypatch):
    """A slot whose connection API Gateway no longer has ($disconnect never came): the first push
    gets 410 GoneException through boto3 and removes it; the open connection still gets the frame."""
    monkeypatch.setattr(live, "HANDSHAKE_SECONDS", 0)
    session, root = open_chat(aws, slack)
    assert connect_with(query_of(session), "ghost+/1=")["statusCode"] == 200  # never opened here
    with connect(session["live_url"]) as socket:
        staff_reply(root, "Found it.")
        pump(aws)

        assert [frame["type"] for frame in frames(socket, 2)] == ["status", "message"]
        [remaining] = store.connections.of_session(session["session_id"])
        assert remaining.connection_id != "ghost+/1="


def test_the_connections_api_describes_and_deletes_a_connection(aws, live_api):
    session = create_session()
    management = boto3.client("apigatewaymanagementapi", endpoint_url=live_api.connections_url)
    with connect(session["live_url"], user_agent_header="RefDesk test") as socket:
        [connection] = store.connections.of_session(session["session_id"])

        described = management.get_connection(ConnectionId=connection.connection_id)
        assert described["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": "RefDesk test"}
        management.delete_connection(ConnectionId=connection.connection_id)

        with pytest.raises(ConnectionClosed):
            socket.recv(timeout=5)
    wait_for(lambda: not store.connections.of_session(session["session_id"]))
    with pytest.raises(management.exceptions.GoneException):
        management.post_to_connection(ConnectionId=connection.connection_id, Data=b"{}")


def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
