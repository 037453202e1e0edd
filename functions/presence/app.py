"""GET /presence, LibraryH3lp's /presence/jid/{queue}/{host}/{format} (and image/{theme}),
GET /widget.js and the library's contact card, GET|HEAD /contact.vcf. Every answer, a 404
included, may be read from any site."""
from pathlib import Path

from refdesk import contact_card, http, presence
from refdesk.http import Api, Router
from refdesk.settings import get_settings

WIDGET = (Path(__file__).parent / "static" / "widget.js").read_text(encoding="utf-8")
ANY_SITE = {"access-control-allow-origin": "*"}
# Presence changes when a librarian goes on or off duty; a short cache keeps polling cheap.
SHORT_CACHE = {"cache-control": "public, max-age=15"}
# The card changes only when the stack's parameters do.
CARD_HEADERS = {"cache-control": "public, max-age=3600",
                "content-disposition": f'inline; filename="{contact_card.FILENAME}"'}

status = Router()
libraryh3lp = Router()
widget = Router()
card = Router()


@status.get("/presence")
def desk():
    # Also the number to text and the contact card, which the widget offers.
    base = get_settings().public_base_url or f"https://{http.request(status).domain}"
    return http.json_response(200, {**presence.current(), **contact_card.presence_fields(base)}, SHORT_CACHE)


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


@card.route("/contact.vcf", method=["GET", "HEAD"])
def contact():
    """The vCard Twilio sends as MMS media (it checks the type with HEAD and GET) and the widget
    links to as "Add to contacts"."""
    body = "" if http.request(card).method == "HEAD" else contact_card.vcard()
    return http.respond(200, body, contact_card.CONTENT_TYPE, CARD_HEADERS)


app = Api(status, libraryh3lp, widget, card, headers=ANY_SITE)

handler = http.lambda_handler(app)
