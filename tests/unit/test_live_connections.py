"""The live connection's bookkeeping (refdesk.live, refdesk.store.connections) against moto: who
may connect, at most three connections per chat session even when they race, a connection's
two-hour lifetime, $disconnect and a push's 410 freeing the slot, and the client frames answered."""
from __future__ import annotations

import json
import os
import threading
import time

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from refdesk import clients, identity, live, store
from refdesk.channels import web
from refdesk.models import Author, Conversation, Message
from refdesk.store.sessions import Release
from refdesk.store.table import now_iso, transact


def new_session(*, expires_in: int = 3600) -> tuple[str, str]:
    """(session id, token) of a web chat session, as POST /chat/sessions makes it."""
    session_id, token = identity.new_id("s"), f"token-{os.urandom(8).hex()}"
    store.sessions.create(session_id, identity.token_hash(token), identity.new_id("c"), "p",
                          int(time.time()) + expires_in)
    return session_id, token


def connect(session_id: str, token: str, connection_id: str) -> dict:
    return live.connect(session_id, token, connection_id)


def refusal(answer: dict) -> tuple[int, str]:
    return answer["statusCode"], json.loads(answer["body"])["error"]["code"]


def live_items() -> list[dict]:
    items = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"]).scan()["Items"]
    return [item for item in items if item["pk"].startswith(("LIVE#", "LIVECONN#"))]


# --- who may connect, and how many ------------------------------------------------------

def test_a_session_holds_three_connections_and_a_fourth_is_refused_until_one_disconnects(aws):
    session_id, token = new_session()

    assert [connect(session_id, token, f"conn-{n}=")["statusCode"] for n in range(3)] == [200, 200, 200]
    assert refusal(connect(session_id, token, "conn-3=")) == (403, "too_many_connections")
    assert {c.connection_id for c in store.connections.of_session(session_id)} == {"conn-0=", "conn-1=", "conn-2="}

    assert live.disconnect("conn-1=") == {"statusCode": 200}
    assert live.disconnect("conn-1=") == {"statusCode": 200}  # API Gateway may tell it twice
    assert connect(session_id, token, "conn-3=")["statusCode"] == 200
    assert {c.connection_id for c in store.connections.of_session(session_id)} == {"conn-0=", "conn-2=", "conn-3="}


def test_connections_racing_for_the_last_slots_never_exceed_three(aws):
    session_id, token = new_session()
    answers: list[int] = []

    def racer(n: int) -> None:
        answers.append(connect(session_id, token, f"racer-{n}")["statusCode"])

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answers) == [200] * 3 + [403] * 5
    assert len(store.connections.of_session(session_id)) == 3


def test_each_session_has_its_own_slots(aws):
    first, second = new_session(), new_session()
    for n in range(3):
        assert connect(*first, f"first-{n}")["statusCode"] == 200

    assert connect(*second, "second-0")["statusCode"] == 200


@pytest.mark.parametrize("session, token, connection_id, expected", [
    ("", "t", "c", (401, "unauthorized")),
    ("s123", "", "c", (401, "unauthorized")),
    ("../SESSION#x", "t", "c", (403, "forbidden")),  # not an id create_session makes: never a key
    ("s00000000000000000000000000", "t", "c", (403, "forbidden")),  # no such session
])
def test_a_connection_without_a_session_and_its_token_is_refused(aws, session, token, connection_id, expected):
    assert refusal(connect(session, token, connection_id)) == expected
    assert live_items() == []


def test_a_wrong_token_an_expired_session_and_an_ended_chat_are_refused(aws):
    session_id, token = new_session()
    assert refusal(connect(session_id, token + "x", "c-wrong")) == (403, "forbidden")

    expired_id, expired_token = new_session(expires_in=-1)  # its TTL deletion may lag for hours
    assert refusal(connect(expired_id, expired_token, "c-expired")) == (403, "forbidden")

    conversation_id = store.sessions.get(session_id, identity.token_hash(token))["conversation_id"]
    transact([store.sessions.release_step(session_id, conversation_id, Release.END, now_iso())])  # closed
    assert refusal(connect(session_id, token, "c-ended")) == (403, "closed")
    assert live_items() == []


# --- lifetime ---------------------------------------------------------------------------

def test_a_connection_and_its_lookup_expire_two_hours_after_it_opened(aws):
    session_id, token = new_session()
    before = int(time.time())
    assert connect(session_id, token, "c-ttl")["statusCode"] == 200

    items = live_items()
    assert len(items) == 2  # the session's slot, and the lookup $disconnect uses
    for item in items:
        assert before + 2 * 3600 <= int(item["expires_at"]) <= int(time.time()) + 2 * 3600


