"""GET /presence, LibraryH3lp's /presence/jid/{queue}/{host}/{format} (and image/{theme}), and
GET /widget.js. Every answer, a 404 included, may be read from any site."""
from pathlib import Path

from refdesk import http, presence
from refdesk.http import Api, Router

WIDGET = (Path(__file__).parent / "static" / "widget.js").read_text(encoding="utf-8")
ANY_SITE = {"access-control-allow-origin": "*"}
# Presence changes when a librarian goes on or off duty; a short cache keeps polling cheap.
SHORT_CACHE = {"cache-control": "public, max-age=15"}

status = Router()
libraryh3lp = Router()
widget = Router()


@status.get("/presence")
def desk():
    return http.json_response(200, presence.current(), SHORT_CACHE)


@libraryh3lp.get("/presence/jid/<queue>/<host>/<format>")
def jid(queue: str, host: str, format: str, theme: str | None = None):  # noqa: A002 - as in template.yaml
    # Checked before presence.current(): a malformed URL costs no database read.
    resource = presence.Libraryh3lpResource.parse(queue, host, format, theme)
    available = presence.current()["status"] == "available"
    callback = str(http.request(libraryh3lp).query.get("cb", ""))
    content_type, body = resource.render(available, callback)
    return http.respond(200, body, content_type, SHORT_CACHE)


@libraryh3lp.get("/presence/jid/<queue>/<host>/image/<theme>")
def themed_image(queue: str, host: str, theme: str):
    return jid(queue, host, "image", theme)


@widget.get("/widget.js")
def script():
    return http.respond(200, WIDGET, "application/javascript; charset=utf-8", {"cache-control": "public, max-age=300"})


app = Api(status, libraryh3lp, widget, headers=ANY_SITE)

handler = http.lambda_handler(app)
