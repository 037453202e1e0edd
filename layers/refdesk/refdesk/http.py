"""API Gateway (HTTP API, payload 2.0) requests and responses, and the one place where
domain errors become HTTP answers."""
from __future__ import annotations

import base64
import binascii
import functools
import json
from dataclasses import dataclass
from urllib.parse import parse_qsl

from aws_lambda_powertools import Logger

from refdesk.errors import BadRequest, PayloadTooLarge, RateLimited, RefDeskError, UnsupportedMediaType

logger = Logger(child=True)

MAX_WEBHOOK_BODY = 64 * 1024
FORM = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    raw_query: str
    headers: dict
    query: dict
    path_params: dict
    body: bytes
    source_ip: str
    domain: str

    @classmethod
    def from_event(cls, event: dict, *, max_body: int = MAX_WEBHOOK_BODY) -> "Request":
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
            method=http.get("method", "GET").upper(),
            path=event.get("rawPath") or http.get("path", "/"),
            raw_query=event.get("rawQueryString") or "",
            headers={k.lower(): v for k, v in (event.get("headers") or {}).items()},
            query=event.get("queryStringParameters") or {},
            path_params=event.get("pathParameters") or {},
            body=body,
            source_ip=http.get("sourceIp", ""),
            domain=context.get("domainName", ""),
        )

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

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
        try:
            value = json.loads(self.text())
        except (ValueError, RecursionError) as exc:
            raise BadRequest("malformed JSON body") from exc
        if not isinstance(value, dict):
            raise BadRequest("JSON body must be an object")
        return value

    def public_url(self, public_base_url: str) -> str:
        """The URL the caller used, as Twilio signed it."""
        base = public_base_url or f"https://{self.domain}"
        return f"{base}{self.path}" + (f"?{self.raw_query}" if self.raw_query else "")

    def bearer_token(self) -> str:
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""


def respond(status: int, body: str = "", content_type: str = "text/plain; charset=utf-8",
            headers: dict | None = None) -> dict:
    return {
        "statusCode": status,
        "headers": {"content-type": content_type, **(headers or {})},
        "body": body,
    }


def json_response(status: int, payload, headers: dict | None = None) -> dict:
    return respond(status, json.dumps(payload, separators=(",", ":")), JSON_TYPE, headers)


def error_response(error: RefDeskError) -> dict:
    headers = {"retry-after": str(error.retry_after)} if isinstance(error, RateLimited) else None
    return json_response(error.status, {"error": {"code": error.code, "message": error.message}}, headers)


def api_handler(func):
    """Wraps a route function(request, event) -> response: parses the event, maps domain errors
    to 4xx answers with a log line; anything unexpected is logged and answered 500."""

    @functools.wraps(func)
    def wrapper(event, context):
        try:
            return func(Request.from_event(event), event)
        except RefDeskError as error:
            logger.warning("request refused", extra={"status": error.status, "code": error.code,
                                                      "reason": error.message,
                                                      "route": event.get("routeKey")})
            return error_response(error)

    return wrapper


def cors(handler):
    """Lets only the configured library origins use a browser-facing API; answers preflights.
    Requests without an Origin (servers, curl) are not browsers and pass through."""

    @functools.wraps(handler)
    def wrapper(event, context):
        from refdesk.settings import get_settings

        origin = {k.lower(): v for k, v in (event.get("headers") or {}).items()}.get("origin")
        allowed = origin in get_settings().allowed_origins
        if origin and not allowed:
            logger.warning("origin not allowed", extra={"route": event.get("routeKey")})
            return json_response(403, {"error": {"code": "origin_not_allowed", "message": "origin not allowed"}})
        method = ((event.get("requestContext") or {}).get("http") or {}).get("method", "")
        response = respond(204) if method == "OPTIONS" else handler(event, context)
        if allowed:
            response["headers"].update({
                "access-control-allow-origin": origin, "vary": "Origin",
                "access-control-allow-methods": "GET, POST, OPTIONS",
                "access-control-allow-headers": "authorization, content-type",
                "access-control-expose-headers": "retry-after", "access-control-max-age": "600"})
        return response

    return wrapper
