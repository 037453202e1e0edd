"""Conversations between a patron (any channel) and the staff thread in Slack: the webhook
half. `accept` only records that a message arrived and enqueues a job (one conditional write
and one SendMessage); `refdesk.relay` does the rest in the dispatcher."""
from __future__ import annotations

from aws_lambda_powertools import Logger

from refdesk import channels, jobs
from refdesk.errors import DuplicateDelivery
from refdesk.models import InboundMessage, PatronMessageJob
from refdesk.observability import count
from refdesk.store.table import now_iso

logger = Logger(child=True)


def accept(message: InboundMessage, *, credential: str = "") -> bool:
    """Record a patron's message and queue it for staff. Returns whether it opened a new
    conversation. The claim parks the message on its session; the job carries references only
    (no text, no address). A repeated delivery is queued again (in case the first stored but did
    not enqueue); the queue's de-duplication id drops it otherwise."""
    at = now_iso()
    try:
        conversation_id, opened = channels.get(message.channel).claim(message, credential, at=at)
    except DuplicateDelivery as duplicate:
        conversation_id, opened = duplicate.conversation_id, False
        logger.info("duplicate delivery", extra={"channel": message.channel, "conversation_id": conversation_id})
        if not conversation_id:
            return False
    jobs.enqueue(PatronMessageJob(conversation_id=conversation_id, at=at, channel=message.channel,
                                  session_id=message.session_id, message_id=message.message_id,
                                  media=len(message.media)))
    logger.info("patron message accepted", extra={"channel": message.channel, "conversation_id": conversation_id,
                                                  "opened": opened})
    if opened:
        count("ConversationOpened", channel=message.channel)  # every channel's, here
    return opened
