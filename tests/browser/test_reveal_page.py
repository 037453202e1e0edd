"""Reveal in the local staff view (/_local/): a patron's phone number and card shown masked, the
Reveal button pressed as one librarian, the original shown to that librarian only."""
from __future__ import annotations

import random

from playwright import sync_api

expect = sync_api.expect


def test_reveal_shows_the_original_to_the_librarian_who_pressed_it(desk, page, marker):
    number = "+1555{:07d}".format(random.randrange(10**7))
    page.goto(desk.staff_page)
    expect(page.locator("#conn")).to_have_text("live")
    page.get_by_label("Librarian", exact=True).select_option("U0BEN")
    page.get_by_label("Patron's number").fill(number)
    page.get_by_label("Patron's number").dispatch_event("change")
    page.get_by_label("Text message").fill(f"Renew for card 21234000567890, call (555) 987-6543 ({marker})")
    page.get_by_role("button", name="Send", exact=True).click()

    thread = page.locator("article.thread:not(.ephemeral)").filter(has_text=marker)
    expect(thread).to_contain_text("card [library card], call [phone]", timeout=20_000)
    expect(thread).not_to_contain_text("21234000567890")

    thread.get_by_role("button", name="Reveal").click()
    original = thread.locator(".msg").filter(has_text="Only you can see this")
    expect(original).to_contain_text("21234000567890", timeout=20_000)
    expect(original).to_contain_text("(555) 987-6543")
    expect(original).to_contain_text("only visible to Ben")

    page.get_by_label("Librarian", exact=True).select_option("U0AMANDA")  # another librarian's view
    expect(original).to_have_count(0, timeout=10_000)
    expect(thread).not_to_contain_text("21234000567890")
