"""Conversations between a patron (any channel) and the staff thread in Slack.

The webhook half (accept_*) only records that a message arrived and enqueues a job: one
conditional write and one SendMessage. The dispatcher half (the other functions) stores the
message, talks to Slack and sends replies through the patron's channel adapter."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from aws_lambda_powertools import Logger

from refdesk import channels, identity, jobs, staff, store
from refdesk.errors import Conflict, DeliveryFailed, DuplicateDelivery
from refdesk.settings import get_settings

logger = Logger(service="refdesk")
NOTE_PREFIX = "note:"


@dataclass(frozen=True)
class PatronMessage:
    channel: str
    message_id: str  # the channel's idempotency key: Twilio MessageSid, the widget's client_id
    patron_id: str
    label: str  # how staff see the patron: "SMS ···4321"
    text: str
    reply_address: str = ""  # phone number, or the contact left in the offline form
    follow_up: bool = False
    patron_name: str = ""  # only when the patron gives one (offline form)


def accept_sms(sender: str, message_sid: str, text: str) -> bool:
    """Returns whether this text opened a new conversation."""
    patron = identity.patron_id("sms", sender)
    message = PatronMessage("sms", message_sid, patron, f"SMS {identity.mask_phone(sender)}", text, sender)
    try:
        conversation_id, opened = store.claim_sms_message(patron, message_sid, identity.new_id("c"))
    except DuplicateDelivery as duplicate:
        # Enqueue again in case the first delivery stored but did not enqueue; the queue's
        # de-duplication id drops it otherwise.
        conversation_id, opened = duplicate.conversation_id, False
        logger.info("duplicate delivery", extra={"channel": "sms", "conversation_id": conversation_id})
        if not conversation_id:
            return False
    _enqueue(message, conversation_id, opened, anchor=store.sms_anchor(patron))
    return opened


def accept_web(session_id: str, token_hash: str, message: PatronMessage) -> bool:
    try:
        conversation_id, opened = store.claim_web_message(session_id, token_hash, message.message_id)
    except DuplicateDelivery as duplicate:
        conversation_id, opened = duplicate.conversation_id, False
    _enqueue(message, conversation_id, opened, anchor=store.session_anchor(session_id))
    return opened


def _enqueue(message: PatronMessage, conversation_id: str, opened: bool, anchor: str) -> None:
    jobs.enqueue(jobs.PATRON_MESSAGE,
                 {**asdict(message), "conversation_id": conversation_id, "anchor": anchor, "at": store.now_iso()},
                 group=conversation_id, idempotency_key=f"{message.channel}:{message.message_id}")
    logger.info("patron message accepted", extra={"channel": message.channel, "conversation_id": conversation_id,
                                                   "opened": opened})


# --- dispatcher side -------------------------------------------------------------------

def deliver_patron_message(job: dict) -> None:
    """Store the message and show it to staff: as the root card of a new conversation, or as a
    reply in its thread. Safe to run again: each step checks what is already done."""
    conversation_id = job["conversation_id"]
    conversation = store.ensure_conversation(
        conversation_id, patron_id=job["patron_id"], channel=job["channel"], anchor=job["anchor"],
        label=job["label"], follow_up=job.get("follow_up", False))
    if job.get("reply_address"):
        store.save_reply_to(conversation_id, job["channel"], job["reply_address"], job.get("patron_name", ""))
    item, _ = store.put_message(conversation_id, {
        "message_id": job["message_id"], "at": job["at"], "author": "patron", "text": job["text"],
        "visibility": "patron", "client_id": job["message_id"]})
    if item.get("slack_ts"):
        return
    channel = get_settings().slack_staff_channel
    if conversation.get("slack_ts"):
        ts = staff.post_patron_text(conversation.get("slack_channel", channel), conversation["slack_ts"],
                                    conversation["label"], job["text"])
    else:
        text, blocks, overflow = staff.root_card(conversation, job["text"], job.get("reply_address", ""),
                                                 job.get("patron_name", ""))
        ts = staff.post(channel, text, blocks)
        store.set_slack_root(conversation_id, channel, ts)
        for more in overflow:
            staff.post(channel, "(continued)", more, thread_ts=ts)
    store.update_message(conversation_id, item["sk"], slack_ts=ts)
    logger.info("patron message posted", extra={"conversation_id": conversation_id})


def is_internal(text: str) -> bool:
    return text.lstrip().lower().startswith(NOTE_PREFIX)


def relay_staff_reply(job: dict) -> None:
    """A librarian's reply in a conversation thread goes to the patron, unless it is a note."""
    channel, ts, user = job["channel"], job["ts"], job["user"]
    conversation_id = store.conversation_for_thread(channel, job["thread_ts"])
    if not conversation_id or user == staff.bot_user_id():
        return
    text = staff.plain_text(job["text"])
    internal = is_internal(text)
    name = staff.first_name(user)
    item, created = store.put_message(conversation_id, {
        "message_id": f"slack-{ts}", "at": _slack_time(ts), "author": "librarian", "author_name": name,
        "author_user": user, "text": text, "slack_ts": ts,
        "visibility": "internal" if internal else "patron", "delivery": "internal" if internal else "pending"})
    if internal:
        if created:
            staff.react(channel, ts, staff.INTERNAL)
        return
    if item.get("delivery") != "pending":
        return
    _send_to_patron(store.get_conversation(conversation_id), store.get_reply_to(conversation_id), item, name, text)


