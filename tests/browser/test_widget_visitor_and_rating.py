"""Issue 17, item 5, in a real browser on the local stack's sample library page: the visitor id the
widget keeps in localStorage (sent when a chat starts, kept across reloads, gone after the patron's
delete), each message's age since Send, and the rating after close with its optional comment."""
from __future__ import annotations

import json
import re

from playwright import sync_api

from tests.browser.test_widget import open_widget, send

expect = sync_api.expect

VISITOR_KEY = "refdesk.visitor"


def bodies_sent(page, path_end: str) -> list[dict]:
    """The JSON bodies the page POSTs to URLs ending with `path_end`, as they are sent."""
    sent: list[dict] = []
    page.on("request", lambda request: sent.append(json.loads(request.post_data or "{}"))
            if request.method == "POST" and request.url.endswith(path_end) else None)
    return sent


def stored_visitor(page) -> str | None:
    return page.evaluate(f"localStorage.getItem('{VISITOR_KEY}')")


def test_the_visitor_id_survives_a_reload_and_is_gone_after_the_patrons_delete(desk, page, marker):
    desk.on_duty("U0AMANDA")
    sessions, messages = bodies_sent(page, "/chat/sessions"), bodies_sent(page, "/messages")
    open_widget(page, desk.patron_page)
    send(page, f"Where are the atlases? ({marker})")
    desk.conversation_root(marker)

    visitor = stored_visitor(page)
    assert visitor and re.fullmatch(r"[A-Za-z0-9_-]{32}", visitor), visitor
    assert [sent["visitor_id"] for sent in sessions] == [visitor]  # with the page's context (test_widget_patron_context)
    [sent] = messages
    assert isinstance(sent["age_ms"], int) and 0 <= sent["age_ms"] < 10_000, sent

    page.reload()
    assert stored_visitor(page) == visitor

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete this conversation").click()
    expect(page.get_by_role("log")).to_contain_text("being deleted")
    assert stored_visitor(page) is None

    send(page, f"A new question ({marker}-next)")  # a new chat: a new visitor, unknown to the desk
    desk.conversation_root(f"{marker}-next")
    assert stored_visitor(page) not in (None, visitor)
    assert sessions[-1]["visitor_id"] == stored_visitor(page)


def test_a_closed_chat_is_rated_once_with_a_comment_and_not_offered_again_after_a_reload(desk, page, marker):
    desk.on_duty("U0AMANDA")
    ratings = bodies_sent(page, "/rating")
    open_widget(page, desk.patron_page)
    send(page, f"Where are the atlases? ({marker})")
    root = desk.conversation_root(marker)
    desk.click(root["ts"], "close_conversation")

    buttons = [page.get_by_role("button", name=f"Rate {n} of 5", exact=True) for n in range(1, 6)]
    expect(buttons[0]).to_be_visible(timeout=20_000)
    for button in buttons:
        box = button.bounding_box()
        assert box and box["width"] >= 24 and box["height"] >= 24, box
    comment = page.get_by_label("Comment (optional)")
    expect(comment).to_have_attribute("maxlength", "500")
    send_rating = page.locator(".refdesk-rate").get_by_role("button", name="Send")

    send_rating.click()  # nothing chosen yet: nothing sent
    expect(page.locator(".refdesk-rate")).to_contain_text("Choose 1 to 5 first.")
    assert ratings == []

    buttons[3].click()
    expect(buttons[3]).to_have_attribute("aria-pressed", "true")
    comment.fill("Very quick, thank you!")
    send_rating.click()

    expect(page.locator(".refdesk-rate").get_by_role("status")).to_have_text("Thanks!")
    expect(page.get_by_role("button", name="Start a new chat")).to_be_focused()
    assert ratings == [{"rating": 4, "comment": "Very quick, thank you!"}]
    page.reload()  # the panel opens again, as it was
    expect(page.get_by_role("button", name="Start a new chat")).to_be_visible()
    expect(page.locator(".refdesk-rate")).to_have_text("Thanks!")
    expect(buttons[0]).to_have_count(0)


def test_a_message_retried_after_a_network_failure_carries_its_age_since_send(desk, page, marker):
    desk.on_duty("U0AMANDA")
    messages = bodies_sent(page, "/messages")
    failures = []

    def first_fails(route):
        if route.request.method == "POST" and not failures:
            failures.append(route.request.url)
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route(re.compile(r".*/chat/sessions/[^/]+/messages$"), first_fails)
    open_widget(page, desk.patron_page)
    send(page, f"Where are the atlases? ({marker})")
    # Playwright serves the route only inside its own calls: wait in one until the retry is through.
    expect(page.locator(".refdesk-me.refdesk-pending")).to_have_count(0, timeout=15_000)
    page.unroute_all()
    desk.conversation_root(marker)

    first, retried = messages
    assert first["client_id"] == retried["client_id"]
    assert retried["age_ms"] >= first["age_ms"] + 1_500, (first["age_ms"], retried["age_ms"])  # the 2 s backoff
