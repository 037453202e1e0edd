"""What RefDesk posts in the staff channel, built with slack_sdk's block models so Slack's
limits (3,000 characters a section, 50 blocks a message) are checked when a card is built."""
from __future__ import annotations

from slack_sdk.models.blocks import (ActionsBlock, Block, ButtonElement, ConfirmObject, ContextBlock, HeaderBlock,
                                     MarkdownTextObject, PlainTextObject, SectionBlock, UserSelectElement)

from refdesk.models import Conversation, ReplyTo
from refdesk.settings import get_settings
from refdesk.slack.actions import (BLOCK_ACTION, CLAIM_ACTION, CLOSE_ACTION, COMMENT_ACTION, INVITE_ACTION,
                                   QUICK_REPLY_ACTION, RATE_ACTION_PREFIX, READ_ACTION_PREFIX, REVEAL_ACTION,
                                   TOPIC_ACTION, TRANSCRIPT_ACTION, TRANSFER_ACTION)
from refdesk.slack.text import escape, escaped_chunks

BLOCK_LIMIT = 50
MAX_OPTIONS = 100  # a static_select's options
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
        # Every field of the follow-up form is patron text, masked like the rest (a name field can hold
        # a phone number): replies reach the address without staff seeing it.
        from refdesk import redaction

        who = " · ".join(escape(redaction.redact(part).text) for part in (reply_to.name, reply_to.address) if part)
        text += f"\nReply to: {who} (each reply is sent there)" if who else ""
    if conversation.after_hours:  # refdesk.waiting: the patron was told when the desk opens
        text += (f"\n:crescent_moon: Arrived while the desk was closed; the patron was told we open "
                 f"{escape(conversation.after_hours)}")
    return text


def root_card(conversation: Conversation, question: str, reply_to: ReplyTo = ReplyTo(), *,
              blocked_by: str = "") -> tuple[str, list[dict], list[list[dict]]]:
    """(fallback text, blocks, overflow) for a conversation in its state (`blocked_by`: who
    blocked its patron). Overflow is question text that did not fit in one message; it is posted
    in the thread. The question is shown redacted (refdesk.redaction), with Reveal among the
    actions when something was masked."""
    from refdesk import redaction

    redacted = redaction.redact(question)
    question = redacted.text
    first, *overflow = text_blocks(question)
    top, how, state, actions = as_dicts([section(heading(conversation, reply_to)), context(HOW_TO_REPLY),
                                         state_line(conversation, blocked_by),
                                         close_button(conversation.conversation_id)])
    actions["elements"][:0] = [element.to_dict() for element in assignment_elements(conversation)]
    actions["elements"] += desk_help_elements(conversation)  # Invite, "Quick reply…"
    if redacted.changed:
        actions["elements"].append(reveal_button(conversation.conversation_id))
    shorthand = glossary_blocks(question)  # refdesk.glossary
    patron = [ContextBlock(elements=[MarkdownTextObject(text=line) for line in conversation.context[:10]]).to_dict()
              ] if conversation.context else []  # refdesk.patron_context: already escaped
    room = BLOCK_LIMIT - 4 - len(shorthand) - len(patron)
    if first[room:]:
        overflow.insert(0, first[room:])
    return (f"{conversation.label}: {escaped_chunks(question, 300)[0]}",
            [top, *patron, *first[:room], *shorthand, how, state, actions], overflow)


STATE_BLOCK = "state"


def state_line(conversation: Conversation, blocked_by: str = "") -> ContextBlock:
    """Who has the conversation, shown on its card (store.queue keeps it): waiting / claimed by
    @x / transferred to @y / its patron blocked by @z. A closed card says who closed it instead
    (closed_card)."""
    if blocked_by:
        text = f":no_entry_sign: Patron blocked by <@{blocked_by}>: their messages no longer reach the desk"
    elif conversation.claimed_by and conversation.transferred_by:
        text = (f":arrows_counterclockwise: Transferred to <@{conversation.claimed_by}> "
                f"by <@{conversation.transferred_by}>")
    elif conversation.claimed_by:
        text = f":raising_hand: Claimed by <@{conversation.claimed_by}>"
    else:
        text = ":hourglass_flowing_sand: Waiting for a librarian: Claim it, or reply in the thread"
    return ContextBlock(block_id=STATE_BLOCK, elements=[MarkdownTextObject(text=text)])


def assignment_elements(conversation: Conversation) -> list:
    """Claim (while nobody has it) and "Transfer to…" (a users_select), before Close."""
    claim = [ButtonElement(text="Claim", action_id=CLAIM_ACTION, value=conversation.conversation_id,
                           style="primary")] if not conversation.claimed_by else []
    return [*claim, UserSelectElement(placeholder="Transfer to…", action_id=TRANSFER_ACTION)]


