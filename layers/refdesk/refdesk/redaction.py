"""Redaction before Slack: what a patron typed is shown to staff with identifiers masked.

Masked: e-mail addresses ("[email]"), library-card barcodes ("[library card]"; the pattern is
the LibraryCardPattern setting, default 14 digits), payment card numbers ("[card number]";
13-19 digits, plain or grouped by spaces or dashes, Luhn-checked) and phone numbers ("[phone]";
found by the `phonenumbers` library's PhoneNumberMatcher in the library's region, the country
of TwilioFromNumber, default US).

Kept, because librarians need them: ISBN-10/13 (checksum-valid, hyphenated or not, phone-like
ones included), call numbers (Library of Congress "QA76.73 .P98 L83 2013", Dewey "005.133
ROS"), dates, times, years and year ranges, prices, room numbers and course codes.

The matcher runs with Leniency.POSSIBLE (the number has a possible length for its region), not
VALID: VALID keeps numbers in unassigned or fictional ranges, such as the (555) numbers patrons
do type, so a patron's number could reach Slack. The price of POSSIBLE is that other digit runs
of a phone's length look like phones; the look-alikes above are found first and protected, and
anything else masked by mistake is one Reveal away.

Only the dispatcher redacts; `phonenumbers` (its import and its metadata) is loaded on the
first call, so nothing else pays for it. The stored message keeps the original: Reveal
(refdesk.reveal) shows it to one librarian at a time."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from aws_lambda_powertools import Logger

logger = Logger(child=True)

PHONE, EMAIL, CARD, LIBRARY_CARD = "[phone]", "[email]", "[card number]", "[library card]"
DEFAULT_REGION = "US"
DEFAULT_LIBRARY_CARD_PATTERN = r"\d{14}"

EMAIL_ADDRESS = re.compile(r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# ISBN-13 (978/979) and ISBN-10, each digit optionally after one hyphen or space.
ISBN_13 = re.compile(r"(?<![\w-])97[89](?:[- ]?\d){10}(?![\w-])")
ISBN_10 = re.compile(r"(?<![\w-])(?P<isbn>\d(?:[- ]?\d){8}[- ]?[\dXx])(?![\w-])")
ISBN_WORD = re.compile(r"ISBN(?:-1[03])?\s*:?\s*$", re.IGNORECASE)
# Payment cards: 13-19 digits run together, or grouped as cards print them (4-4-4-4[-3],
# 4-6-5 American Express, 4-6-4 Diners) with one kind of separator.
CARD_NUMBER = re.compile(r"(?<![\w-])(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}|\d{4}([ -])\d{6}\2\d{4,5})"
                         r"(?![\w-])")
LOOK_ALIKES = re.compile("|".join((
    # Library of Congress call numbers: class letters, number, at least one cutter, a year.
    r"\b[A-Z]{1,3} ?\d{1,4}(?:\.\d+)?(?:\s*\.?[A-Z]\d+[A-Z]*)+(?:\s+\d{4}[a-z]?)?\b",
    # Dewey: three digits, a decimal part (not a dotted phone: "555.123.4567"), a cutter.
    r"(?<![\d.])\d{3}\.\d{1,12}(?![.\d])(?:\s+[A-Z][A-Za-z]{1,3}\b)?",
    # Dates: 2024-03-05, 3/5/2024, 05.03.2024, 3-5-2024.
    r"(?<![\d/.-])(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}([/.-])\d{1,2}\1(?:\d{4}|\d{2}))(?![\d/.-]?\d)",
    # Times: 10:30, 9:05:00.
    r"(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?!\d)",
    # Years and year ranges: 1984, 1990-2024, 1990–95.
    r"(?<![\d-])(?:1[5-9]|20)\d{2}(?:\s?[-\u2013]\s?(?:(?:1[5-9]|20)\d{2}|\d{2}))?(?![\d-])",
    # Prices: $12.50, £1,200, €3.
    r"[$\u00a3\u20ac]\s?\d{1,3}(?:,\d{3})*(?:\.\d{1,2})?(?!\d)",
    # Rooms and course codes: B-204, Room 3.12, HIST 210, MATH-1010.
    r"\b[A-Z]{1,4}[- ]?\d{1,4}[A-Z]?\b",
)))


@dataclass(frozen=True)
class Redacted:
    text: str  # what staff see
    masked: tuple[str, ...] = ()  # the masks applied, in order ("[phone]", …)

    @property
    def changed(self) -> bool:
        return bool(self.masked)


def redact(text: str, *, region: str | None = None, library_card_pattern: str | None = None) -> Redacted:
    """The text with identifiers masked. `region` and `library_card_pattern` default to the
    settings (the country of TwilioFromNumber; LibraryCardPattern)."""
    if not text or not any(character.isdigit() or character == "@" for character in text):
        return Redacted(text)
    if region is None or library_card_pattern is None:
        from refdesk.settings import get_settings

        settings = get_settings()
        region = region or phone_region(settings.twilio_from_number)
        library_card_pattern = library_card_pattern or settings.library_card_pattern
    taken: list[tuple[int, int, str | None]] = []  # (start, end, mask); mask None: kept as it is

    def take(start: int, end: int, mask: str | None) -> None:
        if not any(start < other_end and other_start < end for other_start, other_end, _ in taken):
            taken.append((start, end, mask))

    for match in EMAIL_ADDRESS.finditer(text):
        take(match.start(), match.end(), EMAIL)
    for match in ISBN_13.finditer(text):
        if _isbn13_valid(_digits(match.group())):
            take(match.start(), match.end(), None)
    for match in ISBN_10.finditer(text):
        if _isbn10_is_meant(text, match, region):
            take(match.start(), match.end(), None)
    for match in _library_card(library_card_pattern).finditer(text):
        take(match.start(), match.end(), LIBRARY_CARD)
    for match in CARD_NUMBER.finditer(text):
        if _luhn_valid(_digits(match.group())):
            take(match.start(), match.end(), CARD)
    for match in LOOK_ALIKES.finditer(text):
        take(match.start(), match.end(), None)
    for start, end in _phones(text, region):
        if any(other_start <= start and end <= other_end for other_start, other_end, _ in taken):
            continue  # masked already, or a look-alike explains the whole match (an ISBN, a date)
        # Otherwise the phone number wins over look-alikes inside it (the "2013" of 555 123 2013),
        # and a match reaching into something already masked masks the whole stretch.
        overlapping = [span for span in taken if span[0] < end and start < span[1]]
        if any(mask for _, _, mask in overlapping):
            start, end = min(start, *(span[0] for span in overlapping)), max(end, *(span[1] for span in overlapping))
        taken = [span for span in taken if span not in overlapping]
        taken.append((start, end, PHONE))
    masks = sorted((span for span in taken if span[2]), key=lambda span: span[0])
    if not masks:
        return Redacted(text)
    parts, position = [], 0
    for start, end, mask in masks:
        parts += [text[position:start], mask]
        position = end
    parts.append(text[position:])
    return Redacted("".join(parts), tuple(mask for _, _, mask in masks))


def _phones(text: str, region: str) -> list[tuple[int, int]]:
    import phonenumbers  # the dispatcher only, on the first message with a digit in it

    matcher = phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.POSSIBLE)
    # POSSIBLE also finds a local number's 7 digits inside an id ("1852893e"): a short match glued
    # to letters is left; a full number is masked even when typed against a word ("cell5551234567").
    return [(match.start, match.end) for match in matcher
            if sum(character.isdigit() for character in match.raw_string) >= 10
            or not ((match.start and text[match.start - 1].isalnum())
                    or (match.end < len(text) and text[match.end].isalnum()))]


@lru_cache(maxsize=8)
def phone_region(library_number: str) -> str:
    """The region national-format numbers are read in: the country of the library's own number."""
    if not library_number:
        return DEFAULT_REGION
    import phonenumbers

    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(library_number, DEFAULT_REGION)) \
            or DEFAULT_REGION
    except phonenumbers.NumberParseException:
        return DEFAULT_REGION


