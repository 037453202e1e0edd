"""Issue 19, item 10, in a real browser on the local stack's sample library page: the widget invites
a visitor to chat after desk.json's delay on a matching page, while the desk is available, once per
visit; keyboard operable, announced politely, and still when the visitor asks for reduced motion.
The stack ships with proactive chat off (as a library's desk.json starts), so each test adds the
settings to the real presence answer as desk.json would (tests/functional/test_proactive_chat.py
checks that the answer carries them)."""
from __future__ import annotations

import json
import re
import time

import pytest
from playwright import sync_api

from tests.browser.test_widget import OFFLINE, ONLINE, launcher, panel

expect = sync_api.expect
Page = sync_api.Page

INVITATION = "Questions? Chat with a librarian now."
DELAY_SECONDS = 2


def with_proactive(page: Page, pages: list[str]) -> None:
    def answer(route):
        response = route.fetch()
        body = {**response.json(), "proactive": {"pages": pages, "delay_seconds": DELAY_SECONDS}}
        route.fulfill(response=response, body=json.dumps(body))

    page.route(re.compile(r"/presence$"), answer)


def invitation(page: Page):
    return page.locator(".refdesk-invite")


def load(page: Page, url: str, status: str = ONLINE) -> float:
    page.goto(url)
    expect(launcher(page)).to_have_text(status)
    return time.monotonic()


def shown_after_the_delay(page: Page, since: float) -> None:
    expect(invitation(page)).to_have_count(0)
    expect(invitation(page)).to_be_visible(timeout=DELAY_SECONDS * 1000 + 5000)
    assert time.monotonic() - since >= DELAY_SECONDS - 0.5


def stays_away(page: Page) -> None:
    page.wait_for_timeout(DELAY_SECONDS * 1000 + 1000)
    expect(invitation(page)).to_have_count(0)


def test_on_a_matching_page_it_invites_after_the_delay_and_not_again_after_no_thanks(desk, page, screenshots):
    desk.on_duty("U0AMANDA")
    with_proactive(page, ["/research/*", "/_local/static/*"])

    shown_after_the_delay(page, load(page, desk.patron_page))
    region = invitation(page).locator("xpath=..")
    expect(region).to_have_attribute("aria-live", "polite")
    expect(invitation(page)).to_have_text(re.compile(r"^Questions\? Chat with a librarian now\.\s*Chat\s*No thanks$"))
    expect(panel(page)).to_be_hidden()  # an invitation, not an interruption: nothing opens, focus stays
    page.screenshot(path=str(screenshots / "widget-proactive-invitation.png"))

    page.get_by_role("button", name="No thanks").focus()
    page.keyboard.press("Enter")
    expect(invitation(page)).to_have_count(0)
    expect(launcher(page)).to_be_focused()

    load(page, desk.patron_page)  # the same visit (tab): not again
    stays_away(page)


def test_chat_opens_the_panel_and_escape_dismisses(desk, new_page):
    desk.on_duty("U0AMANDA")
    page = new_page()
    with_proactive(page, ["/_local/static/index.html"])
    shown_after_the_delay(page, load(page, desk.patron_page))

    page.get_by_role("button", name="Chat", exact=True).click()
    expect(panel(page)).to_be_visible()
    expect(page.get_by_label("Type your question")).to_be_focused()
    expect(invitation(page)).to_have_count(0)

    other = new_page()  # a new visit
    with_proactive(other, ["/_local/static/index.html"])
    shown_after_the_delay(other, load(other, desk.patron_page))
    other.keyboard.press("Escape")
    expect(invitation(other)).to_have_count(0)
    expect(panel(other)).to_be_hidden()


def test_not_on_other_pages(desk, page):
    desk.on_duty("U0AMANDA")
    with_proactive(page, ["/research/*", "/_local/static/index", "/_local"])

    load(page, desk.patron_page)

    stays_away(page)


def test_not_while_the_desk_is_unavailable(desk, page):
    desk.all_off_duty()
    with_proactive(page, ["/_local/static/*"])

    load(page, desk.patron_page, OFFLINE)

    stays_away(page)


@pytest.mark.parametrize("motion, animation", [("no-preference", "refdesk-in"), ("reduce", "none")])
def test_it_slides_in_only_without_a_reduced_motion_preference(desk, page, motion, animation):
    desk.on_duty("U0AMANDA")
    page.emulate_media(reduced_motion=motion)
    with_proactive(page, ["/_local/static/*"])

    shown_after_the_delay(page, load(page, desk.patron_page))

    assert invitation(page).evaluate("e => getComputedStyle(e).animationName") == animation
