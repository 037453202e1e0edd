"""Web chat: the channel behind the widget (its API is refdesk.webchat). A session is one chat in one browser,
held with a bearer token of which only the hash is stored; its conversation is chosen when
the session starts, and closing it ends the session. Replies are delivered by storing them:
the widget reads the conversation by cursor (GET …/messages), and while it has a live
connection the dispatcher pushes each message as it is stored. A follow-up left in the offline
form also gets the librarians' replies at the contact it gave (`WebChannel.route`): by e-mail
(SES) or by SMS. Rate limits keep abuse cheap.

The live connection (an API Gateway WebSocket API; refdesk.live, functions/live):

  POST /chat/sessions (with the widget's {"visitor_id"}, refdesk.webchat.create_session) answers
  {"session_id", "token", "live_url"}. live_url is
  wss://{api}.execute-api.{region}.amazonaws.com/{stage}?session={session_id}&token={token}
  (ws://127.0.0.1:{port}/{stage}?… locally), or null when no WebSocket API is configured. It
  carries the same bearer token. The handshake is refused with 401 without session or token,
  and with 403 for a wrong token, a session that ended or expired, or one that already has
  live.MAX_CONNECTIONS (3) open connections; a browser only sees an error and a close, and
  then polls.

  Client -> server: text frames of at most 1 KB, JSON objects.
    {"type": "ping"}  answered {"type": "pong"}. API Gateway closes a connection idle for 10
                      minutes and any connection after 2 hours: ping every 5 minutes or so,
                      and reconnect (with backoff) when closed.
    anything else     answered {"type": "error", "code": "too_large" | "not_json" |
                      "unknown_type", "message": …}; the connection stays open.
  Server -> client: text frames, JSON objects.
    {"type": "message", "message": {…}}  a message the patron sees, as soon as it is stored:
        exactly the object GET …/messages lists for it (id, from, name, text, client_id, at).
        Librarians' replies and quick replies, and the desk's lines (place in line, transfer,
        after hours, the closing line); not the patron's own messages, which the widget shows
        as it sends them and recognises in GET …/messages by client_id.
    {"type": "status", "status": "open" | "closed", "queue": …}  GET …/messages's `status` and
        `queue`, when they change: the patron joins the line ({"state": "waiting",
        "position": n}), the line moves (a conversation ahead is claimed, answered, transferred
        or closed: the new position), a librarian takes the chat ({"state": "claimed", "by":
        "Amanda"}), the chat closed (after the closing line; queue null).
  Frames carry no cursor; one may come twice (a retried job) or never (a push that failed is
  not retried). So the widget keeps the cursor of GET …/messages only, and each time a
  connection opens it reads GET …/messages?after={cursor}, skipping messages it already shows
  (same id, or same client_id): nothing is missed across reconnects, nothing shown twice."""
from __future__ import annotations

import re
from typing import Any, Mapping, NotRequired, TypedDict

from refdesk import file_links, identity, store
from refdesk.channels.contract import Outbound, Rating, Traits
from refdesk.errors import BadRequest, DeliveryFailed, NotFound, PayloadTooLarge
from refdesk.models import InboundMessage, Message, Receipt
from refdesk.settings import get_settings
from refdesk.shapes import check
from refdesk.store.sessions import Release

MAX_TEXT = 2000
MAX_FIELD = 200


class ChatMessage(TypedDict):
    """The body of POST /chat/sessions/{id}/messages (refdesk.shapes checks it)."""
    text: str
    client_id: str
    contact: NotRequired[str]  # the follow-up form, asked while nobody is on duty
    name: NotRequired[str]
    # Milliseconds since the patron pressed Send, by the page's clock (refdesk.webchat): taken as 0
    # to 10 minutes; anything that is not a number counts as 0.
    age_ms: NotRequired[object]
    # A picture or PDF uploaded for this message (refdesk.attachments): the text may then be empty.
    file_id: NotRequired[str]


