"""Who handles each conversation: the waiting queue, Claim, the first reply, Transfer, and the
state every root card and the Home tab show. Run by the dispatcher (refdesk.dispatch); the
store half is refdesk.store.queue.

* A conversation starts waiting with the patron's first unanswered message (`patron_waiting`,
  from relay.deliver_patron_message), in one line across SMS, web chat and Slack Connect, and a
  sweep is armed for its first nudge (refdesk.waiting.arm_for_arrival).
  "Must wait" means someone is ahead of them: a patron whose place is 2 or more is told it once
  per wait, on their own channel (settings.queue_position_text, `{position}`); the first in
  line is not told anything (a librarian on duty sees them first). While the desk is closed
  nobody is told a place (nor "shortly"): the after-hours reply says when it opens
  (refdesk.waiting); a later message of the same wait, once it is open, tells it.
* Claim (card or Home tab) is one conditional write: of librarians claiming at once exactly one
  wins; the others are told privately who has it. The first staff reply claims the
  conversation too, if nobody has; a reply from someone else is still relayed and the
  assignee is told privately.
* Transfer reassigns, mentions the new assignee in the thread and tells the patron they are
  being connected to a colleague (settings.transfer_text).
* Each change is one transition of the conversation's lifecycle (refdesk.lifecycle), whose
  listeners bring every view up to date: the root card, the Home tabs, a web chat's status and
  place in line, the places of the web chats behind one that left the line, and the patron's
  automated lines (their place, the transfer line)."""
from __future__ import annotations

from datetime import datetime

from aws_lambda_powertools import Logger

from refdesk import channels, lifecycle, store, waiting
from refdesk.errors import Conflict, NotFound
from refdesk.models import (Author, ClaimJob, Conversation, HomeOpenedJob, Message, PatronMessageJob, StaffReplyJob,
                            TransferJob)
from refdesk.observability import seconds
from refdesk.slack import api as slack
from refdesk.slack import home
from refdesk.store.table import now_iso

logger = Logger(child=True)


def patron_waiting(conversation: Conversation, job: PatronMessageJob) -> None:
    """A patron message: the conversation waits unless someone has it; the patron learns their
    place once per wait when someone is ahead of them and the desk is open."""
    if conversation.claimed_by or not conversation.is_open:
        return
    queue_sk, handled = store.queue.join(conversation.conversation_id, job.at)
    waiting.arm_for_arrival(conversation.conversation_id, queue_sk, job.at)  # a sweep by its first nudge
    if not queue_sk or handled:
        return
    # After hours the after-hours reply says when the desk opens, and nobody is given a place.
    place = 0 if waiting.closed_until(job.at) is not None else store.queue.position(queue_sk)
    # The Home tabs list it; a web chat shows its place; the patron is told it when someone is ahead.
    lifecycle.changed(lifecycle.Changed(conversation, lifecycle.Transition.WAITING, queue_sk=queue_sk, place=place))


def claim(job: ClaimJob) -> None:
    try:
        conversation, won = store.queue.claim(job.conversation_id, job.user)
    except store.queue.Taken as taken:
        _tell_staff(job.conversation_id, job.user, f"<@{taken.holder}> already has this conversation.")
        return
    except NotFound:
        return
    except Conflict:
        _tell_staff(job.conversation_id, job.user, "That conversation is already closed.")
        return
    # Also on a retry (not won): the first attempt may have died before the views were told.
    lifecycle.changed(lifecycle.Changed(conversation, lifecycle.Transition.CLAIMED, actors=(job.user,),
                                        left_line=True))
    logger.info("conversation claimed", extra={"conversation_id": conversation.conversation_id, "won": won})


def on_staff_reply(conversation_id: str, job: StaffReplyJob, first_delivery: bool) -> None:
    """A librarian's reply to the patron (not a note): it claims the conversation if nobody has
    it; from anyone but the assignee, the assignee is told (once, on the reply's first delivery).
    The conversation's first reply is measured (FirstResponseTime), once: its retries find
    first_reply_at set."""
    conversation, won, first_reply = store.queue.claim_by_reply(conversation_id, job.user, job.ts)
    if conversation is None:
        return
    if first_reply:
        seconds("FirstResponseTime", _waited(conversation))
    if won:  # also this reply's retry: its first attempt may have died before the views were told
        lifecycle.changed(lifecycle.Changed(conversation, lifecycle.Transition.CLAIMED, actors=(job.user,),
                                            left_line=True))
    elif first_delivery and conversation.claimed_by != job.user:
        slack.tell(job.channel, conversation.claimed_by, f"<@{job.user}> also replied to the patron in this "
                   "conversation, which is assigned to you.", thread_ts=job.thread_ts)


