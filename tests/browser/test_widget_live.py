"""The widget's live connection in a real browser, on the sample library page of the local stack:
a librarian's reply is pushed over the session's live_url with no polling while connected; a
connection that drops is caught up by cursor, nothing lost and nothing shown twice; and with
WebSockets blocked the widget falls back to polling, slower than it once polled, and still shows
the reply."""
from __future__ import annotations

import json
import re
import time

from playwright import sync_api

from tests.browser.test_widget import launcher, message, open_widget, panel, send

expect = sync_api.expect
Page = sync_api.Page

ANY_WEBSOCKET = re.compile(r"^wss?://")
MESSAGES = re.compile(r"/chat/sessions/[^/?]+/messages(\?|$)")
LIVE_TRIES = 3  # widget.js: failed connections before it polls
FORMER_POLL_SECONDS = 2.5


def record_polls(page: Page) -> list[tuple[float, sync_api.Request]]:
    """The GET …/messages requests the page makes, with the time each was made."""
    polls: list = []
    page.on("request", lambda request: polls.append((time.monotonic(), request))
            if request.method == "GET" and MESSAGES.search(request.url) else None)
    return polls


def wait_for(page: Page, predicate, what: str, timeout: float = 20.0):
    """Waits inside Playwright (so that its event handlers run) until predicate() is truthy."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"{what}: not after {timeout} s"
        page.wait_for_timeout(100)
    return value


def test_a_reply_is_pushed_and_nothing_polls_while_connected(desk, page, marker):
    desk.on_duty("U0AMANDA")
    sockets: list[tuple[float, sync_api.WebSocket]] = []
    received: list[dict] = []
    sent: list[dict] = []

    def on_socket(socket):
        sockets.append((time.monotonic(), socket))
        socket.on("framereceived", lambda payload: received.append(json.loads(payload)))
        socket.on("framesent", lambda payload: sent.append(json.loads(payload)))

    page.on("websocket", on_socket)
    polls = record_polls(page)
    page.clock.install()  # time runs as usual until the test jumps it
    open_widget(page, desk.patron_page)
    send(page, f"Is the reading room open late tonight? ({marker})")
    wait_for(page, lambda: polls, "the catch-up read when the connection opened")

    root = desk.conversation_root(marker)
    reply = f"Until nine, at the Main branch ({marker} reply)"
    desk.reply(root["ts"], reply, "U0AMANDA")
    expect(message(page, f"{marker} reply")).to_have_count(1, timeout=10_000)
    expect(message(page, f"{marker} reply")).to_contain_text(reply)
    assert reply in [frame["message"]["text"] for frame in received if frame["type"] == "message"], received

    # Closing and reopening the panel reads nothing, and neither do six minutes (jumped: every timer
    # due fires), in which the widget pings, as API Gateway closes a connection idle for 10.
    launcher(page).click()
    expect(panel(page)).to_be_hidden()
    launcher(page).click()
    expect(panel(page)).to_be_visible()
    page.clock.fast_forward("06:00")
    wait_for(page, lambda: {"type": "pong"} in received, "the answer to a ping")
    assert sent == [{"type": "ping"}], sent
    page.wait_for_timeout(1000)
    assert len(sockets) == 1 and not sockets[0][1].is_closed(), sockets
    assert len(polls) == 1 and polls[0][0] > sockets[0][0], "one read: the catch-up once connected"
    expect(message(page, f"{marker} reply")).to_have_count(1)


def test_a_dropped_connection_is_caught_up_by_cursor_without_loss_or_repeats(desk, page, marker):
    """Connections through a link the test can make lossy, and drop."""
    desk.on_duty("U0AMANDA")
    link = {"lossy": False, "lost": [], "page_sides": []}

    def through_the_link(socket):
        server = socket.connect_to_server()

        def to_page(frame):
            if link["lossy"]:
                link["lost"].append(frame)
            else:
                socket.send(frame)

        server.on_message(to_page)
        link["page_sides"].append(socket)

    def drop_and_catch_up(connections: int) -> sync_api.Request:
        reads = len(polls)
        link["page_sides"][-1].close()
        wait_for(page, lambda: len(link["page_sides"]) == connections and len(polls) > reads, "a reconnection")
        assert len(polls) == reads + 1, "one catch-up read per connection"
        return polls[-1][1]

    page.context.route_web_socket(ANY_WEBSOCKET, through_the_link)
    polls = record_polls(page)
    open_widget(page, desk.patron_page)
    question = f"Can I renew a book twice? ({marker})"
    send(page, question)
    wait_for(page, lambda: polls, "the catch-up read when the connection opened")
    root = desk.conversation_root(marker)  # the question is stored

    # A first drop. By now a catch-up has listed the question (the first, or this one), and the
    # widget, which already showed it, recognised it: one copy, and a cursor after it.
    drop_and_catch_up(2)
    assert any(question in request.response().text() for _, request in polls)
    expect(message(page, question)).to_have_count(1)

    # The reply's frame is lost, and nothing polls; then the connection drops.
    link["lossy"] = True
    desk.reply(root["ts"], f"Yes, twice online ({marker} reply)", "U0AMANDA")
    wait_for(page, lambda: any(f"{marker} reply" in str(frame) for frame in link["lost"]), "the reply's frame")
    page.wait_for_timeout(500)
    expect(message(page, f"{marker} reply")).to_have_count(0)
    link["lossy"] = False
    catch_up = drop_and_catch_up(3)
    assert "after=" in catch_up.url, f"the catch-up reads after the cursor: {catch_up.url}"
    assert f"{marker} reply" in catch_up.response().text() and question not in catch_up.response().text()
    expect(message(page, f"{marker} reply")).to_have_count(1)

    page.wait_for_timeout(FORMER_POLL_SECONDS * 1000)
    expect(message(page, f"{marker} reply")).to_have_count(1)
    expect(message(page, question)).to_have_count(1)
    assert len(polls) == 3, [request.url for _, request in polls]


def test_with_websockets_blocked_the_widget_polls_slowly_and_still_gets_the_reply(desk, page, marker):
    desk.on_duty("U0AMANDA")
    attempts: list[float] = []

    def refuse(socket):
        attempts.append(time.monotonic())
        socket.close()  # the page sees a close without an open, as when a proxy blocks the upgrade

    page.context.route_web_socket(ANY_WEBSOCKET, refuse)
    polls = record_polls(page)
    open_widget(page, desk.patron_page)
    send(page, f"Do you lend telescopes? ({marker})")
    root = desk.conversation_root(marker)
    desk.reply(root["ts"], f"We do, for a week ({marker} reply)", "U0AMANDA")
    expect(message(page, f"{marker} reply")).to_have_count(1, timeout=30_000)
    assert len(attempts) >= LIVE_TRIES, attempts
    assert polls[0][0] > attempts[LIVE_TRIES - 1], "polling starts once the connection gave up"

    # Polling goes on, slower than the former 2.5 s, and the widget still tries to connect now and then.
    wait_for(page, lambda: len(polls) >= 2, "a second poll", timeout=30)
    assert polls[1][0] - polls[0][0] >= 9, [at for at, _ in polls]
    wait_for(page, lambda: len(attempts) > LIVE_TRIES, "another try at connecting", timeout=30)
    expect(message(page, f"{marker} reply")).to_have_count(1)
