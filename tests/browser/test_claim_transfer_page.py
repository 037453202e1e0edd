"""Claim, Transfer and the Home tab in the local staff view (/_local/), through its buttons and menus only."""
from __future__ import annotations

import random

from playwright import sync_api

expect = sync_api.expect


def test_claim_transfer_and_the_home_tab_from_the_staff_view(desk, page, marker):
    number = "+1555{:07d}".format(random.randrange(10**7))
    page.goto(desk.staff_page)
    expect(page.locator("#conn")).to_have_text("live")
    page.get_by_label("Patron's number").fill(number)
    page.get_by_label("Patron's number").dispatch_event("change")
    page.get_by_label("Text message").fill(f"Do you have atlases? ({marker})")
    page.get_by_role("button", name="Send", exact=True).click()

    thread = page.locator("article.thread:not(.ephemeral)").filter(has_text=marker)
    expect(thread).to_contain_text("Waiting for a librarian", timeout=20_000)

    page.get_by_label("Librarian", exact=True).select_option("U0PRIYA")
    home = page.locator("#home")
    home.locator("summary").click()
    row = page.locator("#home-view .home-row").filter(has_text=number[-4:])
    expect(row).to_have_count(1, timeout=20_000)
    row.get_by_role("button", name="Claim").click()
    expect(thread).to_contain_text("Claimed by @Priya", timeout=20_000)
    expect(row).to_have_count(0, timeout=20_000)

    home.get_by_label("Show…").select_option(label="Mine")  # the filter, a static_select
    expect(page.locator("#home-view")).to_contain_text("Your open conversations", timeout=20_000)
    expect(page.locator("#home-view .home-row").filter(has_text=number[-4:])).to_have_count(1, timeout=20_000)
    home.get_by_label("Show…").select_option(label="All channels")
    expect(page.locator("#home-view")).to_contain_text("Waiting for a librarian", timeout=20_000)

    thread.get_by_label("Transfer to…").select_option("U0BEN")
    expect(thread).to_contain_text("Transferred to @Ben by @Priya", timeout=20_000)
    phone = page.get_by_role("log", name="Texts with the library")
    expect(phone).to_contain_text("connected to a colleague", timeout=20_000)
