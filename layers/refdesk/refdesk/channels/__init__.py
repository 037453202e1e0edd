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

Everything else the desk knows about a channel is what its adapter declares as its `traits`
(`contract.Traits`: its display name, delete words, how its addresses are spelled for the
patron's keyed hash, rating, contact card, shared sessions, status shown to the patron): the
rest of the layer asks `traits(name)` and never compares a channel's name. A channel's closing
line is the setting `{name}_closing_text` (refdesk.settings, which cannot import this package),
followed by how to rate where the channel rates by reply (`closing_line`).

The contract's types are in `channels.contract`. Adding a channel: docs/ARCHITECTURE.md,
"Adding a patron channel"."""
from __future__ import annotations

import importlib

from refdesk.channels.contract import REPLY_RATING_HINT, Channel, Outbound, Rating, Traits
from refdesk.settings import get_settings

# Each channel's name is its adapter's module here.
CHANNELS = ("sms", "web", "slack_connect")


def route(name: str, address: str, *, is_open: bool = True) -> tuple[Outbound, str]:
    """(who delivers, to which address) a reply to a patron of channel `name` whose stored reply
    address is `address`, in a conversation open or not: the channel itself, unless it has a
    `route(address, is_open=…)` that hands the reply on (see `web.WebChannel.route`)."""
    channel = get(name)
    hand_on = getattr(channel, "route", None)
    return hand_on(address, is_open=is_open) if hand_on else (channel, address)


def get(name: str) -> Channel:
    """The channel's adapter, imported when first asked for: a webhook loads its own channel's
    only (a cold start pays for no other)."""
    if name not in CHANNELS:
        raise KeyError(name)
    return importlib.import_module(f"{__name__}.{name}").CHANNEL


def traits(name: str) -> Traits:
    """What channel `name` declares about itself. A name that is not a patron channel (one retired
    since its conversations were counted) has the default traits, displayed as its name."""
    return get(name).traits if name in CHANNELS else Traits(display_name=name)


def closing_line(name: str) -> str:
    """The line a patron of channel `name` gets when a librarian closes their conversation: the
    library's (`Settings.closing_text`), then how to rate where the channel rates by reply (SMS;
    one segment with the default text)."""
    line = get_settings().closing_text(name)
    return f"{line} {REPLY_RATING_HINT}" if traits(name).rating is Rating.BY_REPLY else line
