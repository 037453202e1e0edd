"""The patron's web chat widget in a real browser, on the sample library page of the local stack:
presence, chatting with a librarian in Slack, the offline form, XSS, keyboard use, small screens."""
from __future__ import annotations

import re

from playwright import sync_api

expect = sync_api.expect
Page = sync_api.Page

XSS = '<img src=x onerror="window.__xss=1">'
ONLINE = "Ask a librarian — online now"
OFFLINE = "Ask a librarian — leave a question"


def launcher(page: Page):
    return page.locator("button.refdesk-launcher")


def panel(page: Page):
    return page.get_by_role("dialog", name="Ask a librarian")


def composer(page: Page):
    return page.get_by_label("Type your question")


def message(page: Page, text: str):
    """The message rows of the conversation log that contain `text`."""
    return page.get_by_role("log").locator(".refdesk-msg").filter(has_text=text)


def open_widget(page: Page, url: str, status: str = ONLINE) -> None:
    page.goto(url)
    expect(launcher(page)).to_have_text(status)
    launcher(page).click()
    expect(panel(page)).to_be_visible()


def send(page: Page, text: str) -> None:
    composer(page).fill(text)
    composer(page).press("Enter")
    expect(composer(page)).to_have_value("")


def test_presence_indicator_follows_the_librarians_on_duty(desk, page, screenshots):
    desk.all_off_duty()
    page.goto(desk.patron_page)
    expect(launcher(page)).to_have_text(OFFLINE)
    expect(launcher(page)).not_to_have_class(re.compile(r"\brefdesk-on\b"))

    desk.on_duty("U0AMANDA")
    page.reload()
    expect(launcher(page)).to_have_text(ONLINE)
    expect(launcher(page)).to_have_class(re.compile(r"\brefdesk-on\b"))
    page.screenshot(path=str(screenshots / "widget-online.png"))

    desk.command("off", "U0AMANDA")
    page.reload()
    expect(launcher(page)).to_have_text(OFFLINE)


def test_presence_refreshes_without_a_reload(desk, page):
    """data-presence-interval (seconds) shortens the widget's 60 s presence refresh."""
    desk.all_off_duty()

    def faster(route):
        response = route.fetch()
        body = response.text().replace('<script src="/widget.js"', '<script src="/widget.js" data-presence-interval="1"')
        assert 'data-presence-interval="1"' in body
        route.fulfill(response=response, body=body)

    page.route(desk.patron_page, faster)
    page.goto(desk.patron_page)
    expect(launcher(page)).to_have_text(OFFLINE)
    desk.on_duty("U0BEN")
    expect(launcher(page)).to_have_text(ONLINE, timeout=10_000)
    desk.command("off", "U0BEN")
    expect(launcher(page)).to_have_text(OFFLINE, timeout=10_000)


def test_patron_asks_and_a_librarian_answers_in_the_thread(desk, page, marker, slack_text, screenshots):
    desk.on_duty("U0AMANDA")
    open_widget(page, desk.patron_page)
    expect(composer(page)).to_be_focused()

    question = f"Do you have large-print mysteries? ({marker})"
    send(page, question)
    mine = message(page, marker)
    expect(mine).to_have_count(1)
    expect(mine.locator(".refdesk-who")).to_have_text("You")

    root = desk.conversation_root(marker)
    assert root.get("thread_ts") in (None, "", root["ts"]), root
    assert marker in slack_text(root), f"the question should be on the root card: {root}"

    answer = f"Yes, on the shelf by the window - ask at the desk. ({marker}-reply)"
    desk.reply(root["ts"], answer, "U0AMANDA")
    theirs = message(page, f"{marker}-reply")
    expect(theirs).to_be_visible(timeout=20_000)
    expect(theirs.locator(".refdesk-who")).to_have_text("Amanda")
    expect(theirs).to_contain_text(answer)

    # The pending copy was reconciled with the server's by client_id: still exactly one.
    expect(page.locator(".refdesk-pending")).to_have_count(0)
    expect(message(page, question)).to_have_count(1)
    page.wait_for_timeout(3000)  # a poll or so later, still no duplicate
    expect(message(page, question)).to_have_count(1)
    page.screenshot(path=str(screenshots / "widget-chatting.png"))

    # Reloading the page keeps the conversation (sessionStorage).
    page.reload()
    expect(message(page, question)).to_have_count(1)
    expect(message(page, f"{marker}-reply")).to_have_count(1)
    # Pushed messages carry no cursor: the catch-up read when the connection reopens sets it.
    page.wait_for_function("(JSON.parse(sessionStorage.getItem('refdesk.session')) || {}).cursor")
    stored = page.evaluate("JSON.parse(sessionStorage.getItem('refdesk.session'))")
    assert stored["session_id"] and stored["token"] and stored["cursor"], stored


