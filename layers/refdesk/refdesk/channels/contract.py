"""The contract every patron channel implements (see refdesk.channels for what each step means),
and the traits it declares, apart from the channels' registry so that an adapter can name them
without importing the registry."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Callable, Mapping, Protocol

from refdesk.models import InboundMessage, Message, Receipt
from refdesk.store.sessions import Release


class Rating(StrEnum):
    """Whether and where a patron is asked to rate a closed conversation 1-5 (refdesk.assessment)."""
    NOT_ASKED = "not asked"
    BY_CLIENT = "by client"  # the patron's own client offers it when it sees the conversation closed
    IN_THREAD = "in thread"  # 1-5 buttons posted in the patron's Slack thread after the closing line
    # The closing line ends with REPLY_RATING_HINT; a reply of one digit soon after rates (channels.sms).
    BY_REPLY = "by reply"


# How a patron whose channel rates by reply is asked, after the closing line (channels.closing_line).
REPLY_RATING_HINT = "Reply 1-5 to rate this chat (5 = very helpful)."


def trimmed_lower_case(address: str) -> str:
    """The spelling of an address that is not a phone number."""
    return address.strip().lower()


@dataclass(frozen=True)
class Traits:
    """What the rest of the desk knows about a channel, declared by its adapter (`Channel.traits`)
    so that nothing outside refdesk.channels tells channels apart by name."""
    display_name: str  # how the Home tab and the reports name the channel
    # A whole message (trimmed, case-folded) that asks to delete the patron's conversations (refdesk.erasure).
    delete_words: frozenset[str] = frozenset()
    # One spelling per address, so that a patron keeps one keyed hash and is counted once (refdesk.identity).
    patron_address: Callable[[str], str] = trimmed_lower_case
    rating: Rating = Rating.NOT_ASKED
    sends_contact_card: bool = False  # the first librarian reply a patron gets carries the library's vCard
    # Others may write in the patron's session too: the patron's erasure takes it only with the
    # conversations it anchors (refdesk.erasure).
    shared_session: bool = False
    # The patron's client reads the conversation's state (place in line, who has it) from the session
    # (store.queue.mirror_to_session), and its live connections get it pushed.
    shows_status: bool = False
    # The Slack thread (channel id, root ts) where the bot posted replies for the patron to read, from
    # the reply address: a patron's erasure edits them there (refdesk.erasure). None: replies leave Slack.
    replies_thread: Callable[[str], tuple[str, str]] | None = None
    # How a librarian's files reach the patron (refdesk.file_links): the patron's client shows them
    # itself (the widget), or pictures go as MMS media; otherwise each is a line with its link.
    shows_files: bool = False
    sends_pictures: bool = False


class Channel(Protocol):
    name: str
    release: Release
    traits: Traits

    def parse(self, fields: Mapping[str, Any], session_id: str = "") -> InboundMessage | None:
        """The patron's message, or None when it is not for the desk."""

    def claim(self, message: InboundMessage, credential: str = "", at: str = "") -> tuple[str, bool]:
        """(conversation_id, opened_now); raises DuplicateDelivery for a message seen before. The
        message (arrived at `at`) is parked on its session for the dispatcher."""

    def compose(self, sender: str, text: str, department: str = "") -> list[str]:
        """The parts to send for one reply (from `sender`, empty for the desk itself; `department`
        when the sender answers for an invited department), in order."""

    def send(self, address: str, part: str, *, shows: Message | None = None) -> Receipt | None:
        """Deliver one part (of the stored message `shows`, if any); raise DeliveryFailed when
        retrying cannot help. The provider's receipt, if it gave one (refdesk.delivery_status)."""


class Outbound(Protocol):
    """What delivers a reply: a channel, or the one it hands the reply on to."""

    def compose(self, sender: str, text: str, department: str = "") -> list[str]: ...

    def send(self, address: str, part: str, *, shows: Message | None = None) -> Receipt | None: ...
