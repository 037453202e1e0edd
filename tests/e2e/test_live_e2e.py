"""The web chat's live connection end to end: the local stack (`make dev`'s) over HTTP and a real
WebSocket client (websockets.sync.client) on the session's live_url; librarians reply through the
Slack stand-in, which signs the events exactly as Slack does. The widget's side is played here as
the contract in refdesk/channels/web.py describes it: frames for what arrives while connected, and
GET …/messages with the cursor each time a connection opens."""
from __future__ import annotations

import json
import socket as sockets
import time
import uuid

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from refdesk import live


def open_session(stack) -> dict:
    created = stack.post("/chat/sessions", headers={"Origin": stack.base_url})
    assert created.status_code == 201, created.text
    return created.json()


def ask(stack, session: dict, question: str) -> None:
    sent = stack.post(f"/chat/sessions/{session['session_id']}/messages",
                      headers={"Origin": stack.base_url, "Authorization": f"Bearer {session['token']}"},
                      json={"text": question, "client_id": uuid.uuid4().hex})
    assert sent.status_code == 201, sent.text


def listed(stack, session: dict, after: str = "") -> dict:
    answer = stack.get(f"/chat/sessions/{session['session_id']}/messages", params={"after": after} if after else {},
                       headers={"Origin": stack.base_url, "Authorization": f"Bearer {session['token']}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def root_with(stack, marker: str) -> dict:
    def find():
        return next((m for m in stack.get_json("/_local/api/slack/messages")["messages"]
                     if not m["thread_ts"] and marker in json.dumps(m["blocks"])), None)
    return stack.wait_until(find, message=f"the card for {marker}")


def reply(stack, root: dict, text: str) -> None:
    answer = stack.post_json("/_local/api/slack/reply", {"thread_ts": root["ts"], "user": "U0AMANDA", "text": text})
    assert answer["status"] == 200, answer


def frames_until(socket: ClientConnection, text: str) -> list[dict]:
    """The frames up to the message with this text, each within 10 s. Other patrons waiting in the
    stack's line may add a status or a "you are number n in line" message before it."""
    frames = [json.loads(socket.recv(timeout=10))]
    while frames[-1].get("message", {}).get("text") != text:
        frames.append(json.loads(socket.recv(timeout=10)))
    return frames


def next_message(socket: ClientConnection, text: str) -> dict:
    return frames_until(socket, text)[-1]["message"]


def librarians(messages: list[dict]) -> list[str]:
    return [message["text"] for message in messages if message["from"] == "librarian"]


def chat(stack) -> tuple[dict, dict, str]:
    """A session whose question is in the staff channel: (session, its root card, a marker)."""
    marker = "k" + uuid.uuid4().hex[:7]
    session = open_session(stack)
    ask(stack, session, f"Do you have the new Ishiguro? ({marker})")
    return session, root_with(stack, marker), marker


def test_a_librarians_reply_arrives_as_a_frame_on_live_url(stack):
    session = open_session(stack)
    assert session["live_url"].startswith("ws://127.0.0.1:")
    assert f"Live chat     {session['live_url'].split('?')[0]}" in stack.output()  # the banner names it
    marker = "k" + uuid.uuid4().hex[:7]
    with connect(session["live_url"]) as socket:
        ask(stack, session, f"Is there a study room free? ({marker})")
        root = root_with(stack, marker)
        waiting = json.loads(socket.recv(timeout=10))
        assert waiting["type"] == "status" and waiting["queue"]["state"] == "waiting"

        reply(stack, root, f"Yes, room 2 until 5 pm ({marker})")

        *before, last = frames_until(socket, f"Yes, room 2 until 5 pm ({marker})")
        assert {"type": "status", "status": "open", "queue": {"state": "claimed", "by": "Amanda"}} in before
        message = last["message"]
        assert message == listed(stack, session)["messages"][-1]
        assert (message["from"], message["name"], message["text"]) == ("librarian", "Amanda",
                                                                      f"Yes, room 2 until 5 pm ({marker})")


def test_a_dropped_connection_reconnects_and_with_the_cursor_misses_nothing_and_shows_nothing_twice(stack):
    session, root, marker = chat(stack)
    first = listed(stack, session)
    shown = {message["id"]: message for message in first["messages"]}  # the widget's window
    cursor = first["cursor"]

    socket = connect(session["live_url"])
    reply(stack, root, f"one ({marker})")
    pushed = next_message(socket, f"one ({marker})")
    shown[pushed["id"]] = pushed
    socket.socket.shutdown(sockets.SHUT_RDWR)  # the network drops: no close frame
    socket.close()

    reply(stack, root, f"two ({marker})")
    reply(stack, root, f"three ({marker})")
    stack.wait_until(lambda: len(librarians(listed(stack, session)["messages"])) == 3, message="both replies stored")

    with connect(session["live_url"]) as socket:
        since = listed(stack, session, cursor)  # once the connection is open: what it may have missed
        assert librarians(since["messages"]) == [f"one ({marker})", f"two ({marker})", f"three ({marker})"]
        assert pushed in since["messages"]  # already shown: the widget skips it by id
        shown.update((message["id"], message) for message in since["messages"])

        reply(stack, root, f"four ({marker})")
        pushed = next_message(socket, f"four ({marker})")
        shown[pushed["id"]] = pushed

    everything = listed(stack, session)["messages"]
    assert list(shown.values()) == everything
    assert librarians(everything) == [f"{n} ({marker})" for n in ("one", "two", "three", "four")]


@pytest.mark.parametrize("change, status", [
    (lambda url: url.replace("&token=", "&token=wrong"), 403),
    (lambda url: url.split("&token=")[0], 401),
])
def test_a_wrong_or_missing_token_is_refused(stack, change, status):
    session = open_session(stack)

    with pytest.raises(InvalidStatus) as refused:
        connect(change(session["live_url"]))

    assert refused.value.response.status_code == status


@pytest.fixture(scope="module")
def forgetful(start_devstack):
    """A stack whose WebSocket API calls no $disconnect, as when API Gateway's best effort fails."""
    return start_devstack(LIVE_LOSE_DISCONNECTS="1")


def test_closed_connections_whose_disconnect_was_lost_are_removed_when_a_push_meets_410(forgetful):
    session, root, marker = chat(forgetful)
    closed = [connect(session["live_url"]) for _ in range(2)]
    with connect(session["live_url"]) as kept:
        for socket in closed:
            socket.close()
        with pytest.raises(InvalidStatus):  # the closed two still hold their slots: the session is full
            connect(session["live_url"])
        time.sleep(live.HANDSHAKE_SECONDS + 0.5)  # a 410 within the handshake's first seconds is not trusted

        reply(forgetful, root, f"Found it ({marker})")

        next_message(kept, f"Found it ({marker})")
    # The push met 410 on the two closed connections and removed them: two slots are free again,
    # while the kept one's (closed since, its $disconnect lost too) waits for the next push.
    reopened = [connect(session["live_url"]) for _ in range(2)]
    with pytest.raises(InvalidStatus):
        connect(session["live_url"])
    for socket in reopened:
        socket.close()
