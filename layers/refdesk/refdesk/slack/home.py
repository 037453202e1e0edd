"""The app's Home tab: what a librarian sees when they open RefDesk in Slack.

API:
  view(user_id, now=None) -> dict
        the `home` view for that librarian: every registered section, in order
  choose_filter(job)
        the dispatcher's HomeFilterJob: remember what the librarian's tab shows, and publish it
  question_preview(text) -> str
        a patron's question as the tab previews it: redacted, one line, about 80 characters
  publish(user_id)
        views.publish of that view (the dispatcher only: slack.api makes the call)
  publish_for_staff(*also)
        republish for every librarian on duty, every one who opened it lately, and `also`
        (whenever a conversation changes: refdesk.lifecycle)
  @section(order)
        register a section: fn(user_id, now) -> list[dict] of blocks (slack_sdk's .to_dict()),
        [] to show nothing. Sections render by `order`, then name; the whole view keeps to
        Slack's 100 blocks (later sections are cut first). Built in:
          10  the filter (All channels, each channel, Mine: remembered per librarian, store.home),
              then the waiting queue: oldest first, channel, masked patron, waiting time, the
              question's preview, Claim, and how many more wait; or, for Mine, the librarian's own
              open conversations
          20  blocked patrons (refdesk.blocking): masked label, who blocked, when, Unblock
          30  canned replies (refdesk.canned_replies): label and start, Edit (its modal also
              deletes), Add

Republished on `app_home_opened` (a HomeOpenedJob through the queue) and whenever a
conversation joins the line or changes state (refdesk.lifecycle). Patron text is shown only as the
question's preview, redacted as the card redacts it, made from its first message the first time
it is shown and kept on it (store.conversations.set_preview): a publish reads the previews of its
rows in one BatchGetItem, and a conversation's messages only while it has no preview yet."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from slack_sdk.models.blocks import (ActionsBlock, ButtonElement, ContextBlock, DividerBlock, HeaderBlock,
                                     MarkdownTextObject, Option, SectionBlock, StaticSelectElement)

from refdesk import channels, store
from refdesk.models import Author, HomeFilterJob, Status
from refdesk.slack.actions import CLAIM_ACTION, HOME_FILTER_ACTION, UNBLOCK_ACTION
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


# --- the filter: every channel, one channel, or the librarian's own conversations ------------

ALL_CHANNELS, MINE = "all", "mine"
FILTER_CHOICES = (ALL_CHANNELS, *channels.CHANNELS, MINE)  # in the menu's order; the others are channel names


def filters() -> dict[str, str]:
    """Each choice of the filter -> its label."""
    labels = {ALL_CHANNELS: "All channels", MINE: "Mine"}
    return {choice: labels.get(choice) or channels.traits(choice).display_name for choice in FILTER_CHOICES}


def choose_filter(job: HomeFilterJob) -> None:
    """The dispatcher's: remember the librarian's choice and show it to them."""
    if job.choice in FILTER_CHOICES:  # checked by the listener; a channel retired since is ignored
        store.home.choose_filter(job.user, job.choice)
    publish(job.user)


def filter_block(choice: str) -> ActionsBlock:
    options = [Option(value=value, label=label) for value, label in filters().items()]
    return ActionsBlock(block_id="home_filter", elements=[StaticSelectElement(
        action_id=HOME_FILTER_ACTION, placeholder="Show…", options=options,
        initial_option=next(option for option in options if option.value == choice))])


# --- a one-line preview of the patron's question ---------------------------------------------

PREVIEW_LENGTH = 80


def question_preview(text: str) -> str:
    """The question redacted as the staff card shows it (refdesk.redaction), on one line, cut to
    about PREVIEW_LENGTH characters between words. Redacted first: a cut never leaves part of an
    identifier unmasked."""
    from refdesk import redaction

    line = " ".join(redaction.redact(text).text.split())
    if len(line) <= PREVIEW_LENGTH:
        return line
    cut = line[:PREVIEW_LENGTH + 1].rsplit(" ", 1)[0] if " " in line[:PREVIEW_LENGTH + 1] else line[:PREVIEW_LENGTH]
    return cut.rstrip(" ,.;:-") + "…"


def _previews(shown: list[str], summaries: dict[str, dict]) -> dict[str, str]:
    """Each shown conversation's preview, from its summary. One that has none yet is made from its
    first message once, the first time it is shown (right after it joins the line), and kept on the
    conversation (store.conversations.set_preview): no publish after reads messages again."""
    previews = {}
    for conversation_id in shown:
        summary = summaries.get(conversation_id, {})
        if "preview" not in summary:
            first = store.messages.list_after(conversation_id, limit=1)
            summary["preview"] = question_preview(first[0].text) if first and first[0].author is Author.PATRON else ""
            store.conversations.set_preview(conversation_id, summary["preview"])
        previews[conversation_id] = str(summary["preview"])
    return previews


def _row(block_id: str, text: str, preview: str, accessory: ButtonElement | None = None) -> SectionBlock:
    text += f"\n{escape(preview)}" if preview else ""
    return SectionBlock(block_id=block_id, text=MarkdownTextObject(text=text), accessory=accessory)


def _more(count: int, what: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=f"{count} more {what}.")])


def ago(since: str, now: datetime) -> str:
    """When something happened, for people: "just now", "4 min ago"."""
    how_long = waited(since, now)
    return how_long if how_long == "just now" else f"{how_long} ago"


@section(10)
def waiting_queue(user_id: str, now: datetime) -> list[dict]:
    """The filter, then the waiting line (of one channel if chosen), or the librarian's own open
    conversations. One BatchGetItem brings the rows' previews (store.conversations.summaries)."""
    choice = store.home.filter_of(user_id)
    choice = choice if choice in FILTER_CHOICES else ALL_CHANNELS
    blocks: list = [filter_block(choice)]
    blocks += _mine(user_id, now) if choice == MINE else _waiting(choice, now)
    blocks.append(DividerBlock())
    return [block.to_dict() for block in blocks]


