"""local/cdn.py, CloudFront's stand-in: cache keys, lifetimes as CloudFront computes them from the
answer's Cache-Control and the path's cache policy, the headers a viewer sees, and the count of
requests that reached the origin. Its behaviours are template.yaml's own."""
from __future__ import annotations

import pytest

from local import cdn
from local.environment import LOCAL_PARAMETER_VALUES
from local.servers import Request, Response
from local.template import Template
from tests.conftest import ROOT

PRESENCE = cdn.CachePolicy(min_ttl=0, default_ttl=30, max_ttl=60, query_strings=frozenset({"cb"}))


class Origin:
    """An origin that answers with the Cache-Control it is given, and records what it was asked."""

    def __init__(self, cache_control: str = "public, max-age=30", status: int = 200):
        self.cache_control = cache_control
        self.status = status
        self.requests: list[Request] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        return Response(self.status, f"answer {len(self.requests)}".encode(),
                        [("content-type", "text/plain"), ("cache-control", self.cache_control)])


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


def edge(origin, clock, behaviors=None) -> cdn.Cdn:
    return cdn.Cdn(behaviors or cdn.behaviors(Template(ROOT / "template.yaml", LOCAL_PARAMETER_VALUES)), origin,
                   clock)


def get(cache: cdn.Cdn, path: str, query: str = "", method: str = "GET", headers=()) -> Response:
    return cache(Request(method, cdn.PREFIX + path, query, (("Host", "127.0.0.1:3000"), *headers), b"",
                         "203.0.113.9", "HTTP/1.1"))


def header(response: Response, name: str) -> str | None:
    return next((value for key, value in response.headers if key.lower() == name), None)


# --- the template's behaviours ------------------------------------------------------------

def test_the_behaviours_are_the_distributions_with_their_policies():
    found = {behavior.path_pattern: behavior.policy
             for behavior in cdn.behaviors(Template(ROOT / "template.yaml", LOCAL_PARAMETER_VALUES))}

    assert found == {
        "/presence*": cdn.CachePolicy(0, 30, 60, frozenset({"cb"})),
        "/widget.js": cdn.CachePolicy(0, 300, 31536000, frozenset({"v"})),
        # LibraryH3lp's chat snippet script and direct chat links: kept as the widget is.
        "/js/libraryh3lp.js": cdn.CachePolicy(0, 300, 31536000, frozenset({"v"})),
        "/chat/*@chat.*": cdn.CachePolicy(0, 300, 31536000, frozenset({"v"})),
        "/contact.vcf": cdn.CachePolicy(0, 3600, 86400, frozenset()),
    }


@pytest.mark.parametrize("path", ["/chat/sessions", "/chat/sessions/abc/messages", "/sms/inbound", "/slack/events",
                                  "/", "/widget.jsx", "/js/other.js"])
def test_a_path_the_distribution_does_not_cache_is_404_at_the_edge(clock, path):
    origin = Origin()

    response = get(edge(origin, clock), path)

    assert response.status == 404
    assert header(response, "x-cache") == "FunctionGeneratedResponse from cloudfront"
    assert origin.requests == []


# --- cache keys -----------------------------------------------------------------------------

def test_a_second_request_within_the_lifetime_is_a_hit_with_its_age(clock):
    origin = Origin()
    cache = edge(origin, clock)

    first = get(cache, "/presence")
    clock.now += 12.5
    second = get(cache, "/presence")

    assert len(origin.requests) == 1
    assert (header(first, "x-cache"), header(first, "age")) == ("Miss from cloudfront", None)
    assert (header(second, "x-cache"), header(second, "age")) == ("Hit from cloudfront", "12")
    assert second.body == first.body == b"answer 1"
    assert cache.counts() == {"origin_requests": 1, "hits": 1}


def test_listed_query_strings_make_keys_and_others_never_reach_the_origin(clock):
    origin = Origin()
    cache = edge(origin, clock)

    get(cache, "/presence/jid/ask/chat.example.edu/js", "cb=a&_=1700000000001")
    get(cache, "/presence/jid/ask/chat.example.edu/js", "_=1700000000002&cb=a")
    get(cache, "/presence/jid/ask/chat.example.edu/js", "cb=b")
    get(cache, "/presence/jid/ask/chat.example.edu/text")

    assert [(request.path, request.query) for request in origin.requests] == [
        ("/presence/jid/ask/chat.example.edu/js", "cb=a"),
        ("/presence/jid/ask/chat.example.edu/js", "cb=b"),
        ("/presence/jid/ask/chat.example.edu/text", ""),
    ]


