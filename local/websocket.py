"""template.yaml's WebSocket API on this machine: API Gateway's WebSocket events for the real
handlers, and the @connections management API that the dispatcher pushes through (boto3's
apigatewaymanagementapi client, endpoint_url = `connections_url`).

* ws://127.0.0.1:{port}/{stage}: a handshake is a CONNECT event on $connect, refused with the
  handler's status unless it answers 2xx. A frame is a MESSAGE event on the route that the
  route selection expression ($request.body.type) names, else on $default; the answer of a
  two-way route (one with a route response) goes back as a frame. A closed connection is a
  DISCONNECT event on $disconnect (unless `lose_disconnects`: API Gateway only does its best to
  call $disconnect, and a push's 410 must then clean up). As in API Gateway: messages up to
  128 KB, the server never pings, and it closes a connection idle for 10 minutes or open for 2 hours.
* http://127.0.0.1:{another port}/{stage}/@connections/{id}: POST sends the body as a frame, GET
  describes the connection, DELETE closes it; an id not (yet, or no longer) open answers 410
  GoneException, as API Gateway does. API Gateway answers both on one host; the websockets
  server takes only GET handshakes, so the management API has a port of its own."""
from __future__ import annotations

import base64
import json
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import parse_qsl, unquote

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from local.console import say
from local.servers import HOST, Request, Response, Server, json_response
from local.template import API_ID, WebSocketApi, WebSocketRoute

MAX_MESSAGE_BYTES = 128 * 1024
IDLE_SECONDS = 10 * 60
MAX_CONNECTION_SECONDS = 2 * 3600
SELECTION_PREFIX = "$request.body."


@dataclass
class _Open:
    connection: ServerConnection
    connected_at: float
    last_active: float
    source_ip: str
    user_agent: str


class LiveApi:
    """Serves `api` with `invoker` (local.handlers.Invoker) until stop(); port 0: any free port."""

    def __init__(self, api: WebSocketApi, invoker, port: int = 0, *, lose_disconnects: bool = False):
        if not api.selection_expression.startswith(SELECTION_PREFIX):
            raise ValueError(f"{api.name}: only {SELECTION_PREFIX}<field> route selection runs locally")
        self.api = api
        self._invoker = invoker
        self._lose_disconnects = lose_disconnects
        self._open: dict[str, _Open] = {}
        self._lock = threading.Lock()
        self._server = serve(self._converse, HOST, port, process_request=self._connect, ping_interval=None,
                             max_size=MAX_MESSAGE_BYTES)
        self.port = self._server.socket.getsockname()[1]
        self.domain = f"{HOST}:{self.port}"
        self._management = Server(self._manage)
        # As local.gateway: a web page on another name that resolves here (DNS rebinding) is refused.
        self._hosts = {f"{name}:{self._management.port}" for name in ("127.0.0.1", "localhost")}
        self.url = f"ws://{self.domain}/{api.stage}"
        self.connections_url = f"{self._management.url}/{api.stage}"
        threading.Thread(target=self._server.serve_forever, daemon=True, name=f"live-{self.port}").start()

    def stop(self) -> None:
        self._management.stop()
        self._server.shutdown()

    # --- the WebSocket side -------------------------------------------------------------

    def _connect(self, connection: ServerConnection, request):
        """process_request: the $connect route decides whether the handshake goes on."""
        path, _, query = request.path.partition("?")
        if path != f"/{self.api.stage}":
            return connection.respond(HTTPStatus.FORBIDDEN, "Forbidden\n")  # what API Gateway answers
        event = connect_event(self.api, connection_id(connection), query, list(request.headers.raw_items()),
                              connection.remote_address[0], self.domain)
        try:
            result = self._invoke(self.api.route("$connect"), event)
        except Exception:
            say("live", "$connect failed:")
            traceback.print_exc()
            return connection.respond(HTTPStatus.INTERNAL_SERVER_ERROR, "Internal server error\n")
        status = int(result.get("statusCode", 200)) if isinstance(result, dict) else 200
        if not 200 <= status < 300:
            say("live", f"$connect -> {status}: handshake refused")
            return connection.respond(status, str(result.get("body") or ""))
        return None

    def _converse(self, connection: ServerConnection) -> None:
        """An open connection: its frames, until the client, a DELETE or a timeout closes it."""
        identifier, now = connection_id(connection), time.time()
        opened = _Open(connection, now, now, connection.remote_address[0],
                       connection.request.headers.get("User-Agent", "") if connection.request else "")
        with self._lock:
            self._open[identifier] = opened
        say("live", f"{identifier} connected")
        code, reason = 1006, ""  # dropped without a close frame
        try:
            while True:
                deadline = min(opened.last_active + IDLE_SECONDS, opened.connected_at + MAX_CONNECTION_SECONDS)
                try:
                    frame = connection.recv(timeout=max(0.0, deadline - time.time()))
                except TimeoutError:
                    code, reason = 1001, "Going away"
                    connection.close(code, reason)
                    break
                opened.last_active = time.time()
                self._message(opened, identifier, frame)
        except ConnectionClosed as closed:
            close = closed.rcvd or closed.sent
            if close:
                code, reason = close.code, close.reason
        finally:
            with self._lock:
                self._open.pop(identifier, None)
            if not self._lose_disconnects:
                self._disconnect(identifier, opened, code, reason)

    def _message(self, opened: _Open, identifier: str, frame: str | bytes) -> None:
        connection = opened.connection
        route = select_route(self.api, frame)
        if route is None:  # no route takes it and there is no $default
            connection.send(json.dumps({"message": "Forbidden", "connectionId": identifier}))
            return
        try:
            result = self._invoke(route, message_event(self.api, identifier, route.key, frame, self.domain,
                                                       opened.connected_at))
        except Exception:
            say("live", f"{route.key} failed:")
            traceback.print_exc()
            connection.send(json.dumps({"message": "Internal server error", "connectionId": identifier}))
            return
        if route.two_way and isinstance(result, dict) and isinstance(result.get("body"), str):
            connection.send(result["body"])

    def _disconnect(self, identifier: str, opened: _Open, code: int, reason: str) -> None:
        event = disconnect_event(self.api, identifier, opened.connected_at, code, reason, self.domain)
        try:
            self._invoke(self.api.route("$disconnect"), event)
        except Exception:
            say("live", "$disconnect failed:")
            traceback.print_exc()
        say("live", f"{identifier} disconnected ({code})")

    def _invoke(self, route: WebSocketRoute | None, event: dict):
        return self._invoker.invoke(route.function, event) if route else {"statusCode": 200}

    # --- the @connections management API ------------------------------------------------

    def _manage(self, request: Request) -> Response:
        if request.header("host").lower() not in self._hosts:
            return json_response(421, {"message": "Misdirected Request: use 127.0.0.1 or localhost"})
        parts = [unquote(part) for part in request.path.split("/")]
        if len(parts) != 4 or parts[1] != self.api.stage or parts[2] != "@connections":
            return json_response(404, {"message": "Not Found"})
        with self._lock:
            opened = self._open.get(parts[3])
        if opened is None:
            return _gone()
        if request.method == "POST":
            try:
                opened.connection.send(_frame_data(request.body))
            except ConnectionClosed:
                return _gone()
            return Response(200)
        if request.method == "GET":
            return json_response(200, {"connectedAt": _iso(opened.connected_at),
                                       "lastActiveAt": _iso(opened.last_active),
                                       "identity": {"sourceIp": opened.source_ip, "userAgent": opened.user_agent}})
        if request.method == "DELETE":
            opened.connection.close(1000)
            return Response(204)
        return json_response(405, {"message": "Method Not Allowed"})


