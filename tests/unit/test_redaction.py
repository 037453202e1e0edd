"""Redaction before Slack (refdesk.redaction), table-driven over realistic patron messages:
identifiers masked, the look-alikes librarians need kept."""
from __future__ import annotations

import re

import pytest

from refdesk import redaction
from refdesk.redaction import CARD, EMAIL, LIBRARY_CARD, PHONE, redact

US, GB, CA = "US", "GB", "CA"
ZWSP, NBSP, NNBSP = "\u200b", "\u00a0", "\u202f"

# (message, region, what staff must see)
MASKED = [
    # phone numbers, US formats
    ("Can you call me back at (555) 123-4567?", US, f"Can you call me back at {PHONE}?"),
    ("my number is 555.123.4567 thanks", US, f"my number is {PHONE} thanks"),
    ("555-123-4567", US, PHONE),
    ("text 5551234567 when it's in", US, f"text {PHONE} when it's in"),
    ("call me at 555 123 4567 ext 2", US, f"call me at {PHONE}"),
    ("Reach me on +1 (212) 555-0123 after work", US, f"Reach me on {PHONE} after work"),
    ("1-800-555-0199 is my work line", US, f"{PHONE} is my work line"),
    ("+1 212 555 0123", US, PHONE),
    ("office: 212-555-0123 x12", US, f"office: {PHONE}"),
    ("home 123-4567", US, f"home {PHONE}"),
    ("my cell is 555 123 2013", US, f"my cell is {PHONE}"),  # ends like a year: still a phone
    ("Hi, I'm Dana (555)123-4567, do you have Dune?", US, f"Hi, I'm Dana {PHONE}, do you have Dune?"),
    ("number: 555.123.4567. card: none", US, f"number: {PHONE}. card: none"),
    # Canada (+1, same plan as the US)
    ("+1 416 555 0199", US, PHONE),
    ("I'm in Toronto, 416-555-0199", CA, f"I'm in Toronto, {PHONE}"),
    ("(604) 555-0142 is best", CA, f"{PHONE} is best"),
    # UK
    ("+44 20 7946 0958", US, PHONE),
    ("ring me on +44 20 7946 0958 please", GB, f"ring me on {PHONE} please"),
    ("020 7946 0958", GB, PHONE),
    ("my mobile 07700 900123", GB, f"my mobile {PHONE}"),
    ("+44 7700 900123", US, PHONE),
    ("0161 496 0000 is the office", GB, f"{PHONE} is the office"),
    # e-mail addresses
    ("email me at jane.doe@example.com", US, f"email me at {EMAIL}"),
    ("JANE_DOE+books@mail.example.co.uk!", US, f"{EMAIL}!"),
    ("reply to a.b@uni.example.edu or 555-123-4567", US, f"reply to {EMAIL} or {PHONE}"),
    ("my login is jdoe99@student.example.edu", US, f"my login is {EMAIL}"),
    ("<jane@example.org>", US, f"<{EMAIL}>"),
    # library-card barcodes (default pattern: 14 digits)
    ("My card is 21234000567890 and the PIN doesn't work", US, f"My card is {LIBRARY_CARD} and the PIN doesn't work"),
    ("barcode 29876000123456", US, f"barcode {LIBRARY_CARD}"),
    ("card#21234000567890", US, f"card#{LIBRARY_CARD}"),
    # payment cards, Luhn-valid, with and without separators
    ("can I pay the fine with 4111 1111 1111 1111", US, f"can I pay the fine with {CARD}"),
    ("4111-1111-1111-1111 exp 12/27", US, f"{CARD} exp 12/27"),
    ("card 4111111111111111", US, f"card {CARD}"),
    ("amex 3782 822463 10005", US, f"amex {CARD}"),
    ("378282246310005", US, CARD),
    ("mastercard 5555 5555 5555 4444 thanks", US, f"mastercard {CARD} thanks"),
    ("6011-0009-9013-9424", US, CARD),
    ("cell5551234567", US, f"cell{PHONE}"),  # a full number typed against a word
    # identifiers next to look-alikes
    ("Call 555-123-4567 at 10:30 on 3/5/2024", US, f"Call {PHONE} at 10:30 on 3/5/2024"),
    ("ISBN 978-1-4028-9462-6, text 555.123.4567", US, f"ISBN 978-1-4028-9462-6, text {PHONE}"),
    ("HIST 210 group: (555) 123-4567, room B-204", US, f"HIST 210 group: {PHONE}, room B-204"),
    # several in one message
    ("I'm 555-123-4567 / jo@example.com, card 21234000567890, fine paid with 4111111111111111",
     US, f"I'm {PHONE} / {EMAIL}, card {LIBRARY_CARD}, fine paid with {CARD}"),
]

