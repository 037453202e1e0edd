"""The widget's "Text us at …" and "Add to contacts" line, in a real browser on the sample library
page: the number and the card's URL come from GET /presence, the card link serves the vCard,
and data-contact="off" leaves the line out."""
from __future__ import annotations

from playwright import sync_api

expect = sync_api.expect


def open_panel(page, url: str) -> None:
    page.goto(url)
    launcher = page.locator("button.refdesk-launcher")
    expect(launcher).to_contain_text("Ask a librarian —")
    launcher.click()
    expect(page.get_by_role("dialog", name="Ask a librarian")).to_be_visible()


def test_the_widget_offers_texting_the_library_and_its_contact_card(desk, page, stack):
    desk.all_off_duty()
    number = stack.config["twilio_from_number"]

    open_panel(page, desk.patron_page)

    text_us = page.get_by_role("link", name="Text us at")
    expect(text_us).to_be_visible()
    expect(text_us).to_have_attribute("href", f"sms:{number}")
    expect(text_us).to_have_text("Text us at (500) 555-0006")
    card = page.get_by_role("link", name="Add to contacts")
    expect(card).to_have_attribute("href", f"{stack.config['public_base_url']}/contact.vcf")
    answer = page.request.get(card.get_attribute("href"))
    assert answer.ok and answer.headers["content-type"] == "text/vcard; charset=utf-8"
    assert f"TEL;TYPE=WORK,MSG:{number}" in answer.text()

    desk.on_duty("U0AMANDA")
    page.reload()
    page.locator("button.refdesk-launcher").click()
    expect(page.get_by_role("link", name="Text us at")).to_be_visible()  # online too
    desk.all_off_duty()


def test_data_contact_off_leaves_the_line_out(desk, page):
    def without_contact(route):
        response = route.fetch()
        body = response.text().replace('<script src="/widget.js"', '<script src="/widget.js" data-contact="off"')
        assert 'data-contact="off"' in body
        route.fulfill(response=response, body=body)

    page.route(desk.patron_page, without_contact)
    open_panel(page, desk.patron_page)

    expect(page.get_by_role("link", name="Add to contacts")).to_have_count(0)
    expect(page.locator(".refdesk-alt")).to_be_hidden()

