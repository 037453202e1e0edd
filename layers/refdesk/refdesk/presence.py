"""Is a librarian available? The desk is available when it is open and at least one librarian
is on duty (refdesk.roster). Also LibraryH3lp's presence formats, for existing snippets."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from xml.sax.saxutils import quoteattr

from refdesk import roster
from refdesk.schedule import Schedule


def current(now: datetime | None = None) -> dict:
    now = now or datetime.now(timezone.utc)
    schedule = Schedule.current()
    open_now = schedule.is_open(now)
    on_duty = roster.librarians_on_duty() if open_now else 0
    next_open = schedule.next_opening(now)
    return {
        "status": "available" if open_now and on_duty else "unavailable",
        "librarians_on_duty": on_duty,
        "open_now": open_now,
        "next_open": next_open.isoformat() if next_open else None,
    }


LIBRARYH3LP_FORMATS = ("text", "xml", "js")
CALLBACK = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$")


def libraryh3lp_body(fmt: str, queue: str, host: str, available: bool,
                     callback: str = "") -> tuple[str, str] | None:
    """(content type, body) in LibraryH3lp's documented presence formats, so an existing
    presence snippet keeps working with only the host changed. The js format calls `cb`
    afterwards, as LibraryH3lp does, when it is a plain (dotted) JavaScript name."""
    show = "available" if available else "unavailable"
    if fmt == "text":
        return "text/plain; charset=utf-8", show
    if fmt == "xml":
        resource = '\n  <resource show="available" name="refdesk" priority="5"/>\n' if available else ""
        return "text/xml; charset=utf-8", f"<presence user={quoteattr(queue)} server={quoteattr(host)}>{resource}</presence>"
    if fmt == "js":
        # An "unavailable" entry rather than []: snippets read jabber_resources[0].show.
        resources = f"[{{\n   name: 'refdesk',\n   priority: 5,\n   show: '{show}',\n   status: ''\n}}]"
        call = f"{callback}();\n" if CALLBACK.match(callback) else ""
        return "application/javascript; charset=utf-8", (
            f"var jabber_user={_js(queue)};\nvar jabber_server={_js(host)};\nvar jabber_resources={resources};\n{call}")
    return None


def _js(value: str) -> str:
    return json.dumps(value).replace("<", "\\u003c")
