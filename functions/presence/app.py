"""GET /presence, LibraryH3lp's /presence/jid/{queue}/{host}/{format} (and image/{theme}),
GET /widget.js, LibraryH3lp's chat snippet script (/js/libraryh3lp.js) and direct chat links
(/chat/{queue}@chat.libraryh3lp.com) answered with it, the privacy notice it links to
(GET /privacy.html) and the library's contact card, GET|HEAD /contact.vcf. Every answer, a 404 included, may be read from any site.

CloudFront caches them (template.yaml's CacheDistribution) for the lifetime each answer states in its
Cache-Control, within the bounds of that path's cache policy."""
import hashlib
from pathlib import Path

from refdesk import contact_card, http, libraryh3lp_chat, presence, privacy_notice
from refdesk.http import Api, Router
from refdesk.settings import get_settings

WIDGET = (Path(__file__).parent / "static" / "widget.js").read_text(encoding="utf-8")
# /widget.js?v=<this> names this script and no other, so it can be kept for a year.
WIDGET_VERSION = hashlib.sha256(WIDGET.encode("utf-8")).hexdigest()[:12]
VERSIONED_WIDGET = {"cache-control": "public, max-age=31536000, immutable"}
# The tag a library pasted (/widget.js), or an older version's URL: the current script, kept
# 5 minutes, so that a new version reaches every page within 5 minutes of a deploy.
CURRENT_WIDGET = {"cache-control": "public, max-age=300"}
# An answer without a lifetime of its own (a 404 for a malformed presence URL, any error) is kept
# no longer than presence is.
ANY_SITE = {"access-control-allow-origin": "*", "cache-control": presence.CACHE_CONTROL}
PRESENCE_CACHE = {"cache-control": presence.CACHE_CONTROL}
CARD_HEADERS = {"cache-control": contact_card.CACHE_CONTROL,
                "content-disposition": f'inline; filename="{contact_card.FILENAME}"'}

status = Router()
libraryh3lp = Router()
widget = Router()
libraryh3lp_widget = Router()
card = Router()
privacy = Router()


def api_base(router: Router) -> str:
    """Where the chat API is: asked through the cache too, the function sees the API's own host."""
    return get_settings().public_base_url or f"https://{http.request(router).domain}"


@status.get("/presence")
def desk():
    # Also the number to text and the contact card, which the widget offers, desk.json's proactive
    # chat, and the widget's versioned URL for a page that builds its script tag from presence.
    base = api_base(status)
    return http.json_response(200, {**presence.current(), **presence.proactive_fields(),
                                    **contact_card.presence_fields(base),
                                    "widget": f"{base}/widget.js?v={WIDGET_VERSION}"}, PRESENCE_CACHE)


@libraryh3lp.get("/presence/jid/<queue>/<host>/<format>")
def jid(queue: str, host: str, format: str, theme: str | None = None):  # noqa: A002 - as in template.yaml
    # Checked before presence.current(): a malformed URL costs no database read.
    resource = presence.Libraryh3lpResource.parse(queue, host, format, theme)
    available = presence.current()["status"] == "available"
    callback = str(http.request(libraryh3lp).query.get("cb", ""))
    content_type, body = resource.render(available, callback)
    return http.respond(200, body, content_type, PRESENCE_CACHE)


@libraryh3lp.get("/presence/jid/<queue>/<host>/image/<theme>")
def themed_image(queue: str, host: str, theme: str):
    return jid(queue, host, "image", theme)


@widget.get("/widget.js")
def script():
    versioned = http.request(widget).query.get("v") == WIDGET_VERSION
    return http.respond(200, WIDGET, "application/javascript; charset=utf-8",
                        VERSIONED_WIDGET if versioned else CURRENT_WIDGET)


# Both name the current widget's version: kept as long as the unversioned widget, so that a new
# version reaches them within as long.
@libraryh3lp_widget.get("/js/libraryh3lp.js")
def snippet_script():
    settings = get_settings()
    return http.respond(200, libraryh3lp_chat.loader(WIDGET_VERSION, api_base(libraryh3lp_widget),
                                                     settings.library_name),
                        libraryh3lp_chat.LOADER_CONTENT_TYPE, CURRENT_WIDGET)


@libraryh3lp_widget.get("/chat/<jid>")
def direct_chat(jid: str):
    libraryh3lp_chat.require_queue_jid(jid)
    settings, api = get_settings(), api_base(libraryh3lp_widget)
    return http.respond(200, libraryh3lp_chat.page(WIDGET_VERSION, api, settings.library_name),
                        libraryh3lp_chat.PAGE_CONTENT_TYPE,
                        {**libraryh3lp_chat.page_headers(api, settings.live_url), **CURRENT_WIDGET})


@privacy.get("/privacy.html")
def notice():
    return http.respond(200, privacy_notice.html(get_settings()), privacy_notice.CONTENT_TYPE,
                        privacy_notice.HEADERS)


@card.route("/contact.vcf", method=["GET", "HEAD"])
def contact():
    """The vCard Twilio sends as MMS media (it checks the type with HEAD and GET) and the widget
    links to as "Add to contacts"."""
    body = "" if http.request(card).method == "HEAD" else contact_card.vcard()
    return http.respond(200, body, contact_card.CONTENT_TYPE, CARD_HEADERS)


app = Api(status, libraryh3lp, widget, libraryh3lp_widget, card, privacy, headers=ANY_SITE)

handler = http.lambda_handler(app)
