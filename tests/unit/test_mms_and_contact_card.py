"""Units of the MMS and contact-card work: which URLs may get the Twilio credentials, how the SMS
channel reads MediaUrl{i} / MediaContentType{i}, the staff note, and the vCard's text rules."""
from __future__ import annotations

import pytest
import vobject

from refdesk.errors import BadRequest

SID = "AC" + "0" * 32
MEDIA = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages/MM{'1' * 32}/Media/ME{'2' * 32}"


def sms_fields(**extra) -> dict:
    return {"MessageSid": "MM" + "a" * 32, "From": "+15551234567", "Body": "", **extra}


@pytest.mark.parametrize("url, fetched", [
    (MEDIA, MEDIA),
    (MEDIA.replace("https://", "http://"), None),
    (MEDIA.replace("api.twilio.com", "api.twilio.com.evil.example"), None),
    (MEDIA.replace("api.twilio.com", "api.twilio.com:443"), None),
    (MEDIA.replace("https://", "https://someone@"), None),
    ("https://api.twilio.com/2010-04-01/Calls.json", None),
    ("https://mms.twiliocdn.com/anything", None),
    ("not a url", None),
    ("", None),
])
def test_only_twilios_media_urls_get_the_credentials(url, fetched):
    from refdesk.pictures import twilio_media_url

    assert twilio_media_url(url) == fetched


def test_locally_twilios_host_becomes_the_stand_ins(monkeypatch):
    from refdesk.pictures import twilio_media_url
    from refdesk.settings import get_settings

    monkeypatch.setenv("TWILIO_API_URL", "http://127.0.0.1:4567")
    get_settings.cache_clear()

    assert twilio_media_url(MEDIA) == MEDIA.replace("https://api.twilio.com", "http://127.0.0.1:4567")
    assert twilio_media_url(MEDIA.replace("https://api.twilio.com", "http://127.0.0.1:4567")) is not None
    assert twilio_media_url(MEDIA.replace("https://api.twilio.com", "http://127.0.0.1:9999")) is None


def test_the_sms_channel_carries_the_media_and_a_short_note():
    from refdesk.channels.sms import CHANNEL

    message = CHANNEL.parse(sms_fields(Body="Cover and a voice memo", NumMedia="2", MediaUrl0=MEDIA,
                                       MediaContentType0="image/JPEG", MediaUrl1=MEDIA + "b",
                                       MediaContentType1="audio/amr; codecs=x"))

    assert message.media == ((MEDIA, "image/jpeg"), (MEDIA + "b", "audio/amr"))
    assert message.text == "Cover and a voice memo\n[sent 1 picture and 1 file]"


@pytest.mark.parametrize("count, media, note", [
    ("1", {"MediaUrl0": MEDIA, "MediaContentType0": "image/png"}, "[sent 1 picture]"),
    ("3", {f"MediaUrl{i}": MEDIA for i in range(3)} | {f"MediaContentType{i}": "image/gif" for i in range(3)},
     "[sent 3 pictures]"),
    ("1", {"MediaUrl0": MEDIA, "MediaContentType0": "video/mp4"}, "[sent 1 file]"),
    ("1", {}, "[sent 1 picture or file]"),  # Twilio said so, without the URL or type
    ("1", {"MediaUrl0": MEDIA, "MediaContentType0": "<script>"}, "[sent 1 picture or file]"),
    ("99", {}, "[sent 10 pictures or files]"),
])
def test_the_note_counts_pictures_and_files(count, media, note):
    from refdesk.channels.sms import CHANNEL

    message = CHANNEL.parse(sms_fields(NumMedia=count, **media))
    assert message.text == note
    assert len(message.media) <= 10


def test_a_negative_media_count_is_refused():
    from refdesk.channels.sms import CHANNEL

    with pytest.raises(BadRequest):
        CHANNEL.parse(sms_fields(Body="hi", NumMedia="-1"))


def test_a_text_without_media_carries_none():
    from refdesk.channels.sms import CHANNEL

    message = CHANNEL.parse(sms_fields(Body="Just text", NumMedia="0"))
    assert message.media == () and message.text == "Just text"


def test_the_vcard_round_trips_through_vobject_whatever_the_name(monkeypatch):
    from refdesk import contact_card
    from refdesk.settings import get_settings

    name = 'Bibliothèque "Émile-Nelligan", Annexe; 2e étage \\ 図書館 📚 ' * 3
    monkeypatch.setenv("LIBRARY_NAME", name.strip())
    monkeypatch.setenv("LIBRARY_EMAIL", "ask@library.example.org")
    get_settings.cache_clear()

    text = contact_card.vcard()

    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    assert text.endswith("END:VCARD\r\n")
    card = vobject.readOne(text)
    assert card.fn.value == name.strip()
    assert card.email.value == "ask@library.example.org"
    assert "librarian" in card.note.value


def test_a_line_break_in_a_setting_cannot_add_a_property(monkeypatch):
    from refdesk import contact_card
    from refdesk.settings import get_settings

    monkeypatch.setenv("LIBRARY_WEBSITE", "https://library.example.org\r\nTEL:+19999999999")
    get_settings.cache_clear()

    card = vobject.readOne(contact_card.vcard())
    assert [tel.value for tel in card.contents["tel"]] == ["+15005550006"]
