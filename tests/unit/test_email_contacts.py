"""What a follow-up's contact is (an e-mail address, a phone number, or neither), who delivers a
reply to it, and what the e-mail says."""
from __future__ import annotations

import pytest

from refdesk.settings import Settings


@pytest.fixture
def settings(monkeypatch):
    """Settings as the tests' environment has them, with these overrides."""
    from refdesk import settings as module

    def make(**overrides) -> Settings:
        env = {"TWILIO_FROM_NUMBER": "+15005550006", "ALLOWED_ORIGINS": "https://library.example.org",
               "REPLY_FORMAT": "{name} (library): {text}", **overrides}
        for name in ("LIBRARY_NAME", "LIBRARY_WEBSITE", "LIBRARY_EMAIL", "SES_SENDER_IDENTITY", "SES_FROM_ADDRESS"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        module.get_settings.cache_clear()
        return module.get_settings()

    yield make
    module.get_settings.cache_clear()


@pytest.mark.parametrize("contact, address", [
    ("maria@example.net", "maria@example.net"),
    ("  Maria.Gonzalez+library@Mail.Example.NET ", "Maria.Gonzalez+library@Mail.Example.NET"),
    ("o'brien@example.ie", "o'brien@example.ie"),
    ("josé@example.net", ""),  # SES takes ASCII local parts only
    ("maria@bücherei.example", "maria@xn--bcherei-n2a.example"),
    ("maria@example", ""), ("maria@", ""), ("@example.net", ""), ("maria example.net", ""),
    ("maria@exa mple.net", ""), ("Maria <maria@example.net>", ""), ("maria@example.net\r\nBcc: x@y.org", ""),
    ("a..b@example.net", ""), ("+1 555 123 4567", ""), ("", ""),
])
def test_an_email_address_is_recognised_and_anything_else_is_not(contact, address):
    from refdesk.channels import email

    assert email.address(contact) == address


@pytest.mark.parametrize("contact, number", [
    ("+15551234567", "+15551234567"), ("+1 (555) 123-4567", "+15551234567"), ("(555) 123-4567", "+15551234567"),
    ("555.123.4567", "+15551234567"), ("1 555 123 4567", "+15551234567"), ("+44 20 7946 0958", "+442079460958"),
    ("0044 20 7946 0958", "+442079460958"), ("555-1234", ""), ("2 555 123 4567", ""), ("+0 555 123 4567", ""),
    ("call 555 123 4567", ""), ("555 123 4567 ext 2", ""), ("maria@example.net", ""), ("", ""),
])
def test_a_phone_number_is_made_e164_for_a_north_american_library(settings, contact, number):
    from refdesk.channels import web

    settings()
    assert web.phone_number(contact) == number


def test_a_national_number_needs_a_north_american_library_to_be_understood(settings):
    from refdesk.channels import web

    settings(TWILIO_FROM_NUMBER="+442079460000")
    assert web.phone_number("020 7946 0958") == ""
    assert web.phone_number("+44 20 7946 0958") == "+442079460958"


def test_each_contact_is_routed_to_its_channel(settings):
    from refdesk import channels
    from refdesk.channels import email, sms, web

    settings()
    assert channels.route("web", "") == (web.CHANNEL, "")
    by_email, address = channels.route("web", " maria@example.net ")
    assert (by_email.channel, address) == (email.CHANNEL, "maria@example.net")
    by_sms, number = channels.route("web", "(555) 123-4567")
    assert (by_sms.channel, number) == (sms.CHANNEL, "+15551234567")
    assert channels.route("web", "at the desk")[0] is web.UNREACHABLE
    assert channels.route("sms", "+15551234567") == (sms.CHANNEL, "+15551234567")


def test_the_desks_own_lines_are_not_sent_to_a_follow_ups_contact(settings):
    from refdesk import channels

    settings()
    for contact in ("maria@example.net", "(555) 123-4567", "at the desk"):
        outbound, _ = channels.route("web", contact)
        assert outbound.compose("", "This chat is closed.") == []
        assert outbound.compose("Amanda", "Yes.")


def test_an_unreachable_contact_fails_for_good():
    from refdesk.channels import web
    from refdesk.errors import DeliveryFailed

    with pytest.raises(DeliveryFailed) as failure:
        web.UNREACHABLE.send("", "Amanda (library): Yes.")
    assert failure.value.code == "no_contact"


def test_the_email_is_the_credited_reply_then_the_library_and_how_to_reach_the_desk(settings):
    from refdesk.channels import email

    settings(LIBRARY_NAME="Riverside Public Library", LIBRARY_WEBSITE="https://riverside.example.org")
    [body] = email.CHANNEL.compose("Amanda", "Yes, 2 copies at Main.\nAsk at the desk.")
    assert body == ("Amanda (library): Yes, 2 copies at Main.\nAsk at the desk.\n\n-- \nRiverside Public Library\n"
                    "To ask us something else, chat with us at https://riverside.example.org or text us at "
                    "+15005550006.\n")
    assert email.subject() == "Your question to Riverside Public Library"


def test_without_a_name_web_site_or_number_the_email_still_reads_well(settings):
    from refdesk.channels import email

    settings(TWILIO_FROM_NUMBER="", ALLOWED_ORIGINS="")
    [body] = email.CHANNEL.compose("Amanda", "Yes.")
    assert body.endswith("\n\n-- \nAsk a Librarian\nTo ask us something else, start a new chat on our web site.\n")
    assert email.subject() == "Your question to the library"
    settings(TWILIO_FROM_NUMBER="+15005550006", ALLOWED_ORIGINS="")
    assert email.reach_us_again() == "To ask us something else, text us at +15005550006."


@pytest.mark.parametrize("identity, from_address, sender", [
    ("askus@library.example.org", "", "askus@library.example.org"),
    ("library.example.org", "reference@library.example.org", "reference@library.example.org"),
    ("library.example.org", "", ""),
    ("", "", ""),
])
def test_the_from_address_is_the_identity_or_the_address_at_its_domain(settings, identity, from_address, sender):
    assert settings(SES_SENDER_IDENTITY=identity, SES_FROM_ADDRESS=from_address).email_from == sender
