"""Text between patrons and Slack: patron text escaped so it can never ping anyone, and a
librarian's Slack text made plain for the patron."""
from __future__ import annotations

import re

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


SLACK_LINK = re.compile(r"<(?:mailto:|tel:)?([^<>|]+)(?:\|([^<>]+))?>")
NOTE_PREFIX = "note:"


def plain_text(slack_text: str) -> str:
    """What a librarian typed, as the patron should read it: links and mentions unwrapped,
    Slack's escapes undone."""
    def unwrap(match: re.Match) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith(("@", "#", "!")):
            return label or target
        return label if label and label == target else (f"{label} ({target})" if label else target)

    text = SLACK_LINK.sub(unwrap, slack_text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def is_internal(text: str) -> bool:
    """A reply starting with note: stays with staff."""
    return text.lstrip().lower().startswith(NOTE_PREFIX)
