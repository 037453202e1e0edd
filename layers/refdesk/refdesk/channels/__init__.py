"""Patron channels. The conversation model never knows which one it talks to: every channel
implements the whole `Channel` contract, and `refdesk.conversations` has one `accept()` and
one send path for all of them.

The contract, in the order a conversation uses it:
  parse    the channel's inbound fields -> an `InboundMessage` (or None: not a question, e.g.
           Twilio's STOP), including how staff see the patron (`label`) and the session the
           message belongs to (`session_id`, the anchor of the open conversation)
  claim    dedup on the channel's message id and find or open the session's conversation
           (one conditional write, through `store.sessions.claim`)
  compose  a reply as the parts to send, in order
  send     deliver one part; raise DeliveryFailed when retrying cannot help. Told the stored
           message the part belongs to (`shows`, its parts_sent the part's index), a channel
           that can look sends nothing on a retry when the part was sent by an earlier attempt
           (SMS: Twilio's Messages list; Slack Connect: the post's metadata)
  release  what closing a conversation does to its session (`store.sessions.Release`)

A channel may hand some replies on to another (`route`, optional): the web chat's offline form
leaves an e-mail address (`channels.email`, SES) or a phone number (`channels.sms`).

Adding a channel means: one adapter module here that implements the contract and is listed
in `get`, its routing (a handler in functions/ that parses, verifies and calls
`conversations.accept`), and its template.yaml entries (route, function, permissions)."""
from __future__ import annotations

from typing import Any, Mapping, Protocol

from refdesk.models import InboundMessage, Message
from refdesk.store.sessions import Release


class Channel(Protocol):
    name: str
    release: Release

    def parse(self, fields: Mapping[str, Any], session_id: str = "") -> InboundMessage | None:
        """The patron's message, or None when it is not for the desk."""

    def claim(self, message: InboundMessage, credential: str = "", at: str = "") -> tuple[str, bool]:
        """(conversation_id, opened_now); raises DuplicateDelivery for a message seen before. The
        message (arrived at `at`) is parked on its session for the dispatcher."""

    def compose(self, sender: str, text: str, department: str = "") -> list[str]:
        """The parts to send for one reply (from `sender`, empty for the desk itself; `department`
        when the sender answers for an invited department), in order."""

    def send(self, address: str, part: str, *, shows: Message | None = None) -> None:
        """Deliver one part (of the stored message `shows`, if any); raise DeliveryFailed when
        retrying cannot help."""


class Outbound(Protocol):
    """What delivers a reply: a channel, or the one it hands the reply on to."""

    def compose(self, sender: str, text: str, department: str = "") -> list[str]: ...

    def send(self, address: str, part: str, *, shows: Message | None = None) -> None: ...


def route(name: str, address: str) -> tuple[Outbound, str]:
    """(who delivers, to which address) a reply to a patron of channel `name` whose stored reply
    address is `address`: the channel itself, unless it has a `route(address)` that hands the
    reply on (see `web.WebChannel.route`)."""
    channel = get(name)
    hand_on = getattr(channel, "route", None)
    return hand_on(address) if hand_on else (channel, address)


def get(name: str) -> Channel:
    from refdesk.channels import slack_connect, sms, web

    return {sms.CHANNEL.name: sms.CHANNEL, web.CHANNEL.name: web.CHANNEL,
            slack_connect.CHANNEL.name: slack_connect.CHANNEL}[name]
