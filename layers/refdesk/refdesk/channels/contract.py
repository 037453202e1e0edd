"""The contract every patron channel implements (see refdesk.channels for what each step means),
apart from the channels' registry so that an adapter can name it without importing the registry."""
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
