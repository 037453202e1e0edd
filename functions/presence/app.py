"""GET /presence, LibraryH3lp-style /presence/jid/{queue}/{host}/{format}, and GET /widget.js."""
import re
from pathlib import Path


from refdesk import presence
from refdesk.errors import NotFound
from refdesk.http import Request, api_handler, json_response, respond
from refdesk.observability import logger

WIDGET = (Path(__file__).parent / "static" / "widget.js").read_text(encoding="utf-8")
NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
# Presence changes when a librarian goes on or off duty; a short cache keeps polling cheap.
SHORT_CACHE = {"cache-control": "public, max-age=15", "access-control-allow-origin": "*"}


@logger.inject_lambda_context
@api_handler
def handler(request: Request, event: dict) -> dict:
    if request.path == "/widget.js":
        return respond(200, WIDGET, "application/javascript; charset=utf-8", {"cache-control": "public, max-age=300"})
    if request.path == "/presence":
        return json_response(200, presence.current(), SHORT_CACHE)
    queue, host = request.path_params.get("queue", ""), request.path_params.get("host", "")
    fmt = request.path_params.get("format", "")
    # Checked before presence.current(): a malformed URL costs no database read.
    if not (NAME.match(queue) and NAME.match(host) and host.startswith("chat.") and fmt in presence.LIBRARYH3LP_FORMATS):
        raise NotFound("no such presence resource")
    available = presence.current()["status"] == "available"
    content_type, body = presence.libraryh3lp_body(fmt, queue, host, available, request.query.get("cb", ""))
    return respond(200, body, content_type, SHORT_CACHE)
