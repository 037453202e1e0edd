"""HTTP for the API functions: a small router of RefDesk's own for API Gateway's HTTP API
(payload 2.0), so that each functions/<name>/app.py only declares its routes on a `Router` and
says `app = Api(router)`. It is not Powertools' APIGatewayHttpResolver: importing that imports
every resolver Powertools has (AppSync, Bedrock, asyncio …), a quarter of a webhook's cold start
beyond boto3 (issue 18).

What `Api` does, once for every function:

* Routes: `@router.get("/chat/sessions/<id>/messages")` (`.post`, `.delete`, or
  `.route(path, method=[...])`) matched against the raw (percent-encoded) path and the method.
  Route variables (`<id>`, named as in template.yaml) are API Gateway's decoded pathParameters,
  which matched the same template route; an event without them did not come through that route.
  Neither a path nor a method without a route is told apart: both are 404 `not_found`, as API
  Gateway itself answers a route it does not have.
* Domain errors (`refdesk.errors.RefDeskError`) become JSON answers here and nowhere else:
  the error's status, `{"error": {"code", "message"}}`, `retry-after` on 429 and 503, and one
  warning line "request refused" (status, code, reason, route; never the body).
* AWS busy or out of reach (throttling, its 5xx, a lost connection: `refdesk.retry.is_transient`)
  after the clients' own retries (refdesk.clients) is a 503 with Retry-After, never a 500: Slack
  (and Twilio, as its webhook's retry policy says) delivers again, and a webhook's writes are one
  conditional write then one send, so the next delivery finds what got through
  (refdesk.conversations.accept). Any other exception
  is a bug and is raised: Lambda reports it and the function's Errors alarm fires.
* The request body guard, before any route (or 404) runs, because webhooks need the raw bytes:
  at most 64 KiB (512 KiB for Slack's events, which may carry a 40,000-character message),
  strict base64 when API Gateway encoded it, UTF-8 and content type checked when read
  (`Request.text`, `.form`, `.json`). Signatures are checked over these bytes (refdesk.signatures).
* JSON from outside (`Request.json`, and `refdesk.shapes.parse_json` for JSON carried in a form
  field, as Slack's interactivity `payload`) is strict, interoperable JSON (RFC 8259, I-JSON): NaN,
  Infinity, 1e999, integers beyond ±(2**53 - 1) and lone UTF-16 surrogates (a "\\ud83d" escape:
  half an emoji, which Python's json accepts but no UTF-8 encoder, SQS, DynamoDB or Slack does)
  are a 400 here, before any route sees them.
* For the browser-facing chat API, `allowed_origins`: a browser request from any other Origin is
  refused with 403 `origin_not_allowed`, preflights included; an allowed Origin is echoed on
  every answer, errors included (exposing Retry-After, allowing the authorization and
  content-type headers, preflights cached 600 s), and its preflight (OPTIONS) is a 204 naming the
  API's methods. Requests without an Origin (servers, curl) are not browsers and pass.
* `headers` that every answer carries, errors and 404s included (presence: `access-control-
  allow-origin: *`). Header names are answered in lower case; bytes bodies base64-encoded.

Lambda runs one request at a time in a process, and the layer (the request a route reads with
`request(router)`, settings, clients, Powertools' logger and metrics) is written for that:
`Api.resolve` makes in-process runners with threads (the local stack, the tests) take turns."""
from __future__ import annotations

import base64
import binascii
import json
import math
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from aws_lambda_powertools import Logger

from refdesk.errors import (BadRequest, Forbidden, NotFound, PayloadTooLarge, RateLimited, RefDeskError, RetryLater,
                            UnsupportedMediaType)
from refdesk import observability, retry
from refdesk.observability import count
from refdesk.shapes import parse_json

logger = Logger(child=True)

__all__ = ["Api", "Request", "Response", "Router", "error_response", "json_response", "lambda_handler",
           "request", "respond"]

MAX_WEBHOOK_BODY = 64 * 1024
# Slack's own limit is a 40,000-character message; its event can hold that twice (text and
# blocks) in 4-byte characters, plus the envelope.
MAX_SLACK_EVENT_BODY = 512 * 1024
FORM = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"
TEXT = "text/plain; charset=utf-8"
PREFLIGHT_MAX_AGE = 600
# What the widget sends and what it reads of an answer (refdesk.channels.web).
CORS_ALLOWED_HEADERS = "Authorization,Content-Type"
CORS_EXPOSED_HEADERS = "Retry-After"
# Retry-After of a 503 when AWS was busy: a throttled DynamoDB usually recovers within seconds.
BUSY_RETRY_SECONDS = 5
# A route variable, <name>, matches one path segment as API Gateway received it (percent-encoded).
ROUTE_VARIABLE = re.compile(r"<(\w+)>")
# One request at a time in the whole process, as in Lambda (see above).
_ONE_AT_A_TIME = threading.Lock()


