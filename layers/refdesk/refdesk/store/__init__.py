"""The DynamoDB single table. Only this package builds keys (`keys`) or sees a ClientError
(`table`); every state change is a conditional write. One module per concept, each opening
with the access patterns it serves:

  sessions       a patron's link to their open conversation (the anchor), claims, dedup
  conversations  the conversation record, where replies go, the Slack thread lookup, close
  messages       the messages of a conversation, stored once, listed by cursor
  duty           the librarians on duty
  limits         rate-limit counters
  optouts        SMS patrons who texted STOP, by keyed hash
  contact_cards  SMS patrons who were sent the library's contact card, by keyed hash

Every item carries `expires_at` (DynamoDB TTL, also checked on read where it matters)."""
from refdesk.store import contact_cards, conversations, duty, limits, messages, optouts, sessions

__all__ = ["contact_cards", "conversations", "duty", "limits", "messages", "optouts", "sessions"]
