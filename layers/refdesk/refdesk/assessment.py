"""Assessment the library can report without raw messages or identities (store.stats):

* when it ends (closed, idle-closed, erased while open), the conversation is counted once on the
  day it began (library time, from the patron's own send): its channel, how it ended (answered,
  unanswered, abandoned), live or follow-up, new or repeat patron (by keyed hash only), the exact
  wait to the first patron-visible staff message (reply, quick reply, transfer line), who answered
  and who transferred, duration, hour of week; its de-identified transcript is written
  (refdesk.transcripts, when turned on);
* on the closed card, the READ scale (1 directional … 6 in-depth research) and a topic tag
  (deskconfig topics), each recorded once with one click;
* patrons whose channel asks them (`Traits.rating`: the widget, a digit answering the SMS closing
  line, Slack Connect's buttons) may rate the conversation 1-5 after close, once, with an optional
  comment (at most COMMENT_MAX characters, de-identified).

Every step is safe to run again (a retried close, a double click): each count is a conditional
transaction on the conversation's own marker."""
from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import NotRequired, TypedDict
from zoneinfo import ZoneInfo

from aws_lambda_powertools import Logger

from refdesk import channels, store, transcripts
from refdesk.channels.contract import Rating
from refdesk.models import TRANSFER_LINE, AssessJob, Author, Conversation, Message, RatingJob, Visibility
from refdesk.observability import count
from refdesk.shapes import check
from refdesk.settings import get_settings

logger = Logger(child=True)

THANKS = "Thank you for your rating!"
# The messages read to count a conversation: its first response is among the first few, and a
# librarian who answered only after this many is not credited.
MESSAGES_COUNTED = 300
COMMENT_MAX = 500


def _local(iso: str) -> datetime:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return moment.astimezone(ZoneInfo(get_settings().library_timezone))


def day_of(conversation: Conversation) -> date:
    """The day a conversation counts on: the library's local date when it opened."""
    return _local(conversation.created_at).date()


def hour_of_week(iso: str) -> int:
    """0 = Monday 00:00-00:59 library time … 167 = Sunday 23:00-23:59."""
    local = _local(iso)
    return local.weekday() * 24 + local.hour


def _seconds(start: str, end: str) -> int:
    return max(0, round((_local(end) - _local(start)).total_seconds()))


def _first_response(messages: list[Message]) -> Message | None:
    """The first message the patron got from staff: a reply or quick reply, or the transfer line
    (the desk's other automated lines are not a response)."""
    return min((message for message in messages if message.visibility is Visibility.PATRON and (
        message.author is Author.LIBRARIAN or message.message_id.startswith(TRANSFER_LINE))),
        key=lambda message: message.at, default=None)


def wait_kind(conversation: Conversation) -> str:
    """Which waits a conversation's first response is counted with (store.stats.WAIT_KINDS)."""
    return "follow_up" if conversation.follow_up else "after_hours" if conversation.after_hours else "in_hours"


def counts(conversation: Conversation, messages: list[Message], repeat: bool,
           patron_gone: bool) -> tuple[dict[str, int], dict[str, int]]:
    """An ended conversation's contribution to its day: (counters, samples) under store.stats'
    attribute names. `patron_gone`: the patron left before it ended (their delete, a closed page)."""
    first = _first_response(messages)
    outcome = "answered" if first else "abandoned" if patron_gone else "unanswered"
    found = {f"conv#{conversation.channel}": 1, "patrons#repeat" if repeat else "patrons#new": 1,
             f"how#{hour_of_week(conversation.created_at)}": 1, f"outcome#{outcome}": 1,
             f"kind#{'follow_up' if conversation.follow_up else 'live'}": 1}
    samples: dict[str, int] = {}
    staff = store.stats.STAFF_PREFIX
    for user in {message.author_user for message in messages if message.author is Author.LIBRARIAN
                 and message.visibility is Visibility.PATRON and message.author_user}:
        found[f"{staff}{user}#answered"] = 1
    for transfer in conversation.transfers:
        by, _, to = transfer.partition(">")
        found[f"{staff}{by}#transfers_out"] = found.get(f"{staff}{by}#transfers_out", 0) + 1
        found[f"{staff}{to}#transfers_in"] = found.get(f"{staff}{to}#transfers_in", 0) + 1
    if first:
        wait = _seconds(conversation.created_at, first.at)
        found.update({"wait#sum": wait, "wait#n": 1, f"wait#{store.stats.wait_bucket(wait)}": 1})
        samples[f"{store.stats.WAITS_PREFIX}{wait_kind(conversation)}"] = wait
        if wait_kind(conversation) == "in_hours":  # for the wait estimate of that time of day
            samples[f"{store.stats.HOUR_WAITS_PREFIX}{hour_of_week(conversation.created_at) % 24}"] = wait
        responder = first.author_user or (conversation.transfers[0].partition(">")[0] if conversation.transfers else "")
        if responder:
            samples[f"{staff}{responder}#first"] = wait
    if conversation.closed_at:
        found.update({"duration#sum": _seconds(conversation.created_at, conversation.closed_at), "duration#n": 1})
    return found, samples