def reopen_by_reply(conversation: Conversation, job: StaffReplyJob) -> Conversation:
    """A librarian's reply to a closed conversation takes it back where the patron can still get
    it: an SMS or Slack Connect patron's session that holds no newer conversation, a web chat
    whose window still reads it (its session within its lifetime). It is theirs, open again, and
    every view follows; the patron's next message joins it. Otherwise it stays closed: the reply
    still goes where it can (SMS, Slack Connect, a follow-up's contact) or gets ❌ (an ended web
    chat), and a patron who started a newer conversation is pointed out to the librarian.
    Returns the conversation as it now is. The same reply's retry (an answer lost, a Slack call
    failed) finds it reopened by that reply and brings the views up to date again."""
    if conversation.is_open and conversation.reopen_ts != job.ts:
        return conversation
    try:
        conversation = store.conversations.reopen(conversation.conversation_id, job.user, job.ts,
                                                  channels.get(conversation.channel).release)
    except Conflict as moved_on:
        if moved_on.code == "moved_on":
            slack.tell(job.channel, job.user, "This conversation stays closed: the patron has started a newer "
                       "one since, and your reply went to them from there. Answer in the newer thread.",
                       thread_ts=job.thread_ts)
        return conversation
    if conversation.reopen_ts != job.ts:  # another reply reopened it just before
        return conversation
    slack.post(job.channel, f":leftwards_arrow_with_hook: <@{job.user}> reopened this conversation with a reply.",
               thread_ts=job.thread_ts, shows=_note(f"reopen-{job.ts}", conversation.claimed_at))
    lifecycle.changed(lifecycle.Changed(conversation, lifecycle.Transition.REOPENED, actors=(job.user,)))
    logger.info("conversation reopened", extra={"conversation_id": conversation.conversation_id})
    return conversation


def _waited(conversation: Conversation) -> float:
    """Seconds from the conversation's start (its first patron message, stored) to its first reply."""
    started, answered = (datetime.fromisoformat(moment) for moment in (conversation.created_at,
                                                                        conversation.first_reply_at))
    return max(0.0, (answered - started).total_seconds())


def transfer(job: TransferJob) -> None:
    conversation_id = store.conversations.for_thread(job.channel, job.root_ts)
    if not conversation_id:
        return
    if job.to_user == slack.bot_user_id() or not slack.is_library_member(job.to_user):
        slack.tell(job.channel, job.user, "Transfer a conversation to a librarian of the library's team.",
                   thread_ts=job.root_ts)
        return
    press = f"{job.to_user}-{job.action_ts}"
    try:
        conversation = store.queue.transfer(conversation_id, job.to_user, job.user, press)
    except store.queue.AlreadyAssigned:
        slack.tell(job.channel, job.user, f"<@{job.to_user}> already has this conversation.", thread_ts=job.root_ts)
        return
    except Conflict:
        slack.tell(job.channel, job.user, "That conversation is already closed.", thread_ts=job.root_ts)
        return
    slack.post(job.channel, f":arrows_counterclockwise: <@{job.to_user}>, <@{job.user}> transferred this "
               "conversation to you.", thread_ts=job.root_ts,
               shows=_note(f"transfer-{press}", conversation.transferred_at))
    # Nobody had it: the transfer took it from the line, and the web chats behind move up.
    lifecycle.changed(lifecycle.Changed(conversation, lifecycle.Transition.TRANSFERRED,
                                        actors=(job.to_user, job.user), press=press,
                                        left_line=conversation.claimed_at == conversation.transferred_at))
    logger.info("conversation transferred", extra={"conversation_id": conversation_id})


def home_opened(job: HomeOpenedJob) -> None:
    """The Home tab lists who waits: published only to members of the library's Slack
    (refdesk.staff); anyone else who opens it sees nothing of the desk."""
    if slack.is_library_member(job.user):
        store.duty.saw_home(job.user)  # republished while it may be open, as the desk changes
        home.publish(job.user)


def _note(message_id: str, at: str) -> Message:
    """A thread line as what it shows, so that a retry finds it posted (Slack message metadata,
    looked for since `at`: when the write it follows was made) instead of posting it again."""
    return Message(message_id=message_id, at=at or now_iso(), author=Author.SYSTEM, text="")


def _tell_staff(conversation_id: str, user: str, text: str) -> None:
    """Privately, in the conversation's thread (a Home tab press has no channel of its own)."""
    try:
        conversation = store.conversations.get(conversation_id)
    except NotFound:
        return
    if conversation.slack_channel:
        slack.tell(conversation.slack_channel, user, text, thread_ts=conversation.slack_ts)