def test_connections_older_than_two_hours_are_not_listed_and_free_their_slots(aws, monkeypatch):
    session_id, token = new_session()

    class TwoHoursAgo:
        @staticmethod
        def time() -> float:
            return time.time() - 2 * 3600 - 1

    with monkeypatch.context() as patch:
        patch.setattr(store.connections, "time", TwoHoursAgo)
        for n in range(3):
            assert connect(session_id, token, f"old-{n}")["statusCode"] == 200

    assert store.connections.of_session(session_id) == []  # TTL has not deleted them yet: filtered
    for n in range(3):
        assert connect(session_id, token, f"new-{n}")["statusCode"] == 200
    assert {c.connection_id for c in store.connections.of_session(session_id)} == {"new-0", "new-1", "new-2"}


# --- pushes: 410 cleans up, other failures are only logged ---------------------------------

class ManagementApi:
    """Stands in for the @connections API: records frames; `fail` maps a connection id to an error."""

    def __init__(self, fail: dict | None = None):
        self.frames: list[tuple[str, dict]] = []
        self.fail = fail or {}

    def post_to_connection(self, ConnectionId: str, Data: bytes) -> None:  # noqa: N803 - boto3's names
        if ConnectionId in self.fail:
            raise self.fail[ConnectionId]
        self.frames.append((ConnectionId, json.loads(Data)))


def gone() -> ClientError:
    return ClientError({"Error": {"Code": "GoneException", "Message": ""},
                        "ResponseMetadata": {"HTTPStatusCode": 410}}, "PostToConnection")


def web_conversation(session_id: str, *, open_: bool = True) -> Conversation:
    return Conversation(conversation_id="c-live", patron_id="p", channel="web", anchor=session_id,
                        label="Web ···1234", **({} if open_ else {"status": "closed"}))


def reply() -> Message:
    return Message(message_id="slack-1700000000.000100", at="2025-03-04T15:00:00.000000Z",
                   author=Author.LIBRARIAN, author_name="Amanda", text="We have two copies.")


class AMinuteAgo:
    """store.connections' clock, a minute behind: its connections are past their handshake."""

    @staticmethod
    def time() -> float:
        return time.time() - 60


def opened_long_ago(monkeypatch, session_id: str, token: str, *connection_ids: str) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(store.connections, "time", AMinuteAgo)
        for connection_id in connection_ids:
            assert connect(session_id, token, connection_id)["statusCode"] == 200


def test_a_push_meeting_410_removes_that_connection_and_still_reaches_the_others(aws, monkeypatch):
    session_id, token = new_session()
    opened_long_ago(monkeypatch, session_id, token, "gone", "open")
    api = ManagementApi(fail={"gone": gone()})
    clients.use("live", api)

    live.push_message(web_conversation(session_id), reply())

    assert api.frames == [("open", {"type": "message", "message": web.message_view("c-live", reply())})]
    assert [c.connection_id for c in store.connections.of_session(session_id)] == ["open"]
    assert {item["pk"] for item in live_items()} == {f"LIVE#{session_id}", "LIVECONN#open"}
    assert live.disconnect("gone") == {"statusCode": 200}  # API Gateway's late $disconnect: nothing left to do


def test_a_connect_that_stopped_after_taking_its_slot_leaves_it_to_the_first_push(aws, local_aws, monkeypatch):
    """The slot is taken first and its lookup written next (not in one transaction, which bills
    each write twice): a $connect that failed between them was refused, and the first push
    meets 410 and frees the slot."""
    from local.faults import Fault

    session_id, token = new_session()
    local_aws.dynamodb_faults.add(Fault(method="PutItem", error="InternalServerError", after=1, count=3))
    with monkeypatch.context() as patch, pytest.raises(ClientError):
        patch.setattr(store.connections, "time", AMinuteAgo)
        connect(session_id, token, "refused")
    assert {item["pk"] for item in live_items()} == {f"LIVE#{session_id}"}  # the slot, without its lookup
    clients.use("live", ManagementApi(fail={"refused": gone()}))

    live.push_message(web_conversation(session_id), reply())

    assert live_items() == []
    assert [connect(session_id, token, f"conn-{n}=")["statusCode"] for n in range(3)] == [200, 200, 200]