def test_the_origin_gets_none_of_the_viewers_headers(clock):
    origin = Origin()

    get(edge(origin, clock), "/presence", headers=(("Origin", "https://library.example.edu"), ("Cookie", "a=1")))

    assert dict(origin.requests[0].headers) == {"Host": "127.0.0.1:3000", "User-Agent": "Amazon CloudFront",
                                                "Via": cdn.VIA}


def test_head_and_get_are_kept_apart(clock):
    origin = Origin("public, max-age=3600")
    cache = edge(origin, clock)

    get(cache, "/contact.vcf", method="HEAD")
    got = get(cache, "/contact.vcf")

    assert [request.method for request in origin.requests] == ["HEAD", "GET"]
    assert header(got, "x-cache") == "Miss from cloudfront"


# --- lifetimes ------------------------------------------------------------------------------

def test_an_answer_expires_after_its_max_age(clock):
    origin = Origin("public, max-age=30")
    cache = edge(origin, clock)

    get(cache, "/presence")
    clock.now += 29.9
    get(cache, "/presence")
    clock.now += 0.1
    third = get(cache, "/presence")

    assert len(origin.requests) == 2
    assert header(third, "x-cache") == "Miss from cloudfront"


@pytest.mark.parametrize("cache_control, status, seconds", [
    ("public, max-age=30", 200, 30),
    ("public, max-age=10, s-maxage=45", 200, 45),   # s-maxage is the shared caches'
    ("public, max-age=3600", 200, 60),              # never past MaxTTL
    ("", 200, 30),                                  # DefaultTTL
    ("no-store", 200, 0),
    ("private, max-age=600", 200, 0),
    ("public, max-age=30", 404, 30),
    ("", 500, cdn.ERROR_CACHING_MIN_TTL),           # errors: at least the error caching minimum
    ("public, max-age=2", 404, cdn.ERROR_CACHING_MIN_TTL),
    ("no-cache", 404, 0),
    ("public, max-age=30", 429, 0),                 # not one of the errors CloudFront caches
])
def test_lifetime_as_cloudfront_computes_it(cache_control, status, seconds):
    assert PRESENCE.ttl(status, cache_control) == seconds


def test_an_immutable_versioned_widget_is_kept_a_year(clock):
    origin = Origin("public, max-age=31536000, immutable")
    cache = edge(origin, clock)

    get(cache, "/widget.js", "v=abc")
    clock.now += 364 * 24 * 3600
    get(cache, "/widget.js", "v=abc")
    get(cache, "/widget.js")

    assert [request.query for request in origin.requests] == ["v=abc", ""]


def test_every_libraryh3lp_snippet_id_and_chat_link_query_shares_one_entry_for_5_minutes(clock):
    origin = Origin("public, max-age=300")
    cache = edge(origin, clock)

    for query in ("7421", "13843", ""):
        get(cache, "/js/libraryh3lp.js", query)
    for query in ("skin=11342", "skin=13780&identity=Librarian"):
        get(cache, "/chat/ask@chat.libraryh3lp.com", query)
    clock.now += 301
    get(cache, "/js/libraryh3lp.js", "7421")

    assert [(request.path, request.query) for request in origin.requests] == [
        ("/js/libraryh3lp.js", ""), ("/chat/ask@chat.libraryh3lp.com", ""), ("/js/libraryh3lp.js", "")]


def test_an_error_is_counted_and_marked_but_kept_briefly(clock):
    origin = Origin("public, max-age=30", status=404)
    cache = edge(origin, clock)

    first = get(cache, "/presence/jid/ask/nothost/js")
    second = get(cache, "/presence/jid/ask/nothost/js")
    clock.now += 31
    get(cache, "/presence/jid/ask/nothost/js")

    assert [header(first, "x-cache"), header(second, "x-cache")] == ["Error from cloudfront"] * 2
    assert len(origin.requests) == 2


def test_only_get_and_head_are_served(clock):
    origin = Origin()

    assert get(edge(origin, clock), "/presence", method="POST").status == 403
    assert origin.requests == []


def test_the_counts_are_read_at_the_control_path(clock):
    cache = edge(Origin(), clock)
    get(cache, "/presence")
    get(cache, "/presence")

    response = cache(Request("GET", cdn.CONTROL_PATH, "", (), b"", "127.0.0.1", "HTTP/1.1"))

    assert response.status == 200
    assert response.body == b'{"origin_requests": 1, "hits": 1}'
    assert cache.serves(cdn.CONTROL_PATH) and cache.serves("/_cdn/presence") and not cache.serves("/presence")
