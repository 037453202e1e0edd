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


def post_patron_text(channel: str, thread_ts: str, label: str, text: str) -> str:
    """A later patron message as a thread reply (several if it is very long); returns the first ts."""
    fallback = f"{label}: {escaped_chunks(text, 300)[0]}"
    first_ts = ""
    for blocks in text_blocks(text):
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


def forget_cached() -> None:
    """What was learnt from Slack belongs to one client: forgotten when clients are reset."""
    _auth.cache_clear()
    bot_user_id.cache_clear()
    _user.cache_clear()
    first_name.cache_clear()


clients.on_reset(forget_cached)
