"""HTTP for the API functions: Powertools' `APIGatewayHttpResolver` (payload 2.0) with RefDesk's
rules, so that each functions/<name>/app.py only declares its routes on a `Router` and says
`app = Api(router)`.

What `Api` adds, once for every function:

* Domain errors (`refdesk.errors.RefDeskError`) become JSON answers here and nowhere else:
  the error's status, `{"error": {"code", "message"}}`, `retry-after` on 429 and 503, and one
  warning line "request refused" (status, code, reason, route; never the body). An unknown path
  or method is answered the same way (404 `not_found`).
* AWS busy or out of reach (throttling, its 5xx, a lost connection: `refdesk.retry.is_transient`)
  after the clients' own retries (refdesk.clients) is a 503 with Retry-After, never a 500: Slack
  (and Twilio, as its webhook's retry policy says) delivers again, and a webhook's writes are one
  conditional write then one send, so the next delivery finds what got through
  (refdesk.conversations.accept). Any other exception
  is a bug and is raised: Lambda reports it and the function's Errors alarm fires.
* The request body guard, hand-written because webhooks need the raw bytes: at most 64 KiB
  (512 KiB for Slack's events, which may carry a 40,000-character message),
  strict base64 when API Gateway encoded it, UTF-8 and content type checked when read
  (`Request.text`, `.form`, `.json`). Signatures are checked over these bytes (refdesk.signatures).
* JSON from outside (`Request.json`, and `refdesk.shapes.parse_json` for JSON carried in a form
  field, as Slack's interactivity `payload`) is strict, interoperable JSON (RFC 8259, I-JSON): NaN,
  Infinity, 1e999, integers beyond ±(2**53 - 1) and lone UTF-16 surrogates (a "\\ud83d" escape:
  half an emoji, which Python's json accepts but no UTF-8 encoder, SQS, DynamoDB or Slack does)
  are a 400 here, before any route sees them.
* Route variables (`<id>`, named as in template.yaml) are API Gateway's decoded pathParameters.
* For the browser-facing chat API, `allowed_origins`: Powertools' `CORSConfig` echoes an allowed
  Origin (exposing Retry-After, allowing the authorization and content-type headers, preflights
  cached 600 s) and answers preflights; a middleware keeps the stricter rule that a browser
  request from any other Origin is refused with 403 `origin_not_allowed`, preflights included.
  Requests without an Origin (servers, curl) are not browsers and pass.
* `headers` that every answer carries, errors and 404s included (presence: `access-control-
  allow-origin: *`). Header names are answered in lower case.

Powertools keeps the request being resolved in class-level state, which is right for Lambda (one
request per process at a time); `Api.resolve` makes in-process runners with threads (the local
stack, the tests) take turns."""
from __future__ import annotations

import base64
import binascii
import json
import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.api_gateway import Router

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
# Retry-After of a 503 when AWS was busy: a throttled DynamoDB usually recovers within seconds.
BUSY_RETRY_SECONDS = 5
# BaseRouter.current_event is class-level: one request at a time in the whole process.
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


def request(router: Router | APIGatewayHttpResolver) -> Request:
    """The current request of the resolver a route's router belongs to (set by the body guard
    before any route runs)."""
    return router.context["request"]


def respond(status: int, body: str | bytes = "", content_type: str = TEXT,
            headers: Mapping[str, str] | None = None) -> Response:
    """An answer; bytes are sent base64-encoded (API Gateway decodes them)."""
    return Response(status_code=status, body=body, headers={"content-type": content_type, **(headers or {})})


def json_response(status: int, payload, headers: Mapping[str, str] | None = None) -> Response:
    return respond(status, json.dumps(payload, separators=(",", ":")), JSON_TYPE, headers)


def error_response(error: RefDeskError) -> Response:
    headers = {"retry-after": str(_retry_after(error))} if isinstance(error, (RateLimited, RetryLater)) else None
    return json_response(error.status, {"error": {"code": error.code, "message": error.message}}, headers)


def _retry_after(error: RateLimited | RetryLater) -> int:
    """Whole seconds, at least 1 (Retry-After takes no fractions)."""
    return error.retry_after if isinstance(error, RateLimited) else max(1, math.ceil(error.seconds))


