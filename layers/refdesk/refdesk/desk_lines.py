"""The desk's own lines to a patron: their place in line, the transfer line, the after-hours
reply, the closing line, "your message is delayed". Each is stored once under its id (the widget
lists it) and sent once through the patron's channel (refdesk.delivery); a retry resumes after
the parts already sent. The lines that follow a transition are the lifecycle's `tell_patron`
listener's; the relay tells the after-hours and delayed ones."""
from __future__ import annotations

from refdesk import delivery, store
from refdesk.models import Author, Conversation, Delivery, Message, ReplyTo
from refdesk.store.table import now_iso


def tell(conversation: Conversation, message_id: str, text: str, reply_to: ReplyTo | None = None) -> None:
    stored, _ = store.messages.put(conversation.conversation_id, Message(
        message_id=message_id, at=now_iso(), author=Author.SYSTEM, text=text, delivery=Delivery.PENDING))
    if stored.delivery is Delivery.PENDING:
        delivery.send_to_patron(conversation, reply_to or store.conversations.get_reply_to(conversation.conversation_id),
                                stored, "")
