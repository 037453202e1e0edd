"""Twilio SMS: the inbound webhook's parsing and answers, and sending replies. A patron's
session is their phone number: it is forgotten on close, so their next text opens a new
conversation; but a text of one digit within 10 minutes of the closing line, which asks for it,
rates the closed conversation instead (`take_rating`).

Nothing doubled: a retry (refdesk.jobs.attempt() > 1) may follow an attempt whose text Twilio
accepted though its answer never came back (the process died, the connection dropped). Before it
sends a part of a stored message, a retry looks in Twilio's Messages list (to the patron, from
the library's number, newest first, whether sent or still queued) for a text with exactly that
body created since the message's time; one found counts as sent, under its MessageSid (one list
call, rarely more pages, for each part still to send). A first attempt sends at once, with no extra call. Two texts of the same
wording to the same patron moments apart may be taken for one on a retry: the patron then has
that wording once."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Mapping

from aws_lambda_powertools import Logger

from refdesk import identity, jobs, store
from refdesk.channels.contract import Rating, Traits
from refdesk.errors import BadRequest, DeliveryFailed
from refdesk.models import InboundMessage, Message, RatingJob, Receipt
from refdesk.settings import get_settings
from refdesk.store.sessions import Release

MAX_SMS = 1600
# With Advanced Opt-Out, Twilio marks the keywords it answered itself (OptOutType): only these
# decide. A START or HELP still reaches staff in an open conversation, with this note; a STOP never.
KEYWORD_NOTES = {"START": "[START: a keyword Twilio answered itself; this number may be texted again]",
                 "HELP": "[HELP: a keyword Twilio answered itself with the number's help reply]"}
# Appended to the acknowledgement, the first automated text of a conversation.
DELETE_HINT = "Text DELETE to erase this conversation."
# A reply to the closing line's "Reply 1-5 to rate…": one digit, spaces and a final "." or "!" allowed.
RATING_REPLY = re.compile(r"\s*([1-5])\s*[.!]?\s*")
# The carrier's reasons a status callback gives for a text that never reached the phone (its
# ErrorCode), in the words staff read in the thread (refdesk.delivery_status).
UNDELIVERABLE = {
    30003: "the phone is switched off or out of reach",
    30004: "the number blocks texts from us",
    30005: "the number is unknown or no longer in service",
    30006: "the carrier cannot deliver texts to it; most often the number is a landline",
    30007: "the carrier filtered it as spam",
    30008: "the carrier gave no reason",
}
# Twilio errors where trying again cannot help: unsubscribed, invalid or unreachable number.
PERMANENT_ERRORS = {21211, 21408, 21610, 21612, 21614, 30003, 30005, 30006}
STATUS_PATH = "/twilio/status"  # Twilio's status callbacks (functions/sms_inbound)
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
COUNTRY = re.compile(r"[A-Z]{2}")  # Twilio's FromCountry: ISO 3166-1 alpha-2
MAX_MEDIA = 10  # Twilio's limit per message
MAX_MEDIA_URL = 2048
MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")
OPTED_OUT = "opted_out"  # DeliveryFailed code: the patron texted STOP
STOPPED = "they texted STOP; nothing can be texted to them until they text START"
# A text is never created before the stored message it sends, give or take the clocks of Twilio,
# Slack (a reply's time is its Slack ts) and the dispatcher, and Twilio's whole seconds.
CLOCK_SKEW = timedelta(seconds=60)
LOOKUP_PAGE_SIZE = 50

logger = Logger(child=True)


def _text(body: str, media_count: int, media: tuple[tuple[str, str], ...]) -> str:
    return "\n".join(part for part in (body, media_note(media, media_count)) if part)


def media_type(value: str) -> str:
    """"image/jpeg" from "image/jpeg; charset=…"; "" for anything that is not a media type."""
    kind = str(value or "").split(";")[0].strip().lower()
    return kind if MEDIA_TYPE.match(kind) else ""


def media_note(media: tuple[tuple[str, str], ...], count: int) -> str:
    """The short note staff see with the text: "[sent 1 picture]", "[sent 2 pictures and 1 file]".
    The pictures themselves follow in the thread (refdesk.pictures)."""
    kinds = [media_type(kind) for _, kind in media]
    pictures = sum(1 for kind in kinds if kind.startswith("image/"))
    files = sum(1 for kind in kinds if kind and not kind.startswith("image/"))
    unknown = max(min(count, MAX_MEDIA), len(media)) - pictures - files  # no (usable) type given
    parts = [f"{n} {one if n == 1 else many}" for n, one, many in (
        (pictures, "picture", "pictures"), (files, "file", "files"), (unknown, "picture or file", "pictures or files"))
        if n]
    return f"[sent {' and '.join(parts)}]" if parts else ""


def _media(fields: Mapping[str, str], count: int) -> tuple[tuple[str, str], ...]:
    """(MediaUrl{i}, MediaContentType{i}) for each medium Twilio listed; fetched by the dispatcher."""
    media = []
    for index in range(min(count, MAX_MEDIA)):
        url = str(fields.get(f"MediaUrl{index}") or "").strip()
        if url and len(url) <= MAX_MEDIA_URL:
            media.append((url, media_type(fields.get(f"MediaContentType{index}", ""))))
    return tuple(media)


def twiml(message: str = "") -> str:
    """The webhook's answer: an empty <Response/>, or one <Message> Twilio sends back at once."""
    from twilio.twiml.messaging_response import MessagingResponse  # only the inbound webhook needs it

    response = MessagingResponse()
    if message:
        response.message(message)
    return response.to_xml(xml_declaration=True)


