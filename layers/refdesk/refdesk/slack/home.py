"""The app's Home tab: what a librarian sees when they open RefDesk in Slack.

API:
  view(user_id, now=None) -> dict
        the `home` view for that librarian: every registered section, in order
  publish(user_id)
        views.publish of that view (the dispatcher only: slack.api makes the call)
  publish_for_staff(*also)
        republish for every librarian on duty, every one who opened it lately, and `also`
        (whenever a conversation changes: refdesk.lifecycle)
  @section(order)
        register a section: fn(user_id, now) -> list[dict] of blocks (slack_sdk's .to_dict()),
        [] to show nothing. Sections render by `order`, then name; the whole view keeps to
        Slack's 100 blocks (later sections are cut first). Built in:
          10  the waiting queue: oldest first, channel, masked patron, waiting time, Claim
          20  blocked patrons (refdesk.blocking): masked label, who blocked, when, Unblock

Republished on `app_home_opened` (a HomeOpenedJob through the queue) and whenever a
conversation joins the line or changes state (refdesk.lifecycle). Patron text is never shown here: only the masked label."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from slack_sdk.models.blocks import (ButtonElement, ContextBlock, DividerBlock, HeaderBlock, MarkdownTextObject,
                                     SectionBlock)

from refdesk import channels, store
from refdesk.slack.actions import CLAIM_ACTION, UNBLOCK_ACTION
from refdesk.slack.text import escape

VIEW_BLOCK_LIMIT = 100
WAITING_SHOWN = 40

Section = Callable[[str, datetime], list[dict]]
_sections: list[tuple[int, str, Section]] = []


def section(order: int):
    """Register a Home tab section (see the module docstring)."""
    def register(render: Section) -> Section:
        _sections[:] = [entry for entry in _sections if entry[1] != render.__name__]
        _sections.append((order, render.__name__, render))
        _sections.sort(key=lambda entry: entry[:2])
        return render
    return register


def view(user_id: str, now: datetime | None = None) -> dict:
    now = now or datetime.now(timezone.utc)
    blocks: list[dict] = []
    for _, _, render in _sections:
        part = render(user_id, now)
        if len(blocks) + len(part) > VIEW_BLOCK_LIMIT:
            break
        blocks += part
    return {"type": "home", "blocks": blocks}


def publish(user_id: str) -> None:
    from refdesk.slack import api

    api.publish_home(user_id, view(user_id))


def publish_for_staff(*also: str) -> None:
    """Republish for every librarian on duty, everyone who opened the Home tab lately (it may
    still be open), and `also`."""
    users = dict.fromkeys([*(str(item.get("user_id", "")) for item in store.duty.on_duty()),
                           *store.duty.home_viewers(), *also])
    for user in users:
        if user:
            publish(user)


def waited(since: str, now: datetime) -> str:
    """How long a conversation has waited, for people: "just now", "4 min", "1 h 12 min"."""
    try:
        start = datetime.strptime(since, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return "a while"
    minutes = max(0, int((now - start).total_seconds() // 60))
    if minutes < 1:
        return "just now"
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


@section(10)
def waiting_queue(user_id: str, now: datetime) -> list[dict]:
    waiting = store.queue.waiting(WAITING_SHOWN + 1)
    blocks = [HeaderBlock(text="Waiting for a librarian")]
    if not waiting:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text="Nobody is waiting. :tada:")]))
    for place, conversation in enumerate(waiting[:WAITING_SHOWN], start=1):
        channel = channels.traits(conversation.channel).display_name
        text = (f"*{place}.* *{escape(conversation.label)}* · {channel} · waiting "
                f"{waited(conversation.waiting_since or conversation.created_at, now)}")
        blocks.append(SectionBlock(block_id=f"waiting:{conversation.conversation_id}", text=MarkdownTextObject(
            text=text), accessory=ButtonElement(text="Claim", action_id=CLAIM_ACTION,
                                               value=conversation.conversation_id, style="primary")))
    if len(waiting) > WAITING_SHOWN:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text="…and more: claim the oldest first.")]))
    blocks.append(DividerBlock())
    return [block.to_dict() for block in blocks]


BLOCKED_SHOWN = 25


@section(20)
def blocked_patrons(user_id: str, now: datetime) -> list[dict]:
    """Blocked patrons, newest first: the masked label only (never the number or address), with
    who blocked them and when, and Unblock."""
    blocked = store.blocks.list_blocked(BLOCKED_SHOWN + 1)
    if not blocked:
        return []
    blocks = [HeaderBlock(text="Blocked patrons")]
    for item in blocked[:BLOCKED_SHOWN]:
        channel = channels.traits(item["channel"]).display_name
        by = f" by <@{item['blocked_by']}>" if item["blocked_by"] else ""
        ago = waited(item["blocked_at"], now)
        text = f"*{escape(item['label'])}* · {escape(channel)} · blocked{by} {ago if ago == 'just now' else ago + ' ago'}"
        blocks.append(SectionBlock(block_id=f"blocked:{item['patron_id']}", text=MarkdownTextObject(text=text),
                                   accessory=ButtonElement(text="Unblock", action_id=UNBLOCK_ACTION,
                                                           value=item["patron_id"])))
    if len(blocked) > BLOCKED_SHOWN:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text="…and more.")]))
    blocks.append(DividerBlock())
    return [block.to_dict() for block in blocks]