def close_button(conversation_id: str) -> ActionsBlock:
    return ActionsBlock(block_id="conversation", elements=[ButtonElement(
        text="Close", action_id=CLOSE_ACTION, value=conversation_id, style="danger",
        confirm=ConfirmObject(
            title="Close this conversation?",
            text=PlainTextObject(text="The patron gets the closing message; their next message opens a new "
                                      "conversation."),
            confirm="Close", deny="Keep open")), block_button(conversation_id)])


def block_button(conversation_id: str) -> ButtonElement:
    """Block patron (refdesk.blocking), behind Slack's confirm dialog."""
    return ButtonElement(
        text="Block patron", action_id=BLOCK_ACTION, value=conversation_id,
        confirm=ConfirmObject(
            title="Block this patron?",
            text=PlainTextObject(text="Their messages will no longer reach the desk, on any channel; they are told "
                                      "so once. Undo it with Unblock in RefDesk's Home tab."),
            confirm="Block", deny="Cancel", style="danger"))


def closed_card(blocks: list[dict], closed_by: str) -> list[dict]:
    """The card without its buttons, saying who closed it; nobody (`closed_by` ""): the idle close."""
    kept = [block for block in blocks if block.get("type") != "actions" and block.get("block_id") != STATE_BLOCK]
    closed = f"Closed by <@{closed_by}>" if closed_by else idle_closed_line()
    return [*kept, context(f":white_check_mark: {closed}").to_dict()]


def idle_closed_line() -> str:
    """What an idle-closed card says (refdesk.idle)."""
    return f"Closed after {get_settings().idle_close_hours:g} h without a message (the patron was not told)"


# --- help for the librarian: Invite a department, quick replies, the shorthand glossary ------

def glossary_blocks(text: str) -> list[dict]:
    """A context line explaining the shorthand a patron's message uses, or nothing."""
    from refdesk import glossary

    line = glossary.line(text)
    return [context(f":speech_balloon: {escape(line)}").to_dict()] if line else []


def desk_help_elements(conversation: Conversation) -> list[dict]:
    """Invite (a department) and "Quick reply…" for the card's actions, when the desk has
    departments (refdesk.deskconfig) or canned replies (refdesk.canned_replies: a static_select,
    which Slack filters as one types, of the first 100)."""
    from slack_sdk.models.blocks import Option, StaticSelectElement

    from refdesk import canned_replies, deskconfig

    elements: list = []
    if deskconfig.get().departments:
        elements.append(ButtonElement(text="Invite", action_id=INVITE_ACTION, value=conversation.conversation_id))
    replies = canned_replies.all_replies()[:MAX_OPTIONS]
    if replies:
        elements.append(StaticSelectElement(
            placeholder="Quick reply…", action_id=QUICK_REPLY_ACTION,
            options=[Option(value=reply.reply_id, text=reply.label) for reply in replies]))
    return [element.to_dict() for element in elements]


INVITE_CALLBACK = "invite_department"
DEPARTMENT_INPUT = "department"
NOTE_INPUT = "note"
MAX_NOTE = 500


def invite_modal(conversation_id: str, channel: str, root_ts: str) -> dict:
    """The Invite modal: the configured departments (a static_select) and an optional note.
    private_metadata carries the conversation (and its card) to the view_submission."""
    import json

    from slack_sdk.models.blocks import InputBlock, Option, PlainTextInputElement, StaticSelectElement
    from slack_sdk.models.views import View

    from refdesk import deskconfig

    departments = deskconfig.get().departments
    options = [Option(value=department.id, text=department.name) for department in departments]
    directory = "\n".join(f"• *{escape(department.name)}*" + (f": {escape(department.description)}"
                                                              if department.description else "")
                          for department in departments)
    view = View(
        type="modal", callback_id=INVITE_CALLBACK, title="Invite a department", submit="Invite", close="Cancel",
        private_metadata=json.dumps({"conversation_id": conversation_id, "channel": channel, "ts": root_ts}),
        blocks=[
            section("Pull a department into this conversation: its group is mentioned in the thread and "
                    "its channel gets a link. Their replies reach the patron credited with the department."),
            context(directory[:3000]),
            InputBlock(block_id=DEPARTMENT_INPUT, label="Department",
                       element=StaticSelectElement(action_id=DEPARTMENT_INPUT, placeholder="Choose a department",
                                                   options=options)),
            InputBlock(block_id=NOTE_INPUT, label="What do you need from them?", optional=True,
                       element=PlainTextInputElement(action_id=NOTE_INPUT, multiline=True, max_length=MAX_NOTE)),
        ])
    return view.to_dict()


