"""Web chat: the widget polls the stored conversation, so a reply is delivered once stored."""
from __future__ import annotations


class WebChannel:
    name = "web"
    label = "Web"

    def compose(self, librarian: str, text: str) -> list[str]:
        return [text]

    def send(self, address: str, part: str) -> None:
        """Nothing to push: the message item the dispatcher stored is what the widget reads."""


CHANNEL = WebChannel()
