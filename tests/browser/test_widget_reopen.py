"""A librarian's reply after the close reaches the web patron whose window still holds the chat
(issue 16, item 5): the page, reloaded, reads it, and the chat goes on in the same thread."""
from __future__ import annotations

import time

from playwright import sync_api

from tests.browser.test_widget import composer, message, open_widget, send

expect = sync_api.expect


def delivered(desk, text: str, timeout: float = 20.0) -> list[str]:
    """The outcome reactions on the librarian's reply once it has one (✅ or ❌)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = next((m for m in desk.slack_messages() if text in m.get("text", "")), None)
        if reply and reply["reactions"]:
            return reply["reactions"]
        time.sleep(0.2)
    raise AssertionError(f"no outcome on the reply {text!r} after {timeout} s")


def test_a_reply_after_close_reopens_the_chat_when_the_page_is_reloaded(desk, page, marker):
    desk.on_duty("U0AMANDA")
    open_widget(page, desk.patron_page)
    send(page, f"Where are the atlases? ({marker})")
    root = desk.conversation_root(marker)
    desk.click(root["ts"], "close_conversation")
    start_new = page.get_by_role("button", name="Start a new chat")
    expect(start_new).to_be_visible(timeout=20_000)
    expect(composer(page)).to_be_hidden()

    desk.reply(root["ts"], f"Sorry, one more thing: the atlases moved to floor 2. ({marker}-late)")
    assert delivered(desk, f"{marker}-late") == ["white_check_mark"]
    page.reload()

    expect(message(page, f"{marker}-late")).to_be_visible(timeout=20_000)
    expect(composer(page)).to_be_visible()
    expect(start_new).to_be_hidden()
    send(page, f"Thanks, found them! ({marker}-after)")
    after = desk.conversation_root(f"{marker}-after")
    assert after["ts"] == root["ts"], "the patron's answer joined the reopened conversation's thread"