def closed(conversation: Conversation) -> None:
    """The close's own steps, each once however often it runs: count it, keep its transcript. An
    idle-closed conversation lasted until its last activity, not until the close a day later."""
    if not conversation.created_at:
        return
    if conversation.closed_by == store.conversations.IDLE_CLOSER:
        last = max(conversation.active_at, conversation.claimed_at, conversation.transferred_at)
        conversation = dataclasses.replace(conversation, closed_at=last or conversation.closed_at)
    _count(conversation, patron_gone=_left_the_page(conversation))
    transcripts.write(conversation)


def erased_while_open(conversation: Conversation) -> None:
    """The patron's delete ended an open conversation: counted once (an answer given or not; the
    patron left), before its messages go. No duration, no transcript."""
    if conversation.is_open and conversation.created_at:
        _count(conversation, patron_gone=True)


def _count(conversation: Conversation, patron_gone: bool) -> None:
    messages = store.messages.list_after(conversation.conversation_id, limit=MESSAGES_COUNTED)
    repeat = store.stats.patron_seen(conversation.patron_id, conversation.conversation_id)
    if store.stats.count_conversation(conversation.conversation_id, day_of(conversation),
                                      *counts(conversation, messages, repeat, patron_gone)):
        logger.info("conversation counted", extra={"conversation_id": conversation.conversation_id})


def _left_the_page(conversation: Conversation) -> bool:
    """A web patron with no live connection left when the chat ended had closed the page (only
    known where live connections run: else every chat would look left)."""
    return (channels.traits(conversation.channel).shows_status and bool(get_settings().live_url)
            and not store.connections.of_session(conversation.anchor))


def assess(job: AssessJob) -> None:
    """A READ level or topic chosen on the closed card: recorded once; the card shows it."""
    from refdesk.slack import api as slack

    conversation = store.conversations.get(job.conversation_id)
    if conversation.is_open:
        return  # the buttons are only on closed cards
    day = day_of(conversation)
    if job.read_level:
        recorded = store.stats.record_read(conversation.conversation_id, day, job.read_level)
        what = f"READ {int(conversation.read_level)}"
    else:
        recorded = store.stats.record_topic(conversation.conversation_id, day, job.topic)
        what = f"topic \u201c{_topic_label(conversation.topic)}\u201d"
    if not recorded:
        slack.tell(job.channel, job.user, f"This conversation's {what} was already recorded.",
                   thread_ts=job.root_ts)
        return
    conversation = store.conversations.get(job.conversation_id)
    refresh_card(conversation)
    transcripts.write(conversation)  # the same object, now with its tags


def refresh_card(conversation: Conversation) -> None:
    """The closed card, with the assessment recorded so far."""
    from refdesk.slack import api as slack
    from refdesk.slack import cards

    question = next((message.text for message in store.messages.list_after(conversation.conversation_id)
                     if message.author is Author.PATRON), "")
    text, blocks, _ = cards.root_card(conversation, question, store.conversations.get_reply_to(
        conversation.conversation_id))
    slack.update(conversation.slack_channel, conversation.slack_ts, f"[closed] {text}",
                 closed_card(conversation, blocks))


def closed_card(conversation: Conversation, blocks: list[dict]) -> list[dict]:
    from refdesk import deskconfig
    from refdesk.slack import cards

    return [*cards.closed_card(blocks, conversation.closed_by),
            *cards.assessment_blocks(conversation.conversation_id, int(conversation.read_level),
                                     _topic_label(conversation.topic), deskconfig.get().topics)]


def _topic_label(topic_id: str) -> str:
    from refdesk import deskconfig

    topic = deskconfig.get().topic(topic_id) if topic_id else None
    return topic.label if topic else topic_id