KEPT = [
    # call numbers
    "Is QA76.73 .P98 L83 2013 on the shelf?",
    "QA76.73.P98 L83 2013",
    "I found it under 005.133 ROS",
    "Dewey 641.5973 is cookbooks, right?",
    "PS3552.R685 A6 1998",
    "Call number HV6432 .W75 2006",
    # ISBNs
    "ISBN 978-1-4028-9462-6",
    "978-1-4028-9462-6 please",  # a phone-like ISBN-13
    "9781402894626",
    "978 0 262 03384 8",
    "ISBN-13: 978-0-262-03384-8",
    "ISBN 0-262-03384-4",
    "ISBN: 0262033844",
    "0-262-03384-4",
    "the ISBN is 080442957X",
    # dates, times, years
    "Is the library open on 2024-03-05?",
    "due 3/5/2024",
    "Due back 03/05/24 I think",
    "Can I come at 10:30 tomorrow?",
    "open 9:00-17:00?",
    "the 1984 edition, pages 123-145",
    "newspapers from 1990-2024",
    "from the 1850s, printed 1851",
    # places, courses, prices, counts
    "Study room B-204 is booked?",
    "Reading list for HIST 210 and MATH-1010",
    "Is the fine $12.50 or $1,200.00?",
    "I owe \u00a33.20",
    "Room 3.12 at 2:15",
    "We need 25 copies for 120 students",
    "Order #48213 came in",
    # start with 0 like other regions' numbers, but are none
    "due 05.03.2024, zip 02134",
    "Boston MA 02134-1234",
    "UPC 012345678905 on the dvd case",
    # a list of short numbers is not a library card typed in groups
    "printings 12 14 16 18 20 22 24",
    "chapter 12, verse 4",
    # digits glued to letters are ids, not phone numbers
    "Is this the edition you have? 1852893e",
    "ref m1234567abc, copy 2b1234567",
    # Luhn-invalid long numbers are not cards
    "4111 1111 1111 1112",
    "1234 5678 9012 3456",
]


@pytest.mark.parametrize(("message", "region", "shown"), MASKED)
def test_identifiers_are_masked(message, region, shown):
    redacted = redact(message, region=region, library_card_pattern=r"\d{14}")
    assert redacted.text == shown
    assert redacted.changed
    assert set(redacted.masked) <= {PHONE, EMAIL, CARD, LIBRARY_CARD}


@pytest.mark.parametrize("message", KEPT)
def test_look_alikes_survive(message):
    redacted = redact(message, region=US, library_card_pattern=r"\d{14}")
    assert redacted.text == message
    assert not redacted.changed


def test_the_corpus_is_large_enough():
    assert len(MASKED) + len(KEPT) >= 60


def test_no_masked_original_survives():
    """Every masked message loses every digit run of 7 or more of its original but an ISBN (and
    every @)."""
    for message, region, _ in MASKED:
        shown = redact(message, region=region, library_card_pattern=r"\d{14}").text
        for run in re.findall(r"\d{7,}", re.sub(r"[ .()-]", "", message)):
            if re.fullmatch(r"97[89]\d{10}", run):
                continue
            assert run not in re.sub(r"[ .()-]", "", shown), message
        assert "@" not in shown


