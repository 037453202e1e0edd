"""Is a librarian available? The desk is available when it is open and at least one librarian
is on duty (refdesk.roster). Also LibraryH3lp's presence API, so that existing snippets keep
working with only the host changed:

    /presence/jid/{name}/chat.{host}/{format}     a queue (the host starts with "chat.")
    /presence/jid/{name}/libraryh3lp.com/{format} a user (LibraryH3lp's own domain or a regional one)
    /presence/jid/{name}/{host}/image/{theme}     the image format with a theme

Formats: text, xml, js (with an optional `cb` callback) and image (a PNG; LibraryH3lp's
default theme is "simpletext"). RefDesk has one desk, so every queue and user shows the
desk's presence."""
from __future__ import annotations

import json
import re
import struct
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache

from refdesk import deskconfig, roster
from refdesk.errors import NotFound
from refdesk.schedule import Schedule

# How long a presence answer may be reused: by browsers and by CloudFront (template.yaml's
# PresenceCachePolicy, which never keeps one over 60 s). A librarian going on or off duty shows
# within a minute, and each edge location asks the function at most once a minute per URL, so a
# busy site's page views cost no more invocations than a quiet one's. For the minute after, the
# edge answers with the expired one while it asks the function, so no page waits for a Lambda.
CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=60"


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
        # As the after-hours reply words it, in the library's time zone: the widget shows this.
        "opens": schedule.opening_label(next_open, now) or None,
    }


def proactive_fields() -> dict:
    """desk.json's proactive chat, for the widget to invite a visitor while the desk is available:
    in the presence answer (cached with it), so it costs the page no request of its own; nothing
    when off."""
    proactive = deskconfig.get().proactive
    if not proactive:
        return {}
    return {"proactive": {"pages": list(proactive.pages), "delay_seconds": proactive.delay_seconds}}


# --- LibraryH3lp's presence API --------------------------------------------------------

LIBRARYH3LP_FORMATS = ("text", "xml", "js", "image")
NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
# A user's JID is user@libraryh3lp.com (or a regional server such as ca.libraryh3lp.com).
USER_HOST = re.compile(r"^(?:[a-z0-9-]{1,30}\.)?libraryh3lp\.com$")
CALLBACK = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$")
DEFAULT_THEME = "simpletext"
PNG = "image/png"


@dataclass(frozen=True)
class Libraryh3lpResource:
    """One presence URL of LibraryH3lp's API, checked before anything is read."""

    name: str
    host: str
    fmt: str
    theme: str = ""

    @classmethod
    def parse(cls, name: str, host: str, fmt: str, theme: str | None = None) -> "Libraryh3lpResource":
        """NotFound unless RefDesk answers this URL: a plain queue or user name, a chat.* host for
        a queue or LibraryH3lp's domain for a user, a known format, a theme only for images."""
        queue_host = host.startswith("chat.") and bool(NAME.match(host))
        if not (NAME.match(name) and (queue_host or USER_HOST.match(host)) and fmt in LIBRARYH3LP_FORMATS):
            raise NotFound("no such presence resource")
        if theme is not None and (fmt != "image" or not NAME.match(theme)):
            raise NotFound("no such presence resource")
        return cls(name, host, fmt, theme or "")

    def render(self, available: bool, callback: str = "") -> tuple[str, str | bytes]:
        """(content type, body)."""
        if self.fmt == "image":
            return PNG, presence_image(available, self.theme)
        return libraryh3lp_body(self.fmt, self.name, self.host, available, callback)


def libraryh3lp_body(fmt: str, queue: str, host: str, available: bool,
                     callback: str = "") -> tuple[str, str] | None:
    """(content type, body) in LibraryH3lp's documented text formats; None for other formats
    (images: `presence_image`). The js format calls `cb` afterwards, as LibraryH3lp does, when
    it is a plain (dotted) JavaScript name."""
    show = "available" if available else "unavailable"
    if fmt == "text":
        return "text/plain; charset=utf-8", show
    if fmt == "xml":
        resource = '\n  <resource show="available" name="refdesk" priority="5"/>\n' if available else ""
        return "text/xml; charset=utf-8", f"<presence user={_attr(queue)} server={_attr(host)}>{resource}</presence>"
    if fmt == "js":
        # An "unavailable" entry rather than []: snippets read jabber_resources[0].show.
        resources = f"[{{\n   name: 'refdesk',\n   priority: 5,\n   show: '{show}',\n   status: ''\n}}]"
        call = f"{callback}();\n" if CALLBACK.match(callback) else ""
        return "application/javascript; charset=utf-8", (
            f"var jabber_user={_js(queue)};\nvar jabber_server={_js(host)};\nvar jabber_resources={resources};\n{call}")
    return None