def test_a_410_during_the_handshake_keeps_the_connection(aws):
    """API Gateway answers 410 to a push made after $connect answered but before the handshake
    finished: that connection is about to open and must keep its slot."""
    session_id, token = new_session()
    assert connect(session_id, token, "opening")["statusCode"] == 200
    clients.use("live", ManagementApi(fail={"opening": gone()}))

    live.push_message(web_conversation(session_id), reply())

    assert [c.connection_id for c in store.connections.of_session(session_id)] == ["opening"]


@pytest.mark.parametrize("failure, logged", [
    (ClientError({"Error": {"Code": "LimitExceededException", "Message": "patron text here?"},
                  "ResponseMetadata": {"HTTPStatusCode": 429}}, "PostToConnection"), "LimitExceededException"),
    (EndpointConnectionError(endpoint_url="https://example.invalid"), "EndpointConnectionError"),
])
def test_other_push_failures_keep_the_connection_and_are_logged_by_type_only(aws, monkeypatch, capsys, failure,
                                                                              logged):
    from tests.conftest import log_to_captured_stdout

    log_to_captured_stdout(monkeypatch)
    session_id, token = new_session()
    opened_long_ago(monkeypatch, session_id, token, "flaky", "fine")
    api = ManagementApi(fail={"flaky": failure})
    clients.use("live", api)

    live.push_message(web_conversation(session_id), reply())  # never raises: the delivery goes on

    assert [connection for connection, _ in api.frames] == ["fine"]
    assert len(store.connections.of_session(session_id)) == 2
    output = capsys.readouterr().out
    assert "live push failed" in output and logged in output
    assert "two copies" not in output and "patron text" not in output


def test_the_closing_line_is_followed_by_the_closed_status(aws):
    session_id, token = new_session()
    assert connect(session_id, token, "c-1")["statusCode"] == 200
    api = ManagementApi()
    clients.use("live", api)

    live.push_message(web_conversation(session_id, open_=False), reply())
    live.push_status(web_conversation(session_id), {"state": "claimed", "by": "Amanda"})

    assert [frame for _, frame in api.frames] == [
        {"type": "message", "message": web.message_view("c-live", reply())},
        {"type": "status", "status": "closed", "queue": None},
        {"type": "status", "status": "open", "queue": {"state": "claimed", "by": "Amanda"}}]


def test_other_channels_and_sessions_without_connections_push_nothing(aws):
    clients.use("live", ManagementApi(fail={}))  # any call would be recorded
    sms = Conversation(conversation_id="c-sms", patron_id="p", channel="sms", anchor="+15551234567", label="SMS")

    live.push_message(sms, reply())
    live.push_message(web_conversation("s-nobody-connected"), reply())

    assert clients.get("live").frames == []


# --- client frames ----------------------------------------------------------------------

def frame_answer(body) -> dict:
    answer = live.answer(body)
    assert answer["statusCode"] == 200
    return json.loads(answer["body"])


def test_a_ping_gets_a_pong():
    assert frame_answer('{"type": "ping"}') == {"type": "pong"}
    assert frame_answer(json.dumps({"type": "ping", "sent_at": 1})) == {"type": "pong"}


def test_frames_are_at_most_one_kilobyte_counted_in_utf8_bytes():
    envelope = len(json.dumps({"type": "ping", "pad": ""}))
    assert frame_answer(json.dumps({"type": "ping", "pad": "x" * (1024 - envelope)})) == {"type": "pong"}
    assert frame_answer(json.dumps({"type": "ping", "pad": "x" * (1025 - envelope)}))["code"] == "too_large"
    # 400 characters, 800 bytes: é is two bytes in UTF-8
    assert frame_answer(json.dumps({"type": "ping", "pad": "é" * 400}, ensure_ascii=False)) == {"type": "pong"}
    assert frame_answer(json.dumps({"type": "ping", "pad": "é" * 600}, ensure_ascii=False))["code"] == "too_large"


@pytest.mark.parametrize("body, code", [
    ("ping", "not_json"),
    ("", "not_json"),
    (None, "not_json"),  # a frame API Gateway passed without a body
    ('["ping"]', "not_json"),
    ("[" * 1000, "not_json"),  # nested deeper than the JSON parser recurses: still an answer
    ('{"type": "message", "text": "hello"}', "unknown_type"),
    ('{"type": 7}', "unknown_type"),
    ('{"no": "type"}', "unknown_type"),
])
def test_any_other_frame_gets_an_error_frame_never_a_failure(body, code):
    answer = frame_answer(body)
    assert answer["type"] == "error" and answer["code"] == code and answer["message"]