def test_national_numbers_of_any_region_are_masked():
    """A US library masks a UK number written the UK's way, and a UK library a US one: patrons
    travel. (Before issue 15 a US library kept "020 7946 0958", not a possible US number.)"""
    assert redact("020 7946 0958", region=US, library_card_pattern=r"\d{14}").text == PHONE
    assert redact("020 7946 0958", region=GB, library_card_pattern=r"\d{14}").text == PHONE
    assert redact("my US cell (312) 555-0142", region=GB, library_card_pattern=r"\d{14}").text == \
        f"my US cell {PHONE}"


# Issue 15: identifiers in every form they are typed (each passed through before).
MASKED_IN_EVERY_FORM = [
    # invisible characters in e-mail addresses
    (f"my email is j.lee{ZWSP}@example.com", US, f"my email is {EMAIL}"),
    (f"sam{ZWSP}.rivera@student.example.org pls", US, f"{EMAIL} pls"),
    ("taylor\u2060.m@example.com", US, EMAIL),
    ("dana\u00ad.w@example.org", US, EMAIL),
    # library cards in groups: spaces, dashes, dots, non-breaking and zero-width characters
    ("library card 2 1234 00567 8901 wont scan", US, f"library card {LIBRARY_CARD} wont scan"),
    ("card 21234-0056789-01 says blocked??", US, f"card {LIBRARY_CARD} says blocked??"),
    ("2.1234.00567.8901 is my card", US, f"{LIBRARY_CARD} is my card"),
    (f"barcode: 2{NBSP}1234{NBSP}00567{NBSP}8901", US, f"barcode: {LIBRARY_CARD}"),
    (f"card no 2123400{ZWSP}0567890", US, f"card no {LIBRARY_CARD}"),
    # payment cards with non-breaking, narrow and zero-width spaces, and dots
    (f"4111{NBSP}1111{NBSP}1111{NBSP}1111", US, CARD),
    (f"5555{NNBSP}5555{NNBSP}5555{NNBSP}4444 thanks", US, f"{CARD} thanks"),
    (f"4012{ZWSP}8888{ZWSP}8888{ZWSP}1881", US, CARD),
    ("6011.1111.1111.1117", US, CARD),
    ("4111-1111 1111-1111", US, CARD),  # separators mixed
    # other regions' numbers in a US library: national (trunk prefix 0) and with the exit code 00
    ("I'm visiting from the UK, my mobile is 07700 900123", US, f"I'm visiting from the UK, my mobile is {PHONE}"),
    ("07700900654", US, PHONE),
    (f"uk mobile 07700{NBSP}900{NBSP}111", US, f"uk mobile {PHONE}"),
    ("0161 496 0123 - leave a msg", US, f"{PHONE} - leave a msg"),
    ("0044 7700 900456 is my whatsapp", US, f"{PHONE} is my whatsapp"),
    ("0061 491 570 158 while I'm on exchange", US, f"{PHONE} while I'm on exchange"),
    ("0033 6 39 98 56 78", US, PHONE),
    ("0044 20 7946 0958", US, PHONE),  # 14 digits in groups: a phone number, not a library card
    # a number right after another: the matcher reads around a masked one, not through it
    ("card 21234000567890 312 555 0142", US, f"card {LIBRARY_CARD} {PHONE}"),
    ("+44 (0)7700 900123 or (0)7700 900124", US, f"{PHONE} or {PHONE}"),
]


@pytest.mark.parametrize(("message", "region", "shown"), MASKED_IN_EVERY_FORM)
def test_identifiers_are_masked_in_every_form(message, region, shown):
    assert redact(message, region=region, library_card_pattern=r"\d{14}").text == shown


def test_only_masked_spans_lose_their_invisible_characters():
    """Matching reads past invisible and unusual spaces; what staff see is the text as typed, but
    for the masks."""
    message = f"see{ZWSP} you{NBSP}at 10:30, call 07700{NBSP}900{ZWSP}123 or jo{ZWSP}@example.org"
    assert redact(message, region=US, library_card_pattern=r"\d{14}").text == \
        f"see{ZWSP} you{NBSP}at 10:30, call {PHONE} or {EMAIL}"


