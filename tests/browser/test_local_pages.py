"""The local stand-in pages (/_local/): the Slack-like staff view and the phone simulator, used
the way a developer trying RefDesk would - through their buttons and boxes only."""
from __future__ import annotations

import random

from playwright import sync_api

expect = sync_api.expect


def thread_with(page, text: str):
    return page.locator("article.thread:not(.ephemeral)").filter(has_text=text)


def test_duty_buttons_show_the_commands_answer(desk, page):
    page.goto(desk.staff_page)
    expect(page.locator("#conn")).to_have_text("live")
    page.get_by_label("Librarian", exact=True).select_option("U0BEN")
    page.get_by_role("button", name="On duty").click()
    answer = page.locator("#duty-out")
    expect(answer).to_contain_text("/refdesk on (Ben Okafor):")
    assert desk.presence()["status"] == "available"
    page.get_by_role("button", name="Off duty").click()
    expect(answer).to_contain_text("/refdesk off (Ben Okafor):")


def test_text_from_the_phone_answered_and_closed_from_the_staff_view(desk, page, marker):
    number = "+1555{:07d}".format(random.randrange(10**7))  # a patron of our own on the shared stack
    page.goto(desk.staff_page)
    page.get_by_label("Patron's number").fill(number)
    page.get_by_label("Patron's number").dispatch_event("change")

    page.get_by_label("Text message").fill(f"Is the library open on holidays? ({marker})")
    page.get_by_role("button", name="Send", exact=True).click()
    phone = page.get_by_role("log", name="Texts with the library")
    expect(phone.locator(".bubble.out")).to_contain_text(marker)
    expect(page.locator("#sms-status")).to_contain_text("HTTP 200")

    thread = thread_with(page, marker)
    expect(thread).to_have_count(1, timeout=20_000)
    expect(thread.get_by_role("button", name="Close")).to_be_visible()

    thread.get_by_label("Reply as").select_option("U0BEN")
    reply_box = thread.get_by_label("Reply in this thread")
    reply_box.fill(f"Closed on public holidays, open otherwise. ({marker}-reply)")
    reply_box.press("Enter")
    expect(thread.locator(".replies")).to_contain_text(f"{marker}-reply")
    expect(phone.locator(".bubble.in").filter(has_text=f"{marker}-reply")).to_contain_text("Ben", timeout=20_000)

    reply_box.fill(f"note: regular patron ({marker}-note)")
    thread.get_by_role("button", name="Reply").click()
    expect(thread.locator(".replies")).to_contain_text(f"{marker}-note")
    expect(thread.locator(".tag.internal")).to_have_count(1)

    thread.get_by_role("button", name="Close").click()
    expect(thread.get_by_role("button", name="Close")).to_have_count(0, timeout=20_000)
    expect(thread).to_have_class("thread closed")
    sent = desk.phone_messages(number)
    assert not any(f"{marker}-note" in m["body"] for m in sent), "an internal note reached the patron"
