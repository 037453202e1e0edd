"""Redaction before Slack: what a patron typed is shown to staff with identifiers masked.

Masked: e-mail addresses ("[email]"), library-card barcodes ("[library card]"; the pattern is
the LibraryCardPattern setting, default 14 digits), payment card numbers ("[card number]";
13-19 digits, plain or grouped as cards print them by spaces, dashes or dots, Luhn-checked) and
phone numbers ("[phone]"). Digits the library-card pattern matches are a library card even when
they pass Luhn. A library card typed in groups ("2 1234 00567 8901", "21234-0056789-01") is one
when the digits of the whole run of two to four groups (joined by single spaces, dashes or dots)
match the pattern, unless the run is grouped as a payment card that passes Luhn or is a phone
number.

Phone numbers are found by the `phonenumbers` library's PhoneNumberMatcher: in the library's
region (the country of TwilioFromNumber, default US), which also reads every "+44 …" and, in
the US, "011 44 …"; and in a few other regions (OTHER_REGIONS), for numbers written as their
own country writes them: after the exit code 00 ("0044 7700 900123") or with a trunk prefix 0
and 9-11 digits in all ("07700 900123", "030 12345678"). National numbers of other regions
without a 0 are masked when the library's region could dial them (in the US any 10 or 7 digits).

Invisible characters do not hide an identifier: zero-width spaces and joiners (U+200B-U+200D,
U+2060, U+FEFF) and soft hyphens are ignored, non-breaking, figure, thin and narrow spaces read as
spaces and hyphen-like dashes (U+2010-U+2013, U+2212) as "-". Matching runs on that reading; the
masks replace the original spans, so staff see the rest of the text exactly as it was typed (an
invisible character inside a masked span goes with it; elsewhere it stays, unseen).

Kept, because librarians need them:
* identifiers whose context names them, the label followed within a few characters (spaces, "#",
  ":", "no.", "number", "is") by an identifier of the label's shape: OCLC numbers ("OCLC",
  "(OCoLC)", "WorldCat"; "ocm12345678" and "ocn123456789" need none), LCCNs ("LCCN", "LC control
  number"), ISSNs ("ISSN", "eISSN", "ISSN-L"), interlibrary-loan and request numbers (digits after
  "ILL" in capitals, "ILLiad", "interlibrary loan", "request #" / "request number", "TN #"), item
  barcodes ("item barcode", "book's barcode", "barcode on the back of the book", "item #"; 5-16
  digits, or 12-16 in groups; a barcode the patron calls theirs, "my barcode", is a library card)
  and Alma MMS ids ("MMS id", "Alma"; 99…). A label vouches only for an identifier of its shape
  right after it, and only when the identifier ends there (no more digits after a space, a dot
  or a slash): "ILL 555 123 4567" and "Alma 555-123-4567" are still phone numbers, while the 7
  digits of "ILL #1234567" stay although they could be dialled;
* DOIs, whole, with or without a label ("doi:", "https://doi.org/…"): "10." + registrant + "/" +
  suffix up to the next space (trailing punctuation left out);
* ISBN-10/13 (checksum-valid, hyphenated or not, phone-like ones included), call numbers
  (Library of Congress "QA76.73 .P98 L83 2013", Dewey "005.133 ROS"), dates, times, years and
  year ranges, prices, ZIP+4 codes, room numbers and course codes.

Precedence: e-mail addresses; labelled identifiers, DOIs and ISBNs; library and payment cards;
phone numbers, which the matcher looks for around all of these (not through them: "21234000567890
312 555 0142" as a whole is no number); library cards in groups, which give way to anything
found before and to phone numbers; the other look-alikes; then the phone numbers are masked. A
match to mask that lies wholly inside something found before it is left (the digits of an
ISBN, of an item barcode); one that reaches past something kept masks the whole match, and one
reaching into something masked masks the whole stretch: when in doubt, mask. Anything masked by
mistake is one Reveal away.

The matcher runs with Leniency.POSSIBLE (the number has a possible length for its region), not
VALID: VALID keeps numbers in unassigned or fictional ranges, such as the (555) numbers patrons
do type, so a patron's number could reach Slack. The price of POSSIBLE is that other digit runs
of a phone's length look like phones; the look-alikes above are found first and protected.

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
# Where patrons' numbers come from besides the library's own region: each region's matcher reads
# its national format (trunk prefix 0) and the exit code 00 that most of the world dials.
OTHER_REGIONS = ("GB", "IE", "DE", "FR", "AU", "IN")
TRUNK_OR_EXIT_PREFIX = re.compile(r"(?<!\d)0")  # what other regions' numbers start with ("0…", "(0)…", "00…")

# How identifiers are read: invisible characters dropped, other spaces and dashes made plain.
INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad")
PLAIN = str.maketrans({**dict.fromkeys("\u00a0\u2007\u2009\u202f", " "),
                       **dict.fromkeys("\u2010\u2011\u2012\u2013\u2212", "-")})

EMAIL_ADDRESS = re.compile(r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# ISBN-13 (978/979) and ISBN-10, each digit optionally after one hyphen or space.
ISBN_13 = re.compile(r"(?<![\w-])97[89](?:[- ]?\d){10}(?![\w-])")
ISBN_10 = re.compile(r"(?<![\w-])(?P<isbn>\d(?:[- ]?\d){8}[- ]?[\dXx])(?![\w-])")
ISBN_WORD = re.compile(r"ISBN(?:-1[03])?\s*:?\s*$", re.IGNORECASE)
# Payment cards: 13-19 digits run together, or grouped as cards print them (4-4-4-4[-3],
# 4-6-5 American Express, 4-6-4 Diners), each gap a space, dash or dot.
CARD_NUMBER = re.compile(r"(?<![\w-])(?:\d{13,19}|\d{4}[ .-]\d{4}[ .-]\d{4}[ .-]\d{1,7}|\d{4}[ .-]\d{6}[ .-]\d{4,5})"
                         r"(?![\w-])")
# Two to four digit groups joined by single separators, the whole run: a library card typed in
# groups ("2 1234 00567 8901"); a longer run of short groups is a list ("12 14 16 18 20 22 24").
DIGIT_GROUPS = re.compile(r"(?<![\w.+-])(?<!\d[ .-])\d+(?:[ .-]\d+){1,3}(?![\w-]|[ .]\d)")

# Labelled identifiers: a label, a short gap ("#", ":", "no.", "number", "is"; the ")" of "(ILL)", the
# "/" of a URL), the identifier.
_GAP = r"(?:[\s#:=/)]|\b(?:no|nr|num|numbers?|ids?|is|was|of|the|request|transaction|TN)\b\.?){0,8}"
# An identifier is the whole token: one followed by more digits ("ILL 555 123 4567") is not vouched for.
_END = r"(?![\w-]|[./]\w|\s\d)"
_ITEM = r"(?:item|book|dvd|cd|copy|volume|laptop|device|kit)"
LABELLED = re.compile("|".join((
    # OCLC: "OCLC #12345678", "(OCoLC)ocm12345678", "WorldCat no. 1234567890"; prefixed ones alone.
    rf"(?:\(OCoLC\)|\bOCoLC\b|\bOCLC\b|\bWorldCat\b){_GAP}(?:ocm|ocn|on)?\d{{1,10}}{_END}",
    rf"\boc(?:m\d{{8}}|n\d{{9}}){_END}",
    # LCCN: "LCCN 2001012345", "LC control no. 85-15357", "LCCN n 79021164".
    r"(?:\bLCCN\b|\bLC\s+control\s+(?:number|no\b\.?)|\bLibrary\s+of\s+Congress\s+control\s+(?:number|no\b\.?))"
    rf"{_GAP}(?:[a-z]{{1,3}}\s?)?\d{{2}}(?:\d{{2}})?[- ]?\d{{1,6}}{_END}",
    # DOI, whole: the registrant and the suffix up to a space, closing punctuation left out.
    r"(?:\bdoi\s*:?\s*|(?:https?://)?(?:dx\.)?doi\.org/)?\b10\.\d{4,9}/\S*[^\s.,;:!?'\")\]]",
    # ISSN: "ISSN 0028-0836", "eISSN: 1476-4687".
    rf"\b(?:[ep]-?)?ISSN(?:-L)?\b{_GAP}\d{{4}}[- ]?\d{{3}}[\dX]{_END}",
    # Interlibrary loan and request numbers ("ILL" only in capitals: "ill" is a word).
    r"(?:\b(?-i:ILL)\b|\bILLiad\b|\binter-?\s?library\s+loans?\b|\bill(?=\s+request)"
    r"|\b(?:request|transaction|TN)(?=\s*(?:#|no\b|number|num\b|id\b)))"
    rf"{_GAP}(?:[A-Z]{{1,4}}-?)?\d+{_END}",
    # Item barcodes, said to be an item's: "item barcode", "the book's barcode", "barcode on the DVD";
    # 5-16 digits, or 12-16 in groups as labels print them ("3 1234 00567 8901"), not a phone's.
    rf"(?:\b{_ITEM}(?:'s)?\s+(?:bar\s?code|id\b|#|no\b\.?|number)"
    rf"|\bbar\s?code\s+(?:on|of|from|for|inside)\s+(?:(?:the|this|that|a|an|my|back|front|spine|cover|of)\s+){{0,5}}"
    rf"{_ITEM}s?\b)"
    rf"{_GAP}(?:\d(?:[ -]?\d){{11,15}}(?![\w-]|[ -]?\d)|\d{{5,16}}{_END})",
    # Alma MMS ids, which start with 99 ("Alma" is a name too): "MMS id 991234567890123", "alma99…".
    rf"(?:\bMMS\s*-?\s*ids?\b|\bMMSID\b|\bAlma(?:\s+(?:MMS|record|bib))?(?:\s*-?\s*ids?)?){_GAP}99\d{{6,17}}{_END}",
)), re.IGNORECASE)
LOOK_ALIKES = re.compile("|".join((
    # Library of Congress call numbers: class letters, number, at least one cutter, a year.
    r"\b[A-Z]{1,3} ?\d{1,4}(?:\.\d+)?(?:\s*\.?[A-Z]\d+[A-Z]*)+(?:\s+\d{4}[a-z]?)?\b",
    # Dewey: three digits, a decimal part (not a dotted phone: "555.123.4567"), a cutter.
    r"(?<![\d.])\d{3}\.\d{1,12}(?![.\d])(?:\s+[A-Z][A-Za-z]{1,3}\b)?",
    # ZIP+4 codes: 02134-1234.
    r"(?<![\d-])\d{5}-\d{4}(?![\d-])",
    # Dates: 2024-03-05, 3/5/2024, 05.03.2024, 3-5-2024.
    r"(?<![\d/.-])(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}([/.-])\d{1,2}\1(?:\d{4}|\d{2}))(?![\d/.-]?\d)",
    # Times: 10:30, 9:05:00.
    r"(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?!\d)",
    # Years and year ranges: 1984, 1990-2024, 1990-95 (an en dash reads as "-").
    r"(?<![\d-])(?:1[5-9]|20)\d{2}(?:\s?-\s?(?:(?:1[5-9]|20)\d{2}|\d{2}))?(?![\d-])",
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
    read, origins = _reading(text)
    library_card = _library_card(library_card_pattern)
    taken: list[tuple[int, int, str | None]] = []  # (start, end, mask) in `read`; mask None: kept

    def take(start: int, end: int, mask: str | None) -> None:
        if any(other_start <= start and end <= other_end for other_start, other_end, _ in taken):
            return  # masked already, or a kept identifier explains the whole match (an ISBN, a date)
        overlapping = [span for span in taken if span[0] < end and start < span[1]]
        if mask is None:
            if not overlapping:
                taken.append((start, end, None))
            return
        # A mask wins over kept look-alikes it reaches into (the "2013" of 555 123 2013), and a
        # match reaching into something already masked masks the whole stretch.
        if any(other_mask for _, _, other_mask in overlapping):
            start, end = min(start, *(span[0] for span in overlapping)), max(end, *(span[1] for span in overlapping))
        taken[:] = [span for span in taken if span not in overlapping]
        taken.append((start, end, mask))

    for match in EMAIL_ADDRESS.finditer(read):
        take(match.start(), match.end(), EMAIL)
    for match in LABELLED.finditer(read):
        take(match.start(), match.end(), None)
    for match in ISBN_13.finditer(read):
        if _isbn13_valid(_digits(match.group())):
            take(match.start(), match.end(), None)
    for match in ISBN_10.finditer(read):
        if _isbn10_is_meant(read, match, region):
            take(match.start(), match.end(), None)
    for match in library_card.finditer(read):
        take(match.start(), match.end(), LIBRARY_CARD)
    for match in CARD_NUMBER.finditer(read):
        if _luhn_valid(_digits(match.group())):
            take(match.start(), match.end(), CARD)
    # The matcher reads around what is found already, not through it: it finds no number in
    # "21234000567890 312 555 0142" as a whole.
    phones = _phones(_blanked(read, [(start, end) for start, end, _ in taken]), region)
    # A grouped library card is a guess: it gives way to anything found before and to a phone number.
    for match in DIGIT_GROUPS.finditer(read):
        if library_card.fullmatch(_digits(match.group())) and \
                not any(start < match.end() and match.start() < end for start, end, _ in taken) and \
                not any(start <= match.start() and match.end() <= end for start, end in phones):
            take(match.start(), match.end(), LIBRARY_CARD)
    for match in LOOK_ALIKES.finditer(read):
        take(match.start(), match.end(), None)
    for start, end in phones:
        take(start, end, PHONE)
    masks = sorted((span for span in taken if span[2]), key=lambda span: span[0])
    if not masks:
        return Redacted(text)
    parts, position = [], 0
    for start, end, mask in masks:
        parts += [text[position:origins[start]], mask]
        position = origins[end - 1] + 1
    parts.append(text[position:])
    return Redacted("".join(parts), tuple(mask for _, _, mask in masks))


def _reading(text: str) -> tuple[str, list[int]]:
    """The text as identifiers are matched in (invisible characters dropped, spaces and dashes
    made plain), and for each of its characters the position of the original one."""
    origins = [position for position, character in enumerate(text) if character not in INVISIBLE]
    return "".join(text[position] for position in origins).translate(PLAIN), origins


def _blanked(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with each span's characters made "_", neither digit, letter nor phone punctuation."""
    for start, end in spans:
        text = text[:start] + "_" * (end - start) + text[end:]
    return text