def connection_id(connection: ServerConnection) -> str:
    """An API Gateway-like connection id ("L0SM9cOFvHcCIhw="), fixed for the connection's life."""
    return base64.b64encode(connection.id.bytes[:11]).decode()


def select_route(api: WebSocketApi, frame: str | bytes) -> WebSocketRoute | None:
    """The route the selection expression picks for a frame ($request.body.type), else $default."""
    value = None
    try:
        value = json.loads(frame)
        for name in api.selection_expression[len(SELECTION_PREFIX):].split("."):
            value = value.get(name) if isinstance(value, dict) else None
    except (ValueError, RecursionError):
        pass
    named = api.route(value) if isinstance(value, str) and not value.startswith("$") else None
    return named or api.route("$default")


def connect_event(api: WebSocketApi, connection: str, query: str, headers: list[tuple[str, str]], source_ip: str,
                  domain: str) -> dict:
    """API Gateway's CONNECT event: the handshake's headers and query string."""
    parameters = parse_qsl(query, keep_blank_values=True)
    event = {
        "headers": {name: value for name, value in headers},
        "multiValueHeaders": _multi(headers),
        "requestContext": _context(api, "$connect", "CONNECT", connection, time.time(), domain, source_ip,
                                   dict(headers).get("User-Agent", "")),
        "isBase64Encoded": False,
    }
    if parameters:
        event["queryStringParameters"] = dict(parameters)
        event["multiValueQueryStringParameters"] = _multi(parameters)
    return event


def message_event(api: WebSocketApi, connection: str, route_key: str, frame: str | bytes, domain: str,
                  connected_at: float | None = None) -> dict:
    """API Gateway's MESSAGE event for one frame (a binary frame's body is base64-encoded)."""
    binary = isinstance(frame, bytes)
    context = _context(api, route_key, "MESSAGE", connection, connected_at or time.time(), domain)
    return {"requestContext": {**context, "messageId": uuid.uuid4().hex[:16]},
            "body": base64.b64encode(frame).decode() if binary else frame, "isBase64Encoded": binary}


def disconnect_event(api: WebSocketApi, connection: str, connected_at: float, code: int, reason: str,
                     domain: str) -> dict:
    """API Gateway's DISCONNECT event: the close code and reason, no body."""
    context = _context(api, "$disconnect", "DISCONNECT", connection, connected_at, domain)
    return {"headers": {"Host": domain}, "multiValueHeaders": {"Host": [domain]},
            "requestContext": {**context, "disconnectStatusCode": code, "disconnectReason": reason},
            "isBase64Encoded": False}


def _context(api: WebSocketApi, route_key: str, event_type: str, connection: str, connected_at: float, domain: str,
             source_ip: str = "127.0.0.1", user_agent: str = "") -> dict:
    now = time.time()
    request_id = uuid.uuid4().hex[:16]
    return {"routeKey": route_key, "eventType": event_type, "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)), "messageDirection": "IN",
            "stage": api.stage, "connectedAt": int(connected_at * 1000), "requestTimeEpoch": int(now * 1000),
            "identity": {"sourceIp": source_ip, **({"userAgent": user_agent} if user_agent else {})},
            "requestId": request_id, "domainName": domain, "connectionId": connection, "apiId": API_ID}


def _multi(pairs) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return grouped


def _frame_data(body: bytes) -> str | bytes:
    """post_to_connection's Data as API Gateway sends it: text if it is UTF-8, else binary."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body


def _gone() -> Response:
    return json_response(410, {"message": "the connection is gone"}, [("x-amzn-ErrorType", "GoneException")])


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(epoch))
