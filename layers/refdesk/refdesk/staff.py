"""The staff side in Slack: how conversations look in the staff channel, and the Web API calls
that put them there. Patron text is escaped so it can never ping anyone."""
from __future__ import annotations

import re
from functools import lru_cache

from refdesk import clients

SECTION_LIMIT = 3000
BLOCK_LIMIT = 50
CLOSE_ACTION = "close_conversation"
SENT, FAILED, INTERNAL = "white_check_mark", "x", "lock"


def escape(text: str) -> str:
    """Slack mrkdwn control characters; nothing else is touched."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escaped_chunks(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Escaped pieces of at most `limit` characters, split between words where possible and
    never inside an escape sequence."""
    chunks, current = [], ""
    for word in re.split(r"(\s+)", text):
        for piece in _fitting_pieces(word, limit):
            if len(current) + len(piece) > limit:
                chunks.append(current)
                current = ""
            current += piece
    chunks.append(current)
    return [chunk for chunk in chunks if chunk] or [""]


def _fitting_pieces(word: str, limit: int) -> list[str]:
    """A word escaped, cut into pieces that each fit the limit (only very long words are cut)."""
    pieces, current, size = [], [], 0
    for char in word:
        escaped = escape(char)
        if size + len(escaped) > limit:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(escaped)
        size += len(escaped)
    return [*pieces, "".join(current)]


SLACK_LINK = re.compile(r"<(?:mailto:|tel:)?([^<>|]+)(?:\|([^<>]+))?>")


def plain_text(slack_text: str) -> str:
    """What a librarian typed, as the patron should read it: links and mentions unwrapped,
    Slack's escapes undone."""
    def unwrap(match: re.Match) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith(("@", "#", "!")):
            return label or target
        return label if label and label == target else (f"{label} ({target})" if label else target)

    text = SLACK_LINK.sub(unwrap, slack_text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def section(mrkdwn: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}


def context(mrkdwn: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn}]}


def text_blocks(text: str) -> list[list[dict]]:
    """Patron text as sections, grouped into messages of at most 50 blocks."""
    sections = [section(chunk) for chunk in escaped_chunks(text)]
    return [sections[i:i + BLOCK_LIMIT] for i in range(0, len(sections), BLOCK_LIMIT)]


def card_heading(conversation: dict, contact: str = "", name: str = "") -> str:
    heading = f"*{escape(conversation['label'])}*"
    if conversation.get("follow_up"):
        heading += " · :envelope: *follow-up requested* (asked while nobody was on duty)"
        who = " · ".join(escape(part) for part in (name, contact) if part)
        heading += f"\nReply to: {who}" if who else ""
    return heading


def root_card(conversation: dict, question: str, contact: str = "",
              name: str = "") -> tuple[str, list[dict], list[list[dict]]]:
    """(fallback text, blocks, overflow) for a new conversation. Overflow is question text that
    did not fit in one message; it is posted in the thread."""
    first, *overflow = text_blocks(question)
    fixed = [section(card_heading(conversation, contact, name)), context(
        "Reply in this thread to answer the patron. Start with `note:` to keep a reply internal.")]
    room = BLOCK_LIMIT - len(fixed) - 1
    blocks = [fixed[0], *first[:room], fixed[1], close_button(conversation["conversation_id"])]
    if first[room:]:
        overflow.insert(0, first[room:])
    return f"{conversation['label']}: {escaped_chunks(question, 300)[0]}", blocks, overflow


def close_button(conversation_id: str) -> dict:
    return {"type": "actions", "block_id": "conversation", "elements": [{
        "type": "button", "action_id": CLOSE_ACTION, "value": conversation_id, "style": "danger",
        "text": {"type": "plain_text", "text": "Close"},
        "confirm": {"title": {"type": "plain_text", "text": "Close this conversation?"},
                    "text": {"type": "plain_text", "text": "The patron gets the closing message; their next message opens a new conversation."},
                    "confirm": {"type": "plain_text", "text": "Close"},
                    "deny": {"type": "plain_text", "text": "Keep open"}},
    }]}


def closed_card(blocks: list[dict], closed_by: str) -> list[dict]:
    kept = [block for block in blocks if block.get("type") != "actions"]
    return [*kept, context(f":white_check_mark: Closed by <@{closed_by}>")]


# --- Web API calls (only the dispatcher makes them) ------------------------------------

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
    """A message only that librarian sees."""
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
