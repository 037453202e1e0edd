"""The widget's "Delete this conversation" in a real browser, on the sample library page of the
local stack: the patron confirms, the chat is erased, the card in Slack reads as removed."""
from __future__ import annotations

from playwright import sync_api

from tests.browser.test_widget import composer, message, open_widget, send

expect = sync_api.expect

CONFIRMATION = ("Your conversations with the library are being deleted, from our records and from what library "
                "staff see.")
REMOVED = "[removed at the patron's request]"


def test_delete_this_conversation_erases_the_chat_and_says_so(desk, page, marker, slack_text):
    desk.on_duty("U0AMANDA")
    open_widget(page, desk.patron_page)
    delete = page.get_by_role("button", name="Delete this conversation")
    expect(delete).to_be_hidden()  # nothing to delete before the first message

    send(page, f"Where are the atlases? ({marker})")
    root = desk.conversation_root(marker)
    expect(delete).to_be_visible()
    dialogs: list[str] = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    delete.click()
    expect(message(page, marker)).to_have_count(1)  # dismissed: nothing happens
    assert dialogs and "Delete this conversation" in dialogs[0]

    page.once("dialog", lambda dialog: dialog.accept())
    delete.click()

    expect(page.get_by_role("log")).to_contain_text(CONFIRMATION)
    expect(message(page, marker)).to_have_count(0)
    expect(delete).to_be_hidden()
    expect(composer(page)).to_be_visible()  # a new chat can start
    stored = page.evaluate("JSON.parse(sessionStorage.getItem('refdesk.session'))")
    assert not (stored or {}).get("session_id") and not (stored or {}).get("token"), stored

    def card_removed():
        card = next((m for m in desk.slack_messages() if m["ts"] == root["ts"]), None)
        return card if card and REMOVED in slack_text(card) else None

    card = _wait(card_removed)
    assert marker not in slack_text(card)


def _wait(predicate, timeout: float = 20.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("the card did not read as removed")
