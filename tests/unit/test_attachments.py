"""refdesk.attachments and refdesk.file_links without AWS: which bytes pass, and how a librarian's
files reach each channel."""
from __future__ import annotations

import pytest

from refdesk import attachments, file_links
from refdesk.channels import slack_connect, sms, web
from refdesk.models import Author, Message, SharedFile

AT = "2026-12-08T10:00:00.000000Z"
PICTURE = SharedFile(file_id="F0PIC", name="map.png", kind="image/png", size=2000)
HUGE_PICTURE = SharedFile(file_id="F0HUGE", name="scan.png", kind="image/png", size=6 * 1024 * 1024)
WEBP = SharedFile(file_id="F0WEBP", name="cover.webp", kind="image/webp", size=2000)
PDF = SharedFile(file_id="F0PDF", name="guide.pdf", kind="application/pdf", size=900)


def for_patron(message: Message, traits) -> tuple[str, tuple[str, ...]]:
    """As refdesk.delivery asks it, of a channel's traits (None: a follow-up's e-mail, handed on)."""
    return file_links.for_patron("c1", message, shows_files=bool(traits and traits.shows_files),
                                 sends_pictures=bool(traits and traits.sends_pictures))


def reply(*files: SharedFile, text: str = "Here you are") -> Message:
    return Message(message_id="slack-1", at=AT, author=Author.LIBRARIAN, text=text, files=files)


@pytest.mark.parametrize("head, kind", [
    (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "image/png"), (b"\xff\xd8\xff\xe0\0\x10JFIF", "image/jpeg"),
    (b"GIF89a\x01\0", "image/gif"), (b"RIFF\x24\0\0\0WEBPVP8 ", "image/webp"), (b"%PDF-1.7\n", "application/pdf"),
    (b"<svg xmlns=", ""), (b"MZ\x90\0", ""), (b"PK\x03\x04", ""), (b"", ""), (b"RIFF\x24\0\0\0WAVEfmt ", ""),
])
def test_only_the_first_bytes_say_what_a_file_is(head, kind):
    assert attachments.kind_of(head) == kind


def test_the_widget_shows_the_files_itself_so_its_text_stays_as_written():
    assert for_patron(reply(PICTURE, PDF), web.CHANNEL.traits) == ("Here you are", ())


def test_an_sms_patron_gets_pictures_twilio_carries_as_media_and_the_rest_as_links():
    text, media = for_patron(reply(PICTURE, HUGE_PICTURE, WEBP, PDF), sms.CHANNEL.traits)
    lines = text.splitlines()
    assert lines[0] == "Here you are"
    assert [line.split(": ")[0] for line in lines[1:]] == ["scan.png", "cover.webp", "guide.pdf"]
    assert media == (file_links.link("c1", PICTURE, AT),)


@pytest.mark.parametrize("traits", [slack_connect.CHANNEL.traits, None])  # None: a follow-up's e-mail
def test_every_other_channel_gets_a_line_with_a_link_for_each_file(traits):
    text, media = for_patron(reply(PICTURE, text=""), traits)
    assert (text, media) == (f"map.png: {file_links.link('c1', PICTURE, AT)}", ())


def test_a_link_is_the_same_however_often_it_is_made_and_lasts_the_retention(monkeypatch):
    first = file_links.link("c1", PDF, AT)
    assert file_links.link("c1", PDF, AT) == first  # a retried text is recognised by its words
    expires = int(first.rsplit("/", 1)[1].split(".")[2], 16)
    assert expires == 1796724000 + 30 * 86400  # AT + RetentionDays (30 by default)
