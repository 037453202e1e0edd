"""Twilio SMS: the inbound webhook's parsing and answers, and sending replies."""
from __future__ import annotations

import re
from dataclasses import dataclass
from xml.sax.saxutils import escape as xml_escape

from refdesk.errors import BadRequest, DeliveryFailed
from refdesk.settings import get_settings

MAX_SMS = 1600
# Twilio answers these itself (opt-out, opt-in, help); they are not questions.
KEYWORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE",
            "START", "YES", "UNSTOP", "HELP", "INFO"}
# Twilio errors where trying again cannot help: unsubscribed, invalid or unreachable number.
PERMANENT_ERRORS = {21211, 21408, 21610, 21612, 21614, 30003, 30005, 30006}
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass(frozen=True)
class InboundSms:
    message_sid: str
    sender: str
    body: str
    media_count: int

    @property
    def is_keyword(self) -> bool:
        return self.body.strip().upper() in KEYWORDS

    @property
    def text(self) -> str:
        note = f"[sent {self.media_count} picture(s) or file(s), not shown here]" if self.media_count else ""
        return "\n".join(part for part in (self.body, note) if part)


def parse_inbound(form: dict[str, str]) -> InboundSms:
    """Only the fields RefDesk needs are checked; Twilio adds others without notice."""
    sid, sender, body = form.get("MessageSid", ""), form.get("From", ""), form.get("Body")
    if not re.fullmatch(r"(SM|MM)[0-9a-fA-F]{32}", sid):
        raise BadRequest("MessageSid missing or malformed")
    if not E164.match(sender):
        raise BadRequest("From is not an E.164 phone number")
    try:
        media_count = int(form.get("NumMedia") or 0)
    except ValueError as exc:
        raise BadRequest("NumMedia is not a number") from exc
    if body is None or not (body.strip() or media_count):
        raise BadRequest("Body missing")
    return InboundSms(sid, sender, body, media_count)


def twiml(message: str = "") -> str:
    inner = f"<Message>{xml_escape(message)}</Message>" if message else ""
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>'


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
    label = "SMS"

    def compose(self, librarian: str, text: str) -> list[str]:
        if not librarian:
            return split(text)
        return split(get_settings().reply_format.format(name=librarian, text=text))

    def send(self, address: str, part: str) -> None:
        from twilio.base.exceptions import TwilioRestException

        from refdesk import clients

        try:
            clients.get("twilio").messages.create(to=address, from_=get_settings().twilio_from_number, body=part)
        except TwilioRestException as error:
            if error.code in PERMANENT_ERRORS:
                raise DeliveryFailed(f"Twilio error {error.code}", code=str(error.code)) from error
            raise


CHANNEL = SmsChannel()
