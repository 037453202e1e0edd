"""Conversations between a patron (any channel) and the staff thread in Slack: the webhook
half. `accept` only records that a message arrived and enqueues a job (one conditional write
and one SendMessage); `refdesk.relay` does the rest in the dispatcher."""
from __future__ import annotations

from aws_lambda_powertools import Logger

from refdesk import channels, jobs
from refdesk.errors import DuplicateDelivery
from refdesk.models import InboundMessage, PatronMessageJob
from refdesk.store.table import now_iso

logger = Logger(child=True)


def accept(message: InboundMessage, *, credential: str = "") -> bool:
    """Record a patron's message and queue it for staff. Returns whether it opened a new
    conversation. A repeated delivery is queued again (in case the first stored but did not
    enqueue); the queue's de-duplication id drops it otherwise."""
    try:
        conversation_id, opened = channels.get(message.channel).claim(message, credential)
    except DuplicateDelivery as duplicate:
        conversation_id, opened = duplicate.conversation_id, False
        logger.info("duplicate delivery", extra={"channel": message.channel, "conversation_id": conversation_id})
        if not conversation_id:
            return False
    jobs.enqueue(PatronMessageJob(message=message, conversation_id=conversation_id, at=now_iso()))
    logger.info("patron message accepted", extra={"channel": message.channel, "conversation_id": conversation_id,
                                                  "opened": opened})
    return opened