def test_offline_form_leaves_a_question_for_follow_up(desk, page, marker, slack_text, screenshots):
    desk.all_off_duty()
    open_widget(page, desk.patron_page, OFFLINE)
    question = page.get_by_label("Your question", exact=True)
    expect(question).to_be_focused()

    send_button = page.get_by_role("button", name="Send question")
    send_button.click()  # nothing filled in
    expect(panel(page).get_by_role("alert")).to_have_text("Please type your question.")
    expect(question).to_be_focused()

    text = f"Can I book the community room for a Saturday? ({marker})"
    question.fill(text)
    page.get_by_label("Email or phone so we can reply").fill("pat.doe@example.org")
    page.get_by_label("Your name").fill("Pat Doe")
    page.screenshot(path=str(screenshots / "widget-offline.png"))
    send_button.click()

    expect(panel(page)).to_contain_text("Thanks — a librarian will reply by email", timeout=15_000)
    expect(message(page, marker)).to_have_count(1)

    root = desk.conversation_root(marker)
    shown = slack_text(root)
    assert re.search(r"follow[- ]up", shown, re.IGNORECASE), shown
    assert "[email]" in shown and "pat.doe@example.org" not in shown, shown  # replies reach it; staff don't see it


def test_markup_from_patron_and_librarian_stays_text(desk, new_page, marker):
    desk.on_duty("U0AMANDA")
    page = new_page()
    open_widget(page, desk.patron_page)

    send(page, f"{XSS} {marker}")
    mine = message(page, marker)
    expect(mine.locator(".refdesk-text")).to_have_text(f"{XSS} {marker}")

    root = desk.conversation_root(marker)
    desk.reply(root["ts"], f"{XSS} {marker}-reply", "U0AMANDA")
    theirs = message(page, f"{marker}-reply")
    expect(theirs).to_be_visible(timeout=20_000)
    # However the relay unwraps Slack markup, the attribute arrives as characters, not as an element.
    expect(theirs).to_contain_text('onerror="window.__xss=1"')

    page.wait_for_timeout(1000)  # give a would-be <img src=x> time to fail and fire onerror
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator(".refdesk-root img").count() == 0

    # The staff view renders the same text literally too.
    staff = new_page()
    staff.goto(desk.staff_page)
    thread = staff.locator("article.thread").filter(has_text=marker).first
    expect(thread).to_contain_text(f"{XSS} {marker}")
    expect(thread).to_contain_text(f"{marker}-reply")
    staff.wait_for_timeout(500)
    assert staff.evaluate("typeof window.__xss") == "undefined"
    assert staff.locator("#threads img").count() == 0


def test_keyboard_only(desk, page, marker):
    desk.on_duty("U0AMANDA")
    page.goto(desk.patron_page)
    button = launcher(page)
    expect(button).to_have_text(ONLINE)

    for _ in range(60):
        page.keyboard.press("Tab")
        if button.evaluate("el => el === document.activeElement"):
            break
    expect(button).to_be_focused()
    outline = button.evaluate("el => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth")
    assert outline.split()[0] != "none" and float(outline.split()[1].rstrip("px")) >= 2, outline

    page.keyboard.press("Enter")
    expect(panel(page)).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(composer(page)).to_be_focused()

    page.keyboard.type(f"Typed with the keyboard ({marker})")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("and a second line")
    expect(composer(page)).to_have_value(f"Typed with the keyboard ({marker})\nand a second line")
    page.keyboard.press("Enter")
    expect(message(page, marker)).to_have_count(1)
    expect(composer(page)).to_have_value("")
    expect(composer(page)).to_be_focused()
    expect(page.locator(".refdesk-pending")).to_have_count(0)
    desk.conversation_root(marker)

    page.keyboard.press("Escape")
    expect(panel(page)).to_be_hidden()
    expect(button).to_be_focused()
    expect(button).to_have_attribute("aria-expanded", "false")

    # Reopen, go back to the close button, and close with it.
    page.keyboard.press("Enter")
    expect(composer(page)).to_be_focused()
    close = page.get_by_role("button", name="Close chat")
    for _ in range(6):
        page.keyboard.press("Shift+Tab")
        if close.evaluate("el => el === document.activeElement"):
            break
    expect(close).to_be_focused()
    page.keyboard.press("Enter")
    expect(panel(page)).to_be_hidden()
    expect(button).to_be_focused()


def test_works_on_a_320px_screen(desk, new_page, marker):
    desk.on_duty("U0AMANDA")
    page = new_page(width=320, height=640)
    page.goto(desk.patron_page)
    expect(launcher(page)).to_have_text(ONLINE)
    box = launcher(page).bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 320 and box["y"] + box["height"] <= 640, box
    assert page.evaluate("document.documentElement.scrollWidth") <= 320

    launcher(page).click()
    expect(panel(page)).to_be_visible()
    box = panel(page).bounding_box()
    assert box["x"] >= 0 and box["y"] >= 0, box
    assert box["x"] + box["width"] <= 320 and box["y"] + box["height"] <= 640, box
    assert box["width"] >= 300, f"the panel should take the full width: {box}"
    for control in (composer(page), page.get_by_role("button", name="Send"),
                    page.get_by_role("button", name="Close chat")):
        expect(control).to_be_in_viewport(ratio=1)

    send(page, f"Asking from a small phone ({marker})")
    expect(message(page, marker)).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
