"""What became of a reply after its channel took it, as the provider reports it: Twilio's status
callback for each text (POST /twilio/status), SES's bounces and complaints for an e-mail (through
SNS). Each report names one part by the provider's id (store.messages.find_part); the part's
status is recorded on the stored message, and once the parts add up to an outcome it shows on
the reply's Slack message (a DeliveryOutcomeJob: refdesk.delivery.show_reported):

  📤  every part handed to Twilio (accepted, queued, sending or sent): not yet on the phone
  ✅  every part delivered (SMS), or handed to SES and the widget (e-mail, web chat)
  ❌  a part undelivered or failed (SMS), an e-mail bounced or marked as spam, with one note

A part's status only moves forward (sent never replaces delivered), so a report repeated or out
of order changes nothing, and the outcome is settled once (one conditional write); a report that
finds its outcome settled but not yet shown (the process died in between) shows it. A report for
a message nobody knows (erased, expired) does nothing. Neither numbers nor addresses nor text are
logged: ids and codes only."""
from __future__ import annotations

from aws_lambda_powertools import Logger

from refdesk import jobs, store
from refdesk.models import Delivery, DeliveryOutcomeJob, Message
from refdesk.observability import count

logger = Logger(child=True)

HANDED_OVER = "accepted"  # a part's status when Twilio took it, before any report
DELIVERED = "delivered"
FAILURES = frozenset({"undelivered", "failed"})
# How far along each status Twilio reports is: a part's status only moves to a later one.
# Delivered and the failures are final.
PROGRESS = {"queued": 0, "accepted": 0, "scheduled": 0, "sending": 0, "sent": 1, DELIVERED: 2,
            "undelivered": 2, "failed": 2}


def report(provider_id: str, status: str, failure: str = "") -> None:
    """A provider's report on one part (`failure`: why it failed, in staff's words). Statuses
    other than PROGRESS's (read receipts, Twilio adding one) are ignored."""
    if status not in PROGRESS:
        return
    earlier = tuple(was for was, step in PROGRESS.items() if step < PROGRESS[status])
    failure = failure if status in FAILURES else ""
    found = store.messages.find_part(provider_id)
    if found is None and store.messages.hold_early_report(provider_id, status, earlier, failure):
        # Before the part is recorded as handed over (or for a message nobody knows: it expires).
        logger.info("delivery report held for its part", extra={"status": status})
        count("DeliveryReports", outcome="held")
        return
    found = found or store.messages.find_part(provider_id)  # recorded meanwhile
    if found is None:
        logger.info("delivery report for no known message", extra={"status": status})
        count("DeliveryReports", outcome="unknown_message")
        return
    conversation_id, message, part = found
    current = store.messages.record_part_status(conversation_id, message, part, status, earlier, failure)
    count("DeliveryReports", outcome=status)
    if current is not None:
        settle(conversation_id, current)


def outcome(message: Message) -> Delivery | None:
    """What the parts handed over add up to: FAILED when any failed, DELIVERED when all were
    delivered, None while any is on its way."""
    statuses = [message.part_status.get(str(part), HANDED_OVER) for part in range(message.parts_sent)]
    if any(status in FAILURES for status in statuses):
        return Delivery.FAILED
    return Delivery.DELIVERED if statuses and all(status == DELIVERED for status in statuses) else None


def settle(conversation_id: str, message: Message) -> None:
    """Settle the message's outcome once its parts add up to one, and queue the job that shows it
    (called after each report, and by refdesk.delivery once the last part is handed over, in
    case reports came first). Slack is the dispatcher's business: a Slack outage delays the ✅ or
    ❌ on the queue's backoff, never the report's answer."""
    result = outcome(message)
    if result is None:
        return
    if message.delivery in (Delivery.ACCEPTED, Delivery.SENT):
        if not store.messages.settle(conversation_id, message, result):
            return  # another report settled it first, and queued its showing
    elif message.delivery is not result or message.outcome_shown:
        return  # still being handed over (the last part's write settles it), or shown already
    logger.info("delivery settled", extra={"conversation_id": conversation_id, "outcome": result.value})
    jobs.enqueue(DeliveryOutcomeJob(conversation_id=conversation_id, message_id=message.message_id))

