"""Where the widget asks for presence, in a real browser. Tagged as the README has it (the script
from the cache, data-api the API), it asks the cache (CloudFront; locally its stand-in, /_cdn) and
keeps the chat on the API. A copy of the script served where no presence is answered falls back
to the API's."""
from __future__ import annotations

import pytest
from playwright import sync_api

from tests.browser.conftest import Desk
from tests.browser.test_widget import ONLINE, launcher, open_widget, send

expect = sync_api.expect
Page = sync_api.Page

SAMPLE_TAG = '<script src="/widget.js" data-api=""'


@pytest.fixture(scope="module")
def desk(start_devstack) -> Desk:
    """A stack of its own: its cache holds no presence that another test's desk state left there."""
    desk = Desk(start_devstack().base_url)
    desk.on_duty("U0AMANDA")
    return desk


def tagged(page: Page, desk: Desk, src: str) -> list[str]:
    """Serves the sample library page with its widget tag loading `src`, data-api the stack's API;
    returns the URLs the page asks for, as it asks."""
    def rewrite(route):
        response = route.fetch()
        body = response.text().replace(SAMPLE_TAG, f'<script src="{src}" data-api="{desk.base_url}"')
        assert src in body
        route.fulfill(response=response, body=body)

    page.route(desk.patron_page, rewrite)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    return asked


def test_tagged_as_the_readme_says_presence_comes_from_the_cache_and_the_chat_from_the_api(desk, page):
    cache = desk.url("/_cdn")
    asked = tagged(page, desk, f"{cache}/widget.js")

    open_widget(page, desk.patron_page, ONLINE)
    send(page, "Can I renew a laptop loan?")

    page.wait_for_function("(JSON.parse(sessionStorage.getItem('refdesk.session')) || {}).session_id")
    presence = [url for url in asked if "/presence" in url]
    chat = [url for url in asked if "/chat/sessions" in url]
    assert presence and all(url == f"{cache}/presence" for url in presence), presence
    assert chat and all(url.startswith(f"{desk.base_url}/chat/sessions") for url in chat), chat


def test_a_copy_of_the_script_served_without_presence_asks_the_api_instead(desk, page):
    copy = desk.url("/library/js/widget.js")  # the library's own copy: no presence beside it
    script = desk.http.get(desk.url("/widget.js"), timeout=30).text
    page.route(copy, lambda route: route.fulfill(body=script, content_type="application/javascript"))
    asked = tagged(page, desk, copy)

    page.goto(desk.patron_page)

    expect(launcher(page)).to_have_text(ONLINE)
    presence = [url for url in asked if "/presence" in url]
    assert presence[:2] == [desk.url("/library/js/presence"), desk.url("/presence")], presence
