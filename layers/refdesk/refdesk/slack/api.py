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


@lru_cache(maxsize=1)
def bot_user_id() -> str:
    return _slack().auth_test()["user_id"]


@lru_cache(maxsize=256)
def first_name(user_id: str) -> str:
    from slack_sdk.errors import SlackApiError

    try:
        profile = _slack().users_info(user=user_id)["user"]
    except SlackApiError:
        return "Librarian"
    details = profile.get("profile", {})
    name = details.get("first_name") or details.get("display_name") or profile.get("real_name") or profile.get("name")
    return (name or "Librarian").split(" ")[0]


def forget_cached() -> None:
    """What was learnt from Slack belongs to one client: forgotten when clients are reset."""
    bot_user_id.cache_clear()
    first_name.cache_clear()


clients.on_reset(forget_cached)
