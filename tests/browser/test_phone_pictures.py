"""The staff view's phone simulator sends a picture as an MMS, and the staff channel pane shows it
in the conversation's thread; the first reply shows as an MMS with the library's contact card.
On a stack of its own, so that the shared stack's staff view never shows a picture."""
from __future__ import annotations

import struct
import zlib

import pytest
from playwright import sync_api

from tests.browser.conftest import Desk

expect = sync_api.expect


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x1d\x4e\x89" * 16 for _ in range(16))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def own_desk(start_devstack) -> Desk:
    return Desk(start_devstack().base_url)


def test_a_picture_from_the_phone_simulator_shows_in_the_staff_thread(own_desk, page):
    page.goto(own_desk.staff_page)
    page.locator("#num").fill("+15559876543")
    page.locator("#sms-text").fill("Is this the one? cover-photo")
    page.locator("#sms-pic").set_input_files({"name": "cover.png", "mimeType": "image/png", "buffer": png()})
    page.locator("#sms-form button[type=submit]").click()

    expect(page.locator("#sms .bubble.out").filter(has_text="[picture: cover.png]")).to_have_count(1)
    thread = page.locator("article.thread").filter(has_text="cover-photo")
    expect(thread).to_contain_text("[sent 1 picture]", timeout=20_000)  # through the dispatcher and Slack
    picture = thread.locator("figure.file img")
    expect(picture).to_have_count(1, timeout=15_000)
    expect(picture).to_have_attribute("alt", "The patron's picture")
    page.wait_for_function("img => img.complete && img.naturalWidth === 16", arg=picture.element_handle())

    root = own_desk.conversation_root("cover-photo")
    own_desk.reply(root["ts"], "Yes, that's the one we have.")
    expect(page.locator("#sms .bubble.in").filter(has_text="that's the one")).to_contain_text(
        "MMS with the library\u2019s contact card", timeout=15_000)
