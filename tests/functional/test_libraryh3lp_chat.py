"""Issue 19, item 9: LibraryH3lp's chat snippet script (/js/libraryh3lp.js?{id}) and direct chat
links (/chat/{queue}@chat.libraryh3lp.com), answered by functions/presence with RefDesk's widget,
through events built by the local gateway for template.yaml's routes."""
from __future__ import annotations

import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pytest

from tests.conftest import PUBLIC_BASE_URL, http_event, invoke

WIDGET = Path(__file__).resolve().parents[2] / "functions" / "presence" / "static" / "widget.js"
WIDGET_VERSION = hashlib.sha256(WIDGET.read_bytes()).hexdigest()[:12]
CHAT = "/chat/ask-us@chat.libraryh3lp.com"


def library_named(monkeypatch, name: str) -> None:
    from refdesk.settings import get_settings

    monkeypatch.setenv("LIBRARY_NAME", name)
    get_settings.cache_clear()


def get(path: str, query: str = "") -> dict:
    return invoke("presence", http_event("GET", path, query=query))


def loader_config(response: dict) -> dict:
    """What the loader script injects: the widget's URL (relative to the script's) and data."""
    assert response["statusCode"] == 200, response
    [config] = re.findall(r"widget = (\{.*?\});\n", response["body"])
    return json.loads(config)


class Scripts(HTMLParser):
    def __init__(self, page: str):
        super().__init__()
        self.tags: list[dict] = []
        self.inline: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.tags.append(dict(attrs))

    def handle_data(self, data):
        if self.lasttag == "script" and data.strip():
            self.inline.append(data)


def csp(response: dict) -> dict[str, str]:
    policy = response["headers"]["content-security-policy"]
    return {name: value for name, _, value in (part.strip().partition(" ") for part in policy.split(";"))}


# --- /js/libraryh3lp.js ----------------------------------------------------------------------

@pytest.mark.parametrize("query", ["7421", "13843", "", "7421&_=1701"])
def test_the_snippet_script_loads_the_current_widget_beside_it_whatever_the_snippet_id(aws, monkeypatch, query):
    library_named(monkeypatch, "Riverside Public Library")

    response = get("/js/libraryh3lp.js", query)

    assert response["headers"]["content-type"] == "application/javascript; charset=utf-8"
    assert response["headers"]["cache-control"] == "public, max-age=300"  # as the unversioned /widget.js
    config = loader_config(response)
    assert config == {"src": f"../widget.js?v={WIDGET_VERSION}",
                      "data": {"api": PUBLIC_BASE_URL, "library": "Riverside Public Library"}}
    # Beside the loader, through the cache or on the API alike: the versioned widget, kept a year.
    widget_url = urljoin(f"{PUBLIC_BASE_URL}/js/libraryh3lp.js", config["src"])
    assert widget_url == f"{PUBLIC_BASE_URL}/widget.js?v={WIDGET_VERSION}"
    widget = get("/widget.js", f"v={WIDGET_VERSION}")
    assert widget["statusCode"] == 200 and "immutable" in widget["headers"]["cache-control"]
    assert widget["body"] == WIDGET.read_text(encoding="utf-8")


def test_the_snippet_script_runs_once_and_only_where_it_knows_its_own_url(aws):
    body = get("/js/libraryh3lp.js", "7421")["body"]

    guard = "if (!me || window.RefDeskWidget || document.getElementById('refdesk-widget')) return;"
    assert guard in body and "tag.id = 'refdesk-widget';" in body
    assert "new URL(widget.src, me.src)" in body  # beside the loader: /widget.js, or /_cdn/widget.js locally
    assert len(body.encode()) < 1024


def test_without_a_library_name_the_widget_gets_only_the_api(aws, monkeypatch):
    library_named(monkeypatch, "")

    assert loader_config(get("/js/libraryh3lp.js", "7421"))["data"] == {"api": PUBLIC_BASE_URL}


