"""Issue 19, item 3, in a real browser on the local stack's sample library page: once the chat has
ended, "E-mail me this conversation" sends it to the address typed (the local SES, moto), saying
"Sent" only when the server queued it, and the server's reason otherwise (a bad address, the third
request)."""
from __future__ import annotations

import time

from playwright import sync_api

from tests.browser.test_widget import open_widget, send

expect = sync_api.expect


def mailbox(desk, address: str, count: int, timeout: float = 20.0) -> list[dict]:
    """The e-mails the local SES accepted for `address`, once there are `count` of them."""
    deadline = time.monotonic() + timeout
    while True:
        sent = desk.http.get(desk.url("/_local/api/mail"), params={"to": address}, timeout=30).json()["messages"]
        if len(sent) >= count or time.monotonic() > deadline:
            return sent
        time.sleep(0.3)


def test_an_ended_chat_is_emailed_to_the_address_typed(desk, page, marker):
    address = f"{marker}@example.net"
    desk.on_duty("U0AMANDA")
    open_widget(page, desk.patron_page)
    send(page, f"Where are the atlases? ({marker})")
    root = desk.conversation_root(marker)
    desk.reply(root["ts"], f"Second floor, by the windows ({marker}).")
    desk.click(root["ts"], "close_conversation")

    field = page.get_by_label("E-mail me this conversation")
    expect(field).to_be_visible(timeout=20_000)
    outcome = page.locator(".refdesk-mail [role=status]")
    send_mail = page.locator(".refdesk-mail").get_by_role("button", name="Send")

    field.fill("not an address")
    send_mail.click()
    expect(outcome).to_have_text("email must be an e-mail address, such as name@example.org")

    field.fill(address)
    field.press("Enter")  # keyboard: Enter submits
    expect(outcome).to_have_text("Sent")
    [sent] = mailbox(desk, address, 1)
    assert f"You: Where are the atlases? ({marker})" in sent["body"]
    assert f"Amanda: Second floor, by the windows ({marker})." in sent["body"]

    for answer in ("Sent", "this conversation was e-mailed 2 times already"):  # a second copy, not a third
        outcome.evaluate("e => { e.textContent = '' }")
        send_mail.click()
        expect(outcome).to_have_text(answer)
    expect(outcome).to_have_class("refdesk-err")
    assert len(mailbox(desk, address, 2)) == 2


def test_sent_is_not_claimed_when_the_request_fails(desk, page, marker):
    desk.on_duty("U0AMANDA")
    open_widget(page, desk.patron_page)
    send(page, f"Where are the atlases? ({marker})")
    desk.click(desk.conversation_root(marker)["ts"], "close_conversation")
    field = page.get_by_label("E-mail me this conversation")
    expect(field).to_be_visible(timeout=20_000)
    page.route("**/transcript", lambda route: route.abort("internetdisconnected"))

    field.fill(f"{marker}@example.net")
    field.press("Enter")

    expect(page.locator(".refdesk-mail [role=status]")).to_have_text("Not sent.")