def _phones(text: str, region: str) -> list[tuple[int, int]]:
    import phonenumbers  # the dispatcher only, on the first message with a digit in it

    others = [other for other in OTHER_REGIONS if other != region] if TRUNK_OR_EXIT_PREFIX.search(text) else []
    found = []
    for matcher_region in (region, *others):
        for match in phonenumbers.PhoneNumberMatcher(text, matcher_region, leniency=phonenumbers.Leniency.POSSIBLE):
            digits = "".join(character for character in match.raw_string if character.isdigit())
            if matcher_region != region and not _written_abroad(digits):
                continue
            # POSSIBLE also finds a local number's 7 digits inside an id ("1852893e"): a short match
            # glued to letters is left; a full number is masked even when typed against a word
            # ("cell5551234567").
            if len(digits) >= 10 or not ((match.start and text[match.start - 1].isalnum())
                                         or (match.end < len(text) and text[match.end].isalnum())):
                found.append((match.start, match.end))
    return found


def _written_abroad(digits: str) -> bool:
    """Whether another region's reading of a number counts: dialled from abroad (the exit code 00,
    a country code, at least 7 digits more) or national with a trunk prefix 0, 9-11 digits in all
    (longer runs with a leading 0 are product codes and ids: UPC 012345678905)."""
    return len(digits) >= 10 if digits.startswith("00") else digits.startswith("0") and 9 <= len(digits) <= 11


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
