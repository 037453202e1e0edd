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

Every item carries `expires_at` (DynamoDB TTL, also checked on read where it matters)."""
from refdesk.store import contact_cards, conversations, duty, limits, messages, optouts, queue, sessions
from refdesk.store import blocks, nudges
from refdesk.store import invitations  # departments invited; quick replies sent

__all__ = ["blocks", "contact_cards", "conversations", "duty", "limits", "messages", "nudges", "optouts", "queue",
           "sessions"]
__all__ += ["invitations"]
from refdesk.store import stats, transcripts  # daily aggregates (counters only); transcript keys
__all__ += ["stats", "transcripts"]
from refdesk.store import erasures  # a patron's "delete": requests, the ByPatron index, the deletes
__all__ += ["erasures"]
from refdesk.store import reveals  # Reveal on a redacted patron message: who saw which original, when
__all__ += ["reveals"]