def quick_reply_post(label: str, text: str, user: str) -> tuple[str, list[dict]]:
    """(fallback, blocks) of a quick reply as posted in the thread: its text, credited to the
    librarian who chose it (✅/❌ land on this post)."""
    blocks = [section(chunk) for chunk in escaped_chunks(text)]
    blocks.append(context(f":zap: Quick reply \u201c{escape(label)}\u201d sent by <@{user}>"))
    return f"Quick reply: {escaped_chunks(text, 300)[0]}", as_dicts(blocks)



# --- assessment (refdesk.assessment): READ and topic on the closed card; a patron's rating ---

ASSESSMENT_BLOCK = "assessment"
READ_HINT = "READ scale: 1 directional … 6 in-depth research"


def assessment_blocks(conversation_id: str, read_level: int, topic_label: str, topics) -> list[dict]:
    """What the closed card offers: READ 1-6 buttons and a topic menu until each is recorded, then
    what was recorded (one click each; a second click is told it was recorded already)."""
    from slack_sdk.models.blocks import Option, StaticSelectElement

    recorded = [f"READ {read_level}" if read_level else "", f"topic: {escape(topic_label)}" if topic_label else ""]
    blocks: list[Block] = []
    if any(recorded):
        blocks.append(context(":bar_chart: Recorded " + " · ".join(part for part in recorded if part)))
    elements: list = []
    if not read_level:
        elements += [ButtonElement(text=str(level), action_id=f"{READ_ACTION_PREFIX}{level}",
                                   value=f"{conversation_id}:{level}") for level in range(1, 7)]
    if not topic_label and topics:
        elements.append(StaticSelectElement(
            placeholder="Topic…", action_id=TOPIC_ACTION,
            options=[Option(text=topic.label, value=f"{conversation_id}:{topic.id}") for topic in topics][:100]))
    if elements:
        blocks += [context(READ_HINT if not read_level else "Tag the topic"),
                   ActionsBlock(block_id=ASSESSMENT_BLOCK, elements=elements)]
    return as_dicts(blocks)


def rating_prompt(conversation_id: str) -> tuple[str, list[dict]]:
    """The optional 1-5 rating offered to a Slack Connect patron after the closing line, and the
    transcript by e-mail (`transcript_offer`)."""
    text = "How did we do? Rate this conversation from 1 (poor) to 5 (excellent). Optional."
    return text, as_dicts([section(text), ActionsBlock(elements=[
        ButtonElement(text=str(rating), action_id=f"{RATE_ACTION_PREFIX}{rating}", value=f"{conversation_id}:{rating}")
        for rating in range(1, 6)]), transcript_offer(conversation_id)])


def rating_thanks(conversation_id: str, thanks: str, *, comment: bool = True) -> tuple[str, list[dict]]:
    """What the rating prompt becomes once the patron rated: `thanks`, and "Add a comment", which
    opens `comment_modal` (not once they commented: `comment` false); the transcript offer stays."""
    actions = [ActionsBlock(elements=[ButtonElement(text="Add a comment", action_id=COMMENT_ACTION,
                                                    value=conversation_id)])] if comment else []
    return thanks, as_dicts([section(thanks), *actions, transcript_offer(conversation_id)])


def transcript_offer(conversation_id: str) -> SectionBlock:
    """"E-mail me this conversation" (refdesk.transcript_mail), a section's button so that the
    rating's own buttons stay the post's one actions block: it opens `transcript_modal`."""
    return SectionBlock(text=MarkdownTextObject(text="Would you like a copy of this conversation?"),
                        accessory=ButtonElement(text="E-mail me this conversation", action_id=TRANSCRIPT_ACTION,
                                                value=conversation_id))


COMMENT_CALLBACK = "rating_comment"
COMMENT_INPUT = "comment"


def comment_modal(conversation_id: str, channel: str, message_ts: str, max_length: int) -> dict:
    """The patron's optional comment on their rating: one text input of at most `max_length`
    characters (Slack refuses more before it is sent)."""
    from slack_sdk.models.blocks import InputBlock, PlainTextInputElement

    return _patron_modal(COMMENT_CALLBACK, "Add a comment", (conversation_id, channel, message_ts), [
        InputBlock(block_id=COMMENT_INPUT, label="Anything you would like the library to know?", optional=True,
                   element=PlainTextInputElement(action_id=COMMENT_INPUT, multiline=True, max_length=max_length)),
        context("Please leave out personal details: phone numbers, e-mail addresses and card numbers "
                "are removed before the comment is kept.")])


TRANSCRIPT_CALLBACK = "email_transcript"
EMAIL_INPUT = "email"
MAX_ADDRESS = 254  # characters, as refdesk.channels.email takes an address


