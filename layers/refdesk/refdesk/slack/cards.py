"""What RefDesk posts in the staff channel, built with slack_sdk's block models so Slack's
limits (3,000 characters a section, 50 blocks a message) are checked when a card is built."""
from __future__ import annotations

from slack_sdk.models.blocks import (ActionsBlock, Block, ButtonElement, ConfirmObject, ContextBlock,
                                     MarkdownTextObject, PlainTextObject, SectionBlock)

from refdesk.models import Conversation, ReplyTo
from refdesk.slack.interactions import CLOSE_ACTION
from refdesk.slack.text import escape, escaped_chunks

BLOCK_LIMIT = 50
HOW_TO_REPLY = "Reply in this thread to answer the patron. Start with `note:` to keep a reply internal."


def section(mrkdwn: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=mrkdwn))


def context(mrkdwn: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=mrkdwn)])


def as_dicts(blocks: list[Block]) -> list[dict]:
    """What the Web API takes; building the dicts is where slack_sdk validates the limits."""
    return [block.to_dict() for block in blocks]


def text_blocks(text: str) -> list[list[dict]]:
    """Patron text as sections, grouped into messages of at most 50 blocks."""
    sections = as_dicts([section(chunk) for chunk in escaped_chunks(text)])
    return [sections[i:i + BLOCK_LIMIT] for i in range(0, len(sections), BLOCK_LIMIT)]


def heading(conversation: Conversation, reply_to: ReplyTo) -> str:
    text = f"*{escape(conversation.label)}*"
    if conversation.follow_up:
        text += " · :envelope: *follow-up requested* (asked while nobody was on duty)"
        who = " · ".join(escape(part) for part in (reply_to.name, reply_to.address) if part)
        text += f"\nReply to: {who}" if who else ""
    return text


def root_card(conversation: Conversation, question: str,
              reply_to: ReplyTo = ReplyTo()) -> tuple[str, list[dict], list[list[dict]]]:
    """(fallback text, blocks, overflow) for a new conversation. Overflow is question text that
    did not fit in one message; it is posted in the thread."""
    first, *overflow = text_blocks(question)
    top, how, actions = as_dicts([section(heading(conversation, reply_to)), context(HOW_TO_REPLY),
                                  close_button(conversation.conversation_id)])
    room = BLOCK_LIMIT - 3
    if first[room:]:
        overflow.insert(0, first[room:])
    return f"{conversation.label}: {escaped_chunks(question, 300)[0]}", [top, *first[:room], how, actions], overflow


def close_button(conversation_id: str) -> ActionsBlock:
    return ActionsBlock(block_id="conversation", elements=[ButtonElement(
        text="Close", action_id=CLOSE_ACTION, value=conversation_id, style="danger",
        confirm=ConfirmObject(
            title="Close this conversation?",
            text=PlainTextObject(text="The patron gets the closing message; their next message opens a new "
                                      "conversation."),
            confirm="Close", deny="Keep open"))])


def closed_card(blocks: list[dict], closed_by: str) -> list[dict]:
    kept = [block for block in blocks if block.get("type") != "actions"]
    return [*kept, context(f":white_check_mark: Closed by <@{closed_by}>").to_dict()]