# Issue 15: identifiers staff look up, kept when their context names them (masked before but for
# the ISSNs, the DOI in parentheses and the grouped barcode, which guard the new rules).
KEPT_WHEN_LABELLED = [
    "OCLC: 1234567",
    "oclc # 1041234567",
    "https://www.worldcat.org/oclc/1041234567",
    "LCCN 2001012345",
    "LC control no. 85-15357",
    "https://doi.org/10.1371/journal.pone.0123456",
    "DOI 10.1080/01621459.2017.1285773",
    "need this one (doi: 10.1177/0956797614524581).",
    "10.2307/1913236",
    "ISSN 0028-0836, eISSN 1476-4687",
    "ILL #1234567 still not here",
    "ILLiad TN 2345678",
    "request number 3141592",
    "my ill request 2718281 came in??",
    "item barcode 31234000567890",
    "the barcode on the back of the book is 3 1234 00567 8901",
    "book's barcode 39876000123456 wont check out",
    "MMS id 9976543210123451",  # passes Luhn
    "Alma 991000234567809",
]


@pytest.mark.parametrize("message", KEPT_WHEN_LABELLED)
def test_labelled_identifiers_are_kept(message):
    redacted = redact(message, region=US, library_card_pattern=r"\d{14}")
    assert redacted.text == message
    assert not redacted.changed


# A label vouches only for an identifier of its shape right after it; the patron's own stays masked.
MASKED_DESPITE_A_LABEL = [
    ("ILL 555 123 4567", f"ILL {PHONE}"),
    ("ILL 555/123/4567", f"ILL {PHONE}"),
    ("ILL #555-123-4567", f"ILL #{PHONE}"),
    ("ILL #1234567, 555-0123", f"ILL #1234567, {PHONE}"),
    # more digits right after the identifier: the label vouches for neither
    ("item barcode 31234000567890 555 0123", f"item barcode {LIBRARY_CARD} {PHONE}"),
    ("call number 555-123-4567", f"call number {PHONE}"),
    ("Hi it's Alma 555-123-4567", f"Hi it's Alma {PHONE}"),
    ("Alma 5551234567", f"Alma {PHONE}"),
    ("I'm in TN 615-555-0123", f"I'm in TN {PHONE}"),
    ("item barcode 555-123-4567", f"item barcode {PHONE}"),
    ("request # 4111 1111 1111 1111", f"request # {CARD}"),
    ("my barcode 21234000567890", f"my barcode {LIBRARY_CARD}"),
    ("barcode on my card 21234000567890", f"barcode on my card {LIBRARY_CARD}"),
    ("barcode on my card for the book 21234000567890", f"barcode on my card for the book {LIBRARY_CARD}"),
    ("item barcode 31234000567890, my card 2 1234 00567 8901",
     f"item barcode 31234000567890, my card {LIBRARY_CARD}"),
    ("doi 10.1000/182 call 555-123-4567", f"doi 10.1000/182 call {PHONE}"),
]


@pytest.mark.parametrize(("message", "shown"), MASKED_DESPITE_A_LABEL)
def test_a_label_does_not_keep_the_patrons_own_numbers(message, shown):
    assert redact(message, region=US, library_card_pattern=r"\d{14}").text == shown


def test_every_field_of_a_follow_up_is_masked_on_the_card():
    """The web form's name field is patron text too (issue 15: a phone number typed as the name)."""
    from refdesk.models import Conversation, ReplyTo
    from refdesk.slack.cards import heading

    conversation = Conversation(conversation_id="c1", patron_id="p1", channel="web", anchor="s1",
                                label="Web ···ab12", follow_up=True)
    shown = heading(conversation, ReplyTo(address="jane.doe@example.org", name="Jane 312-555-0142"))
    assert f"Reply to: Jane {PHONE} · {EMAIL}" in shown
    assert "312-555-0142" not in shown and "jane.doe" not in shown
    assert f"Reply to: Maria · {PHONE} " in heading(conversation, ReplyTo(address="+13125550142", name="Maria"))