def offer_rating(conversation: Conversation) -> None:
    """A channel that rates in the thread (Slack Connect): 1-5 buttons there after the closing line,
    once. (The widget offers its own when it sees the chat closed.)"""
    from refdesk.slack import api as slack
    from refdesk.slack import cards

    rating = channels.traits(conversation.channel).rating
    if rating is Rating.BY_REPLY:  # the closing line asked for a digit: the session takes one for a while
        store.sessions.await_rating(conversation.anchor, conversation.conversation_id)
        return
    if rating is not Rating.IN_THREAD:
        return
    reply_to = store.conversations.get_reply_to(conversation.conversation_id)
    channel, _, thread_root = reply_to.address.partition("/")
    if not channel or not thread_root or not store.stats.mark_once(conversation.conversation_id, "rating_offered_at"):
        return
    text, blocks = cards.rating_prompt(conversation.conversation_id)
    slack.post(channel, text, blocks, thread_ts=thread_root)


def rate(job: RatingJob) -> None:
    """A patron's rating, counted once per conversation, and its comment; Slack Connect's prompt
    says thanks. A comment alone (rating 0) joins the rating the same patron gave."""
    from refdesk.slack import api as slack
    from refdesk.slack import cards

    conversation = store.conversations.get(job.conversation_id)
    if channels.traits(conversation.channel).rating is Rating.NOT_ASKED or conversation.channel != job.channel:
        return
    if job.rater and job.rater != conversation.patron_id:  # pressed in a shared channel by someone else
        logger.info("rating by someone other than the patron ignored", extra={"conversation_id": job.conversation_id})
        count("RatingRefused")
        return
    day, keep_days = day_of(conversation), get_settings().transcripts_kept_days
    if not job.rating:
        if job.comment and conversation.rating and store.stats.record_comment(
                conversation.conversation_id, day, int(conversation.rating), job.comment, keep_days):
            logger.info("rating comment kept", extra={"conversation_id": conversation.conversation_id})
            if job.slack_channel and job.message_ts:  # the thanks, its "Add a comment" gone: commented once
                slack.update(job.slack_channel, job.message_ts,
                             *cards.rating_thanks(job.conversation_id, THANKS, comment=False))
        return
    if store.stats.record_rating(conversation.conversation_id, day, job.rating, job.comment, keep_days):
        logger.info("rating counted", extra={"conversation_id": conversation.conversation_id})
    if job.slack_channel and job.message_ts:
        slack.update(job.slack_channel, job.message_ts, *cards.rating_thanks(job.conversation_id, THANKS))


def clean_comment(text: str) -> str:
    """A patron's comment as it may be kept: trimmed, the names they give and every identifier
    masked (refdesk.transcripts' rules). Raises BadRequest when over COMMENT_MAX characters."""
    from refdesk.errors import BadRequest
    from refdesk.models import Message

    text = text.strip()
    if len(text) > COMMENT_MAX:
        raise BadRequest(f"a comment is at most {COMMENT_MAX} characters")
    said = Message(message_id="comment", at="", author=Author.PATRON, text=text)
    return transcripts.deidentify(text, names=transcripts.names_given([said]))


class RatingBody(TypedDict):
    """The body of POST /chat/sessions/{id}/rating (refdesk.shapes checks it)."""
    rating: int
    comment: NotRequired[str]  # at most COMMENT_MAX characters


def rate_web_chat(session_id: str, token: str, body) -> dict:
    """POST /chat/sessions/{id}/rating {"rating": 1-5, "comment"?: text}: accepted once per chat,
    after it closed; the comment goes on the job cleaned (clean_comment). Two AWS calls: the
    session's conditional rating (store.stats.rate_session), the job that counts it. Raises
    BadRequest (not 1-5, a comment over COMMENT_MAX), NotFound, Forbidden, Conflict (open, or rated already)."""
    from refdesk import identity, jobs
    from refdesk.channels import web
    from refdesk.errors import BadRequest, NotFound

    rating = check(body, RatingBody, "body")["rating"]
    if rating not in store.stats.RATINGS:
        raise BadRequest("rating must be a whole number from 1 to 5")
    comment = clean_comment(body.get("comment", ""))
    if not (session_id.startswith("s") and session_id[1:].isalnum() and len(session_id) < 64):
        raise NotFound("no such chat session")
    conversation_id = store.stats.rate_session(session_id, identity.token_hash(token), rating)
    jobs.enqueue(RatingJob(conversation_id=conversation_id, rating=rating, channel=web.CHANNEL.name,
                           comment=comment))
    return {"rating": rating}