def _waiting(choice: str, now: datetime) -> list:
    channel = "" if choice == ALL_CHANNELS else choice
    waiting = store.queue.waiting(WAITING_SHOWN + 1, channel=channel)
    title = "Waiting for a librarian" + (f" · {channels.traits(channel).display_name}" if channel else "")
    blocks: list = [HeaderBlock(text=title)]
    if not waiting:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text="Nobody is waiting. :tada:")]))
    shown = waiting[:WAITING_SHOWN]
    shown_ids = [conversation.conversation_id for conversation in shown]
    previews = _previews(shown_ids, store.conversations.summaries(shown_ids) if shown else {})
    for place, conversation in enumerate(shown, start=1):
        text = (f"*{place}.* *{escape(conversation.label)}* · {channels.traits(conversation.channel).display_name}"
                f" · waiting {waited(conversation.waiting_since or conversation.created_at, now)}")
        blocks.append(_row(f"waiting:{conversation.conversation_id}", text, previews[conversation.conversation_id],
                           ButtonElement(text="Claim", action_id=CLAIM_ACTION, value=conversation.conversation_id,
                                         style="primary")))
    if len(waiting) > WAITING_SHOWN:  # only then is the whole line counted
        blocks.append(_more(store.queue.count(channel) - WAITING_SHOWN, "waiting: claim the oldest first"))
    return blocks


def _mine(user_id: str, now: datetime) -> list:
    """The open conversations `user_id` has, most recently claimed first: the open ones that someone
    claimed (index ByActivity), whose holder one BatchGetItem reads with their previews."""
    claimed = [activity.conversation_id for activity in store.conversations.by_activity()
               if activity.assigned_at and not activity.waiting]
    summaries = store.conversations.summaries(claimed) if claimed else {}
    mine = sorted((summary for summary in summaries.values()
                   if summary.get("claimed_by") == user_id and summary.get("status") == Status.OPEN.value),
                  key=lambda summary: str(summary.get("claimed_at", "")), reverse=True)
    blocks: list = [HeaderBlock(text="Your open conversations")]
    if not mine:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text="You have no open conversations.")]))
    shown = mine[:WAITING_SHOWN]
    previews = _previews([str(summary["conversation_id"]) for summary in shown], summaries)
    for summary in shown:
        conversation_id = str(summary["conversation_id"])
        text = (f"*{escape(str(summary.get('label', '')))}* · "
                f"{channels.traits(str(summary.get('channel', ''))).display_name}"
                f" · claimed {ago(str(summary.get('claimed_at', '')), now)}")
        blocks.append(_row(f"mine:{conversation_id}", text, previews[conversation_id]))
    if len(mine) > WAITING_SHOWN:
        blocks.append(_more(len(mine) - WAITING_SHOWN, "of yours"))
    return blocks


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
        text = f"*{escape(item['label'])}* · {escape(channel)} · blocked{by} {ago(item['blocked_at'], now)}"
        blocks.append(SectionBlock(block_id=f"blocked:{item['patron_id']}", text=MarkdownTextObject(text=text),
                                   accessory=ButtonElement(text="Unblock", action_id=UNBLOCK_ACTION,
                                                           value=item["patron_id"])))
    if len(blocked) > BLOCKED_SHOWN:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text="…and more.")]))
    blocks.append(DividerBlock())
    return [block.to_dict() for block in blocks]


CANNED_SHOWN = 15


@section(30)
def canned_replies(user_id: str, now: datetime) -> list[dict]:
    """The desk's canned replies, Edit beside each, Add below (refdesk.canned_replies): one Query."""
    from refdesk import canned_replies as replies
    from refdesk.slack import cards

    return cards.canned_list(replies.all_replies(), CANNED_SHOWN)


def canned_reply_changed(job) -> None:
    """A canned reply added, edited or deleted (a CannedReplyJob): written, then the Home tabs on
    duty and the changer's show it (new cards offer it at once)."""
    from refdesk import canned_replies

    canned_replies.change(job)
    publish_for_staff(job.user)
