"""Blocking a patron: the "Block patron" button on a conversation's card (with Slack's confirm
dialog) stops routing that patron's messages to staff, on every channel, until someone presses
Unblock in the app's Home tab ("Blocked patrons", `slack.home`).

The block is kept by the patron's keyed hash (`store.blocks`), and checked by the dispatcher
(`intercept`, first thing in `relay.deliver_patron_message`), never by a webhook, which stays at
two AWS calls. A blocked patron's messages are neither stored nor posted to Slack; the first
one after the block is answered once with BlockedText on the patron's own channel, later ones
get nothing. Staff only ever see the masked label ("SMS ···4321"). Nothing here logs patron
text or addresses."""
from __future__ import annotations

from aws_lambda_powertools import Logger

from refdesk import delivery, lifecycle, store
from refdesk.errors import Conflict, NotFound
from refdesk.models import (Author, BlockPatronJob, Conversation, Delivery, InboundMessage, Message,
                            PatronMessageJob, ReplyTo, UnblockPatronJob)
from refdesk.settings import get_settings
from refdesk.slack import api as slack
from refdesk.slack import home
from refdesk.store.table import now_iso

logger = Logger(child=True)

ALREADY = "That patron is already blocked. Unblock them in RefDesk's Home tab."


def intercept(job: PatronMessageJob, message: InboundMessage) -> bool:
    """True when the message's patron is blocked: it is then dealt with here (answered once per
    block, else dropped) and goes no further."""
    block = store.blocks.get(message.patron_id)
    if block is None:
        return False
    if not store.blocks.claim_answer(message.patron_id, str(block["block_id"]), message.message_id):
        logger.info("message from a blocked patron dropped", extra={"conversation_id": job.conversation_id})
        return True
    try:
        conversation = store.conversations.get(job.conversation_id)
    except NotFound:  # a conversation of its own would only put the blocked patron in the queue
        conversation = Conversation(conversation_id=job.conversation_id, patron_id=message.patron_id,
                                    channel=message.channel, anchor=message.session_id, label=message.label)
    reply_to = (ReplyTo(address=message.reply_address, name=message.patron_name) if message.reply_address
                else store.conversations.get_reply_to(job.conversation_id))
    stored, _ = store.messages.put(job.conversation_id, Message(
        message_id=f"blocked-{block['block_id']}", at=now_iso(), author=Author.SYSTEM,
        text=get_settings().blocked_text, delivery=Delivery.PENDING))
    if stored.delivery is Delivery.PENDING:
        delivery.send_to_patron(conversation, reply_to, stored, "")
    logger.info("blocked patron answered", extra={"conversation_id": job.conversation_id})
    return True


def block(job: BlockPatronJob) -> None:
    """Block the conversation's patron. The conversation leaves the waiting queue (the librarian
    who blocked has it: no nudges), the thread says who blocked, and every view shows it
    (refdesk.lifecycle: the card, the Home tabs, the web chats behind it). A retry of this block
    (a Slack call after it failed, or its answer was lost) finishes those steps; any other press
    finds the patron "already blocked"."""
    try:
        conversation = store.conversations.get(job.conversation_id)
    except NotFound:
        if job.channel:
            slack.tell(job.channel, job.user, "That conversation no longer exists.")
        return
    channel = conversation.slack_channel or job.channel
    press = f"{job.conversation_id}:{job.action_ts}"
    made = store.blocks.block(conversation.patron_id, label=conversation.label, channel=conversation.channel,
                              blocked_by=job.user, conversation_id=conversation.conversation_id, action=press)
    if made is None:
        made = store.blocks.get(conversation.patron_id)
        if not made or made.get("action") != press:  # blocked by another press (or another conversation)
            if channel:
                slack.tell(channel, job.user, ALREADY, thread_ts=conversation.slack_ts or None)
            return
    try:
        conversation, _ = store.queue.claim(conversation.conversation_id, job.user)
    except Conflict:  # someone has it already, or it is closed: it is out of the queue either way
        conversation = store.conversations.get(conversation.conversation_id)
    if channel and conversation.slack_ts:
        slack.post(channel, f":no_entry_sign: <@{job.user}> blocked this patron: their messages no longer reach "
                   "the desk (they are told so once). Unblock them in RefDesk's Home tab.",
                   thread_ts=conversation.slack_ts, shows=_note_of(made))
    logger.info("patron blocked", extra={"conversation_id": conversation.conversation_id})
    lifecycle.changed(lifecycle.Changed(conversation, lifecycle.Transition.BLOCKED, actors=(job.user,),
                                        left_line=True, blocked_by=job.user))


def unblock(job: UnblockPatronJob) -> None:
    """Undo a block: the patron's next message reaches the desk again. The thread where they
    were blocked says who unblocked them, and the views show it (refdesk.lifecycle)."""
    old = store.blocks.unblock(job.patron_id)
    if old is None:
        home.publish_for_staff(job.user)
        return
    logger.info("patron unblocked", extra={"conversation_id": old.get("conversation_id", "")})
    try:
        conversation = store.conversations.get(str(old.get("conversation_id", "")))
    except NotFound:
        home.publish_for_staff(job.user)
        return
    if conversation.slack_ts:
        slack.post(conversation.slack_channel, f":white_check_mark: <@{job.user}> unblocked this patron: their "
                   "messages reach the desk again.", thread_ts=conversation.slack_ts)
    lifecycle.changed(lifecycle.Changed(conversation, lifecycle.Transition.UNBLOCKED, actors=(job.user,)))


def _note_of(made: dict) -> Message:
    """The thread's "blocked" line as what it shows, so that a retry finds it posted (Slack
    message metadata) instead of posting it again."""
    return Message(message_id=f"block-{made['block_id']}", at=str(made["blocked_at"]), author=Author.SYSTEM, text="")
