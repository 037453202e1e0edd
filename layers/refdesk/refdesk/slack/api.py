"""The Slack Web API calls RefDesk makes. Only the dispatcher makes them; the WebClient is
created lazily by refdesk.clients."""
from __future__ import annotations

from functools import lru_cache

from refdesk import clients
from refdesk.slack.cards import text_blocks
from refdesk.slack.text import escaped_chunks

SENT, FAILED, INTERNAL = "white_check_mark", "x", "lock"


def _slack():
    return clients.get("slack")


def post(channel: str, text: str, blocks: list[dict] | None = None, thread_ts: str | None = None) -> str:
    response = _slack().chat_postMessage(channel=channel, text=text, blocks=blocks, thread_ts=thread_ts,
                                         unfurl_links=False, unfurl_media=False)
    return response["ts"]


def post_patron_text(channel: str, thread_ts: str, label: str, text: str, reveal: str = "") -> str:
    """A later patron message as a thread reply (several if it is very long), with the shorthand
    it uses explained under it (refdesk.glossary); returns the first ts. The text is shown
    redacted (refdesk.redaction); `reveal` (the conversation id) puts Reveal on the first post
    when something was masked."""
    from refdesk import redaction
    from refdesk.slack.cards import BLOCK_LIMIT, glossary_blocks, reveal_actions

    redacted = redaction.redact(text)
    text = redacted.text
    fallback = f"{label}: {escaped_chunks(text, 300)[0]}"
    first_ts = ""
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
    for blocks in messages:
        ts = post(channel, fallback, blocks, thread_ts)
        first_ts = first_ts or ts
    return first_ts


def react(channel: str, ts: str, name: str) -> None:
    from slack_sdk.errors import SlackApiError

    try:
        _slack().reactions_add(channel=channel, timestamp=ts, name=name)
    except SlackApiError as error:
        if error.response.get("error") != "already_reacted":
            raise


def update(channel: str, ts: str, text: str, blocks: list[dict]) -> None:
    _slack().chat_update(channel=channel, ts=ts, text=text, blocks=blocks)


def tell(channel: str, user: str, text: str, thread_ts: str | None = None) -> None:
    """A message only that staff member sees."""
    _slack().chat_postEphemeral(channel=channel, user=user, text=text, thread_ts=thread_ts)


def publish_home(user_id: str, view: dict) -> None:
    """The app's Home tab for one person (views.publish)."""
    _slack().views_publish(user_id=user_id, view=view)


def upload(channel: str, thread_ts: str, data: bytes, filename: str, title: str) -> None:
    """A file into a thread (files.getUploadURLExternal, the upload, files.completeUploadExternal)."""
    _slack().files_upload_v2(channel=channel, thread_ts=thread_ts, file=data, filename=filename, title=title)


@lru_cache(maxsize=1)
def _auth() -> dict:
    """auth.test once: the bot's user id and the library's own team (and Enterprise Grid org)."""
    answer = _slack().auth_test()
    return dict(getattr(answer, "data", answer))


@lru_cache(maxsize=1)
def bot_user_id() -> str:
    return _auth()["user_id"]


def library_team_id() -> str:
    return str(_auth().get("team_id") or "")


@lru_cache(maxsize=256)
def _user(user_id: str) -> dict:
    """users.info's user, or {} when Slack has no such user. Other errors are raised (and
    nothing is cached), so a retry asks again."""
    from slack_sdk.errors import SlackApiError

    try:
        return dict(_slack().users_info(user=user_id)["user"])
    except SlackApiError as error:
        if error.response.get("error") in ("user_not_found", "user_not_visible"):
            return {}
        raise


def is_library_member(user_id: str) -> bool:
    """False when Slack says the person belongs to another organisation: a `team_id` other than
    the library's (and not of its Enterprise Grid org), or `is_stranger`. Only members count as
    staff. When users.info cannot say, the event's own `user_team` (checked by the webhook,
    `StaffReplyJob.outsider`) is what decides."""
    user = _user(user_id)
    if not user:
        return True
    if user.get("is_stranger"):
        return False
    auth = _auth()
    team = str(user.get("team_id") or "")
    enterprise = str((user.get("enterprise_user") or {}).get("enterprise_id") or "")
    if enterprise and enterprise == auth.get("enterprise_id"):
        return True
    return not team or team == library_team_id()


@lru_cache(maxsize=256)
def first_name(user_id: str) -> str:
    from slack_sdk.errors import SlackApiError

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