@dataclass(frozen=True)
class Request:
    """What a route needs of the request: the guarded body bytes and the parts of the event that
    signatures and the domain use."""

    method: str
    path: str
    raw_query: str
    headers: dict
    query: dict
    body: bytes
    source_ip: str
    domain: str

    @classmethod
    def from_event(cls, event: Mapping, *, max_body: int = MAX_WEBHOOK_BODY) -> "Request":
        raw = event.get("body") or ""
        if event.get("isBase64Encoded"):
            try:
                body = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise BadRequest("body is not valid base64") from exc
        else:
            body = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
        if len(body) > max_body:
            raise PayloadTooLarge(f"body over {max_body} bytes")
        context = event.get("requestContext") or {}
        http = context.get("http") or {}
        return cls(
            method=str(http.get("method", "GET")).upper(),
            path=event.get("rawPath") or http.get("path", "/"),
            raw_query=event.get("rawQueryString") or "",
            headers={str(k).lower(): v for k, v in (event.get("headers") or {}).items()},
            query=event.get("queryStringParameters") or {},
            body=body,
            source_ip=http.get("sourceIp", ""),
            domain=context.get("domainName", ""),
        )

    @property
    def content_type(self) -> str:
        return str(self.headers.get("content-type", "")).split(";")[0].strip().lower()

    def text(self) -> str:
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest("body is not valid UTF-8") from exc

    def form(self) -> dict[str, str]:
        """The form fields, blank ones kept (Twilio signs them too)."""
        if self.content_type != FORM:
            raise UnsupportedMediaType(f"expected {FORM}")
        try:
            pairs = parse_qsl(self.text(), keep_blank_values=True, strict_parsing=bool(self.body),
                              errors="strict")
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest("malformed form body") from exc
        return dict(pairs)

    def json(self) -> dict:
        if self.content_type != JSON_TYPE:
            raise UnsupportedMediaType(f"expected {JSON_TYPE}")
        value = parse_json(self.text(), "JSON body")
        if not isinstance(value, dict):
            raise BadRequest("JSON body must be an object")
        return value

    def public_url(self, public_base_url: str) -> str:
        """The URL the caller used, as Twilio signed it."""
        base = public_base_url or f"https://{self.domain}"
        return f"{base}{self.path}" + (f"?{self.raw_query}" if self.raw_query else "")

    def bearer_token(self) -> str:
        scheme, _, token = str(self.headers.get("authorization", "")).partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""


class Response:
    """An answer: status, body and headers. A bytes body is sent base64-encoded (API Gateway
    decodes it)."""

    __slots__ = ("status_code", "body", "headers")

    def __init__(self, status_code: int, body: str | bytes = "", headers: Mapping[str, str] | None = None):
        self.status_code = status_code
        self.body = body
        self.headers = dict(headers or {})


def request(router: Router) -> Request:
    """The current request of the Api a route's router belongs to (set by the body guard before
    any route runs)."""
    return router.context["request"]


def respond(status: int, body: str | bytes = "", content_type: str = TEXT,
            headers: Mapping[str, str] | None = None) -> Response:
    """An answer; bytes are sent base64-encoded (API Gateway decodes them)."""
    return Response(status, body, {"content-type": content_type, **(headers or {})})


def json_response(status: int, payload, headers: Mapping[str, str] | None = None) -> Response:
    return respond(status, json.dumps(payload, separators=(",", ":")), JSON_TYPE, headers)


def error_response(error: RefDeskError) -> Response:
    headers = {"retry-after": str(_retry_after(error))} if isinstance(error, (RateLimited, RetryLater)) else None
    return json_response(error.status, {"error": {"code": error.code, "message": error.message}}, headers)


def _retry_after(error: RateLimited | RetryLater) -> int:
    """Whole seconds, at least 1 (Retry-After takes no fractions)."""
    return error.retry_after if isinstance(error, RateLimited) else max(1, math.ceil(error.seconds))


class Route:
    """One method on one path, and the function that answers it."""

    __slots__ = ("method", "pattern", "func")

    def __init__(self, method: str, pattern: re.Pattern, func: Callable[..., Response]):
        self.method, self.pattern, self.func = method, pattern, func

    def arguments(self, path: str, event: Mapping) -> dict[str, str] | None:
        """The route's variables, from API Gateway's pathParameters, when `path` is this route's;
        None when it is not. Matched on the raw path, the values taken decoded, as API Gateway did."""
        match = self.pattern.match(path)
        if match is None:
            return None
        given = event.get("pathParameters") or {}
        if not all(isinstance(given.get(name), str) and given[name] for name in self.pattern.groupindex):
            raise NotFound("no such resource")
        return {name: given[name] for name in self.pattern.groupindex}


