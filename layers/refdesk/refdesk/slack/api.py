"""The Slack Web API calls RefDesk makes. Only the dispatcher makes them; the WebClient is
created lazily by refdesk.clients.

Nothing doubled: every post that shows a stored message (the root card, a patron message in
the thread, a quick reply) or a note about one carries Slack message metadata naming it. A
retry (refdesk.jobs.attempt() > 1) may follow an attempt whose post reached Slack though its
answer never came back, so it first looks for the post (conversations.replies in a thread,
conversations.history for a root card, include_all_metadata) and uses what it finds; a first
attempt posts at once.

Pacing: posts into one channel take turns shared by every copy of the dispatcher, however many
run at once (store.pacing: one conditional write a post; SLACK_POSTS_PER_SECOND, bursts of
SLACK_POST_BURST; Slack allows about one a second per channel). A turn further away than
LONGEST_TURN_WAIT_SECONDS is not taken: RetryLater, so the job comes back when the channel's
queue has moved instead of sleeping through its invocation. When the table cannot give a turn
(boto3 has retried it: a throttle passes, and a post sent unpaced meanwhile could be refused), the
channel is paced by this process's token bucket for LOCAL_PACE_SECONDS, each post counted
(SlackPacedLocally): posts go on, if the copies together may then go over Slack's rate. A 429
that asks for a short pause is waited out in-process, once (slack.rate_limits.ShortPauseRetry);
a longer one raises RetryLater so the queue tries the job again after the pause."""
from __future__ import annotations

import functools
import threading
import time
from datetime import datetime
from functools import lru_cache
from typing import Callable

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError
from slack_sdk.errors import SlackApiError

from refdesk import clients, jobs
from refdesk.errors import RetryLater
from refdesk.models import Message
from refdesk.observability import count
from refdesk.settings import get_settings
from refdesk.slack.cards import text_blocks
from refdesk.slack.rate_limits import retry_after
from refdesk.slack.text import escaped_chunks
from refdesk.store import pacing

SENT, FAILED, INTERNAL = "white_check_mark", "x", "lock"
HANDED_OVER = "outbox_tray"  # 📤 handed to Twilio, not yet delivered (refdesk.delivery_status)
# Metadata event types: a post showing a stored message (or one part of it), and RefDesk's note
# about one (that it was not delivered). The payload names the message id and the part.
MESSAGE_EVENT = "refdesk_message"
NOTE_EVENT = "refdesk_note"
# A post is never older than its message, give or take the clocks of Slack and the dispatcher.
CLOCK_SKEW_SECONDS = 60
LOOKUP_PAGE_SIZE = 100
# A job is taken with refdesk.dispatch.RESERVE_MILLIS (35 s) of its invocation left, and may post
# a few times (a card, pictures): a post waits this long for its channel's turn at most.
LONGEST_TURN_WAIT_SECONDS = 10
# After the table failed to give a turn, the channel is paced in-process this long before it is
# asked again: an outage costs a failed call a minute, not one per post.
LOCAL_PACE_SECONDS = 60

logger = Logger(child=True)


def _slack():
    return clients.get("slack")


