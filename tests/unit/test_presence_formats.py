"""LibraryH3lp's presence API in refdesk.presence: which URLs RefDesk answers (queue and user
JIDs, formats, themes) and the image format's PNGs, decoded here by a reader written from the
PNG specification (chunk CRCs, IHDR, zlib, filter bytes)."""
from __future__ import annotations

import struct
import zlib

import pytest

from refdesk import presence
from refdesk.errors import NotFound
from refdesk.presence import Libraryh3lpResource

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_png(data: bytes) -> tuple[int, int, list[list[tuple[int, ...]]]]:
    """(width, height, rows of RGBA pixels) of an 8-bit RGBA, non-interlaced PNG whose rows use
    filter 0 (the only kind the writer uses); any other PNG fails the test."""
    assert data[:8] == PNG_SIGNATURE
    position, chunks = 8, []
    while position < len(data):
        (length,) = struct.unpack(">I", data[position:position + 4])
        kind, body = data[position + 4:position + 8], data[position + 8:position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length:position + 12 + length])
        assert crc == zlib.crc32(kind + body), f"bad CRC in {kind!r}"
        chunks.append((kind, body))
        position += 12 + length
    kinds = [kind for kind, _ in chunks]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, colour, compression, filtering, interlace) == (8, 6, 0, 0, 0)
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = 1 + width * 4
    assert len(raw) == height * stride
    rows = []
    for y in range(height):
        line = raw[y * stride:(y + 1) * stride]
        assert line[0] == 0
        rows.append([tuple(line[1 + x * 4:5 + x * 4]) for x in range(width)])
    return width, height, rows


def colours(rows) -> set[tuple[int, ...]]:
    return {pixel for row in rows for pixel in row}


# --- which URLs are answered -------------------------------------------------------------

@pytest.mark.parametrize("name, host, fmt, theme", [
    ("ask-us", "chat.libraryh3lp.com", "text", None),  # a queue
    ("mycc-support", "chat.ca.libraryh3lp.com", "xml", None),
    ("ask", "chat.refdesk.example.org", "js", None),
    ("amanda.reyes", "libraryh3lp.com", "text", None),  # a user
    ("amanda_reyes", "ca.libraryh3lp.com", "js", None),
    ("ask-us", "chat.libraryh3lp.com", "image", None),
    ("amanda", "libraryh3lp.com", "image", "simpletext"),
    ("ask-us", "chat.libraryh3lp.com", "image", "some-theme-we-do-not-draw"),
])
def test_libraryh3lp_urls_that_are_answered(name, host, fmt, theme):
    resource = Libraryh3lpResource.parse(name, host, fmt, theme)

    assert (resource.name, resource.host, resource.fmt, resource.theme) == (name, host, fmt, theme or "")


@pytest.mark.parametrize("name, host, fmt, theme", [
    ("ask-us", "chat.libraryh3lp.com", "json", None),
    ("ask-us", "chat.libraryh3lp.com", "IMAGE", None),
    ("ask-us", "chat.libraryh3lp.com", "png", None),
    ("ask-us", "chat.libraryh3lp.com", "text", "simpletext"),  # a theme is only for images
    ("ask-us", "chat.libraryh3lp.com", "js", "dot"),
    ("ask-us", "chat.libraryh3lp.com", "image", ""),
    ("ask-us", "chat.libraryh3lp.com", "image", "a theme"),
    ("ask-us", "chat.libraryh3lp.com", "image", "x" * 101),
    ("ask-us", "chat.libraryh3lp.com", "image", "<svg>"),
    ("ask-us", "refdesk.example.org", "text", None),  # neither a chat host nor LibraryH3lp's domain
    ("ask-us", "libraryh3lp.com.evil.example", "text", None),
    ("ask-us", "evillibraryh3lp.com", "text", None),
    ("ask-us", "a.b.libraryh3lp.com", "text", None),
    ("ask-us", "LIBRARYH3LP.COM", "text", None),
    ("ask-us", "chat", "text", None),
    ("ask us", "libraryh3lp.com", "text", None),
    ("", "libraryh3lp.com", "text", None),
    ("a'b", "libraryh3lp.com", "image", None),
    ("x" * 101, "chat.libraryh3lp.com", "text", None),
])
def test_libraryh3lp_urls_that_are_not_found(name, host, fmt, theme):
    with pytest.raises(NotFound):
        Libraryh3lpResource.parse(name, host, fmt, theme)


# --- the text formats for a user JID ---------------------------------------------------------

def test_a_user_jid_gets_the_same_formats_with_its_own_names():
    resource = Libraryh3lpResource.parse("amanda", "libraryh3lp.com", "xml")

    content_type, body = resource.render(available=True)

    assert content_type.startswith("text/xml")
    assert body.startswith('<presence user="amanda" server="libraryh3lp.com">')
    assert 'show="available"' in body


def test_render_passes_the_callback_to_the_js_format():
    _, body = Libraryh3lpResource.parse("ask", "chat.libraryh3lp.com", "js").render(False, "lh3Update")

    assert body.rstrip().endswith("lh3Update();")
    assert "show: 'unavailable'" in body


# --- the image format --------------------------------------------------------------------

@pytest.mark.parametrize("available", [True, False])
def test_the_default_image_is_a_badge_in_the_state_colour_with_white_writing(available):
    content_type, data = Libraryh3lpResource.parse("ask", "chat.libraryh3lp.com", "image").render(available)

    assert content_type == "image/png"
    width, height, rows = read_png(data)
    assert 60 <= width <= 200 and 12 <= height <= 40  # a badge: wider than high, small
    state = (*(presence.ONLINE if available else presence.OFFLINE), 255)
    assert colours(rows) == {state, (255, 255, 255, 255)}
    assert rows[0][0] == state  # the margin


def test_online_and_offline_images_differ_and_offline_is_the_longer_word():
    online, offline = presence.presence_image(True), presence.presence_image(False)

    assert online != offline
    assert read_png(offline)[0] > read_png(online)[0]


def test_the_badge_says_chat_online_or_offline():
    assert presence.BADGE_TEXT == {True: "Chat online", False: "Chat offline"}
    assert set("".join(presence.BADGE_TEXT.values())) <= set(presence.GLYPHS)
    assert all(len(glyph) == 7 and all(len(line) == 5 for line in glyph) for glyph in presence.GLYPHS.values())


@pytest.mark.parametrize("available", [True, False])
def test_the_dot_theme_is_a_disc_on_transparent_corners(available):
    width, height, rows = read_png(presence.presence_image(available, "dot"))

    state = (*(presence.ONLINE if available else presence.OFFLINE), 255)
    assert (width, height) == (16, 16)
    assert rows[0][0] == rows[0][15] == rows[15][0] == rows[15][15] == (0, 0, 0, 0)
    assert rows[8][8] == rows[7][7] == state
    assert colours(rows) == {state, (0, 0, 0, 0)}


def test_an_unknown_theme_is_drawn_as_the_default_one():
    assert presence.presence_image(True, "lh3-buttons-blue") == presence.presence_image(True, "simpletext")
    assert presence.presence_image(False, "") == presence.presence_image(False, presence.DEFAULT_THEME)


def test_images_are_drawn_once_per_container():
    assert presence.presence_image(True, "dot") is presence.presence_image(True, "dot")


def test_the_png_writer_round_trips_any_pixels():
    pixels = [[(x * 40, y * 60, (x + y) * 20, 255 - x) for x in range(5)] for y in range(3)]

    assert read_png(presence.png(5, 3, pixels)) == (5, 3, pixels)
