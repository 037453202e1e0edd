"""The staff view's Mailbox pane in a real browser: a patron leaves a question with an e-mail
address in the widget's offline form, a librarian answers it in the staff view, and the e-mail
SES (moto) accepted is listed in the Mailbox - subject, recipient and body, as text."""
from __future__ import annotations

from playwright import sync_api

expect = sync_api.expect

OFFLINE = "Ask a librarian — leave a question"
XSS = '<img src=x onerror="window.__xss=1">'


def test_a_reply_to_an_email_follow_up_shows_in_the_mailbox(desk, new_page, marker, screenshots):
    desk.all_off_duty()
    patron = new_page()
    patron.goto(desk.patron_page)
    launcher = patron.locator("button.refdesk-launcher")
    expect(launcher).to_have_text(OFFLINE)
    launcher.click()
    address = f"pat.{marker}@example.org"
    patron.get_by_label("Your question", exact=True).fill(f"Is there a knitting circle? ({marker})")
    patron.get_by_label("Email or phone so we can reply").fill(address)
    patron.get_by_label("Your name").fill("Pat")
    patron.get_by_role("button", name="Send question").click()
    expect(patron.get_by_role("dialog", name="Ask a librarian")).to_contain_text(
        "a librarian will reply by email", timeout=15_000)

    staff = new_page()
    staff.goto(desk.staff_page)
    thread = staff.locator("article.thread:not(.ephemeral)").filter(has_text=marker)
    expect(thread).to_have_count(1, timeout=20_000)
    reply_box = thread.get_by_label("Reply in this thread")
    reply_box.fill(f"Thursdays at 2 in the Main reading room {XSS} ({marker}-reply)")
    reply_box.press("Enter")
    expect(thread.locator(".reaction")).to_contain_text("\u2705", timeout=20_000)

    mailbox = staff.locator("#mailbox")
    mailbox.locator("summary").click()
    mail = mailbox.get_by_role("article").filter(has_text=address)
    expect(mail).to_have_count(1, timeout=20_000)
    expect(mail.locator(".mail-to")).to_have_text(address)
    expect(mail.locator(".mail-subject")).to_contain_text("Your question to")
    expect(mail.locator(".mail-from")).to_contain_text("askus@library.example.org")
    body = mail.locator(".mail-body")
    expect(body).to_contain_text(f"Amanda (library): Thursdays at 2 in the Main reading room {XSS} ({marker}-reply)")
    expect(body).to_contain_text("To ask us something else")
    expect(mail.locator("img")).to_have_count(0)  # the text stays text
    assert staff.evaluate("window.__xss") is None
    expect(staff.locator("#mail-count")).to_contain_text("sent")
    mail.scroll_into_view_if_needed()
    staff.screenshot(path=str(screenshots / "staff-mailbox.png"))
