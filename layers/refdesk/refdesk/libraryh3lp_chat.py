"""LibraryH3lp's chat entry points, answered with RefDesk's widget, so that a library changes only
the host in what it already embeds (refdesk.presence answers LibraryH3lp's presence URLs):

    /js/libraryh3lp.js?{id}               the chat snippet's script: a loader of /widget.js
    /chat/{queue}@chat.{host}?skin=…      a direct chat link (a pop-up window or an iframe): a page
                                          that is the widget's chat panel, full-page (its
                                          data-layout="page": open, no launcher)

LibraryH3lp's own settings (the snippet's id, skin, identity, theme …) are ignored: RefDesk has
one desk, and the widget has its own look. Both name the widget by its version (`?v=`), and both find it
beside themselves (`../widget.js`), so they work through the cache and on the API alike."""
from __future__ import annotations

import json
from html import escape
from urllib.parse import urlsplit

from refdesk import presence
from refdesk.errors import NotFound

LOADER_CONTENT_TYPE = "application/javascript; charset=utf-8"
PAGE_CONTENT_TYPE = "text/html; charset=utf-8"
MAX_JID = 201  # presence.NAME's 100 characters, "@", and a host of 100

# Once per page, however many snippets it has: the tag it adds has this id; a widget that
# already runs (its own tag) is left alone.
_LOADER = """/*! RefDesk: LibraryH3lp's libraryh3lp.js, loading RefDesk's chat widget instead. */
(function () {
  var me = document.currentScript, widget = %s;
  if (!me || window.RefDeskWidget || document.getElementById('refdesk-widget')) return;
  var tag = document.createElement('script');
  tag.id = 'refdesk-widget';
  tag.async = true;
  tag.src = new URL(widget.src, me.src).href;
  Object.assign(tag.dataset, widget.data);
  (document.head || document.documentElement).appendChild(tag);
})();
"""



def require_queue_jid(jid: str) -> None:
    """NotFound unless a direct chat link names a queue's JID (queue@chat.libraryh3lp.com, or a
    regional chat.eu.libraryh3lp.com …): the same names and hosts as a queue's presence URL."""
    queue, at, host = jid.partition("@")
    if not (at and len(jid) <= MAX_JID and presence.NAME.match(queue)
            and host.startswith("chat.") and presence.NAME.match(host)):
        raise NotFound("no such chat queue")


def _widget_src(version: str) -> str:
    return f"../widget.js?v={version}"


def _widget_data(api: str, library: str) -> dict[str, str]:
    """The widget tag's data attributes: the chat API (the cache does not serve it), the library."""
    return {"api": api, **({"library": library} if library else {})}


def loader(widget_version: str, api: str, library: str) -> str:
    widget = {"src": _widget_src(widget_version), "data": _widget_data(api, library)}
    return _LOADER % json.dumps(widget).replace("<", "\\u003c")


def page(widget_version: str, api: str, library: str) -> str:
    title = escape(f"Chat with {library}" if library else "Ask a librarian")
    data = {**_widget_data(api, library), "layout": "page"}
    attributes = "".join(f' data-{name}="{escape(value)}"' for name, value in data.items())
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
</head>
<body>
<noscript><p>This chat needs JavaScript.</p></noscript>
<script src="{escape(_widget_src(widget_version))}"{attributes}></script>
</body>
</html>
"""


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def page_headers(api: str, live_url: str) -> dict[str, str]:
    """The page may run the widget beside it (no inline script), reach presence beside it, the
    chat API and the live connection, and nothing else. Any site may frame it, as libraries frame
    LibraryH3lp's chat: the patron types every message, so framing cannot make one be sent."""
    connect = " ".join(filter(None, ("'self'", _origin(api), _origin(live_url))))
    return {
        "content-security-policy": "default-src 'none'; script-src 'self'; "
                                   f"style-src 'unsafe-inline'; connect-src {connect}; "
                                   "base-uri 'none'; form-action 'none'; frame-ancestors *",
        "referrer-policy": "no-referrer",
        "x-content-type-options": "nosniff",
    }