class Api(APIGatewayHttpResolver):
    """The resolver of one HTTP function: `Api(*routers, allowed_origins=..., headers=...)`."""

    def __init__(self, *routers: Router, allowed_origins: Iterable[str] | None = None,
                 headers: Mapping[str, str] | None = None, max_body: int = MAX_WEBHOOK_BODY):
        cors = None
        middlewares = [_guard_body(max_body), _gateway_path_parameters]
        if allowed_origins is not None:
            origins = [origin for origin in allowed_origins if origin and origin != "*"]
            # allow_origin="" matches no browser: CORSConfig's default would be "*".
            cors = CORSConfig(allow_origin=origins[0] if origins else "", extra_origins=origins[1:],
                              allow_headers=["Authorization", "Content-Type"], expose_headers=["Retry-After"],
                              max_age=PREFLIGHT_MAX_AGE)
            middlewares.insert(0, _only_from(frozenset(origins)))
        super().__init__(cors=cors, debug=False)  # debug (POWERTOOLS_DEV) would print whole events
        self._browser_api = cors is not None
        self._always = {name.lower(): value for name, value in (headers or {}).items()}
        self.use(middlewares)
        self.exception_handler(RefDeskError)(self._refused)
        self.exception_handler(Exception)(self._busy_or_raise)  # RefDeskError's own handler comes first
        self.not_found(self._no_route)
        for router in routers:
            self.include_router(router)

    def resolve(self, event: Mapping, context) -> dict:
        with _ONE_AT_A_TIME:
            answer = super().resolve(_with_stage(event), context)
        headers = {str(name).lower(): value for name, value in (answer.get("headers") or {}).items()}
        for name, value in self._always.items():
            headers.setdefault(name, value)
        if self._browser_api:
            headers["vary"] = "Origin"  # the CORS headers depend on it
        answer["headers"] = headers
        if not answer.get("cookies"):
            answer.pop("cookies", None)
        return answer

    def _refused(self, error: RefDeskError) -> Response:
        logger.warning("request refused", extra={"status": error.status, "code": error.code,
                                                  "reason": error.message, "route": self._route_key()})
        count("RequestRefused")
        return error_response(error)

    def _busy_or_raise(self, error: Exception) -> Response:
        if not retry.is_transient(error):
            raise error
        response = getattr(error, "response", None)
        aws_code = response.get("Error", {}).get("Code", "") if isinstance(response, dict) else ""
        logger.warning("service busy or unreachable", extra={"error": type(error).__name__, "aws_code": aws_code,
                                                             "route": self._route_key()})
        return self._refused(RetryLater("busy; try again shortly", seconds=BUSY_RETRY_SECONDS))

    def _no_route(self, _missing) -> Response:
        return self._refused(NotFound("no such resource"))

    def _route_key(self) -> str:
        return str(self.current_event.get("routeKey") or "")


def _with_stage(event: Mapping) -> Mapping:
    """API Gateway always names the stage; Powertools needs it to find the path. A hand-made
    event without one is taken as the $default stage rather than failing."""
    context = event.get("requestContext") if isinstance(event, Mapping) else None
    if isinstance(context, Mapping) and "stage" not in context:
        return {**event, "requestContext": {**context, "stage": "$default"}}
    return event


def _guard_body(max_body: int):
    def guard_body(app: APIGatewayHttpResolver, next_middleware) -> Response:
        app.append_context(request=Request.from_event(app.current_event.raw_event, max_body=max_body))
        return next_middleware(app)

    return guard_body


def _gateway_path_parameters(app: APIGatewayHttpResolver, next_middleware) -> Response:
    """Powertools picks the route by matching the raw (percent-encoded) path; the values of its
    variables are taken from API Gateway's pathParameters, which matched the same template route
    and decoded them, as RefDesk always has. Route variables are named as in template.yaml. An
    event without them did not come through that route: 404."""
    variables = app.request.path_parameters  # Powertools' match, by name
    if variables:
        given = app.current_event.path_parameters
        if not all(isinstance(given.get(name), str) and given[name] for name in variables):
            raise NotFound("no such resource")
        app.append_context(_route_args={name: given[name] for name in variables})
    return next_middleware(app)


def _only_from(origins: frozenset[str]):
    def allowed_origins_only(app: APIGatewayHttpResolver, next_middleware) -> Response:
        origin = app.current_event.headers.get("origin")
        if origin and origin not in origins:
            raise Forbidden("origin not allowed", code="origin_not_allowed")
        return next_middleware(app)

    return allowed_origins_only


def lambda_handler(app: Api):
    """A function's entry point: its resolver, with the request's Lambda context in every log line
    (never the event itself) and the invocation's metrics flushed at the end."""
    from aws_lambda_powertools.logging import correlation_paths

    @observability.logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP,
                                                 log_event=False)
    @observability.metrics.log_metrics
    def handler(event: dict, context) -> dict:
        return app.resolve(event, context)

    return handler