def transcript_modal(conversation_id: str, channel: str, message_ts: str) -> dict:
    """A Slack Connect patron's "E-mail me this conversation": one address, sent once and not kept after."""
    from slack_sdk.models.blocks import InputBlock, PlainTextInputElement

    return _patron_modal(TRANSCRIPT_CALLBACK, "E-mail this conversation", (conversation_id, channel, message_ts), [
        InputBlock(block_id=EMAIL_INPUT, label="Your e-mail address", element=PlainTextInputElement(
            action_id=EMAIL_INPUT, placeholder="name@example.org", max_length=MAX_ADDRESS)),
        context("We e-mail what you saw of this conversation to this address, once, and do not keep the "
                "address after sending it.")])


def _patron_modal(callback_id: str, title: str, card: tuple[str, str, str], blocks: list[Block]) -> dict:
    """A modal a patron submits ("Send", "Cancel"), opened from a post in their shared thread:
    private_metadata carries the conversation and that post (payloads.CardRef) to the view_submission."""
    import json

    from slack_sdk.models.views import View

    conversation_id, channel, message_ts = card
    return View(type="modal", callback_id=callback_id, title=title, submit="Send", close="Cancel", blocks=blocks,
                private_metadata=json.dumps({"conversation_id": conversation_id, "channel": channel,
                                             "ts": message_ts})).to_dict()


# --- canned replies (refdesk.canned_replies) ------------------------------------------------

CANNED_CALLBACK = "canned_reply"
CANNED_LABEL_INPUT, CANNED_TEXT_INPUT, CANNED_DELETE_INPUT = "label", "text", "delete"


def canned_modal(reply=None) -> dict:
    """Add a canned reply, or edit `reply` (a store.canned.CannedReply) with a "Delete this reply"
    box: deleting takes the modal, a tick and Submit, never one stray click."""
    import json

    from slack_sdk.models.blocks import CheckboxesElement, InputBlock, Option, PlainTextInputElement
    from slack_sdk.models.views import View

    from refdesk import canned_replies

    variables = ", ".join("{" + name + "}" for name in canned_replies.VARIABLES)
    blocks = [
        InputBlock(block_id=CANNED_LABEL_INPUT, label="Label (what the card's menu shows)",
                   element=PlainTextInputElement(action_id=CANNED_LABEL_INPUT, max_length=canned_replies.MAX_LABEL,
                                                 initial_value=reply.label if reply else None)),
        InputBlock(block_id=CANNED_TEXT_INPUT, label="Reply", hint=f"Variables filled when sent: {variables}",
                   element=PlainTextInputElement(action_id=CANNED_TEXT_INPUT, multiline=True,
                                                 max_length=canned_replies.MAX_TEXT,
                                                 initial_value=reply.text if reply else None)),
    ]
    if reply:
        blocks.append(InputBlock(block_id=CANNED_DELETE_INPUT, label="Delete", optional=True,
                                 element=CheckboxesElement(action_id=CANNED_DELETE_INPUT, options=[
                                     Option(value="delete", text="Delete this canned reply")])))
    return View(type="modal", callback_id=CANNED_CALLBACK, title="Edit canned reply" if reply else "Add canned reply",
                submit="Save", close="Cancel", private_metadata=json.dumps({"reply_id": reply.reply_id if reply else ""}),
                blocks=blocks).to_dict()


def canned_list(replies, shown: int) -> list[dict]:
    """The Home tab's "Canned replies": each label and its start, Edit beside it; Add below."""
    from refdesk.slack.actions import CANNED_ADD_ACTION, CANNED_EDIT_ACTION

    blocks: list[Block] = [HeaderBlock(text="Canned replies")]
    for reply in replies[:shown]:
        start = reply.text if len(reply.text) <= 60 else reply.text[:59].rsplit(" ", 1)[0] + "…"
        blocks.append(SectionBlock(block_id=f"canned:{reply.reply_id}",
                                   text=MarkdownTextObject(text=f"*{escape(reply.label)}* · {escape(start)}"),
                                   accessory=ButtonElement(text="Edit", action_id=CANNED_EDIT_ACTION,
                                                           value=reply.reply_id)))
    if len(replies) > shown:
        blocks.append(context(f"{len(replies) - shown} more: the card's menu offers them all."))
    blocks.append(ActionsBlock(elements=[ButtonElement(text="Add a canned reply", action_id=CANNED_ADD_ACTION)]))
    return [block.to_dict() for block in blocks]


# --- redaction (refdesk.redaction, refdesk.reveal) -----------------------------------------

def reveal_button(conversation_id: str) -> dict:
    """Reveal, on a patron message shown redacted: its original, to the presser only."""
    return ButtonElement(text="Reveal", action_id=REVEAL_ACTION, value=conversation_id).to_dict()


def reveal_actions(conversation_id: str) -> dict:
    """The actions block of a later patron message (a thread post) shown redacted."""
    return {"type": "actions", "block_id": "reveal", "elements": [reveal_button(conversation_id)]}
