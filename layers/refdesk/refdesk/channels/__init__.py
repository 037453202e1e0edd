"""One adapter per patron channel. The conversation model never knows which one it talks to:
it asks the adapter how to label the patron for staff, how to cut a reply, and to send it."""
from __future__ import annotations

from typing import Protocol

from refdesk.channels import sms, web


class Channel(Protocol):
    name: str
    label: str

    def compose(self, librarian: str, text: str) -> list[str]:
        """The parts to send for one reply, in order."""

    def send(self, address: str, part: str) -> None:
        """Deliver one part; raise DeliveryFailed when retrying cannot help."""


CHANNELS: dict[str, Channel] = {sms.CHANNEL.name: sms.CHANNEL, web.CHANNEL.name: web.CHANNEL}


def get(name: str) -> Channel:
    return CHANNELS[name]
