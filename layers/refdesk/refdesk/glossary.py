"""Text/IM shorthand in a patron's message, explained for staff: "Shorthand: idk = I don't
know · ty = thank you", shown as a context line under the message (root card and thread posts).

Terms come from the glossary file (refdesk.deskconfig). A term matches as a whole word, in any
case, and never inside a link, an e-mail address or a domain name (`bit.ly/idk` is not "I don't
know")."""
from __future__ import annotations

import re
from functools import lru_cache

from refdesk import deskconfig

MAX_SHOWN = 12  # a context line stays a line
# What is not prose: URLs, bare domains (with a path or not), e-mail addresses, Slack's <…> tokens.
NOT_PROSE = re.compile(
    r"<[^<>\s]*>"
    r"|\b(?:https?|ftp)://\S+"
    r"|\bwww\.\S+"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    r"|\b[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}(?:/\S*)?", re.IGNORECASE)


@lru_cache(maxsize=4)
def _pattern(terms: tuple[str, ...]) -> re.Pattern | None:
    if not terms:
        return None
    alternatives = "|".join(re.escape(term) for term in sorted(terms, key=len, reverse=True))
    # Whole words: no letter, digit, apostrophe or joiner right before or after the term.
    return re.compile(rf"(?<![\w'/&;@.-])(?:{alternatives})(?![\w'/&;@-])", re.IGNORECASE)


def matches(text: str, glossary: tuple[tuple[str, str], ...] | None = None) -> list[tuple[str, str]]:
    """(shorthand, meaning) for each glossary term in `text`, in order of first use, once each."""
    entries = deskconfig.get().glossary if glossary is None else glossary
    meanings = dict(entries)
    pattern = _pattern(tuple(meanings))
    if pattern is None or not text:
        return []
    prose = NOT_PROSE.sub(lambda match: " " * len(match.group(0)), text)
    found: dict[str, str] = {}
    for match in pattern.finditer(prose):
        term = match.group(0).lower()
        if term not in found:
            found[term] = meanings[term]
    return list(found.items())


def line(text: str, glossary: tuple[tuple[str, str], ...] | None = None) -> str:
    """"Shorthand: idk = I don't know · ty = thank you", or "" when the text uses none."""
    found = matches(text, glossary)[:MAX_SHOWN]
    if not found:
        return ""
    return "Shorthand: " + " · ".join(f"{term} = {meaning}" for term, meaning in found)
