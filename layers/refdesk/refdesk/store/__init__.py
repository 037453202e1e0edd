"""The DynamoDB single table. Only this package builds keys (`keys`) or sees a ClientError
(`table`); every state change is a conditional write. One module per concept, each opening
with the access patterns it serves:

  sessions       a patron's link to their open conversation (the anchor), claims, dedup, parked messages
  conversations  the conversation record, where replies go, the Slack thread lookup, close
  messages       the messages of a conversation, stored once, listed by cursor
  duty           the librarians on duty
  limits         rate-limit counters
  optouts        SMS patrons who texted STOP, by keyed hash
  contact_cards  SMS patrons who were sent the library's contact card, by keyed hash
  queue          the waiting line across channels (sparse index GSI1), claims and transfers
  nudges         reminders about waiting conversations (last nudge), opened after hours
  blocks         blocked patrons, by keyed hash
  invitations    departments invited into a conversation; quick replies sent (double clicks)
  reveals        Reveal pressed on a redacted patron message: who, when, which message
  erasures       a patron's request to delete their conversations, and the deletes (ByPatron index)
  stats          daily aggregates for reports (`stats.days(start, end)`), READ/topic/rating once
  transcripts    the S3 key of a conversation's de-identified transcript, chosen once
  connections    a web chat session's open live (WebSocket) connections, a few slots per session
  transcript_requests  a web patron's address parked until their chat's transcript is e-mailed
  home           what each librarian's Home tab shows (their filter)
  canned         the canned replies librarians keep in Slack, and who changed them when

Every item carries `expires_at` (DynamoDB TTL, also checked on read where it matters).

A module is imported when first used (`store.queue`), not with the package: a webhook's cold start
pays only for the ones its request reads or writes."""
import importlib

__all__ = ["blocks", "canned", "connections", "contact_cards", "conversations", "duty", "erasures", "home",
           "invitations",
           "limits", "messages", "nudges", "optouts", "queue", "reveals", "sessions", "stats", "transcript_requests",
           "transcripts"]


def __getattr__(name: str):
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")  # which also sets it on the package
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
