"""The shapes of what Slack sends RefDesk, declared once (refdesk.shapes) and checked where the
payload is parsed (refdesk.slack.router, refdesk.slack.commands): an event envelope and the
message events RefDesk listens to, an interaction (block_actions, view_submission) and its
actions, a slash command. Only the fields RefDesk reads are declared; everything else Slack
sends is left alone. Ids and timestamps are checked for their form, so a list, a 5,000-digit
number or "NaN" where a ts belongs is a 400 at the edge, not a job that fails later."""
from __future__ import annotations

from typing import Annotated, Literal, NotRequired, TypedDict

from refdesk.shapes import Matches

UserId = Annotated[str, Matches(r"[UWB][A-Z0-9]{2,30}")]
TeamId = Annotated[str, Matches(r"[TE][A-Z0-9]{2,30}")]
ChannelId = Annotated[str, Matches(r"[CDG][A-Z0-9]{2,30}")]
Ts = Annotated[str, Matches(r"\d{1,12}\.\d{1,9}")]
ActionId = Annotated[str, Matches(r"[A-Za-z0-9_.:-]{1,255}")]
EventId = Annotated[str, Matches(r"[A-Za-z0-9_-]{1,100}")]
Text = str


# --- the Events API -------------------------------------------------------------------------

class Authorization(TypedDict):
    team_id: NotRequired[TeamId | None]
    enterprise_id: NotRequired[TeamId | None]
    user_id: NotRequired[UserId | None]
    is_bot: NotRequired[bool]


class AnyEvent(TypedDict):
    """What every event has; the rest of its shape is its listener's (router.event(…, shape=…))."""
    type: Text
    subtype: NotRequired[Text | None]


class EventEnvelope(TypedDict):
    """An event_callback: the event, and where it was delivered (the library's installation)."""
    type: Literal["event_callback"]
    event_id: EventId
    event: AnyEvent
    team_id: NotRequired[TeamId | None]
    authorizations: NotRequired[list[Authorization]]
    is_ext_shared_channel: NotRequired[bool]


class AuthoredMessage(TypedDict):
    """A message as events show it: who wrote it, and the teams Slack says they belong to."""
    user: NotRequired[UserId]
    bot_id: NotRequired[str | None]
    text: NotRequired[Text]
    ts: NotRequired[Ts]
    thread_ts: NotRequired[Ts]
    team: NotRequired[TeamId | None]
    user_team: NotRequired[TeamId | None]
    source_team: NotRequired[TeamId | None]
    files: NotRequired[list[dict]]
    edited: NotRequired[dict]


class MessageEvent(AuthoredMessage):
    """A message, a thread_broadcast or a file_share."""
    type: Literal["message"]
    channel: ChannelId
    subtype: NotRequired[str]


class MessageChanged(TypedDict):
    """message_changed / message_deleted: the message as it is now or as it was."""
    type: Literal["message"]
    subtype: Literal["message_changed", "message_deleted"]
    channel: ChannelId
    message: NotRequired[AuthoredMessage]
    previous_message: NotRequired[AuthoredMessage]


class AppHomeOpened(TypedDict):
    type: Literal["app_home_opened"]
    user: UserId
    tab: NotRequired[str]


# --- interactivity --------------------------------------------------------------------------

class Actor(TypedDict):
    id: UserId
    team_id: NotRequired[TeamId | None]


class Team(TypedDict):
    id: NotRequired[TeamId | None]


class Container(TypedDict):
    type: NotRequired[str]
    message_ts: NotRequired[Ts]
    channel_id: NotRequired[ChannelId]
    thread_ts: NotRequired[Ts]


class ChannelRef(TypedDict):
    id: NotRequired[ChannelId]


class MessageRef(TypedDict):
    ts: NotRequired[Ts]
    thread_ts: NotRequired[Ts]


class Option(TypedDict):
    value: Text


class Action(TypedDict):
    """One element pressed or chosen; which of value, selected_option and selected_user it
    carries depends on the element."""
    action_id: ActionId
    value: NotRequired[Text]
    selected_option: NotRequired[Option | None]
    selected_user: NotRequired[UserId | None]
    action_ts: NotRequired[Ts]


class BlockActions(TypedDict):
    type: Literal["block_actions"]
    user: Actor
    actions: list[Action]
    team: NotRequired[Team | None]
    container: NotRequired[Container]
    channel: NotRequired[ChannelRef | None]
    message: NotRequired[MessageRef | None]
    trigger_id: NotRequired[Text]


class ViewState(TypedDict):
    values: dict


class View(TypedDict):
    id: Annotated[str, Matches(r"[A-Za-z0-9_-]{1,100}")]
    callback_id: NotRequired[Text]
    private_metadata: NotRequired[Text]
    state: NotRequired[ViewState]


class ViewSubmission(TypedDict):
    type: Literal["view_submission"]
    user: Actor
    view: View
    team: NotRequired[Team | None]


class Interaction(TypedDict):
    """Any interactivity payload: its type says which shape the rest has."""
    type: Text


# --- slash commands -------------------------------------------------------------------------

class SlashCommand(TypedDict):
    """A slash command's form (every field arrives as text)."""
    user_id: UserId
    team_id: TeamId
    text: NotRequired[Text]
    user_name: NotRequired[Text]
    enterprise_id: NotRequired[Text]


# --- RefDesk's own modals -------------------------------------------------------------------

ConversationId = Annotated[str, Matches(r"[A-Za-z0-9_-]{1,100}")]


class CardRef(TypedDict):
    """A modal's private_metadata (JSON): the conversation card it was opened from."""
    conversation_id: ConversationId
    channel: ChannelId
    ts: Ts


class SelectState(TypedDict):
    selected_option: NotRequired[Option | None]


class TextState(TypedDict):
    value: NotRequired[Text | None]


# The rating comment modal's state.values (cards.COMMENT_INPUT is both ids); an empty input is left out.
CommentValues = TypedDict("CommentValues", {
    "comment": NotRequired[TypedDict("CommentBlock", {"comment": NotRequired[TextState]})],
})

# The transcript modal's state.values (cards.EMAIL_INPUT is both ids): "E-mail me this conversation".
TranscriptValues = TypedDict("TranscriptValues", {
    "email": NotRequired[TypedDict("EmailBlock", {"email": NotRequired[TextState]})],
})

# The Invite modal's state.values: {block_id: {action_id: state}} (the two ids are the same; cards.DEPARTMENT_INPUT,
# cards.NOTE_INPUT).
# The canned reply modal's state.values (cards.CANNED_LABEL_INPUT, cards.CANNED_TEXT_INPUT are both ids).
CannedValues = TypedDict("CannedValues", {
    "label": TypedDict("LabelBlock", {"label": NotRequired[TextState]}),
    "text": TypedDict("ReplyTextBlock", {"text": NotRequired[TextState]}),
})


class CannedRef(TypedDict):
    """The canned reply modal's private_metadata (JSON): the reply edited, "" for a new one."""
    reply_id: str


InviteValues = TypedDict("InviteValues", {
    "department": TypedDict("DepartmentBlock", {"department": SelectState}),
    "note": NotRequired[TypedDict("NoteBlock", {"note": NotRequired[TextState]})],
})
