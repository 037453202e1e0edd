"""E-mail through Amazon SES: how a web follow-up that left an e-mail address gets the
librarians' replies. Outbound only: such a patron writes in the widget's offline form, and the
web channel hands their replies on to this one (`web.WebChannel.route`).

A reply is one plain-text message from the configured sender (SesSenderIdentity, or
SesFromAddress at that domain), subject "Your question to <library>": the reply credited as on
every channel ("Amanda (library): …"), then the library's name and how to reach the desk again
(the web site, the SMS number). Replies to the e-mail go to the library's own address
(LibraryEmail) when one is set.

SES refusing the message (MessageRejected: an unverified sender, a recipient the sandbox does not
allow …) is permanent: DeliveryFailed, and the thread says so. An accepted message is ✅; it goes
out under the configuration set SesConfigurationSet, whose bounces and complaints SES publishes
to an SNS topic, which invokes the dispatcher (`undelivered`): the ✅ is joined by ❌ and a note. Throttling, server errors and
timeouts are raised as they are: the jobs queue tries again. Neither the address nor the text is
ever logged, nor SES's error message (it can quote the address)."""
from __future__ import annotations

import re
from collections.abc import Mapping
from email.utils import formataddr

from refdesk.errors import DeliveryFailed
from refdesk.models import Message, Receipt
from refdesk.settings import Settings, get_settings

# SES errors where sending again cannot help (API v2 names, and v1's for the same causes), each
# with what the librarian is told.
PERMANENT_ERRORS = {
    "MessageRejected": "is the sender verified, and the AWS account out of the SES sandbox?",
    "MailFromDomainNotVerifiedException": "the sender's MAIL FROM domain is not verified",
    "MailFromDomainNotVerified": "the sender's MAIL FROM domain is not verified",
    "AccountSuspendedException": "sending is suspended for this AWS account",
    "SendingPausedException": "sending is paused for this AWS account",
    "AccessDeniedException": "the dispatcher may send as SesSenderIdentity only (in the SES sandbox, SES also "
                             "checks the recipient)",
    "AccessDenied": "the dispatcher may send as SesSenderIdentity only (in the SES sandbox, SES also checks the "
                    "recipient)",
    "NotFoundException": "the sender identity does not exist in SES",
    "BadRequestException": "SES did not accept the address or the message",
    "InvalidParameterValue": "SES did not accept the address or the message",
}
NOT_SET_UP = "email_not_set_up"  # DeliveryFailed code: no sender configured
DEFAULT_NAME = "Ask a Librarian"  # the signature when LibraryName is not set

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+(?:[A-Za-z]{{2,63}}|xn--[A-Za-z0-9-]{{1,59}})")


def address(contact: str) -> str:
    """The e-mail address a contact left in the form is, or "" when it is not one. A domain in
    another script is given to SES in its ASCII (IDNA) form, which SES requires."""
    local, at, domain = contact.strip().rpartition("@")
    if not at or not local or not domain:
        return ""
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return ""
    candidate = f"{local}@{domain}"
    return candidate if len(candidate) <= 254 and ADDRESS.fullmatch(candidate) else ""


