"""GET /presence, LibraryH3lp-style /presence/jid/{queue}/{host}/{format}, and GET /widget.js."""
import re
from pathlib import Path

from aws_lambda_powertools import Logger

from refdesk import presence
from refdesk.errors import NotFound
from refdesk.http import Request, api_handler, json_response, respond

logger = Logger(service="refdesk")
WIDGET = (Path(__file__).parent / "static" / "widget.js").read_text(encoding="utf-8")
NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
# Presence changes when a librarian goes on or off duty; a short cache keeps polling cheap.
SHORT_CACHE = {"cache-control": "public, max-age=15", "access-control-allow-origin": "*"}


@logger.inject_lambda_context
@api_handler
def handler(request: Request, event: dict) -> dict:
    if request.path == "/widget.js":
        return respond(200, WIDGET, "application/javascript; charset=utf-8", {"cache-control": "public, max-age=300"})
    status = presence.current()
    if request.path == "/presence":
        return json_response(200, status, SHORT_CACHE)
    queue, host = request.path_params.get("queue", ""), request.path_params.get("host", "")
    answer = presence.libraryh3lp_body(request.path_params.get("format", ""), queue, host,
                                       status["status"] == "available", request.query.get("cb", ""))
    if not (NAME.match(queue) and NAME.match(host) and host.startswith("chat.") and answer):
        raise NotFound("no such presence resource")
    return respond(200, answer[1], answer[0], SHORT_CACHE)
