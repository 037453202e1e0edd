"""LibraryH3lp parity for presence (issue 7, item 6), through functions/presence with events
built by the local gateway for template.yaml's routes: the user-JID form
/presence/jid/{user}/libraryh3lp.com/{format}, the image format and image/{theme}, and 404s
that keep `access-control-allow-origin: *` so that a page's script can still read them."""
from __future__ import annotations

import base64
import json
import struct
import urllib.parse
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import fixture, http_event, invoke, slack_event

FORM = "application/x-www-form-urlencoded"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def get(path: str, query: str = "") -> dict:
    return invoke("presence", http_event("GET", path, query=query, headers={"Accept": "*/*"}))


def header(response: dict, name: str) -> str | None:
    return {key.lower(): value for key, value in (response.get("headers") or {}).items()}.get(name)


def on_duty(user_id: str = "U0AMANDA") -> None:
    form = {**fixture("slack_command_on.json"), "text": "on", "user_id": user_id}
    answer = invoke("slack_commands", slack_event("/slack/commands", urllib.parse.urlencode(form), FORM))
    assert answer["statusCode"] == 200, answer


def png_of(response: dict) -> tuple[int, int]:
    """(width, height) of a PNG answer, after checking it is one."""
    assert response["statusCode"] == 200, response
    assert header(response, "content-type") == "image/png"
    assert response["isBase64Encoded"] is True
    data = base64.b64decode(response["body"])
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def image_bytes(response: dict) -> bytes:
    png_of(response)
    return base64.b64decode(response["body"])


# --- the user-JID form -------------------------------------------------------------------

@pytest.mark.parametrize("host", ["libraryh3lp.com", "ca.libraryh3lp.com"])
def test_a_user_jid_says_whether_the_desk_is_available(aws, host):
    before = get(f"/presence/jid/amanda.reyes/{host}/text")
    on_duty()
    after = get(f"/presence/jid/amanda.reyes/{host}/text")

    assert (before["statusCode"], before["body"]) == (200, "unavailable")
    assert (after["statusCode"], after["body"]) == (200, "available")
    assert header(after, "content-type").startswith("text/plain")


def test_a_user_jid_in_xml_names_the_user_and_libraryh3lp_server(aws):
    on_duty()

    response = get("/presence/jid/amanda.reyes/libraryh3lp.com/xml")

    root = ET.fromstring(response["body"])
    assert root.attrib == {"user": "amanda.reyes", "server": "libraryh3lp.com"}
    assert [resource.attrib["show"] for resource in root.findall("resource")] == ["available"]


def test_a_user_jid_in_js_calls_the_callback(aws):
    response = get("/presence/jid/amanda.reyes/libraryh3lp.com/js", query="cb=lh3Update")

    assert response["statusCode"] == 200
    assert "var jabber_user=\"amanda.reyes\";" in response["body"]
    assert "var jabber_server=\"libraryh3lp.com\";" in response["body"]
    assert response["body"].rstrip().endswith("lh3Update();")


@pytest.mark.parametrize("path", ["/presence/jid/amanda/libraryh3lp.com/text",
                                  "/presence/jid/amanda/libraryh3lp.com/image",
                                  "/presence/jid/amanda/libraryh3lp.com/image/dot"])
def test_user_jid_answers_can_be_read_from_any_site_and_cached_briefly(aws, path):
    response = get(path)

    assert response["statusCode"] == 200
    assert header(response, "access-control-allow-origin") == "*"
    assert header(response, "cache-control") == "public, max-age=60, stale-while-revalidate=60"


# --- the image format --------------------------------------------------------------------

@pytest.mark.parametrize("jid", ["ask-us/chat.libraryh3lp.com", "amanda/libraryh3lp.com",
                                 "ask/chat.refdesk.example.org"])
def test_image_is_an_online_or_offline_png(aws, jid):
    offline = image_bytes(get(f"/presence/jid/{jid}/image"))
    on_duty()
    online = image_bytes(get(f"/presence/jid/{jid}/image"))

    assert online != offline
    assert all(60 <= width <= 200 and 12 <= height <= 40 for width, height in
               (struct.unpack(">II", data[16:24]) for data in (online, offline)))


def test_image_follows_opening_hours_like_the_other_formats(aws, monkeypatch):
    from refdesk.settings import get_settings

    on_duty()
    online = image_bytes(get("/presence/jid/ask-us/chat.libraryh3lp.com/image"))
    today = datetime.now(ZoneInfo("America/New_York")).date()
    monkeypatch.setenv("HOLIDAYS", ",".join(str(today + timedelta(days=n)) for n in (-1, 0, 1)))  # closed
    get_settings.cache_clear()

    closed = image_bytes(get("/presence/jid/ask-us/chat.libraryh3lp.com/image"))

    assert get("/presence/jid/ask-us/chat.libraryh3lp.com/text")["body"] == "unavailable"
    assert closed != online
    assert closed == image_bytes(get("/presence/jid/nobody/libraryh3lp.com/image"))


def test_image_with_a_theme_draws_that_theme(aws):
    on_duty()

    dot = get("/presence/jid/ask-us/chat.libraryh3lp.com/image/dot")
    default = get("/presence/jid/ask-us/chat.libraryh3lp.com/image/simpletext")

    assert png_of(dot) == (16, 16)
    assert image_bytes(default) == image_bytes(get("/presence/jid/ask-us/chat.libraryh3lp.com/image"))


def test_a_theme_refdesk_does_not_draw_still_gets_a_picture(aws):
    themed = get("/presence/jid/ask-us/chat.libraryh3lp.com/image/lh3-blue-buttons")

    assert image_bytes(themed) == image_bytes(get("/presence/jid/ask-us/chat.libraryh3lp.com/image"))


# --- not found, still readable from any site ----------------------------------------------

@pytest.mark.parametrize("path", [
    "/presence/jid/ask-us/chat.libraryh3lp.com/json",  # an unknown format
    "/presence/jid/ask-us/chat.libraryh3lp.com/IMAGE",
    "/presence/jid/ask-us/refdesk.example.org/text",  # neither a chat host nor LibraryH3lp's domain
    "/presence/jid/ask-us/libraryh3lp.com.example.org/image",
    "/presence/jid/ask<script>/libraryh3lp.com/js",  # not a plain name
    "/presence/jid/amanda/libraryh3lp.com/image/not!a*theme",
    "/presence/jid/amanda/example.org/image/dot",
])
def test_every_not_found_answer_keeps_its_cors_header_and_says_why(aws, path, caplog):
    response = get(path)

    assert response["statusCode"] == 404
    assert header(response, "access-control-allow-origin") == "*"
    assert json.loads(response["body"])["error"]["code"] == "not_found"
    refused = [record for record in caplog.records if record.getMessage() == "request refused"]
    assert [(record.status, record.code) for record in refused] == [(404, "not_found")]


def test_a_not_found_answer_costs_no_database_read(aws, monkeypatch):
    from refdesk import presence

    monkeypatch.setattr(presence, "current", lambda *args: pytest.fail("presence was read"))

    assert get("/presence/jid/ask-us/chat.libraryh3lp.com/html")["statusCode"] == 404
    assert get("/presence/jid/amanda/libraryh3lp.com/image/a.b!c")["statusCode"] == 404
