"""Conversations between a patron (any channel) and the staff thread in Slack: the webhook
half. `accept` only records that a message arrived and enqueues a job (one conditional write
and one SendMessage); `refdesk.relay` does the rest in the dispatcher.

Nothing is left parked without a job: a claim whose answer was lost (AWS busy or unreachable
after the write went through) is looked up with one consistent read, and a message found
claimed is queued like any other, so the question is shown even when its sender never delivers
the webhook again (Twilio does not, unless its retry policy says so). A delivery repeated for any
other reason is queued again; the queue's de-duplication id drops it if the first got through."""
from __future__ import annotations

from aws_lambda_powertools import Logger

from refdesk import channels, jobs, retry, store
from refdesk.errors import DuplicateDelivery
from refdesk.models import InboundMessage, PatronMessageJob
from refdesk.observability import count
from refdesk.store.table import now_iso

logger = Logger(child=True)


def accept(message: InboundMessage, *, credential: str = "", sent_at: str = "") -> bool:
    """Record a patron's message and queue it for staff. Returns whether it opened a new
    conversation. The claim parks the message on its session; the job carries references only
    (no text, no address). A repeated delivery is queued again (in case the first stored but did
    not enqueue); the queue's de-duplication id drops it otherwise. `sent_at`: when the patron sent
    it, where the channel knows (Slack's ts, the widget's send), which times the wait; the line
    keeps the order of arrival (now), which no client can claim to be earlier."""
    at = now_iso()
    try:
        conversation_id, opened = channels.get(message.channel).claim(message, credential, at=at)
    except DuplicateDelivery as duplicate:
        conversation_id, opened = duplicate.conversation_id, False
        logger.info("duplicate delivery", extra={"channel": message.channel, "conversation_id": conversation_id})
        if not conversation_id:
            return False
    except Exception as error:
        conversation_id, opened = _claimed_despite(error, message), False
        if not conversation_id:
            raise
        logger.warning("claim answer lost, the message was claimed", extra={"channel": message.channel,
                                                                           "conversation_id": conversation_id})
    jobs.enqueue(PatronMessageJob(conversation_id=conversation_id, at=at, sent_at=sent_at, channel=message.channel,
                                  session_id=message.session_id, message_id=message.message_id,
                                  media=len(message.media)))
    logger.info("patron message accepted", extra={"channel": message.channel, "conversation_id": conversation_id,
                                                  "opened": opened})
    if opened:
        count("ConversationOpened", channel=message.channel)  # every channel's, here
    return opened


def _claimed_despite(error: Exception, message: InboundMessage) -> str | None:
    """The conversation a claim that raised `error` parked the message in anyway, its answer lost;
    None when the error is not AWS failing, or the message is not there, or AWS still fails (then
    the webhook answers 503 and a redelivery finds it claimed)."""
    if not retry.is_transient(error):
        return None
    try:
        return store.sessions.conversation_holding(message.session_id, message.message_id)
    except Exception as still_failing:
        if retry.is_transient(still_failing):
            return None
        raise
