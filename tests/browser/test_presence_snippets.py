"""Existing LibraryH3lp snippets, unchanged but for the host, on a library page of another origin
(a server of its own on another port): the presence snippets (the text and xml formats read with
fetch, which needs the CORS header, on 404s too; the js format with its callback; images for a
queue, a user JID and a theme), and the chat (issue 19, item 9): LibraryH3lp's chat snippet,
through the cache, shows RefDesk's widget, and a direct chat link is the widget's panel, full-page
or in the frame a library put it in."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from playwright import sync_api

from tests.browser.conftest import Desk
from tests.browser.test_widget import ONLINE, composer, launcher, panel, send

expect = sync_api.expect

SNIPPETS = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ask us</title></head><body>
<p>Queue, text: <span id="text">?</span></p>
<p>Queue, xml: <span id="xml">?</span></p>
<p>User, js: <span id="js">?</span></p>
<p>Not found: <span id="missing">?</span></p>
<img id="queue-image" alt="chat status" src="{api}/presence/jid/ask-us/chat.libraryh3lp.com/image">
<img id="user-image" alt="chat status" src="{api}/presence/jid/amanda/libraryh3lp.com/image">
<img id="dot" alt="chat status" src="{api}/presence/jid/ask-us/chat.libraryh3lp.com/image/dot">
<script>
  function lh3Update() {{ document.getElementById('js').textContent = jabber_resources[0].show; }}
  fetch('{api}/presence/jid/ask-us/chat.libraryh3lp.com/text')
    .then(function (r) {{ return r.text(); }})
    .then(function (t) {{ document.getElementById('text').textContent = t; }});
  fetch('{api}/presence/jid/ask-us/chat.libraryh3lp.com/xml')
    .then(function (r) {{ return r.text(); }})
    .then(function (t) {{
      var doc = new DOMParser().parseFromString(t, 'text/xml');
      var online = doc.querySelector('resource[show="available"]');
      document.getElementById('xml').textContent = online ? 'available' : 'unavailable';
    }});
  fetch('{api}/presence/jid/ask-us/chat.libraryh3lp.com/json')
    .then(function (r) {{ document.getElementById('missing').textContent = String(r.status); }})
    .catch(function () {{ document.getElementById('missing').textContent = 'blocked'; }});
</script>
<script src="{api}/presence/jid/amanda/libraryh3lp.com/js?cb=lh3Update"></script>
</body></html>"""


# LibraryH3lp's chat snippet as a library pasted it, twice (the page template and a sidebar both
# carry it), with only its host changed: to the stack's cache, /_cdn locally.
CHAT_SNIPPET = """<div class="needs-js">chat loading...</div>
<script type="text/javascript">
  (function() {{
    var x = document.createElement("script"); x.type = "text/javascript"; x.async = true;
    x.src = (document.location.protocol === "https:" ? "https://" : "http://") + "{cache_host}/js/libraryh3lp.js?7421";
    var y = document.getElementsByTagName("script")[0]; y.parentNode.insertBefore(x, y);
  }})();
</script>"""
CHAT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ask us</title></head><body>
<main><h1>Ask us</h1>{snippet}</main>
<aside>{snippet}</aside>
</body></html>"""
# A direct chat link in the frame a library gave LibraryH3lp's chat, with only its host changed.
FRAMED_CHAT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ask us</title></head><body>
<iframe title="Ask a librarian" src="{cache}/chat/ask-us@chat.libraryh3lp.com?skin=13921&amp;theme=alphamod&amp;identity=KCPL"
        width="360" height="480"></iframe>
</body></html>"""
DIRECT_CHAT = "/_cdn/chat/ask-us@chat.libraryh3lp.com?skin=11342&identity=Librarian"


@pytest.fixture(scope="module")
def desk(start_devstack) -> Desk:
    """A stack of its own: its cache holds no presence that another module's desk state left there."""
    return Desk(start_devstack().base_url)