def test_the_library_card_pattern_is_configurable():
    assert redact("card P12345X", region=US, library_card_pattern=r"P\d{5}X").text == f"card {LIBRARY_CARD}"
    assert redact("card 21234000567890", region=US, library_card_pattern=r"P\d{5}X").text == "card 21234000567890"
    # A pattern that does not compile falls back to 14 digits instead of failing the message.
    assert redact("card 21234000567890", region=US, library_card_pattern="([").text == f"card {LIBRARY_CARD}"


def test_settings_give_region_and_pattern(monkeypatch):
    from refdesk.settings import get_settings

    monkeypatch.setenv("TWILIO_FROM_NUMBER", "+442079460000")
    monkeypatch.setenv("LIBRARY_CARD_PATTERN", r"L\d{6}")
    get_settings.cache_clear()
    try:
        assert redact("020 7946 0958 / L123456 / 21234000567890").text == \
            f"{PHONE} / {LIBRARY_CARD} / 21234000567890"
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize(("number", "region"), [("+15005550006", "US"), ("+442079460958", "GB"),
                                                 ("+14165550199", "CA"), ("", "US"), ("not a number", "US")])
def test_region_is_the_library_numbers_country(number, region):
    assert redaction.phone_region(number) == region


def test_text_without_digits_or_at_is_returned_untouched():
    redacted = redact("Do you have the new Ishiguro?", region=US, library_card_pattern=r"\d{14}")
    assert redacted.text == "Do you have the new Ishiguro?" and not redacted.changed


# --- the phonenumbers library: pinned, and loaded by the dispatcher alone -------------------

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def test_phonenumbers_is_pinned_in_the_layer():
    requirements = (ROOT / "layers" / "refdesk" / "requirements.txt").read_text().split()
    assert "phonenumbers==9.0.43" in requirements


def test_only_redacting_imports_phonenumbers():
    """The webhook functions' modules (and the card and relay modules) never load phonenumbers;
    the dispatcher's first redaction does."""
    import subprocess
    import sys

    code = ("import sys, importlib.util\n"
            "for name in ('sms_inbound', 'webchat', 'slack_events', 'slack_interactions', 'slack_commands',\n"
            "             'presence', 'sweeper'):\n"
            "    spec = importlib.util.spec_from_file_location(name, f'functions/{name}/app.py')\n"
            "    spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
            "import refdesk.relay, refdesk.slack.cards, refdesk.redaction, refdesk.reveal\n"
            "assert 'phonenumbers' not in sys.modules, 'phonenumbers imported before a redaction'\n"
            "print(refdesk.redaction.redact('call 555-123-4567', region='US', library_card_pattern='x').text)\n"
            "assert 'phonenumbers' in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": f"{ROOT / 'layers' / 'refdesk'}", "PATH": "/usr/bin:/bin",
                               "POWERTOOLS_SERVICE_NAME": "refdesk", "AWS_DEFAULT_REGION": "us-east-1",
                               "TABLE_NAME": "t", "JOBS_QUEUE_URL": "q"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "call [phone]"


def test_the_template_sets_the_library_card_pattern_for_the_dispatcher_only():
    import re as regex

    from refdesk.settings import Settings
    from tests.security.cfn import functions, template

    assert template()["Parameters"]["LibraryCardPattern"]["Default"] == Settings.library_card_pattern == r"\d{14}"
    regex.compile(template()["Parameters"]["LibraryCardPattern"]["Default"])
    holders = [name for name, function in functions().items()
               if "LIBRARY_CARD_PATTERN" in (function["Properties"].get("Environment") or {}).get("Variables", {})]
    assert holders == ["DispatcherFunction"]
    assert functions()["DispatcherFunction"]["Properties"]["Environment"]["Variables"]["LIBRARY_CARD_PATTERN"] == \
        {"Ref": "LibraryCardPattern"}
    assert "LIBRARY_CARD_PATTERN" not in template()["Globals"]["Function"]["Environment"]["Variables"]
