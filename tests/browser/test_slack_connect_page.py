"""The staff page's Slack Connect pane (local/static/partner.js): a developer plays a member of the
partner organisation in the shared channel, and a librarian answers from the staff view - through
the pages' own boxes and buttons only."""
from __future__ import annotations

from playwright import sync_api

expect = sync_api.expect


def test_partner_asks_in_the_shared_pane_and_reads_the_answer_there(desk, page, marker):
    page.goto(desk.staff_page)
    expect(page.locator("#conn")).to_have_text("live")
    expect(page.locator("#partner-team")).to_contain_text("T0PARTNER")

    page.get_by_label("Partner member").select_option("U0PARTNER2")
    page.get_by_label("New message in the shared channel").fill(f"<b>Do</b> you lend to Riverside? ({marker})")
    page.get_by_role("button", name="Post", exact=True).click()

    shared = page.locator("#partner-threads .sthread").filter(has_text=marker)
    expect(shared).to_have_count(1)
    expect(shared.locator(".sroot")).to_contain_text(f"<b>Do</b> you lend to Riverside? ({marker})")  # as text
    expect(shared.locator(".sroot .who")).to_have_text("Tom Becker")
    assert shared.locator("b").count() == 0

    # The staff view shows the conversation card, and not the shared channel's own messages.
    staff = page.locator("#threads article.thread").filter(has_text=marker)
    expect(staff).to_have_count(1, timeout=20_000)
    expect(staff).to_contain_text("Slack Connect")
    expect(staff).not_to_contain_text("Tom")

    shared.get_by_label("Reply in the shared thread").fill(f"Also inter-library loans? ({marker}-more)")
    shared.get_by_role("button", name="Reply as partner").click()
    expect(staff.locator(".replies")).to_contain_text(f"{marker}-more", timeout=20_000)

    staff.get_by_label("Reply as").select_option("U0AMANDA")
    staff.get_by_label("Reply in this thread").fill(f"Yes, we lend to Riverside & others ({marker}-answer)")
    staff.get_by_role("button", name="Reply").click()

    expect(shared.locator(".replies")).to_contain_text(
        f"Amanda (library): Yes, we lend to Riverside & others ({marker}-answer)", timeout=20_000)
    # The app's posts: the answer, and the patron's place in line when others wait in this stack.
    answers = shared.locator(".replies li").filter(has=page.locator(".tag", has_text="APP"))
    expect(answers.filter(has_not_text=" in line.")).to_have_count(1)
    expect(staff.locator(".reaction")).to_contain_text("white check mark", timeout=20_000)