def _retry_later_when_limited(call: Callable) -> Callable:
    """Slack's 429 that the in-process retry did not absorb becomes RetryLater: the job is tried
    again after the pause Slack asked for."""

    @functools.wraps(call)
    def calling(*args, **kwargs):
        try:
            return call(*args, **kwargs)
        except SlackApiError as error:
            if error.response.status_code != 429:
                raise
            raise RetryLater("Slack asked for a pause", seconds=retry_after(error.response.headers)) from error

    return calling


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up. take() reserves the next token and
    sleeps until it is due, so callers in any number of threads keep to the rate."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self._rate, self._burst = rate, max(1, burst)
        self._clock, self._sleep = clock, sleep
        self._tokens = float(self._burst)
        self._updated = clock()
        self._lock = threading.Lock()

    def take(self) -> float:
        """Waits for a token; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate) - 1
            self._updated = now
            wait = -self._tokens / self._rate if self._tokens < 0 else 0.0
        if wait:
            self._sleep(wait)
        return wait


_buckets: dict[str, TokenBucket] = {}  # per channel, for this process (a Lambda container)
_paced_locally_until: dict[str, float] = {}  # channel -> when to ask the table for turns again (monotonic)
clients.on_reset(_buckets.clear)  # the rate and burst are settings: read again after a reset
clients.on_reset(_paced_locally_until.clear)


def _pace(channel: str) -> None:
    """Waits for this channel's turn to receive a post (nothing to wait for when
    SLACK_POSTS_PER_SECOND is 0); RetryLater when the turn is too far away to wait for."""
    settings = get_settings()
    rate = settings.slack_posts_per_second
    if rate <= 0:
        return
    if time.monotonic() >= _paced_locally_until.get(channel, 0.0):
        try:
            wait = pacing.take_turn(channel, 1 / rate, settings.slack_post_burst, LONGEST_TURN_WAIT_SECONDS)
        except (BotoCoreError, ClientError) as error:
            logger.warning("no shared turn: the channel is paced in-process", extra={"error": type(error).__name__})
            _paced_locally_until[channel] = time.monotonic() + LOCAL_PACE_SECONDS
        else:
            time.sleep(wait)
            return
    count("SlackPacedLocally")
    bucket = _buckets.get(channel) or _buckets.setdefault(channel, TokenBucket(rate, settings.slack_post_burst))
    bucket.take()


@_retry_later_when_limited
def _post(channel: str, text: str, blocks: list[dict] | None, thread_ts: str | None,
          metadata: dict | None = None) -> str:
    _pace(channel)
    marked = {"metadata": metadata} if metadata else {}
    response = _slack().chat_postMessage(channel=channel, text=text, blocks=blocks, thread_ts=thread_ts,
                                         unfurl_links=False, unfurl_media=False, **marked)
    return response["ts"]


def _metadata(event_type: str, message: Message, part: int) -> dict:
    return {"event_type": event_type, "event_payload": {"message_id": message.message_id, "part": part}}


@_retry_later_when_limited
def _earlier_posts(channel: str, thread_ts: str | None, event_type: str, message: Message) -> dict[int, str]:
    """{part: ts} of the posts an earlier attempt at this job made for `message` (in the thread,
    or at the top of the channel when thread_ts is None), found by their metadata. A first
    attempt has made none: {} without asking Slack."""
    if jobs.attempt() <= 1:
        return {}
    return posts_of(channel, thread_ts, message, event_type)


def posts_of(channel: str, thread_ts: str | None, message: Message, event_type: str = MESSAGE_EVENT) -> dict[int, str]:
    """{part: ts} of the bot's posts showing `message` (in the thread, or at the top of the
    channel when thread_ts is None), found by their metadata from the message's time on."""
    since = datetime.fromisoformat(message.at).timestamp() - CLOCK_SKEW_SECONDS
    where = {"ts": thread_ts} if thread_ts else {}
    lookup = _slack().conversations_replies if thread_ts else _slack().conversations_history
    found: dict[int, str] = {}
    cursor = None
    while True:
        page = lookup(channel=channel, oldest=f"{since:.6f}", include_all_metadata=True, limit=LOOKUP_PAGE_SIZE,
                      cursor=cursor, **where)
        for posted in page.get("messages") or ():
            metadata = posted.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == event_type and payload.get("message_id") == message.message_id:
                found.setdefault(int(payload.get("part", 0)), posted["ts"])
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return found


def post(channel: str, text: str, blocks: list[dict] | None = None, thread_ts: str | None = None, *,
         shows: Message | None = None, part: int = 0) -> str:
    """A message in the channel, or in a thread; returns its ts. With `shows`, the stored message
    it shows (`part` of it): the post is made once, however often the job runs."""
    if shows is None:
        return _post(channel, text, blocks, thread_ts)
    return (_earlier_posts(channel, thread_ts, MESSAGE_EVENT, shows).get(part)
            or _post(channel, text, blocks, thread_ts, _metadata(MESSAGE_EVENT, shows, part)))


def post_note(channel: str, thread_ts: str, text: str, *, about: Message) -> str:
    """RefDesk's note in a thread about a stored message (that it was not delivered): posted
    once, however often the job runs."""
    return (_earlier_posts(channel, thread_ts, NOTE_EVENT, about).get(0)
            or _post(channel, text, None, thread_ts, _metadata(NOTE_EVENT, about, 0)))


def post_patron_text(channel: str, thread_ts: str, label: str, text: str, reveal: str = "", *,
                     shows: Message | None = None) -> str:
    """A later patron message as a thread reply (several if it is very long), with the shorthand
    it uses explained under it (refdesk.glossary); returns the first ts. The text is shown
    redacted (refdesk.redaction); `reveal` (the conversation id) puts Reveal on the first post
    when something was masked. With `shows` (the stored message), each post is made once,
    however often the job runs."""
    from refdesk import redaction
    from refdesk.slack.cards import BLOCK_LIMIT, glossary_blocks, reveal_actions

    redacted = redaction.redact(text)
    text = redacted.text
    fallback = f"{label}: {escaped_chunks(text, 300)[0]}"
    messages, shorthand = text_blocks(text), glossary_blocks(text)
    if shorthand and len(messages[-1]) + len(shorthand) <= BLOCK_LIMIT:
        messages[-1] = [*messages[-1], *shorthand]
    elif shorthand:
        messages.append(shorthand)
    if reveal and redacted.changed:  # the stored message's slack_ts is the first post's: Reveal goes there
        if len(messages[0]) >= BLOCK_LIMIT:
            messages.insert(1, messages[0][BLOCK_LIMIT - 1:])  # one block: fits whatever follows
            messages[0] = messages[0][:BLOCK_LIMIT - 1]
        messages[0] = [*messages[0], reveal_actions(reveal)]
    earlier = _earlier_posts(channel, thread_ts, MESSAGE_EVENT, shows) if shows else {}
    first_ts = ""
    for part, blocks in enumerate(messages):
        metadata = _metadata(MESSAGE_EVENT, shows, part) if shows else None
        ts = earlier.get(part) or _post(channel, fallback, blocks, thread_ts, metadata)
        first_ts = first_ts or ts
    return first_ts


@_retry_later_when_limited
def react(channel: str, ts: str, name: str) -> None:
    """Adds a reaction; one Slack already shows (already_reacted) counts as added."""
    try:
        _slack().reactions_add(channel=channel, timestamp=ts, name=name)
    except SlackApiError as error:
        if error.response.get("error") != "already_reacted":
            raise


@_retry_later_when_limited
def update(channel: str, ts: str, text: str, blocks: list[dict]) -> None:
    _slack().chat_update(channel=channel, ts=ts, text=text, blocks=blocks)


@_retry_later_when_limited
def tell(channel: str, user: str, text: str, thread_ts: str | None = None) -> None:
    """A message only that staff member sees."""
    _slack().chat_postEphemeral(channel=channel, user=user, text=text, thread_ts=thread_ts)


@_retry_later_when_limited
def publish_home(user_id: str, view: dict) -> None:
    """The app's Home tab for one person (views.publish)."""
    _slack().views_publish(user_id=user_id, view=view)


@_retry_later_when_limited
def upload(channel: str, thread_ts: str, data: bytes, filename: str, title: str) -> None:
    """A file into a thread (files.getUploadURLExternal, the upload, files.completeUploadExternal)."""
    _pace(channel)  # shared into the channel: a message there, like a post
    _slack().files_upload_v2(channel=channel, thread_ts=thread_ts, file=data, filename=filename, title=title)


@_retry_later_when_limited
def file_info(file_id: str) -> dict:
    """A file someone shared (files.info, files:read), with its url_private_download; {} when it
    was deleted meanwhile."""
    try:
        answer = _slack().files_info(file=file_id)
    except SlackApiError as error:
        if error.response.get("error") in ("file_not_found", "file_deleted"):
            return {}
        raise
    return dict(answer["file"])


@lru_cache(maxsize=1)
def _auth() -> dict:
    """auth.test once: the bot's user id and the library's own team (and Enterprise Grid org)."""
    answer = _slack().auth_test()
    return dict(getattr(answer, "data", answer))


