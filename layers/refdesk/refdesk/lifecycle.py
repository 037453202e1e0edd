"""A conversation's lifecycle: its states, the transitions between them, and the one event each
transition emits, which every view listens to.

    (first patron message) ──> WAITING ──Claim / first reply──> CLAIMED ──Transfer──> TRANSFERRED
                                  │                               │  ^                    │
                                  │                               │  └──────Transfer──────┘
                                  ├──Transfer (takes it from the line)──────────────────> │
                                  ├──Block──> BLOCKED (the blocker has it)                │
                                  └──────────────┴──── Close ──> CLOSED <─────────────────┘
    CLOSED ──a librarian's reply, while the patron can still get it──> REOPENED (theirs: as CLAIMED)
    CLAIMED, TRANSFERRED, BLOCKED, REOPENED ──no message for IdleCloseHours──> IDLE_CLOSED (quietly)
    any state ──the patron's delete──> ERASED

Each transition is one conditional write, made by its use case (store.queue.claim, .transfer,
.claim_by_reply; store.blocks.block; store.conversations.close, .reopen; the idle close's
store.conversations.close, refdesk.idle; the erasure). The use case then
calls `changed` with what happened, and the listeners project it onto every view:

    card    the root card in the staff channel, rebuilt in place (chat.update)
    home    the Home tab of the librarians on duty and of whoever acted (views.publish)
    widget  a web chat's own status: the session mirror its poll reads, and its live connections
    line    the web chats waiting behind a conversation that left the line: their new place
    count   a closed conversation counted once in the daily figures, with its transcript
    patron  the desk's automated lines that follow a transition: the place in line (once per wait,
            when someone is ahead, with the usual wait at that time of day: refdesk.wait_estimate),
            the transfer line, the closing line and a rating offer
    idle    the idle close armed for someone's conversation, and a web chat told its idle close

A retry that finds its transition already made (its answer was lost, or a Slack call after it
failed) calls `changed` again, so every view is brought up to date; each listener is
idempotent. A new view is one more listener in LISTENERS."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Callable

from aws_lambda_powertools import Logger

from refdesk import assessment, channels, desk_lines, idle, live, store, wait_estimate
from refdesk.models import TRANSFER_LINE, Author, Conversation
from refdesk.settings import get_settings
from refdesk.slack import api as slack
from refdesk.slack import cards, home

logger = Logger(child=True)


class Transition(Enum):
    WAITING = "waiting"  # the patron's first unanswered message: it joined the line
    CLAIMED = "claimed"  # Claim, or the first reply
    TRANSFERRED = "transferred"
    BLOCKED = "blocked"  # the patron blocked: the blocker has the conversation
    UNBLOCKED = "unblocked"
    CLOSED = "closed"
    REOPENED = "reopened"  # a librarian's reply after the close: theirs again
    IDLE_CLOSED = "idle_closed"  # no message for IdleCloseHours: closed quietly (refdesk.idle)
    ERASED = "erased"


@dataclass(frozen=True)
class Changed:
    """One transition of one conversation, as the views need it."""

    conversation: Conversation  # as the transition's write left it
    transition: Transition
    actors: tuple[str, ...] = ()  # the librarians who acted or now have it (their Home tabs)
    left_line: bool = False  # it stopped waiting just now: the web chats behind it move up
    blocked_by: str = ""  # BLOCKED: who blocked the patron (the card says so)
    queue_sk: str = ""  # WAITING: its place in the waiting queue
    place: int = 0  # WAITING: its place in line, 0 while the desk is closed (no place is told then)
    press: str = ""  # TRANSFERRED: the press that made it (its transfer line is stored under it)


def changed(event: Changed) -> None:
    """Every listener, in order: the card first (staff look there), the patron's views last."""
    for listener in LISTENERS:
        listener(event)
    logger.info("conversation changed", extra={"conversation_id": event.conversation.conversation_id,
                                               "transition": event.transition.value})


