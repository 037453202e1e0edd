"""Threaded HTTP servers on 127.0.0.1 whose apps are plain functions Request -> Response, and
stopping a local stack's process."""
from __future__ import annotations

import json
import subprocess
import threading
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

HOST = "127.0.0.1"
MAX_BODY = 1024 * 1024  # API Gateway allows 10 MB; no local request comes near 1 MB
FORM = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # as received, still percent-encoded
    query: str
    headers: tuple[tuple[str, str], ...]  # in order, duplicates kept
    body: bytes
    client_ip: str
    protocol: str

    def header(self, name: str) -> str:
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), "")

    @property
    def content_type(self) -> str:
        return self.header("content-type").split(";")[0].strip().lower()

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def params(self) -> dict:
        """Query string and body fields (form or JSON) together."""
        params = dict(parse_qsl(self.query, keep_blank_values=True))
        if self.body and self.content_type == JSON_TYPE:
            params.update(self.json())
        elif self.body and self.content_type == FORM:
            params.update(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))
        return params


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_response(status: int, payload, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, json.dumps(payload).encode(), [("Content-Type", JSON_TYPE), *(headers or [])])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > getattr(self.server.app, "max_body", MAX_BODY):  # an app may take more (file uploads)
            self._drain(length)
            self.close_connection = True
            return self._send(json_response(413, {"message": "Request Entity Too Large"}))
        path, _, query = self.path.partition("?")
        request = Request(self.command, path, query, tuple(self.headers.items()),
                          self.rfile.read(length), self.client_address[0], self.request_version)
        try:
            response = self.server.app(request)
        except Exception:
            traceback.print_exc()
            response = json_response(500, {"message": "Internal Server Error"})
        self._send(response)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle

    def _drain(self, length: int) -> None:
        # Closing with unread data makes the kernel reset the connection, and the client
        # would never see the 413.
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                return
            length -= len(chunk)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":  # HEAD: the headers GET would send, never a body
            self.wfile.write(response.body)

    def log_message(self, format, *args):
        """The apps print their own one-line summaries."""


class _Listener(ThreadingHTTPServer):
    # The default backlog of 5 resets connections when many patrons arrive at once (make load).
    request_queue_size = 256


class Server:
    """Serves app on 127.0.0.1:port (0: any free port) from a background thread."""

    def __init__(self, app, port: int = 0):
        self._httpd = _Listener((HOST, port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.app = app
        self.port = self._httpd.server_address[1]
        self.url = f"http://{HOST}:{self.port}"
        # A short poll interval makes stopping quick.
        threading.Thread(target=self._httpd.serve_forever, args=(0.1,), daemon=True, name=f"http-{self.port}").start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def stop_process(process: subprocess.Popen, grace: float = 15) -> int:
    """Stops a process (a local stack) as Ctrl-C or SIGTERM would, killing it after `grace`
    seconds; returns its exit status."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode
