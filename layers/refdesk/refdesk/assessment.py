"""Assessment the library can report without raw messages or identities (store.stats):

* at close, the conversation is counted once on the day it opened (library time): its channel,
  new or repeat patron (by keyed hash only), wait to the first staff reply, duration, hour of week;
  its de-identified transcript is written (refdesk.transcripts, when turned on);
* on the closed card, the READ scale (1 directional … 6 in-depth research) and a topic tag
  (deskconfig topics), each recorded once with one click;
* patrons whose channel asks them (`Traits.rating`: web and Slack Connect) may rate the
  conversation 1-5 after close, once.

Every step is safe to run again (a retried close, a double click): each count is a conditional
transaction on the conversation's own marker."""
from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import TypedDict
from zoneinfo import ZoneInfo

from aws_lambda_powertools import Logger

from refdesk import channels, store, transcripts
from refdesk.channels.contract import Rating
from refdesk.models import AssessJob, Author, Conversation, RatingJob
from refdesk.observability import count
from refdesk.shapes import check
from refdesk.settings import get_settings

logger = Logger(child=True)

THANKS = "Thank you for your rating!"


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


def counts(conversation: Conversation, repeat: bool) -> dict[str, int]:
    """A closed conversation's contribution to its day (store.stats attribute names)."""
    found = {f"conv#{conversation.channel}": 1, "patrons#repeat" if repeat else "patrons#new": 1,
             f"how#{hour_of_week(conversation.created_at)}": 1}
    if conversation.first_reply_at:
        wait = _seconds(conversation.created_at, conversation.first_reply_at)
        found.update({"wait#sum": wait, "wait#n": 1, f"wait#{store.stats.wait_bucket(wait)}": 1})
    if conversation.closed_at:
        found.update({"duration#sum": _seconds(conversation.created_at, conversation.closed_at), "duration#n": 1})
    return found


def closed(conversation: Conversation) -> None:
    """The close's own steps, each once however often it runs: count it, keep its transcript. An
    idle-closed conversation lasted until its last activity, not until the close a day later."""
    if not conversation.created_at:
        return
    if conversation.closed_by == store.conversations.IDLE_CLOSER:
        last = max(conversation.active_at, conversation.claimed_at, conversation.transferred_at)
        conversation = dataclasses.replace(conversation, closed_at=last or conversation.closed_at)
    repeat = store.stats.patron_seen(conversation.patron_id, conversation.conversation_id)
    if store.stats.count_conversation(conversation.conversation_id, day_of(conversation),
                                      counts(conversation, repeat)):
        logger.info("conversation counted", extra={"conversation_id": conversation.conversation_id})
    transcripts.write(conversation)


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

    if channels.traits(conversation.channel).rating is not Rating.IN_THREAD:
        return
    reply_to = store.conversations.get_reply_to(conversation.conversation_id)
    channel, _, thread_root = reply_to.address.partition("/")
    if not channel or not thread_root or not store.stats.mark_once(conversation.conversation_id, "rating_offered_at"):
        return
    text, blocks = cards.rating_prompt(conversation.conversation_id)
    slack.post(channel, text, blocks, thread_ts=thread_root)


def rate(job: RatingJob) -> None:
    """A patron's rating, counted once per conversation; Slack Connect's prompt says thanks."""
    from refdesk.slack import api as slack

    conversation = store.conversations.get(job.conversation_id)
    if channels.traits(conversation.channel).rating is Rating.NOT_ASKED or conversation.channel != job.channel:
        return
    if job.slack_channel and job.rater != conversation.patron_id:  # pressed in a shared channel by someone else
        logger.info("rating by someone other than the patron ignored", extra={"conversation_id": job.conversation_id})
        count("RatingRefused")
        return
    if store.stats.record_rating(conversation.conversation_id, day_of(conversation), job.rating):
        logger.info("rating counted", extra={"conversation_id": conversation.conversation_id})
    if job.slack_channel and job.message_ts:
        slack.update(job.slack_channel, job.message_ts, THANKS, [])


class RatingBody(TypedDict):
    """The body of POST /chat/sessions/{id}/rating (refdesk.shapes checks it)."""
    rating: int


def rate_web_chat(session_id: str, token: str, body) -> dict:
    """POST /chat/sessions/{id}/rating {"rating": 1-5}: accepted once per chat, after it closed.
    Two AWS calls: the session's conditional rating (store.stats.rate_session), the job that counts
    it. Raises BadRequest (not 1-5), NotFound, Forbidden, Conflict (open, or rated already)."""
    from refdesk import identity, jobs
    from refdesk.channels import web
    from refdesk.errors import BadRequest, NotFound

    rating = check(body, RatingBody, "body")["rating"]
    if rating not in store.stats.RATINGS:
        raise BadRequest("rating must be a whole number from 1 to 5")
    if not (session_id.startswith("s") and session_id[1:].isalnum() and len(session_id) < 64):
        raise NotFound("no such chat session")
    conversation_id = store.stats.rate_session(session_id, identity.token_hash(token), rating)
    jobs.enqueue(RatingJob(conversation_id=conversation_id, rating=rating, channel=web.CHANNEL.name))
    return {"rating": rating}
