"""Presence, widget.js and the contact card through the local stand-in for CloudFront (/_cdn,
local/cdn.py), over HTTP against the local stack: the functions are asked once per cache key and
lifetime, and the LibraryH3lp-compatible URLs keep working through it. Each test uses names of
its own, so that no other request has filled its cache keys."""
from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import pytest

from local.cdn import CONTROL_PATH, PREFIX
from tests.e2e.conftest import ROOT


def origin_requests(stack) -> int:
    return stack.get_json(CONTROL_PATH)["origin_requests"]


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def test_two_presence_requests_within_60_s_make_one_invocation(stack):
    before = origin_requests(stack)
    path = f"{PREFIX}/presence/jid/{unique('ask')}/chat.library.example.edu/text"

    first, second = stack.get(path), stack.get(path)

    assert origin_requests(stack) - before == 1
    assert (first.status_code, first.text) == (second.status_code, second.text) == (200, "unavailable")
    assert first.headers["x-cache"] == "Miss from cloudfront" and "age" not in first.headers
    assert second.headers["x-cache"] == "Hit from cloudfront" and 0 <= int(second.headers["age"]) < 60
    assert second.headers["cache-control"] == "public, max-age=60, stale-while-revalidate=60"


def test_different_callbacks_are_different_keys_and_other_query_strings_are_not(stack):
    path = f"{PREFIX}/presence/jid/{unique('ask')}/chat.library.example.edu/js"
    before = origin_requests(stack)

    first = stack.get(path, params={"cb": "showStatus", "_": "1700000000001"})
    again = stack.get(path, params={"_": "1700000000002", "cb": "showStatus"})
    other = stack.get(path, params={"cb": "lh3Update"})

    assert origin_requests(stack) - before == 2
    assert first.text.rstrip().endswith("showStatus();") and again.text == first.text
    assert again.headers["x-cache"] == "Hit from cloudfront"
    assert other.text.rstrip().endswith("lh3Update();")


@pytest.mark.parametrize("fmt, content_type", [
    ("text", "text/plain; charset=utf-8"),
    ("xml", "text/xml; charset=utf-8"),
    ("js", "application/javascript; charset=utf-8"),
    ("image", "image/png"),
    ("image/dot", "image/png"),
])
def test_libraryh3lp_urls_keep_working_through_the_cache(stack, fmt, content_type):
    for host in ("chat.library.example.edu", "libraryh3lp.com"):  # a queue and a user
        path = f"{PREFIX}/presence/jid/{unique('desk')}/{host}/{fmt}"

        first, second = stack.get(path), stack.get(path)

        for response in (first, second):
            assert response.status_code == 200, response.text
            assert response.headers["content-type"] == content_type
            assert response.headers["access-control-allow-origin"] == "*"
        assert second.content == first.content
        assert [first.headers["x-cache"], second.headers["x-cache"]] == ["Miss from cloudfront", "Hit from cloudfront"]


def test_a_malformed_presence_url_is_404_and_kept_briefly(stack):
    path = f"{PREFIX}/presence/jid/{unique('ask')}/not-a-chat-host/js"
    before = origin_requests(stack)

    first, second = stack.get(path), stack.get(path)

    assert first.status_code == second.status_code == 404
    assert first.headers["access-control-allow-origin"] == "*"
    assert first.headers["x-cache"] == "Error from cloudfront"
    assert origin_requests(stack) - before == 1


def test_the_versioned_widget_presence_names_is_kept_a_year_and_the_pasted_tag_5_minutes(stack):
    versioned = urlsplit(stack.get_json(f"{PREFIX}/presence", cb=unique("fresh"))["widget"])

    pinned = stack.get(f"{PREFIX}{versioned.path}?{versioned.query}")
    pasted = stack.get(f"{PREFIX}/widget.js")

    assert pinned.status_code == pasted.status_code == 200
    assert pinned.content == pasted.content == (ROOT / "functions" / "presence" / "static" / "widget.js").read_bytes()
    assert pinned.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert pasted.headers["cache-control"] == "public, max-age=300"


def test_the_contact_card_answers_head_and_get_through_the_cache(stack):
    head, got = stack.http.head(stack.url(f"{PREFIX}/contact.vcf"), timeout=30), stack.get(f"{PREFIX}/contact.vcf")

    assert head.status_code == got.status_code == 200
    assert head.headers["content-type"] == got.headers["content-type"] == "text/vcard; charset=utf-8"
    assert got.text.startswith("BEGIN:VCARD")


@pytest.mark.parametrize("method, path", [("GET", "/chat/sessions"), ("POST", "/chat/sessions"),
                                          ("POST", "/sms/inbound"), ("GET", "/")])
def test_what_is_not_cached_is_not_served_through_the_cache(stack, method, path):
    before = origin_requests(stack)

    response = stack.http.request(method, stack.url(PREFIX + path), timeout=30)

    assert response.status_code == 404
    assert origin_requests(stack) == before
