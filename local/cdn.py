"""The local stand-in for CloudFront (template.yaml's CacheDistribution), under /_cdn: the paths
the distribution caches are answered from a cache kept as CloudFront keeps it, so that what a
page gets through the cache, and how often the functions are asked, can be seen locally
(/_cdn/presence, /_cdn/presence/jid/…, /_cdn/widget.js, /_cdn/js/libraryh3lp.js,
/_cdn/chat/…, /_cdn/contact.vcf).

* One entry per cache key: method, path and the query strings the path's cache policy lists.
  Other query strings are dropped before the origin sees them, as CloudFront drops them, and
  so are the viewer's headers (no origin request policy).
* An answer is kept for its s-maxage, else its max-age, within the policy's MinTTL and MaxTTL
  (DefaultTTL when it has neither); with no-store, no-cache or private only for MinTTL (0 in
  every policy here). An error is kept at least CloudFront's 10-second error caching.
* Answers carry `x-cache` (Hit, Miss or Error from cloudfront) and, from the cache, `age`.
  Every other path under /_cdn is answered 404, as the distribution's 404 function does, and
  a method other than GET or HEAD 403, as CloudFront does.
* GET /_local/api/cdn: the requests that reached the origin (the HTTP API, each one a function
  invocation when the path has a route) and the hits.

Not modelled: compression, the response headers policy, stale-while-revalidate (an expired entry
is a miss: the origin is asked either way), edge locations (one cache here), early eviction."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from urllib.parse import parse_qsl, urlencode

from local.servers import Request, Response, json_response

PREFIX = "/_cdn"
CONTROL_PATH = "/_local/api/cdn"
ERROR_CACHING_MIN_TTL = 10  # CloudFront's default for the errors it caches
CACHED_ERRORS = frozenset({400, 403, 404, 405, 414, 500, 501, 502, 503, 504})
NOT_KEPT = frozenset({"no-store", "no-cache", "private"})
VIA = "1.1 local.cloudfront.net (CloudFront)"


@dataclass(frozen=True)
class CachePolicy:
    min_ttl: int
    default_ttl: int
    max_ttl: int
    query_strings: frozenset[str]

    def ttl(self, status: int, cache_control: str) -> int:
        """Seconds CloudFront keeps an answer with this status and Cache-Control; 0: not kept."""
        directives = dict(part.strip().lower().partition("=")[::2] for part in cache_control.split(",")
                          if part.strip())
        stated = directives.get("s-maxage", directives.get("max-age"))
        not_kept = bool(NOT_KEPT & directives.keys())
        if status >= 400:
            if status not in CACHED_ERRORS or (not_kept and status in (404, 414, 501)):
                return 0
            return max(min(int(stated), self.max_ttl) if stated else 0, ERROR_CACHING_MIN_TTL)
        if not_kept:
            return self.min_ttl
        if stated is None:
            return self.default_ttl
        return min(max(int(stated), self.min_ttl), self.max_ttl)


@dataclass(frozen=True)
class Behavior:
    path_pattern: str  # CloudFront's: * and ? wildcards, case-sensitive
    policy: CachePolicy

    def takes(self, path: str) -> bool:
        return fnmatchcase(path, self.path_pattern)


def behaviors(template) -> list[Behavior]:
    """The distribution's cache behaviours in template.yaml, in order, each with its cache policy."""
    [distribution] = template.resources("AWS::CloudFront::Distribution").values()
    policies = template.resources("AWS::CloudFront::CachePolicy")
    found = []
    for behavior in distribution["DistributionConfig"]["CacheBehaviors"]:
        config = policies[behavior["CachePolicyId"]["Ref"]]["CachePolicyConfig"]
        query_strings = config["ParametersInCacheKeyAndForwardedToOrigin"]["QueryStringsConfig"]
        found.append(Behavior(behavior["PathPattern"], CachePolicy(
            config["MinTTL"], config["DefaultTTL"], config["MaxTTL"],
            frozenset(query_strings.get("QueryStrings", [])))))
    return found


@dataclass(frozen=True)
class _Entry:
    response: Response
    stored_at: float
    ttl: int


class Cdn:
    """`Cdn(behaviors, origin)` answers the requests under PREFIX and CONTROL_PATH; `origin` is
    what the HTTP API answers a request (the gateway's routes). `clock` gives seconds."""

    def __init__(self, cache_behaviors: Iterable[Behavior], origin: Callable[[Request], Response],
                 clock: Callable[[], float] = time.monotonic):
        self._behaviors = list(cache_behaviors)
        self._origin = origin
        self._clock = clock
        self._entries: dict[tuple, _Entry] = {}
        # One request at a time, like CloudFront's request collapsing: concurrent misses of one
        # key make one origin request.
        self._lock = threading.Lock()
        self.origin_requests = 0
        self.hits = 0

    def serves(self, path: str) -> bool:
        return path == CONTROL_PATH or path.startswith(PREFIX + "/")

    def __call__(self, request: Request) -> Response:
        if request.path == CONTROL_PATH:
            if request.method != "GET":
                return json_response(405, {"message": "Method Not Allowed"})
            return json_response(200, self.counts())
        path = request.path[len(PREFIX):]
        behavior = next((behavior for behavior in self._behaviors if behavior.takes(path)), None)
        if behavior is None:
            return Response(404, b"", [("X-Cache", "FunctionGeneratedResponse from cloudfront"), ("Via", VIA)])
        if request.method not in ("GET", "HEAD"):  # the behaviours' AllowedMethods
            return Response(403, b"", [("X-Cache", "Error from cloudfront"), ("Via", VIA)])
        query = [(name, value) for name, value in parse_qsl(request.query, keep_blank_values=True)
                 if name in behavior.policy.query_strings]
        key = (request.method, path, tuple(sorted(query)))
        with self._lock:
            now = self._clock()
            entry = self._entries.get(key)
            if entry and now < entry.stored_at + entry.ttl:
                self.hits += 1
                return _viewed(entry.response, "Hit", age=int(now - entry.stored_at))
            self.origin_requests += 1
            response = self._origin(replace(request, path=path, query=urlencode(query), headers=(
                ("Host", request.header("host")), ("User-Agent", "Amazon CloudFront"), ("Via", VIA))))
            ttl = behavior.policy.ttl(response.status, _header(response, "cache-control"))
            self._entries = {cached: kept for cached, kept in self._entries.items() if now < kept.stored_at + kept.ttl}
            if ttl:
                self._entries[key] = _Entry(response, now, ttl)
            return _viewed(response, "Miss")

    def counts(self) -> dict:
        with self._lock:
            return {"origin_requests": self.origin_requests, "hits": self.hits}


def _header(response: Response, name: str) -> str:
    return next((value for key, value in response.headers if key.lower() == name), "")


def _viewed(response: Response, outcome: str, age: int | None = None) -> Response:
    """The answer as a viewer gets it from the edge."""
    outcome = "Error" if response.status >= 400 else outcome
    added = [("X-Cache", f"{outcome} from cloudfront"), ("Via", VIA)] + ([("Age", str(age))] if age is not None else [])
    return Response(response.status, response.body, [*response.headers, *added])
