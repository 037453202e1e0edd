"""What the librarian's card says about where a patron is asking from (issue 19, item 1): the page
a web chat started on, its device class and language; an SMS number's country; and the patron's
earlier conversations still within retention, each linked to its staff thread.

The widget's context (here) and Twilio's FromCountry (refdesk.channels.sms) are checked strictly
(anything else is dropped, never refused: they are extras), the page redacted, before they are
kept on the patron's session (store.sessions), which lives as the conversation does. None of it
is ever logged."""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from refdesk import assessment, store
from refdesk.errors import NotFound
from refdesk.models import Conversation
from refdesk.redaction import redact
from refdesk.slack.text import escape

MAX_TITLE = 120
MAX_PATH = 300
MAX_LANGUAGE = 35  # BCP 47's advice for what a tag needs at most
DEVICES = frozenset({"phone", "tablet", "desktop"})
# A URL path as a browser gives it (RFC 3986 characters, percent-escapes): no query, no fragment.
PATH = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*")
LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,4}")  # a BCP 47 tag, as navigator.language
MAX_LINKED = 3  # earlier conversations linked by date; the rest only counted


def from_widget(raw: Any) -> dict[str, str]:
    """The widget's {"title", "path", "device", "language"}, each kept only if it is what it
    should be; title and path redacted (a page may name a card number or an e-mail address)."""
    raw = raw if isinstance(raw, dict) else {}
    title, path, device, language = (raw.get(name) for name in ("title", "path", "device", "language"))
    context = {}
    if isinstance(title, str) and 0 < len(title.strip()) <= MAX_TITLE and title.isprintable():
        context["title"] = redact(title.strip()).text
    if isinstance(path, str) and len(path) <= MAX_PATH and PATH.fullmatch(path):
        readable = unquote(path)
        if readable.isprintable():
            context["path"] = redact(readable).text
    if isinstance(device, str) and device in DEVICES:
        context["device"] = device
    if isinstance(language, str) and len(language) <= MAX_LANGUAGE and LANGUAGE.fullmatch(language):
        context["language"] = language
    return context


def lines(conversation: Conversation) -> list[str]:
    """The card's context lines, Slack mrkdwn, escaped: where the patron is, and their earlier
    conversations. One read of the session, one Query of the patron's conversations, one
    BatchGetItem of them, and a read of each linked one."""
    context = store.sessions.context(conversation.anchor)
    return [line for line in (_where(context), _earlier(conversation)) if line]


def _where(context: dict) -> str:
    if context.get("country"):
        return f"SMS from {escape(context['country'])}"
    title, path = context.get("title"), context.get("path")
    page = " ".join(filter(None, (title and f"“{escape(title)}”", path and f"({escape(path)})")))
    return " · ".join(filter(None, (page and f"From {page}", context.get("device"), context.get("language"))))


def _earlier(conversation: Conversation) -> str:
    """"2 earlier conversations: <link|3 Dec>, <link|28 Nov>": those the patron started before
    this one (ids are time-ordered) and that are still kept; an erased one is gone from the index."""
    conversation_ids, _ = store.erasures.patron_items(conversation.patron_id)
    earlier = sorted((other for other in conversation_ids if other < conversation.conversation_id), reverse=True)
    kept = store.conversations.summaries(earlier) if earlier else {}
    earlier = [other for other in earlier if other in kept]
    if not earlier:
        return ""
    links = list(filter(None, map(_thread_link, earlier[:MAX_LINKED])))
    noun = "conversation" if len(earlier) == 1 else "conversations"
    more = " …" if len(earlier) > len(links) else ""
    return f"{len(earlier)} earlier {noun}" + (f": {', '.join(links)}" if links else "") + more


def _thread_link(conversation_id: str) -> str:
    """Its date, linked to its staff thread. slack.com/archives/{channel}/p{ts} opens the message
    in whichever workspace the reader is signed in to: no workspace domain, no API call."""
    try:
        earlier = store.conversations.get(conversation_id)
    except NotFound:  # expired or erased since the index was read
        return ""
    day = assessment.day_of(earlier)
    label = f"{day.day} {day:%b}"
    if not (earlier.slack_channel and earlier.slack_ts):
        return label
    return f"<https://slack.com/archives/{earlier.slack_channel}/p{earlier.slack_ts.replace('.', '')}|{label}>"