def refresh_card(event: Changed) -> None:
    """The root card rebuilt for the conversation's state, in place: a closed one with READ and
    the topic (refdesk.assessment); an erased one is the erasure's, a waiting one was posted so."""
    conversation = event.conversation
    if not conversation.slack_ts or event.transition in (Transition.WAITING, Transition.ERASED):
        return
    if event.transition in (Transition.CLOSED, Transition.IDLE_CLOSED):
        assessment.refresh_card(conversation)
        return
    if not conversation.is_open:
        return
    question = next((message.text for message in store.messages.list_after(conversation.conversation_id, limit=10)
                     if message.author is Author.PATRON), "")
    reply_to = store.conversations.get_reply_to(conversation.conversation_id)
    text, blocks, _ = cards.root_card(conversation, question, reply_to, blocked_by=event.blocked_by)
    slack.update(conversation.slack_channel, conversation.slack_ts, text, blocks)


def republish_home(event: Changed) -> None:
    """The waiting line and each librarian's conversations changed: every Home tab on duty."""
    home.publish_for_staff(*event.actors)


def show_widget(event: Changed) -> None:
    """A web chat's own status: its place in line while it waits, then who has it (its poll reads
    the session mirror; its live connections get it pushed)."""
    conversation = event.conversation
    if (not channels.traits(conversation.channel).shows_status or not conversation.is_open
            or event.transition is Transition.ERASED):
        return
    if event.transition is Transition.WAITING:
        store.queue.mirror_to_session(conversation.anchor, conversation.conversation_id, queue_sk=event.queue_sk)
        if event.place:
            live.push_status(conversation, {"state": "waiting", "position": event.place})
        return
    if not conversation.claimed_by:
        return
    name = slack.first_name(conversation.claimed_by)
    store.queue.mirror_to_session(conversation.anchor, conversation.conversation_id, claimed_name=name)
    live.push_status(conversation, {"state": "claimed", "by": name})  # "Amanda joined"


def move_line_up(event: Changed) -> None:
    if event.left_line:
        live.push_places_in_line(event.conversation)


def tell_patron(event: Changed) -> None:
    """The desk's automated lines that follow a transition, each stored and sent once
    (refdesk.desk_lines): the place in line when someone is ahead (once per wait), the transfer
    line (a transfer to someone else), the closing line and, where the channel rates in its
    thread, a rating offer. The idle close is quiet."""
    conversation, settings = event.conversation, get_settings()
    if event.transition is Transition.WAITING and event.place:
        if store.queue.mark_told(conversation.conversation_id, event.queue_sk) and event.place > 1:
            desk_lines.tell(conversation, f"queue-{event.queue_sk}",
                            settings.queue_position_text.replace("{position}", str(event.place))
                            + wait_estimate.sentence())
            logger.info("patron told their place", extra={"conversation_id": conversation.conversation_id,
                                                          "position": event.place})
    elif event.transition is Transition.TRANSFERRED and event.press and len(set(event.actors)) > 1:
        desk_lines.tell(conversation, f"{TRANSFER_LINE}{event.press}", settings.transfer_text)
    elif event.transition is Transition.CLOSED:
        closing = channels.closing_line(conversation.channel)
        if closing:
            desk_lines.tell(conversation, f"close-{conversation.conversation_id}", closing)
        assessment.offer_rating(conversation)


def count_closed(event: Changed) -> None:
    """A closed conversation in the daily figures, and its transcript, each once."""
    if event.transition in (Transition.CLOSED, Transition.IDLE_CLOSED):
        assessment.closed(event.conversation)


def show_idle_close(event: Changed) -> None:
    """An idle close sends no closing line, after which a web chat's live connections would learn
    it ended: they are told so here (its poll reads the ended session)."""
    if event.transition is Transition.IDLE_CLOSED:
        live.push_status(event.conversation, None)


def arm_idle_close(event: Changed) -> None:
    """Someone has the open conversation now (claimed, answered, transferred, reopened): the idle
    close is armed for when it could go idle at the earliest (refdesk.idle)."""
    if event.conversation.is_open and event.conversation.claimed_by:
        idle.arm_when_taken(event.conversation)


# The count before the patron's lines: a closed conversation's transcript ends where it closed.
LISTENERS: list[Callable[[Changed], None]] = [refresh_card, republish_home, show_widget, move_line_up, count_closed,
                                              tell_patron, show_idle_close, arm_idle_close]