@pytest.fixture
def library_site(desk):
    """The library's web site (its own origin): its pages with the snippets, pointed at the stack."""
    cache = desk.url("/_cdn")
    pages = {
        "/ask.html": SNIPPETS.format(api=desk.base_url).encode(),
        "/chat.html": CHAT_PAGE.format(snippet=CHAT_SNIPPET.format(cache_host=cache.split("://", 1)[1])).encode(),
        "/framed.html": FRAMED_CHAT.format(cache=cache).encode(),
    }

    class Site(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200 if self.path in pages else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(pages.get(self.path, b""))

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def library_page(new_page, url: str):
    """A fresh page (its own cache) of the library's site."""
    page = new_page()
    page.goto(url)
    return page


def image_size(page, element_id: str) -> tuple[int, int]:
    image = page.locator(f"#{element_id}")
    expect(image).to_have_js_property("complete", True)
    return image.evaluate("img => [img.naturalWidth, img.naturalHeight]")


def test_every_snippet_style_follows_the_desk_from_another_site(desk, new_page, library_site, screenshots):
    desk.all_off_duty()
    offline = library_page(new_page, f"{library_site}/ask.html")
    for element_id in ("text", "xml", "js"):
        expect(offline.locator(f"#{element_id}")).to_have_text("unavailable")
    expect(offline.locator("#missing")).to_have_text("404")  # readable: the 404 kept its CORS header
    offline_badge = image_size(offline, "queue-image")
    assert offline_badge[0] > 0, "the queue's image is broken"
    assert image_size(offline, "user-image") == offline_badge
    assert image_size(offline, "dot") == [16, 16]

    desk.on_duty("U0AMANDA")
    online = library_page(new_page, f"{library_site}/ask.html")
    try:
        for element_id in ("text", "xml", "js"):
            expect(online.locator(f"#{element_id}")).to_have_text("available")
        online_badge = image_size(online, "queue-image")
        assert online_badge[0] > 0 and online_badge != offline_badge  # "Chat online" is the shorter badge
        assert image_size(online, "user-image") == online_badge
        online.screenshot(path=str(screenshots / "libraryh3lp-snippets-online.png"))
    finally:
        desk.command("off", "U0AMANDA")


# --- the chat -----------------------------------------------------------------------------------

def csp_violations(page) -> list[str]:
    """What the page's Content-Security-Policy refuses, as chromium reports it, as it happens."""
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text
            else None)
    return refused


def test_the_libraryh3lp_chat_snippet_shows_refdesks_widget_once(desk, new_page, library_site, screenshots):
    desk.on_duty("U0AMANDA")
    page = new_page()
    page.goto(f"{library_site}/chat.html")

    expect(launcher(page)).to_have_text(ONLINE)
    expect(launcher(page)).to_have_count(1)
    widget = page.locator("script#refdesk-widget")
    expect(widget).to_have_count(1)  # two snippets, one widget
    assert widget.get_attribute("src").startswith(desk.url("/_cdn/widget.js?v="))  # from the cache, as the loader
    assert widget.get_attribute("data-api") == desk.base_url  # the chat API is not behind the cache
    launcher(page).click()
    expect(panel(page)).to_be_visible()
    page.screenshot(path=str(screenshots / "libraryh3lp-chat-snippet.png"))


def test_a_direct_chat_link_through_the_cache_is_the_chat_panel_full_page(desk, new_page, marker, screenshots):
    desk.on_duty("U0AMANDA")
    page = new_page(width=1280, height=800)
    refused = csp_violations(page)
    page.goto(desk.url(DIRECT_CHAT))

    expect(panel(page)).to_be_visible()
    expect(composer(page)).to_be_visible()
    # The widget's full-page layout: the whole window, flat, open from the start, nothing to close.
    assert panel(page).bounding_box() == {"x": 0, "y": 0, "width": 1280, "height": 800}
    assert panel(page).evaluate("p => [getComputedStyle(p).borderRadius, getComputedStyle(p).boxShadow]") == ["0px", "none"]
    expect(page.locator(".refdesk-launcher")).to_be_hidden()
    expect(page.get_by_role("button", name="Close chat")).to_have_count(0)
    page.keyboard.press("Escape")
    expect(panel(page)).to_be_visible()
    # Opened before presence was known (the offline form's field had focus): the composer has it now.
    expect(composer(page)).to_be_focused()
    question = f"Is the direct chat link still working? ({marker})"
    send(page, question)
    desk.conversation_root(marker)  # it reached the staff channel: the page may reach the chat API
    page.screenshot(path=str(screenshots / "libraryh3lp-direct-chat.png"))
    assert refused == []


def test_a_direct_chat_link_works_in_the_frame_a_library_gave_it(desk, new_page, library_site):
    desk.on_duty("U0AMANDA")
    page = new_page()
    refused = csp_violations(page)
    page.goto(f"{library_site}/framed.html")

    chat = page.frame_locator("iframe")
    expect(chat.get_by_role("dialog", name="Ask a librarian")).to_be_visible()
    expect(chat.get_by_label("Type your question")).to_be_visible()
    assert refused == []