def _send_to_patron(conversation: dict, reply_to: dict, item: dict, librarian: str, text: str) -> None:
    """Send a stored outbound message through the patron's channel, resuming after the parts
    already sent, and show the outcome on the Slack message as a reaction."""
    conversation_id = conversation["conversation_id"]
    adapter = channels.get(conversation["channel"])
    address = reply_to.get("address", "")
    parts = adapter.compose(librarian, text)
    slack_channel, slack_ts = conversation.get("slack_channel"), item.get("slack_ts")
    try:
        for index in range(int(item.get("parts_sent", 0)), len(parts)):
            adapter.send(address, parts[index])
            store.update_message(conversation_id, item["sk"], parts_sent=index + 1)
    except DeliveryFailed as failure:
        store.update_message(conversation_id, item["sk"], delivery="failed")
        logger.warning("delivery failed for good", extra={"conversation_id": conversation_id, "code": failure.code})
        if slack_ts:
            staff.react(slack_channel, slack_ts, staff.FAILED)
            staff.post(slack_channel, f":warning: Not delivered to the patron ({failure.message}). "
                       "Retrying will not help; the patron may have opted out.", thread_ts=conversation["slack_ts"])
        return
    store.update_message(conversation_id, item["sk"], delivery="sent")
    if slack_ts:
        staff.react(slack_channel, slack_ts, staff.SENT)
    logger.info("reply delivered", extra={"conversation_id": conversation_id, "parts": len(parts)})


def handle_staff_edit(job: dict) -> None:
    """Edits and deletions in Slack cannot reach a patron who already has the text: say so to
    the librarian instead of relaying anything."""
    conversation_id = store.conversation_for_thread(job["channel"], job["thread_ts"])
    if not conversation_id or not job.get("user") or job["user"] == staff.bot_user_id():
        return
    action = "Edits" if job["subtype"] == "message_changed" else "Deletions"
    staff.tell(job["channel"], job["user"], f"{action} in Slack don't reach the patron, who already has the "
               "original. Reply again in the thread to correct it.", thread_ts=job["thread_ts"])


def close(job: dict) -> None:
    conversation_id, user = job["conversation_id"], job["user"]
    try:
        conversation = store.close_conversation(conversation_id, user)
    except Conflict:
        staff.tell(job["channel"], user, "That conversation was already closed.")
        return
    question = next((item["text"] for item in store.list_messages(conversation_id)
                     if item["author"] == "patron"), "")
    reply_to = store.get_reply_to(conversation_id)
    text, blocks, _ = staff.root_card(conversation, question, reply_to.get("address", ""), reply_to.get("name", ""))
    staff.update(conversation["slack_channel"], conversation["slack_ts"], f"[closed] {text}",
                 staff.closed_card(blocks, user))
    closing = get_settings().closing_text
    if closing:
        item, _ = store.put_message(conversation_id, {
            "message_id": f"close-{conversation_id}", "at": store.now_iso(), "author": "system",
            "text": closing, "visibility": "patron", "delivery": "pending"})
        _send_to_patron(conversation, reply_to, item, "", closing)
    logger.info("conversation closed", extra={"conversation_id": conversation_id})


def report_undeliverable(job: dict, attempts: int) -> None:
    """The last attempt failed: the job goes to the dead-letter queue; tell the thread."""
    logger.error("job failed its last attempt", extra={"kind": job.get("kind"), "attempts": attempts,
                                                       "conversation_id": job.get("conversation_id")})
    if job.get("kind") != jobs.STAFF_REPLY:
        return
    staff.react(job["channel"], job["ts"], staff.FAILED)
    staff.post(job["channel"], f":warning: This reply was not delivered after {attempts} attempts. "
               "It is kept in the dead-letter queue for the administrator.", thread_ts=job["thread_ts"])


def _slack_time(ts: str) -> str:
    return datetime.fromtimestamp(float(ts), timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
