"""Identity for statistics only (issue 9, item 2): a patron is a keyed hash (HMAC-SHA256, key
from SSM `patron-id-key`) of channel and address. Stable per patron whatever the spelling of
their number, different across patrons and channels, and different under another key: repeat
users can be counted without anyone knowing who they are."""
from __future__ import annotations

import hashlib
import hmac

import pytest

NUMBER = "+15551234567"
SPELLINGS = [NUMBER, "+1 555 123 4567", "+1 (555) 123-4567", "+1-555-123-4567", "+1.555.123.4567",
             " +15551234567 ", "0015551234567", "001 555 123 4567"]


def patron_id(channel: str, address: str) -> str:
    from refdesk import identity

    return identity.patron_id(channel, address)


def use_key(monkeypatch, key: str) -> None:
    from refdesk.settings import get_settings

    monkeypatch.setenv("PATRON_ID_KEY", key)
    get_settings.cache_clear()


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_same_number_in_any_format_is_the_same_patron(spelling):
    assert patron_id("sms", spelling) == patron_id("sms", NUMBER)


def test_an_email_address_is_one_patron_whatever_its_case_and_spaces():
    assert patron_id("email", " Maria.Gonzalez@Example.NET ") == patron_id("email", "maria.gonzalez@example.net")


def test_different_patrons_have_different_hashes():
    numbers = [f"+1555123{n:04d}" for n in range(200)]
    assert len({patron_id("sms", number) for number in numbers}) == len(numbers)
    assert patron_id("sms", "+15551234567") != patron_id("sms", "+15551234568")
    assert patron_id("slack_connect", "T0PARTNER:U0PARTNER1") != patron_id("slack_connect", "T0PARTNER:U0PARTNER2")


def test_the_same_address_on_another_channel_is_another_patron():
    assert patron_id("sms", NUMBER) != patron_id("web", NUMBER)


def test_another_key_gives_other_hashes(monkeypatch):
    use_key(monkeypatch, "key-one")
    first = patron_id("sms", NUMBER)
    assert patron_id("sms", "+1 (555) 123-4567") == first  # stable under one key
    use_key(monkeypatch, "key-two")
    assert patron_id("sms", NUMBER) != first
    use_key(monkeypatch, "key-one")
    assert patron_id("sms", NUMBER) == first


def test_the_hash_is_an_hmac_that_neither_shows_nor_plainly_hashes_the_number(monkeypatch):
    use_key(monkeypatch, "the-library-key")
    value = patron_id("sms", NUMBER)
    assert "5551234567" not in value and "4567" not in value
    plain = {hashlib.sha256(text.encode()).hexdigest() for text in (NUMBER, f"sms:{NUMBER}")}
    assert not any(value in digest or digest.startswith(value) for digest in plain)
    import base64

    expected = hmac.new(b"the-library-key", f"sms:{NUMBER}".encode(), hashlib.sha256).digest()[:20]
    assert value == base64.b32encode(expected).decode().lower()


def test_the_key_comes_from_ssm_when_not_in_the_environment(aws, monkeypatch):
    """In AWS the key is the SecureString {SsmPrefix}/patron-id-key (Powertools, cached)."""
    import boto3
    from aws_lambda_powertools.utilities import parameters

    from refdesk.settings import get_settings

    monkeypatch.delenv("PATRON_ID_KEY")
    get_settings.cache_clear()
    parameters.clear_caches()
    name = f"{get_settings().ssm_prefix}/patron-id-key"
    boto3.client("ssm").put_parameter(Name=name, Value="from-ssm", Type="SecureString", Overwrite=True)
    try:
        from_ssm = patron_id("sms", NUMBER)
    finally:
        parameters.clear_caches()
    use_key(monkeypatch, "from-ssm")
    assert from_ssm == patron_id("sms", NUMBER)
    use_key(monkeypatch, "something-else")
    assert from_ssm != patron_id("sms", NUMBER)