@lru_cache(maxsize=8)
def _library_card(pattern: str) -> re.Pattern:
    """The barcode pattern, matched as a whole word. A pattern that does not compile falls back
    to the default (and says so), so that patron messages still reach staff, masked."""
    try:
        return re.compile(rf"(?<![\w-])(?:{pattern})(?![\w-])")
    except re.error:
        logger.warning("LibraryCardPattern is not a regular expression; using the default")
        return re.compile(rf"(?<![\w-])(?:{DEFAULT_LIBRARY_CARD_PATTERN})(?![\w-])")


def _digits(value: str) -> str:
    return "".join(character for character in value if character.isdigit() or character in "Xx")


def _luhn_valid(digits: str) -> bool:
    if not digits.isdigit() or not 13 <= len(digits) <= 19:
        return False
    total = 0
    for index, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _isbn13_valid(digits: str) -> bool:
    return len(digits) == 13 and digits.isdigit() and \
        sum(int(digit) * (3 if index % 2 else 1) for index, digit in enumerate(digits)) % 10 == 0


def _isbn10_valid(digits: str) -> bool:
    if len(digits) != 10 or not digits[:9].isdigit():
        return False
    total = sum(int(digit) * (10 - index) for index, digit in enumerate(digits[:9]))
    total += 10 if digits[9] in "Xx" else int(digits[9])
    return total % 11 == 0


def _isbn10_is_meant(text: str, match: re.Match, region: str) -> bool:
    """A checksum-valid ISBN-10 is kept when it says it is one: after "ISBN", or hyphenated in
    four groups (0-262-03384-4). Ten bare digits are kept only when they are not a valid phone
    number of the region; digits grouped like a phone number (555-123-4567) are not an ISBN."""
    raw = match.group("isbn")
    if not _isbn10_valid(_digits(raw)):
        return False
    if ISBN_WORD.search(text[max(0, match.start() - 12):match.start()]):
        return True
    groups = re.split(r"[- ]", raw)
    if len(groups) == 4 or raw[-1] in "Xx":  # no phone number ends in X
        return True
    if len(groups) > 1:
        return False
    import phonenumbers

    try:
        return not phonenumbers.is_valid_number(phonenumbers.parse(raw, region))
    except phonenumbers.NumberParseException:
        return True