def _attr(value: str) -> str:
    """A double-quoted XML attribute value (xml.sax.saxutils would import urllib.request)."""
    escaped = (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
               .replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;"))
    return f'"{escaped}"'


def _js(value: str) -> str:
    return json.dumps(value).replace("<", "\\u003c")


# --- the image format: small PNGs drawn here, once per container -----------------------

ONLINE, OFFLINE, WHITE = (0x1B, 0x7F, 0x3B), (0x6B, 0x6B, 0x6B), (0xFF, 0xFF, 0xFF)  # white text: 5:1 contrast
# A 5x7 font for the words the badges use.
GLYPHS = {
    "C": (".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."),
    "h": ("#....", "#....", "#.##.", "##..#", "#...#", "#...#", "#...#"),
    "a": (".....", ".....", ".###.", "....#", ".####", "#...#", ".####"),
    "t": (".#...", ".#...", "###..", ".#...", ".#...", ".#..#", "..##."),
    "o": (".....", ".....", ".###.", "#...#", "#...#", "#...#", ".###."),
    "n": (".....", ".....", "#.##.", "##..#", "#...#", "#...#", "#...#"),
    "l": (".##..", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "i": ("..#..", ".....", ".##..", "..#..", "..#..", "..#..", ".###."),
    "e": (".....", ".....", ".###.", "#...#", "#####", "#....", ".###."),
    "f": ("..##.", ".#..#", ".#...", "###..", ".#...", ".#...", ".#..."),
    " ": (".....",) * 7,
}
BADGE_TEXT = {True: "Chat online", False: "Chat offline"}


def _simpletext(available: bool) -> tuple[int, int, list[list[tuple[int, int, int, int]]]]:
    """The words on a coloured badge, drawn at twice the font's size."""
    scale, pad = 2, 4
    text = BADGE_TEXT[available]
    width, height = (len(text) * 6 - 1) * scale + 2 * pad, 7 * scale + 2 * pad
    background = (*(ONLINE if available else OFFLINE), 255)
    pixels = [[background] * width for _ in range(height)]
    for index, char in enumerate(text):
        for row, line in enumerate(GLYPHS[char]):
            for column, bit in enumerate(line):
                if bit == "#":
                    for dy in range(scale):
                        for dx in range(scale):
                            pixels[pad + row * scale + dy][pad + (index * 6 + column) * scale + dx] = (*WHITE, 255)
    return width, height, pixels


def _dot(available: bool) -> tuple[int, int, list[list[tuple[int, int, int, int]]]]:
    """A 16x16 disc on a transparent background."""
    size, colour = 16, ONLINE if available else OFFLINE
    centre, radius = (size - 1) / 2, size / 2 - 0.5
    pixels = [[(*colour, 255) if (x - centre) ** 2 + (y - centre) ** 2 <= radius ** 2 else (0, 0, 0, 0)
               for x in range(size)] for y in range(size)]
    return size, size, pixels


THEMES = {"simpletext": _simpletext, "dot": _dot}


@lru_cache(maxsize=None)
def _image(available: bool, theme: str) -> bytes:
    width, height, pixels = THEMES[theme](available)
    return png(width, height, pixels)


def presence_image(available: bool, theme: str = "") -> bytes:
    """The PNG for a theme. A theme RefDesk does not draw gets the default one, so an existing
    snippet with any of LibraryH3lp's themes shows a picture rather than a broken image."""
    return _image(bool(available), theme if theme in THEMES else DEFAULT_THEME)


def png(width: int, height: int, pixels: list[list[tuple[int, int, int, int]]]) -> bytes:
    """An 8-bit RGBA PNG (no filtering; zlib does the work)."""
    raw = b"".join(b"\x00" + bytes(channel for pixel in row for channel in pixel) for row in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8 bits, RGBA, deflate, no filter/interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
