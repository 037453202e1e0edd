"""The library's contact card: a vCard 3.0 with the library's name, its SMS number, web site
and e-mail (LibraryName, TwilioFromNumber, LibraryWebsite, LibraryEmail), served at
GET /contact.vcf and sent as MMS media with the first reply to a new SMS patron
(SendContactCard), so that the desk's number is saved under the library's name.

"Once per new patron" is kept per patron hash (`store.contact_cards`), not per conversation:
a patron who got the card does not get it again in a later conversation. The web widget
offers the same card ("Add to contacts") and the number ("Text us at …") from GET /presence."""
from __future__ import annotations

import dataclasses
import re

from aws_lambda_powertools import Logger

from refdesk import store
from refdesk.errors import DeliveryFailed
from refdesk.models import Author, Conversation, Message, Receipt
from refdesk.settings import Settings, get_settings

logger = Logger(child=True)

PATH = "/contact.vcf"
CONTENT_TYPE = "text/vcard; charset=utf-8"
# Twilio shows this name to the patron; at most 20 characters and no spaces (its advice).
FILENAME = "library.vcf"
DEFAULT_NAME = "Ask a Librarian"
NOTE = "Text your questions to this number: a librarian will answer."
LINE_OCTETS = 75  # RFC 2426 2.6: longer lines are folded
# The card changes only when the stack's parameters do: kept an hour by browsers and CloudFront,
# which may answer with it for a day longer while it fetches a fresh copy in the background.
CACHE_CONTROL = "public, max-age=3600, stale-while-revalidate=86400"


def url(settings: Settings | None = None) -> str:
    """The card's public URL: under PublicBaseUrl, else the API's own URL; "" if neither is known."""
    settings = settings or get_settings()
    base = settings.public_base_url or settings.api_url
    return f"{base}{PATH}" if base else ""


def vcard(settings: Settings | None = None) -> str:
    """The card, CRLF line ends, folded at 75 octets, text values escaped (RFC 2426)."""
    settings = settings or get_settings()
    name = _text(settings.library_name or DEFAULT_NAME)
    lines = ["BEGIN:VCARD", "VERSION:3.0", "PRODID:-//RefDesk//Contact card//EN",
             f"N:{name};;;;", f"FN:{name}", f"ORG:{name}", "X-ABShowAs:COMPANY"]
    if settings.twilio_from_number:
        lines.append(f"TEL;TYPE=WORK,MSG:{_single_line(settings.twilio_from_number)}")
    if settings.library_email:
        lines.append(f"EMAIL;TYPE=INTERNET,WORK:{_single_line(settings.library_email)}")
    if settings.library_website:
        lines.append(f"URL:{_single_line(settings.library_website)}")
    lines += [f"NOTE:{_text(NOTE)}", "END:VCARD"]
    return "".join(_fold(line) + "\r\n" for line in lines)


def sms_label(number: str) -> str:
    """How the number reads to a person: (555) 123-4567 in the US and Canada, else as given."""
    match = re.fullmatch(r"\+1(\d{3})(\d{3})(\d{4})", number)
    return f"({match[1]}) {match[2]}-{match[3]}" if match else number


def presence_fields(base_url: str) -> dict:
    """What GET /presence tells the widget: the number to text and the card's URL."""
    number = get_settings().twilio_from_number
    if not number:
        return {}
    return {"contact": {"sms": number, "sms_label": sms_label(number), "card": f"{base_url}{PATH}"}}


def send_part(channel, conversation: Conversation, message: Message, address: str, part: str,
              index: int, media: tuple[str, ...] = ()) -> Receipt | None:
    """Send one part of an outbound message through the patron's channel (which, told the stored
    message, may find the part sent by an earlier attempt), with the message's `media` (MMS:
    pictures a librarian shared, refdesk.file_links) on its first part. The first part of the
    first librarian reply a patron ever gets carries the contact card too, on a channel that sends
    it (SMS)."""
    shows = dataclasses.replace(message, parts_sent=index)  # as it stands before this part
    card = index == 0 and _card_due(channel, conversation, message)
    media = (*(media if index == 0 else ()), *((url(),) if card else ()))
    if not media:
        return channel.send(address, part, shows=shows)
    try:
        receipt = channel.send(address, part, media=media, shows=shows)
    except DeliveryFailed:
        if card:  # never reached the patron (opted out, bad number): the next reply carries the card
            store.contact_cards.release(conversation.patron_id, message.message_id)
        raise
    if card:
        logger.info("contact card sent", extra={"conversation_id": conversation.conversation_id})
    return receipt


def _card_due(channel, conversation: Conversation, message: Message) -> bool:
    settings = get_settings()
    # Sent by the patron's own channel when it sends the card (SMS), never by one it handed the reply
    # on to (a web follow-up's reply by SMS).
    by_own_channel = getattr(channel, "name", "") == conversation.channel
    card_channel = by_own_channel and channel.traits.sends_contact_card
    if not card_channel or message.author is not Author.LIBRARIAN or not settings.send_contact_card:
        return False
    if not url(settings):
        logger.warning("contact card not sent: neither PUBLIC_BASE_URL nor API_URL is set")
        return False
    return store.contact_cards.claim(conversation.patron_id, message.message_id)


def _text(value: str) -> str:
    """A vCard text value: backslash, comma, semicolon escaped; line breaks as \\n."""
    value = value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
    return re.sub(r"\r\n|\r|\n", "\\\\n", value)


def _single_line(value: str) -> str:
    """A configured number, address or URL: no line breaks can reach the card."""
    return re.sub(r"[\r\n]+", " ", value).strip()


def _fold(line: str) -> str:
    """Folded so that no line is longer than 75 octets, never inside a UTF-8 character."""
    pieces, current, size = [], "", 0
    for char in line:
        octets = len(char.encode("utf-8"))
        limit = LINE_OCTETS if not pieces else LINE_OCTETS - 1  # a continuation starts with a space
        if size + octets > limit:
            pieces.append(current)
            current, size = "", 0
        current += char
        size += octets
    pieces.append(current)
    return "\r\n ".join(pieces)
