"""Is a librarian available? Librarians go on and off duty from Slack (/refdesk on|off); the
desk is available when it is open and at least one of them is on duty."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from xml.sax.saxutils import quoteattr

from refdesk import store
from refdesk.schedule import Schedule
from refdesk.settings import get_settings

# An "on" lasts until "off", closing time, or this long at most (a forgotten "off").
LONGEST_SHIFT = timedelta(hours=10)


def _schedule() -> Schedule:
    return Schedule.from_settings(get_settings())


def current(now: datetime | None = None) -> dict:
    now = now or datetime.now(timezone.utc)
    schedule = _schedule()
    open_now = schedule.is_open(now)
    on_duty = len(store.librarians_on_duty()) if open_now else 0
    next_open = schedule.next_opening(now)
    return {
        "status": "available" if open_now and on_duty else "unavailable",
        "librarians_on_duty": on_duty,
        "open_now": open_now,
        "next_open": next_open.isoformat() if next_open else None,
    }


def go_on_duty(user_id: str, name: str, now: datetime | None = None) -> str:
    """Returns what to tell the librarian."""
    now = now or datetime.now(timezone.utc)
    schedule = _schedule()
    if not schedule.is_open(now):
        opening = schedule.next_opening(now)
        when = f" It opens {opening:%a %d %b %H:%M}." if opening else ""
        return f"The desk is closed now, so patrons still see it as offline.{when}"
    until = min(filter(None, [schedule.closing_time(now), now + LONGEST_SHIFT]))
    store.set_on_duty(user_id, name, int(until.timestamp()))
    return f"You're on duty until {until.astimezone(schedule.timezone):%H:%M}. Patrons see the desk as online."


def go_off_duty(user_id: str) -> str:
    was_on = store.set_off_duty(user_id)
    remaining = len(store.librarians_on_duty())
    state = "online" if remaining else "offline"
    prefix = "You're off duty." if was_on else "You weren't on duty."
    return f"{prefix} {remaining} librarian(s) still on duty; patrons see the desk as {state}."


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
