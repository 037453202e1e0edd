"""MMS end to end over the local stack (`python -m local.devstack`, its own instance): the phone
simulator's control API sends a picture, the Twilio stand-in serves it with basic auth, the
dispatcher uploads it with files_upload_v2 into the staff thread, and the Slack stand-in shows
and serves the file; the first reply carries the library's contact card as MMS media, later
ones do not; the card itself is served over HTTP as text/vcard."""
from __future__ import annotations

import base64
import struct
import uuid
import zlib

import pytest
import vobject

def new_number() -> str:
    """A patron of this test only (a number's open conversation would take the next text)."""
    return "+1555" + str(uuid.uuid4().int)[:7]


@pytest.fixture(scope="module")
def desk(start_devstack):
    return start_devstack(LIBRARY_NAME="Riverside Public Library", LIBRARY_WEBSITE="https://riverside.example.org")


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + uuid.uuid4().bytes[:12] for _ in range(4))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def send(stack, body: str, media: list[tuple[str, bytes]], sender: str | None = None) -> dict:
    return stack.post_json("/_local/api/phone/send", {
        "from": sender or new_number(), "body": body,
        "media": [{"content_type": kind, "data": base64.b64encode(data).decode()} for kind, data in media]})


def messages(stack) -> list[dict]:
    return stack.get_json("/_local/api/slack/messages")["messages"]


def root_for(stack, marker: str) -> dict:
    return stack.wait_until(lambda: next((m for m in messages(stack) if not m["thread_ts"]
                                          and marker in str(m["blocks"])), None), message=f"a card for {marker}")


def in_thread(stack, root: dict, predicate, what: str) -> dict:
    return stack.wait_until(lambda: next((m for m in messages(stack) if m["thread_ts"] == root["ts"]
                                          and predicate(m)), None), message=what)


def test_a_picture_texted_in_is_shown_in_the_staff_thread(desk):
    marker = ("k" + uuid.uuid4().hex[:7])
    picture = png()

    answer = send(desk, f"Is this the edition you have? {marker}", [("image/png", picture)])

    assert answer["status"] == 200 and answer["message_sid"].startswith("MM")
    root = root_for(desk, marker)
    assert "[sent 1 picture]" in str(root["blocks"])
    shown = in_thread(desk, root, lambda m: m.get("files"), "the picture in the thread")
    [file] = shown["files"]
    assert file["mimetype"] == "image/png" and file["size"] == len(picture)
    served = desk.http.get(file["url_private"], timeout=10)
    assert served.status_code == 200 and served.content == picture


def test_what_cannot_be_shown_gets_a_note_in_the_thread(desk):
    marker = ("k" + uuid.uuid4().hex[:7])
    desk.post_json("/_local/api/faults", {"twilio_media": {"status": 503, "count": 3}})

    send(desk, f"Two things {marker}", [("audio/mpeg", b"ID3 voice memo"), ("image/jpeg", png())])

    root = root_for(desk, marker)
    assert "[sent 1 picture and 1 file]" in str(root["blocks"])
    in_thread(desk, root, lambda m: "only pictures are shown" in m["text"], "the note about the audio file")
    in_thread(desk, root, lambda m: "could not be fetched from Twilio" in m["text"], "the note about the fetch")
    assert not any(m.get("files") and m["thread_ts"] == root["ts"] for m in messages(desk))


def test_the_first_reply_carries_the_contact_card_and_later_ones_do_not(desk):
    marker = ("k" + uuid.uuid4().hex[:7])
    number = new_number()
    send(desk, f"Hello {marker}", [], sender=number)
    root = root_for(desk, marker)

    for text in ("First answer", "Second answer"):
        desk.post_json("/_local/api/slack/reply", {"thread_ts": root["ts"], "user": "U0AMANDA", "text": text})
        desk.wait_until(lambda: text in str(desk.get_json("/_local/api/phone/messages", number=number)["messages"]),
                        message=f"{text!r} texted")

    sent = [m for m in desk.get_json("/_local/api/phone/messages", number=number)["messages"]
            if " in line." not in m["body"]]  # the place in the waiting queue, if others wait in this stack
    card_url = desk.config["public_base_url"] + "/contact.vcf"
    assert [(m["body"], m["media_urls"], m["num_media"]) for m in sent] == [
        ("Amanda (library): First answer", [card_url], "1"), ("Amanda (library): Second answer", [], "0")]

    head = desk.http.head(card_url, timeout=10)
    got = desk.http.get(card_url, timeout=10)
    for response in (head, got):
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/vcard; charset=utf-8"
    card = vobject.readOne(got.text)
    assert card.fn.value == "Riverside Public Library"
    assert card.tel.value == desk.config["twilio_from_number"]
    assert card.url.value == "https://riverside.example.org"
