"""The staff view's Invite modal and "Quick reply…" menu, used the way a person would: a patron
texts from the phone simulator, the librarian presses Invite, picks IT in the dialog and submits,
then picks a quick reply on the card."""
from __future__ import annotations

import random

from playwright import sync_api

expect = sync_api.expect


def test_invite_a_department_and_send_a_quick_reply_from_the_staff_view(desk, page, marker):
    number = "+1555{:07d}".format(random.randrange(10**7))
    page.goto(desk.staff_page)
    page.get_by_label("Patron's number").fill(number)
    page.get_by_label("Patron's number").dispatch_event("change")
    page.get_by_label("Text message").fill(f"idk how to print from my laptop ({marker})")
    page.get_by_role("button", name="Send", exact=True).click()

    thread = page.locator("article.thread:not(.ephemeral)").filter(has_text=marker)
    expect(thread).to_have_count(1, timeout=20_000)
    expect(thread).to_contain_text("Shorthand: idk = I don't know")

    thread.get_by_role("button", name="Invite").click()
    dialog = page.get_by_role("dialog", name="Invite a department")
    expect(dialog).to_be_visible(timeout=10_000)
    dialog.get_by_label("Department").select_option(label="IT")
    dialog.get_by_label("What do you need from them?").fill(f"printing help ({marker}-ask)")
    dialog.get_by_role("button", name="Invite").click()
    expect(dialog).to_be_hidden(timeout=10_000)
    expect(thread.locator(".replies")).to_contain_text(f"{marker}-ask", timeout=20_000)
    expect(thread.locator(".replies")).to_contain_text("invites IT")

    thread.get_by_label("Quick reply…").select_option(label="Printing")
    phone = page.get_by_role("log", name="Texts with the library")
    expect(phone.locator(".bubble.in").filter(has_text="print station")).to_contain_text("(library)",
                                                                                        timeout=20_000)
    expect(thread.locator(".replies")).to_contain_text("Quick reply")
