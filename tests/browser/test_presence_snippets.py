"""Existing LibraryH3lp presence snippets, unchanged but for the host, on a library page of
another origin (a server of its own on another port): the text and xml formats read with fetch
(which needs the CORS header, on 404s too), the js format with its callback, and images for a
queue, a user JID and a theme."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from playwright import sync_api

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


@pytest.fixture
def library_site(desk):
    """The library's web site: one page with the snippets, pointed at the API."""
    page = SNIPPETS.format(api=desk.base_url).encode()

    class Site(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200 if self.path == "/ask.html" else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(page if self.path == "/ask.html" else b"")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/ask.html"
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
    offline = library_page(new_page, library_site)
    for element_id in ("text", "xml", "js"):
        expect(offline.locator(f"#{element_id}")).to_have_text("unavailable")
    expect(offline.locator("#missing")).to_have_text("404")  # readable: the 404 kept its CORS header
    offline_badge = image_size(offline, "queue-image")
    assert offline_badge[0] > 0, "the queue's image is broken"
    assert image_size(offline, "user-image") == offline_badge
    assert image_size(offline, "dot") == [16, 16]

    desk.on_duty("U0AMANDA")
    online = library_page(new_page, library_site)
    try:
        for element_id in ("text", "xml", "js"):
            expect(online.locator(f"#{element_id}")).to_have_text("available")
        online_badge = image_size(online, "queue-image")
        assert online_badge[0] > 0 and online_badge != offline_badge  # "Chat online" is the shorter badge
        assert image_size(online, "user-image") == online_badge
        online.screenshot(path=str(screenshots / "libraryh3lp-snippets-online.png"))
    finally:
        desk.command("off", "U0AMANDA")