def acknowledgement() -> str:
    """The answer to a text that opens a conversation: the library's SmsAckText, then how to erase
    the conversation (told once per conversation, on its first automated text); "" when the library
    sends none."""
    ack = get_settings().sms_ack_text.strip()
    return f"{ack} {DELETE_HINT}" if ack else ""


def same_number(address: str) -> str:
    """One spelling per phone number, so that a patron keeps one keyed hash: its digits after "+"
    (spaces, dots, dashes and brackets dropped; the international prefix 00 read as "+")."""
    digits = re.sub(r"\D", "", address)
    if address.strip().startswith("+"):
        return f"+{digits}"
    return f"+{digits[2:]}" if digits.startswith("00") else digits


def split(text: str, limit: int = MAX_SMS) -> list[str]:
    """Parts of at most `limit` characters, cut at whitespace where possible."""
    parts = []
    while len(text) > limit:
        spaces = [match.start() for match in re.finditer(r"\s", text[:limit + 1])]
        cut = spaces[-1] if spaces and spaces[-1] > limit // 2 else limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*parts, text]


class SmsChannel:
    name = "sms"
    release = Release.FORGET
    # DELETE is not one of Twilio's keywords, so it reaches the desk. The closing line asks for a
    # rating by reply, a single digit (`take_rating`).
    traits = Traits(display_name="SMS", delete_words=frozenset({"delete"}), patron_address=same_number,
                    rating=Rating.BY_REPLY, sends_contact_card=True, sends_pictures=True)

    def parse(self, fields: Mapping[str, str], session_id: str = "") -> InboundMessage | None:
        """Only the fields RefDesk needs are checked; Twilio adds others without notice.

        Only Twilio's Advanced Opt-Out decides what a keyword is: it marks the keywords it answered
        itself (its own and any the library added) with `OptOutType`. A STOP is recorded (one
        write, by the patron's keyed hash) so that the desk never sends to the number, and is
        never shown: None. A START clears it, a HELP costs nothing; either is shown to staff,
        noted as a keyword, only in an open conversation (`joins_only`: it opens none). Any other
        text is the patron's, whatever its words: "Yes", "End" and "STOP" without OptOutType too
        (without Advanced Opt-Out the webhook cannot tell what Twilio did with it)."""
        sid, sender, body = fields.get("MessageSid", ""), fields.get("From", ""), fields.get("Body")
        if not re.fullmatch(r"(SM|MM)[0-9a-fA-F]{32}", sid):
            raise BadRequest("MessageSid missing or malformed")
        if not E164.match(sender):
            raise BadRequest("From is not an E.164 phone number")
        patron = identity.patron_id(self.name, sender)
        opt_out_type = (fields.get("OptOutType") or "").strip().upper()
        if opt_out_type == "STOP":
            store.optouts.record(patron)
        elif opt_out_type == "START":
            store.optouts.clear(patron)
        if opt_out_type and opt_out_type not in KEYWORD_NOTES:
            return None
        try:
            media_count = int(fields.get("NumMedia") or 0)
        except ValueError as exc:
            raise BadRequest("NumMedia is not a number") from exc
        if media_count < 0:
            raise BadRequest("NumMedia is negative")
        if body is None or not (body.strip() or media_count or opt_out_type):
            raise BadRequest("Body missing")
        media = _media(fields, media_count)
        text = "\n".join(part for part in (_text(body, media_count, media), KEYWORD_NOTES.get(opt_out_type)) if part)
        country = fields.get("FromCountry") or ""  # for the card (refdesk.patron_context); anything else dropped
        return InboundMessage(channel=self.name, message_id=sid, session_id=f"sms-{patron}", patron_id=patron,
                              label=f"SMS {identity.mask_phone(sender)}", text=text, reply_address=sender,
                              media=media, joins_only=bool(opt_out_type),
                              country=country if COUNTRY.fullmatch(country) else "")

    def claim(self, message: InboundMessage, credential: str = "", at: str = "") -> tuple[str, bool]:
        opens = "" if message.joins_only else identity.new_id("c")
        return store.sessions.claim(message.session_id, message.message_id, new_conversation_id=opens,
                                    message=message, at=at,
                                    context={"country": message.country} if message.country else None)

    def compose(self, sender: str, text: str, department: str = "") -> list[str]:
        if not sender:
            return split(text)
        return split(get_settings().credit(sender, text, department))

    def send(self, address: str, part: str, media: tuple[str, ...] = (), *,
             shows: Message | None = None) -> Receipt:
        """One text; with `media` (public URLs: the contact card), an MMS. With `shows`, the stored
        message the part belongs to: a retry sends nothing when Twilio lists the part (its
        receipt is the listed text's). Twilio calls status_callback_url() with the text's
        progress (refdesk.delivery_status)."""
        from twilio.base.exceptions import TwilioRestException

        from refdesk import clients

        callback = status_callback_url()
        if shows is not None and jobs.attempt() > 1:
            earlier = _sent_since(address, part, shows.at)
            if earlier:
                logger.info("text sent by an earlier attempt: not sent again")
                return Receipt(earlier, reports_delivery=bool(callback))
        if store.optouts.is_opted_out(identity.patron_id(self.name, address)):
            raise DeliveryFailed(STOPPED, code=OPTED_OUT)  # refused here: Twilio is not asked
        try:
            extra = {"media_url": list(media)} if media else {}
            if callback:
                extra["status_callback"] = callback
            text = clients.get("twilio").messages.create(to=address, from_=get_settings().twilio_from_number,
                                                         body=part, **extra)
            return Receipt(text.sid, reports_delivery=bool(callback))
        except TwilioRestException as error:
            if error.code in PERMANENT_ERRORS:
                why = STOPPED if error.code == 21610 else "the number cannot receive texts"
                raise DeliveryFailed(f"Twilio error {error.code}: {why}", code=str(error.code)) from error
            raise