@lru_cache(maxsize=1)
def bot_user_id() -> str:
    return _auth()["user_id"]


@lru_cache(maxsize=256)
def _user(user_id: str) -> dict:
    """users.info's user, or {} when Slack has no such user. Other errors are raised (and
    nothing is cached), so a retry asks again."""
    try:
        return dict(_slack().users_info(user=user_id)["user"])
    except SlackApiError as error:
        if error.response.get("error") in ("user_not_found", "user_not_visible"):
            return {}
        raise


def is_library_member(user_id: str) -> bool:
    """Whether Slack says the person is of the library's own workspace (or Grid org: refdesk.staff).
    Fails closed: a stranger, someone of another team, and a user Slack does not know or cannot
    show (user_not_found, user_not_visible) are not."""
    user = _user(user_id)
    if not user or user.get("is_stranger") or user.get("deleted"):
        return False
    enterprise = str((user.get("enterprise_user") or {}).get("enterprise_id") or "")
    library = get_settings()
    return library.is_library_team(str(user.get("team_id") or "")) or library.is_library_team(enterprise)


def is_workspace_admin(user_id: str) -> bool:
    """An admin or owner of the library's workspace (users.info's is_admin, is_owner,
    is_primary_owner), asked afresh, not from _user's cache: a role taken away counts at once.
    Another organisation's admin is not one (is_library_member)."""
    try:
        user = _slack().users_info(user=user_id)["user"]
    except SlackApiError as error:
        if error.response.get("error") in ("user_not_found", "user_not_visible"):
            return False
        raise
    roles = any(user.get(flag) for flag in ("is_admin", "is_owner", "is_primary_owner"))
    return roles and is_library_member(user_id)


@lru_cache(maxsize=256)
def first_name(user_id: str) -> str:
    try:
        profile = _user(user_id)
    except SlackApiError:
        return "Librarian"
    if not profile:
        return "Librarian"
    details = profile.get("profile", {})
    name = details.get("first_name") or details.get("display_name") or profile.get("real_name") or profile.get("name")
    return (name or "Librarian").split(" ")[0]


def open_view(trigger_id: str, view: dict) -> str:
    """views.open: a modal, within 3 s of the click whose trigger_id it uses. The one Slack call
    a webhook makes (refdesk.slack.interactions.INVITE_ACTION); returns the view's id."""
    response = _slack().views_open(trigger_id=trigger_id, view=view)
    return str((response.get("view") or {}).get("id", ""))


def permalink(channel: str, ts: str) -> str:
    """chat.getPermalink: a link to a message (a thread's root opens the thread)."""
    return str(_slack().chat_getPermalink(channel=channel, message_ts=ts)["permalink"])


MEMBERS_CACHE_SECONDS = 300
_members: dict[tuple[str, str], tuple[float, frozenset[str]]] = {}


def members(usergroup: str = "", channel: str = "") -> frozenset[str]:
    """The user ids in a user group (usergroups.users.list), else in a channel
    (conversations.members), cached for MEMBERS_CACHE_SECONDS: asked only for a reply in a
    conversation a department was invited into."""
    import time

    key = (usergroup, channel)
    cached = _members.get(key)
    if cached and time.monotonic() - cached[0] < MEMBERS_CACHE_SECONDS:
        return cached[1]
    if usergroup:
        found = frozenset(_slack().usergroups_users_list(usergroup=usergroup).get("users") or ())
    else:
        found, cursor = set(), None
        while True:
            page = _slack().conversations_members(channel=channel, limit=1000, cursor=cursor)
            found.update(page.get("members") or ())
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        found = frozenset(found)
    _members[key] = (time.monotonic(), found)
    return found


def _forget_members() -> None:
    _members.clear()


clients.on_reset(_forget_members)


def forget_cached() -> None:
    """What was learnt from Slack belongs to one client: forgotten when clients are reset."""
    _auth.cache_clear()
    bot_user_id.cache_clear()
    _user.cache_clear()
    first_name.cache_clear()


clients.on_reset(forget_cached)
