"""Issue 19, item 1, in a real browser: the widget tells the desk where a chat started (the page's
title and path, no query string or fragment; the device class; the browser's language) when it
makes the session, and the librarian's card can say so (refdesk.patron_context)."""
from __future__ import annotations

from tests.browser.test_widget import open_widget, send
from tests.browser.test_widget_visitor_and_rating import bodies_sent


def test_the_widget_sends_the_page_device_and_language_a_chat_starts_from(desk, new_page, marker):
    desk.on_duty("U0AMANDA")
    page = new_page(width=390, height=844)  # a phone's screen
    sessions = bodies_sent(page, "/chat/sessions")
    open_widget(page, desk.patron_page + "?card=21234000567890#top")
    send(page, f"Can I get a thesis through interlibrary loan? ({marker})")
    desk.conversation_root(marker)

    [sent] = sessions
    assert sent["context"] == {"title": "Riverside Public Library", "path": "/_local/static/index.html",
                               "device": "phone", "language": page.evaluate("navigator.language")}


def test_a_desktop_is_a_desktop(desk, new_page):
    desk.on_duty("U0AMANDA")
    page = new_page(width=1280, height=800)
    sessions = bodies_sent(page, "/chat/sessions")
    open_widget(page, desk.patron_page)
    send(page, "Hello from a desktop")

    page.wait_for_function("() => JSON.parse(sessionStorage.getItem('refdesk.session') || '{}').session_id")  # made
    assert sessions[0]["context"]["device"] == "desktop"