def subject(settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    return f"Your question to {settings.library_name or 'the library'}"


def reach_us_again(settings: Settings | None = None) -> str:
    """The line that tells the patron how to reach the desk again: the web site (LibraryWebsite,
    else the first of AllowedOrigins) and the SMS number."""
    settings = settings or get_settings()
    site = settings.library_website or next(iter(settings.allowed_origins), "")
    ways = [way for way in (f"chat with us at {site}" if site else "",
                            f"text us at {settings.twilio_from_number}" if settings.twilio_from_number else "")
            if way]
    return f"To ask us something else, {' or '.join(ways)}." if ways else \
        "To ask us something else, start a new chat on our web site."


class EmailChannel:
    name = "email"
    # An answer by e-mail arrives long after the form it answers: it quotes the question
    # (refdesk.delivery passes it).
    quotes_question = True

    def compose(self, sender: str, text: str, department: str = "", question: str = "") -> list[str]:
        """One plain-text body: the reply credited to the librarian (REPLY_FORMAT), the patron's
        question quoted, then the library's name and how to reach the desk again."""
        settings = get_settings()
        reply = settings.credit(sender, text, department) if sender else text
        quoted = "\n\nYou asked:\n" + "\n".join(f"> {line}" for line in question.splitlines()) if question.strip() else ""
        return [f"{reply}{quoted}\n\n-- \n{settings.library_name or DEFAULT_NAME}\n{reach_us_again(settings)}\n"]

    def send(self, address: str, part: str, *, shows: Message | None = None, title: str = "") -> Receipt:
        """Hand one message to SES, titled `title` (default: `subject`); DeliveryFailed when SES
        refuses it for good. SES keeps no list of what it sent to look in, so `shows` changes
        nothing: e-mail is at least once. Only a crash between SendEmail and the save of the part
        (or an answer lost on the way back) sends the reply again on the retry."""
        from botocore.exceptions import ClientError

        from refdesk import clients

        settings = get_settings()
        if not settings.email_from:
            raise DeliveryFailed("e-mail replies are not set up: no SesSenderIdentity", code=NOT_SET_UP)
        extra = {"ReplyToAddresses": [settings.library_email]} if settings.library_email else {}
        if settings.ses_configuration_set:
            extra["ConfigurationSetName"] = settings.ses_configuration_set
        try:
            sent = clients.get("ses").send_email(
                FromEmailAddress=formataddr((settings.library_name, settings.email_from), charset="utf-8"),
                Destination={"ToAddresses": [address]},
                Content={"Simple": {"Subject": {"Data": title or subject(settings), "Charset": "UTF-8"},
                                    "Body": {"Text": {"Data": part, "Charset": "UTF-8"}}}},
                **extra)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in PERMANENT_ERRORS:
                raise DeliveryFailed(f"SES refused the e-mail ({code}): {PERMANENT_ERRORS[code]}",
                                     code=f"ses_{code}") from error
            raise
        return Receipt(sent["MessageId"])


def undelivered(event: Mapping) -> tuple[str, str] | None:
    """An SES event from the configuration set's SNS topic: for a bounce or a complaint, SES's
    message id and why the patron did not get it, in staff's words (refdesk.delivery_status
    makes it ❌ and a note); None for any other event. The event's addresses and headers are
    never logged or stored."""
    kind = event.get("eventType") or event.get("notificationType")  # the latter without event publishing
    message_id = str((event.get("mail") or {}).get("messageId") or "")
    return (message_id, NOT_DELIVERED[kind](event)) if kind in NOT_DELIVERED and message_id else None


def _bounced(event: Mapping) -> str:
    bounce = event.get("bounce") or {}
    kind, sub_kind = str(bounce.get("bounceType", "")), str(bounce.get("bounceSubType", ""))
    why = BOUNCES.get(sub_kind) or BOUNCES.get(kind) or "the e-mail bounced"
    return f"{why} (SES: {kind} bounce, {sub_kind})" if kind else why


# What staff read in the thread for each kind of SES event that means the patron did not get it.
NOT_DELIVERED = {
    "Bounce": _bounced,
    "Complaint": lambda event: "they marked the e-mail as spam; do not e-mail them again",
}
BOUNCES = {
    "NoEmail": "the e-mail address does not exist",
    "Suppressed": "SES will not send to this address: it bounced or complained before",
    "OnAccountSuppressionList": "SES will not send to this address: it is on the account's suppression list",
    "MailboxFull": "their mailbox is full",
    "MessageTooLarge": "their mail server refused it as too large",
    "ContentRejected": "their mail server refused its content",
    "Permanent": "their mail server refused it for good",
    "Transient": "their mail server kept refusing it",
}


CHANNEL = EmailChannel()