class WebChannel:
    name = "web"
    release = Release.END
    # The widget's "Delete this conversation" is its own request (refdesk.webchat), not a word; the
    # widget offers the rating when it sees the chat closed, and shows its place in line and who has it.
    traits = Traits(display_name="Web chat", rating=Rating.BY_CLIENT, shows_status=True, shows_files=True)

    def parse(self, fields: Mapping[str, Any], session_id: str = "") -> InboundMessage:
        check(fields, ChatMessage, "body")
        text = _text_field(fields, "text", MAX_TEXT, required="file_id" not in fields)
        client_id = _text_field(fields, "client_id", 100, required=True)
        contact = _text_field(fields, "contact", MAX_FIELD)
        name = _text_field(fields, "name", MAX_FIELD)
        return InboundMessage(channel=self.name, message_id=client_id, session_id=session_id,
                              patron_id=identity.patron_id(self.name, session_id), label=f"Web ···{session_id[-4:]}",
                              text=text, reply_address=contact, follow_up=bool(contact), patron_name=name)

    def claim(self, message: InboundMessage, credential: str = "", at: str = "") -> tuple[str, bool]:
        return store.sessions.claim(message.session_id, message.message_id, token_hash=credential, message=message,
                                    at=at)

    def compose(self, sender: str, text: str, department: str = "") -> list[str]:
        return [text]

    def send(self, address: str, part: str, *, shows: Message | None = None) -> None:
        """Nothing to send: the message the dispatcher stored is what the widget reads, and what
        refdesk.live pushed to its open connections before any channel's send (whatever the
        route). For a live chat (no contact left) that is the hand-over: the reply counts as sent (✅)."""

    def route(self, address: str, *, is_open: bool = True) -> tuple[Outbound, str]:
        """Who delivers a reply, and to which address. Every reply is stored first, and the widget
        shows it to a patron still on the page; with no contact (a live chat) that is all, while
        the chat is open (a reply after Close reopens it while its session lives:
        assignment.reopen_by_reply); once it has ended nobody would see a librarian's reply, which
        is then not delivered (❌ and a note, never ✅). A follow-up's contact also gets the librarians'
        replies: an e-mail address through SES (`channels.email`), a phone number by SMS (the SMS
        channel's own compose and send). A contact that is neither cannot be reached: sending
        raises DeliveryFailed (❌ and a note)."""
        from refdesk.channels import email, sms

        if not address:
            return (self, "") if is_open else (ENDED, "")
        email_address = email.address(address)
        if email_address:
            return RepliesOnly(email.CHANNEL), email_address
        number = phone_number(address)
        if number:
            return RepliesOnly(sms.CHANNEL), number
        return UNREACHABLE, ""


class RepliesOnly:
    """A follow-up's contact gets the librarians' replies, not the desk's own lines: the web chat's
    closing line ("start a new chat here") is for the widget, which shows it."""

    def __init__(self, channel: Outbound):
        self.channel = channel
        self.quotes_question = getattr(channel, "quotes_question", False)  # e-mail does (refdesk.delivery)

    def compose(self, sender: str, text: str, department: str = "", **quoting: str) -> list[str]:
        return self.channel.compose(sender, text, department, **quoting) if sender else []

    def send(self, address: str, part: str, *, shows: Message | None = None) -> Receipt | None:
        return self.channel.send(address, part, shows=shows)


class Unreachable:
    """The contact left in the form is neither an e-mail address nor a phone number."""

    def compose(self, sender: str, text: str, department: str = "") -> list[str]:
        return [text] if sender else []

    def send(self, address: str, part: str, *, shows: Message | None = None) -> None:
        raise DeliveryFailed("the contact they left is neither an e-mail address nor a phone number; only the "
                             "chat window, while still open, shows the reply", code="no_contact")


class EndedChat:
    """A live chat (no contact left) that was closed: its window no longer shows replies."""

    def compose(self, sender: str, text: str, department: str = "") -> list[str]:
        return [text] if sender else []  # the desk's own lines (the closing one) are stored for the widget

    def send(self, address: str, part: str, *, shows: Message | None = None) -> None:
        raise DeliveryFailed("the chat had ended, and they left no contact to reach them", code="chat_ended")


CHANNEL = WebChannel()
UNREACHABLE = Unreachable()
ENDED = EndedChat()
_PHONE_CHARACTERS = re.compile(r"\+?[\d\s().\-/]+")


def phone_number(contact: str) -> str:
    """The E.164 number a contact left in the form is, or "" when it is not one: an international
    number (+44 20 7946 0000, 0044 …) or, when the library's own number is North American (+1),
    a national one of 10 digits (with or without the leading 1)."""
    from refdesk.channels.sms import E164

    contact = contact.strip()
    if not _PHONE_CHARACTERS.fullmatch(contact):
        return ""
    digits = re.sub(r"\D", "", contact)
    if contact.startswith("+"):
        number = "+" + digits
    elif digits.startswith("00"):
        number = "+" + digits[2:]
    elif get_settings().twilio_from_number.startswith("+1") and len(digits) in (10, 11):
        number = "+1" + digits[-10:] if len(digits) == 10 or digits.startswith("1") else ""
    else:
        number = ""
    return number if E164.match(number) else ""


def _text_field(body: Mapping[str, Any], name: str, limit: int, required: bool = False) -> str:
    value = body.get(name, "").strip()  # text, with no lone surrogate: its shape was checked
    if required and not value:
        raise BadRequest(f"{name} is empty")
    if len(value) > limit:
        raise PayloadTooLarge(f"{name} is over {limit} characters")
    return value


def message_view(conversation_id: str, message: Message, api_base: str = "") -> dict:
    """A message as the widget gets it: listed by GET …/messages, or pushed live (refdesk.live);
    a librarian's files with their links (refdesk.file_links: under `api_base` when given)."""
    view = {"id": message.message_id, "from": message.author.value, "name": _credited(message) or None,
            "text": message.text, "client_id": message.client_id or None, "at": message.at}
    if message.files:
        view["files"] = file_links.views(conversation_id, message, api_base)
    return view


def _credited(message) -> str:
    """How the widget names who wrote: "Amanda", or "Sam (IT)" for an invited department's member."""
    if message.department and message.author_name:
        return f"{message.author_name} ({message.department})"
    return message.author_name


def check_session_id(session_id: str) -> None:
    """NotFound unless the id has the shape of the ids create_session makes (before it is in a key)."""
    if not (session_id.startswith("s") and session_id[1:].isalnum() and len(session_id) < 64):
        raise NotFound("no such chat session")