def take_rating(message: InboundMessage) -> RatingJob | None:
    """A text of one digit 1-5 (no picture) answering the closing line, within
    store.sessions.RATING_WINDOW_SECONDS and while the patron has no newer conversation open: the
    job that rates the closed conversation (it opens nothing and never reaches staff). None for
    any other text, which is a message like any other; only a digit costs a table call."""
    reply = RATING_REPLY.fullmatch(message.text)
    if not reply or message.media or message.joins_only:
        return None
    conversation_id = store.sessions.take_rating(message.session_id, message.message_id)
    if not conversation_id:
        return None
    return RatingJob(conversation_id=conversation_id, rating=int(reply.group(1)), channel=CHANNEL.name,
                     rater=message.patron_id)


def status_callback_url() -> str:
    """Where Twilio reports each text's progress: under PublicBaseUrl (the URL the webhooks'
    signatures are checked against), else the API's own URL; "" if neither is known."""
    settings = get_settings()
    base = settings.public_base_url or settings.api_url
    return f"{base}{STATUS_PATH}" if base else ""


def undelivered(status: str, error_code: str) -> str:
    """Why a text did not reach the phone, in staff's words, from its status callback."""
    code = int(error_code) if error_code.isdigit() else None
    why = UNDELIVERABLE.get(code) or f"Twilio reported it {status}"
    return f"{why} ({code})" if code else why


def _sent_since(address: str, body: str, since: str) -> str:
    """The MessageSid of a text Twilio lists of exactly `body` to `address` from the library's
    number, created at `since` or later (less CLOCK_SKEW), whatever its status; "" when none.
    No DateSent filter: a text still queued or accepted has no date sent, and the filter would
    hide it. The list is newest first, read a page at a time until found or until a text sent
    before `since`: every text after it was sent earlier still."""
    from refdesk import clients

    earliest = datetime.fromisoformat(since) - CLOCK_SKEW
    listed = clients.get("twilio").messages.stream(to=address, from_=get_settings().twilio_from_number,
                                                   page_size=LOOKUP_PAGE_SIZE)
    for text in listed:
        if text.body == body and text.date_created >= earliest:
            return text.sid
        if text.date_sent is not None and text.date_sent < earliest:
            break
    return ""


CHANNEL = SmsChannel()
