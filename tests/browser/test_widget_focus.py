"""The panel opened before presence is known shows the offline form, its field focused; when
presence then says a librarian is online, the view turns to the chat and focus goes with it to
the composer, not to the page's <body> (a keyboard or screen-reader user would be lost)."""
from __future__ import annotations

from playwright import sync_api

from tests.browser.test_widget import composer, panel

expect = sync_api.expect


def test_opened_before_presence_is_known_focus_moves_to_the_composer(desk, page):
    desk.on_duty("U0AMANDA")
    held, opened = [], []

    def hold_until_open(route):  # presence is answered only once the panel is open
        if opened:
            route.continue_()
        else:
            held.append(route)

    page.route("**/presence*", hold_until_open)
    page.goto(desk.patron_page)
    page.wait_for_function("() => !!document.querySelector('.refdesk-launcher')")

    page.evaluate("RefDeskWidget.open()")
    expect(panel(page)).to_be_visible()
    expect(page.get_by_role("textbox", name="Your question")).to_be_focused()  # the offline form
    opened.append(True)
    for route in held:
        route.continue_()

    expect(composer(page)).to_be_visible()
    expect(composer(page)).to_be_focused()
