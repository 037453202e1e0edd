"""The HTTP API: template.yaml's routes turned into API Gateway payload 2.0 events for the real
handlers, plus /health, the local pages and the control API."""
from __future__ import annotations

import base64
import json
import mimetypes
import time
import traceback
import uuid
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import parse_qsl, unquote

from local.cdn import Behavior, Cdn
from local.console import say
from local.handlers import HandlerUnavailable
from local.servers import Request, Response, json_response
from local.template import ACCOUNT_ID, API_ID, Function, Route

NOT_FOUND = json_response(404, {"message": "Not Found"})
SERVER_ERROR = json_response(500, {"message": "Internal Server Error"})
LOCAL_PAGES = {"/": "index.html", "/_local/": "local.html"}
STATIC_PREFIX = "/_local/static/"


class Gateway:
    def __init__(self, functions: list[Function], invoker, control, static_dir: Path, port: int,
                 cache_behaviors: Iterable[Behavior] = ()):
        self.routes = routes_of(functions)
        # CloudFront's stand-in (/_cdn/…), in front of this gateway's own routes.
        self.cdn = Cdn(cache_behaviors, self._api)
        self.invoker = invoker
        self.control = control
        self.static_dir = static_dir
        self.domain = f"127.0.0.1:{port}"
        # A web page on another name that resolves to 127.0.0.1 (DNS rebinding) sends its own
        # name as Host: only the stack's own names may drive it, the control API above all.
        self.hosts = {f"{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]")}

    def __call__(self, request: Request) -> Response:
        started = time.monotonic()
        response = self._dispatch(request)
        quiet = request.method == "GET" and (request.path == "/health" or request.path.startswith("/_local/"))
        if not quiet or response.status >= 400:
            elapsed = (time.monotonic() - started) * 1000
            say("gateway", f"{request.method} {request.path} -> {response.status} ({elapsed:.0f} ms)")
        return response

    def _dispatch(self, request: Request) -> Response:
        if request.header("host").lower() not in self.hosts:
            return json_response(421, {"message": "Misdirected Request: use 127.0.0.1 or localhost"})
        if self.cdn.serves(request.path):
            return self.cdn(request)
        if request.path.startswith("/_local/api/"):
            return self.control(request)
        if request.method == "GET":
            if request.path == "/health":
                return json_response(200, {"status": "ok"})
            if request.path in LOCAL_PAGES:
                return self._static(LOCAL_PAGES[request.path])
            if request.path.startswith(STATIC_PREFIX):
                return self._static(unquote(request.path[len(STATIC_PREFIX):]))
        return self._api(request)

    def _api(self, request: Request) -> Response:
        """What the HTTP API answers: the route's function, or API Gateway's own 404."""
        found = find_route(self.routes, request.method, request.path)
        if found:
            return self._invoke(*found, request)
        return NOT_FOUND

    def _invoke(self, route: Route, params: dict, request: Request) -> Response:
        try:
            result = self.invoker.invoke(route.function, build_event(request, route, params, self.domain))
            return to_response(result)
        except HandlerUnavailable as missing:
            say("gateway", str(missing))
        except Exception:
            say("gateway", f"{route.function} failed on {route.method} {route.path}:")
            traceback.print_exc()
        return SERVER_ERROR

    def _static(self, name: str) -> Response:
        root = self.static_dir.resolve()
        try:
            path = (root / name).resolve()
        except ValueError:  # a NUL in the name
            return NOT_FOUND
        if not path.is_relative_to(root) or not path.is_file():
            return NOT_FOUND
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type == "application/javascript":
            content_type += "; charset=utf-8"
        # Pages are being edited while the stack runs.
        return Response(200, path.read_bytes(), [("Content-Type", content_type), ("Cache-Control", "no-store")])


def routes_of(functions: list[Function]) -> list[Route]:
    """The functions' routes in the order API Gateway tries them: a literal path segment beats
    a {variable}."""
    return sorted((route for function in functions for route in function.routes),
                  key=lambda route: route.path.count("{"))


def find_route(routes: list[Route], method: str, path: str) -> tuple[Route, dict] | None:
    """The first of routes_of()'s routes that takes this request, with its path parameters."""
    for route in routes:
        params = match(route, method, path)
        if params is not None:
            return route, params
    return None


def match(route: Route, method: str, path: str) -> dict | None:
    """The path parameters if the route takes this request; a {variable} is one whole segment."""
    if route.method not in (method, "ANY"):
        return None
    pattern, actual = route.path.split("/"), path.split("/")
    if len(pattern) != len(actual):
        return None
    params = {}
    for expected, segment in zip(pattern, actual):
        segment = unquote(segment)
        if expected.startswith("{") and expected.endswith("}"):
            if not segment:
                return None
            params[expected[1:-1]] = segment
        elif expected != segment:
            return None
    return params


def build_event(request: Request, route: Route, path_params: dict, domain: str) -> dict:
    """The payload 2.0 event API Gateway makes of this request for its domain ("127.0.0.1:3000",
    or a custom domain such as "refdesk.example.org", reached over https)."""
    headers, cookies = {}, []
    for name, value in request.headers:
        name = name.lower()
        if name == "cookie":
            cookies += [cookie.strip() for cookie in value.split(";") if cookie.strip()]
        else:
            headers[name] = f"{headers[name]},{value}" if name in headers else value
    host, _, port = domain.partition(":")
    headers.setdefault("host", domain)
    headers.setdefault("x-forwarded-for", request.client_ip)
    headers.setdefault("x-forwarded-proto", "http" if port else "https")
    headers.setdefault("x-forwarded-port", port or "443")
    query = {}
    for name, value in parse_qsl(request.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    now = time.time()
    route_key = f"{route.method} {route.path}"
    event = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.path,
        "rawQueryString": request.query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": domain,
            "domainPrefix": host.split(".")[0],
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": request.protocol,
                "sourceIp": request.client_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex[:16],
            "routeKey": route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_params:
        event["pathParameters"] = path_params
    if request.body:
        # API Gateway passes only JSON and text through as text (form posts arrive base64-encoded).
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/json" or content_type.startswith("text/"):
            event["body"] = request.body.decode("utf-8", "replace")
        else:
            event["body"] = base64.b64encode(request.body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


def to_response(result) -> Response:
    """The HTTP answer API Gateway makes of a payload 2.0 handler result."""
    if not (isinstance(result, dict) and "statusCode" in result):
        body = result if isinstance(result, str) else json.dumps(result)
        return Response(200, body.encode(), [("Content-Type", "application/json")])
    body = result.get("body") or ""
    payload = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    headers = [(name, str(value)) for name, value in (result.get("headers") or {}).items()]
    headers += [("Set-Cookie", cookie) for cookie in result.get("cookies") or []]
    return Response(int(result["statusCode"]), payload, headers)