def test_a_library_name_cannot_end_the_loader_script(aws, monkeypatch):
    library_named(monkeypatch, "Riverside </script><script>alert(1)</script>")

    response = get("/js/libraryh3lp.js", "7421")

    assert "</script>" not in response["body"]
    assert loader_config(response)["data"]["library"] == "Riverside </script><script>alert(1)</script>"


# --- /chat/{queue}@chat.libraryh3lp.com ------------------------------------------------------------

@pytest.mark.parametrize("jid", ["ask-us@chat.libraryh3lp.com", "bodleian-livechat@chat.eu.libraryh3lp.com",
                                 "su_allstaff.2@chat.ca.libraryh3lp.com"])
@pytest.mark.parametrize("query", ["", "skin=11342", "skin=13780&theme=gtalk&title=Ask-A-Librarian&identity=Librarian"])
def test_a_direct_chat_link_is_a_page_that_loads_the_widget_full_page(aws, monkeypatch, jid, query):
    library_named(monkeypatch, "Riverside Public Library")

    response = get(f"/chat/{jid}", query)

    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "text/html; charset=utf-8"
    assert response["headers"]["cache-control"] == "public, max-age=300"
    page = Scripts(response["body"])
    assert page.tags[0] == {"src": f"../widget.js?v={WIDGET_VERSION}", "data-api": PUBLIC_BASE_URL,
                            "data-library": "Riverside Public Library", "data-layout": "page"}
    assert urljoin(f"{PUBLIC_BASE_URL}/chat/{jid}", page.tags[0]["src"]) == f"{PUBLIC_BASE_URL}/widget.js?v={WIDGET_VERSION}"
    # The widget's own full-page layout opens the panel: no inline script, no style overriding it.
    assert page.inline == [] and len(page.tags) == 1
    assert "<style" not in response["body"] and "!important" not in response["body"]
    assert "<title>Chat with Riverside Public Library</title>" in response["body"]


def test_the_page_may_run_only_the_widget_and_reach_only_the_desk(aws):
    response = get(CHAT, "skin=11342")

    policy = csp(response)
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"  # no inline script, no other host
    assert policy["style-src"] == "'unsafe-inline'"  # the widget's own <style>, as on /privacy.html
    # Presence beside the page, the chat API, and the live connection's host (template.yaml's LIVE_URL).
    self_, api, live = policy["connect-src"].split()
    assert (self_, api) == ("'self'", PUBLIC_BASE_URL) and re.fullmatch(r"wss://[^/]+\.amazonaws\.com", live)
    assert (policy["base-uri"], policy["form-action"]) == ("'none'", "'none'")
    # Libraries frame LibraryH3lp's chat in their pages: so may they frame this one.
    assert policy["frame-ancestors"] == "*"
    assert response["headers"]["x-content-type-options"] == "nosniff"
    assert response["headers"]["referrer-policy"] == "no-referrer"
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", response["body"])  # nothing from elsewhere


def test_a_library_name_is_text_on_the_page(aws, monkeypatch):
    library_named(monkeypatch, 'Riverside "<b>Public</b>" & Co')

    response = get(CHAT)

    assert "<b>" not in response["body"]
    assert Scripts(response["body"]).tags[0]["data-library"] == 'Riverside "<b>Public</b>" & Co'


@pytest.mark.parametrize("jid", [
    "sessions",                                # the chat API's path, with GET
    "ask-us",                                  # no host
    "@chat.libraryh3lp.com",                   # no queue
    "ask-us@libraryh3lp.com",                  # a user's server, not a queue's
    "ask-us@example.org",
    "ask us@chat.libraryh3lp.com",
    "<script>@chat.libraryh3lp.com",
    "ask-us@chat.libraryh3lp.com@example.org",
    "a" * 101 + "@chat.libraryh3lp.com",       # longer than a LibraryH3lp name
    "ask-us@chat." + "a" * 100,
])
def test_anything_but_a_queues_jid_is_a_404_any_page_may_read(aws, jid):
    response = get(f"/chat/{jid}")

    assert response["statusCode"] == 404
    assert json.loads(response["body"])["error"]["code"] == "not_found"
    assert response["headers"]["access-control-allow-origin"] == "*"
    assert "content-security-policy" not in response["headers"]