class Router:
    """The routes of one part of a function's API, declared with `@router.get(path)` (and `.post`,
    `.delete`, `.route(path, method=...)`); `Api(router, ...)` serves them."""

    def __init__(self):
        self.routes: list[Route] = []
        self.context: dict = {}  # the Api's, once included: the current request

    def route(self, path: str, method: str | Iterable[str]) -> Callable:
        pattern = re.compile(ROUTE_VARIABLE.sub(r"(?P<\1>[^/]+)", re.escape(path)) + "$")

        def register(func: Callable[..., Response]) -> Callable[..., Response]:
            for each in ([method] if isinstance(method, str) else method):
                self.routes.append(Route(each.upper(), pattern, func))
            return func

        return register

    def get(self, path: str) -> Callable:
        return self.route(path, "GET")

    def post(self, path: str) -> Callable:
        return self.route(path, "POST")

    def delete(self, path: str) -> Callable:
        return self.route(path, "DELETE")


class Api:
    """The API of one HTTP function: `Api(*routers, allowed_origins=..., headers=...)`."""

    def __init__(self, *routers: Router, allowed_origins: Iterable[str] | None = None,
                 headers: Mapping[str, str] | None = None, max_body: int = MAX_WEBHOOK_BODY):
        self.context: dict = {}
        self._routes = [route for router in routers for route in router.routes]
        for router in routers:
            router.context = self.context
        self._max_body = max_body
        self._always = {name.lower(): value for name, value in (headers or {}).items()}
        # None: not a browser API (no CORS); empty: a browser API no browser may use.
        self._origins = (None if allowed_origins is None else
                         frozenset(origin for origin in allowed_origins if origin and origin != "*"))
        self._methods = ",".join(sorted({route.method for route in self._routes} | {"OPTIONS"}))

    def resolve(self, event: Mapping, context) -> dict:
        with _ONE_AT_A_TIME:
            try:
                response = self._answer(event)
            finally:
                self.context.clear()
        body = response.body
        return {"statusCode": response.status_code,
                "headers": self._headers(response, _origin(event)),
                "body": base64.b64encode(body).decode() if isinstance(body, bytes) else body,
                "isBase64Encoded": isinstance(body, bytes)}

    def _answer(self, event: Mapping) -> Response:
        try:
            return self._route(event)
        except RefDeskError as error:
            return self._refused(error, event)
        except Exception as error:
            if not retry.is_transient(error):
                raise
            response = getattr(error, "response", None)
            aws_code = response.get("Error", {}).get("Code", "") if isinstance(response, dict) else ""
            logger.warning("service busy or unreachable", extra={"error": type(error).__name__, "aws_code": aws_code,
                                                                 "route": _route_key(event)})
            return self._refused(RetryLater("busy; try again shortly", seconds=BUSY_RETRY_SECONDS), event)

    def _route(self, event: Mapping) -> Response:
        origin = _origin(event)
        if self._origins is not None and origin and origin not in self._origins:
            raise Forbidden("origin not allowed", code="origin_not_allowed")
        current = self.context["request"] = Request.from_event(event, max_body=self._max_body)
        for route in self._routes:
            if route.method == current.method:
                arguments = route.arguments(current.path, event)
                if arguments is not None:
                    return route.func(**arguments)
        if self._origins is not None and current.method == "OPTIONS":  # a preflight (the origin was checked)
            return Response(204, headers={"access-control-allow-methods": self._methods})
        raise NotFound("no such resource")

    def _refused(self, error: RefDeskError, event: Mapping) -> Response:
        logger.warning("request refused", extra={"status": error.status, "code": error.code,
                                                  "reason": error.message, "route": _route_key(event)})
        count("RequestRefused")
        return error_response(error)

    def _headers(self, response: Response, origin: str | None) -> dict[str, str]:
        headers = {str(name).lower(): value for name, value in response.headers.items()}
        if self._origins is not None:
            if origin in self._origins:
                headers.update({"access-control-allow-origin": origin,
                                "access-control-allow-headers": CORS_ALLOWED_HEADERS,
                                "access-control-expose-headers": CORS_EXPOSED_HEADERS,
                                "access-control-max-age": str(PREFLIGHT_MAX_AGE)})
            headers["vary"] = "Origin"  # the CORS headers depend on it
        for name, value in self._always.items():
            headers.setdefault(name, value)
        return headers


def _origin(event: Mapping) -> str | None:
    """The browser's Origin header, if any (API Gateway lower-cases header names; a hand-made event
    may not)."""
    for name, value in (event.get("headers") or {}).items():
        if str(name).lower() == "origin":
            return value
    return None


def _route_key(event: Mapping) -> str:
    return str(event.get("routeKey") or "")


def lambda_handler(app: Api):
    """A function's entry point: its Api, with the request's Lambda context and API Gateway's
    request id (the correlation id) in every log line (never the event itself) and the
    invocation's metrics flushed at the end."""
    from aws_lambda_powertools.logging import correlation_paths

    @observability.logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP,
                                                 log_event=False)
    @observability.metrics.log_metrics
    def handler(event: dict, context) -> dict:
        return app.resolve(event, context)

    return handler
