"""Button listeners: which presses become jobs."""
from __future__ import annotations

import json
import re

from refdesk.errors import BadRequest
from refdesk.models import ClaimJob, CloseJob, TransferJob
from refdesk.models import InviteJob, QuickReplyJob
from refdesk.models import BlockPatronJob, UnblockPatronJob
from refdesk.models import AssessJob, RatingJob
from refdesk.slack.router import router

CLOSE_ACTION = "close_conversation"
CLAIM_ACTION = "claim_conversation"  # on the card and in the Home tab; value: the conversation id
TRANSFER_ACTION = "transfer_conversation"  # the card's users_select: selected_user
BLOCK_ACTION = "block_patron"  # the card's Block patron button (confirm dialog); value: the conversation id
UNBLOCK_ACTION = "unblock_patron"  # the Home tab's Unblock button; value: the patron's keyed hash


@router.action(CLOSE_ACTION)
def close(action: dict, payload: dict) -> CloseJob | None:
    if not action.get("value"):
        return None
    channel, root_ts = _card(payload)
    return CloseJob(conversation_id=str(action["value"]), user=_user_id(payload), channel=channel, root_ts=root_ts,
                    action_ts=str(action.get("action_ts", "")))


@router.action(CLAIM_ACTION)
def claim(action: dict, payload: dict) -> ClaimJob:
    """Claim, on a card (the thread's FIFO group) or in the Home tab (the conversation's)."""
    return _card_job(ClaimJob, action, payload, "claim")


@router.action(TRANSFER_ACTION)
def transfer(action: dict, payload: dict) -> TransferJob:
    """A colleague picked in the card's "Transfer to…" menu; the card's thread names the conversation."""
    to_user = action.get("selected_user")
    if not isinstance(to_user, str) or not to_user:
        raise BadRequest("transfer without selected_user")
    channel, root_ts = _card(payload)
    if not channel or not root_ts:
        raise BadRequest("transfer outside a conversation card")
    return TransferJob(user=_user_id(payload), to_user=to_user, channel=channel, root_ts=root_ts,
                       action_ts=str(action.get("action_ts", "")))


def _user_id(payload: dict) -> str:
    user = payload.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str) or not user["id"]:
        raise BadRequest("interaction without a user")
    return user["id"]


def _conversation_id(action: dict, what: str, pattern: re.Pattern | None = None) -> str:
    """The conversation id a card's button carries as its value; anything else is a bad request."""
    value = action.get("value")
    if not isinstance(value, str) or not value or (pattern is not None and not pattern.fullmatch(value)):
        raise BadRequest(f"{what} without a conversation")
    return value


def _card(payload: dict) -> tuple[str, str]:
    """(channel, ts) of the message the action was on; ("", "") in a view (the Home tab)."""
    channel, container, message = (_object(payload, name) for name in ("channel", "container", "message"))
    if container.get("type") == "view":
        return "", ""
    return (str(channel.get("id") or container.get("channel_id") or ""),
            str(container.get("message_ts") or message.get("ts") or ""))


def _card_job(job_type, action: dict, payload: dict, what: str):
    """The job a button names its conversation for, with the card it was pressed on (none in the
    Home tab) and who pressed it."""
    conversation_id = _conversation_id(action, what)
    channel, root_ts = _card(payload)
    return job_type(conversation_id=conversation_id, user=_user_id(payload), channel=channel, root_ts=root_ts,
                    action_ts=str(action.get("action_ts", "")))


def _object(payload: dict, name: str) -> dict:
    value = payload.get(name)
    return value if isinstance(value, dict) else {}


def parse_payload(form: dict[str, str]) -> dict:
    """Interactivity posts one form field, `payload`, holding JSON."""
    try:
        payload = json.loads(form.get("payload") or "")
    except (ValueError, RecursionError) as exc:
        raise BadRequest("payload field missing or not JSON") from exc
    if not isinstance(payload, dict):
        raise BadRequest("payload is not an object")
    return payload


# --- departments and quick replies (refdesk.departments) -----------------------------------

INVITE_ACTION = "invite_department"  # the card's Invite button (value: the conversation id): opens a modal
QUICK_REPLY_ACTION = "quick_reply"  # the card's "Quick reply…" static_select (selected_option: a reply id)
SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
CHANNEL_ID = re.compile(r"[CDG][A-Z0-9]{2,30}")
TS = re.compile(r"\d{1,12}\.\d{1,9}")


@router.modal(INVITE_ACTION)
def invite_modal(action: dict, payload: dict) -> dict:
    """The Invite modal, opened by the webhook itself: Slack's trigger_id lasts 3 seconds."""
    from refdesk.slack import cards

    conversation_id = _conversation_id(action, "invite", SAFE_ID)
    channel, root_ts = _card(payload)
    if not CHANNEL_ID.fullmatch(channel) or not TS.fullmatch(root_ts):
        raise BadRequest("invite outside a conversation card")
    _user_id(payload)
    return cards.invite_modal(conversation_id, channel, root_ts)


@router.action(QUICK_REPLY_ACTION)
def quick_reply(action: dict, payload: dict) -> QuickReplyJob:
    from refdesk import deskconfig

    selected = action.get("selected_option")
    reply_id = selected.get("value") if isinstance(selected, dict) else None
    if not isinstance(reply_id, str) or not reply_id:
        raise BadRequest("quick reply without selected_option")
    if deskconfig.get().quick_reply(reply_id) is None:
        raise BadRequest("no such quick reply")
    channel, root_ts = _card(payload)
    if not CHANNEL_ID.fullmatch(channel) or not TS.fullmatch(root_ts):
        raise BadRequest("quick reply outside a conversation card")
    action_ts = action.get("action_ts")
    if not isinstance(action_ts, str) or not action_ts:
        raise BadRequest("quick reply without action_ts")
    return QuickReplyJob(reply_id=reply_id, user=_user_id(payload), channel=channel, root_ts=root_ts,
                         action_ts=action_ts)


@router.view("invite_department")  # refdesk.slack.cards.INVITE_CALLBACK
def invite_submitted(view: dict, payload: dict) -> InviteJob:
    """The Invite modal submitted: which department, for which conversation (private_metadata)."""
    from refdesk import deskconfig
    from refdesk.slack import cards

    try:
        metadata = json.loads(view.get("private_metadata") or "")
    except (TypeError, ValueError, RecursionError) as exc:
        raise BadRequest("invite modal without private_metadata") from exc
    if not isinstance(metadata, dict):
        raise BadRequest("invite modal's private_metadata is not an object")
    conversation_id, channel, root_ts = (metadata.get(name) for name in ("conversation_id", "channel", "ts"))
    if not (isinstance(conversation_id, str) and SAFE_ID.fullmatch(conversation_id)
            and isinstance(channel, str) and CHANNEL_ID.fullmatch(channel)
            and isinstance(root_ts, str) and TS.fullmatch(root_ts)):
        raise BadRequest("invite modal's private_metadata names no conversation card")
    values = (view.get("state") or {}).get("values") if isinstance(view.get("state"), dict) else None
    if not isinstance(values, dict):
        raise BadRequest("invite modal without state")
    selected = _input(values, cards.DEPARTMENT_INPUT).get("selected_option")
    department_id = selected.get("value") if isinstance(selected, dict) else None
    if not isinstance(department_id, str) or deskconfig.get().department(department_id) is None:
        raise BadRequest("invite modal without a known department")
    note = _input(values, cards.NOTE_INPUT).get("value") or ""
    if not isinstance(note, str):
        raise BadRequest("invite modal's note is not text")
    submission = view.get("id")
    if not isinstance(submission, str) or not SAFE_ID.fullmatch(submission):
        raise BadRequest("invite modal without an id")
    return InviteJob(conversation_id=conversation_id, department_id=department_id, user=_user_id(payload),
                     submission=submission, channel=channel, root_ts=root_ts, note=note[:cards.MAX_NOTE])


def _input(values: dict, block_id: str) -> dict:
    """An input's state (block_id and action_id are the same in RefDesk's modals)."""
    block = values.get(block_id)
    element = block.get(block_id) if isinstance(block, dict) else None
    return element if isinstance(element, dict) else {}


@router.action(BLOCK_ACTION)
def block_patron(action: dict, payload: dict) -> BlockPatronJob:
    """Block patron, pressed (and confirmed) on a conversation card."""
    return _card_job(BlockPatronJob, action, payload, "block")


@router.action(UNBLOCK_ACTION)
def unblock_patron(action: dict, payload: dict) -> UnblockPatronJob:
    """Unblock, pressed in the Home tab's "Blocked patrons"."""
    patron_id = action.get("value")
    if not isinstance(patron_id, str) or not re.fullmatch(r"[a-z2-7]{16,64}", patron_id):
        raise BadRequest("unblock without a patron")
    return UnblockPatronJob(patron_id=patron_id, user=_user_id(payload), action_ts=str(action.get("action_ts", "")))


# --- assessment (refdesk.assessment): READ and topic on the closed card; a patron's rating ---

READ_ACTION_PREFIX = "read_level_"  # read_level_1 … read_level_6; value: "{conversation id}:{level}"
TOPIC_ACTION = "topic_tag"  # the closed card's static_select; selected_option value: "{conversation id}:{topic}"
RATE_ACTION_PREFIX = "rate_"  # rate_1 … rate_5 in a Slack Connect thread; value: "{conversation id}:{rating}"


def _pair(value, pattern: str) -> tuple[str, str]:
    if not isinstance(value, str) or not re.fullmatch(rf"[A-Za-z0-9_-]{{1,100}}:{pattern}", value):
        raise BadRequest("assessment without a conversation and a value")
    conversation_id, _, chosen = value.partition(":")
    return conversation_id, chosen


def _assess(payload: dict, action: dict, conversation_id: str, **chosen) -> AssessJob:
    channel, root_ts = _card(payload)
    if not CHANNEL_ID.fullmatch(channel) or not TS.fullmatch(root_ts):
        raise BadRequest("assessment outside a conversation card")
    return AssessJob(conversation_id=conversation_id, user=_user_id(payload), channel=channel, root_ts=root_ts,
                     action_ts=str(action.get("action_ts", "")), **chosen)


def read_level(action: dict, payload: dict) -> AssessJob:
    conversation_id, level = _pair(action.get("value"), "[1-6]")
    return _assess(payload, action, conversation_id, read_level=int(level))


def topic_tag(action: dict, payload: dict) -> AssessJob:
    selected = action.get("selected_option")
    conversation_id, topic = _pair(selected.get("value") if isinstance(selected, dict) else None, "[a-z0-9_-]{1,40}")
    return _assess(payload, action, conversation_id, topic=topic)


def rate(action: dict, payload: dict) -> RatingJob:
    """A Slack Connect patron's rating, pressed in the shared thread after close."""
    conversation_id, rating = _pair(action.get("value"), "[1-5]")
    channel, message_ts = _card(payload)
    if not CHANNEL_ID.fullmatch(channel) or not TS.fullmatch(message_ts):
        raise BadRequest("rating outside its message")
    _user_id(payload)
    return RatingJob(conversation_id=conversation_id, rating=int(rating), channel="slack_connect",
                     slack_channel=channel, message_ts=message_ts)


for _level in range(1, 7):
    router.action(f"{READ_ACTION_PREFIX}{_level}")(read_level)
router.action(TOPIC_ACTION)(topic_tag)
for _rating in range(1, 6):
    router.action(f"{RATE_ACTION_PREFIX}{_rating}")(rate)


# --- Reveal (refdesk.reveal): the original of a patron message shown redacted ----------------

REVEAL_ACTION = "reveal_original"  # on a redacted patron message (card, thread post); value: the conversation id


@router.action(REVEAL_ACTION)
def reveal(action: dict, payload: dict):
    """Reveal, pressed on a patron message: which post (its ts names the stored message), in
    which thread, by whom. The original is looked up and shown by the dispatcher."""
    from refdesk.models import RevealJob

    conversation_id = _conversation_id(action, "reveal", SAFE_ID)
    channel, message_ts = _card(payload)
    if not CHANNEL_ID.fullmatch(channel) or not TS.fullmatch(message_ts):
        raise BadRequest("reveal outside a patron message")
    container, message = _object(payload, "container"), _object(payload, "message")
    root_ts = container.get("thread_ts") or message.get("thread_ts") or message_ts
    action_ts = action.get("action_ts")
    if not isinstance(root_ts, str) or not TS.fullmatch(root_ts) or not isinstance(action_ts, str) or not action_ts:
        raise BadRequest("reveal without its thread or action_ts")
    return RevealJob(conversation_id=conversation_id, user=_user_id(payload), channel=channel, root_ts=root_ts,
                     message_ts=message_ts, action_ts=action_ts[:40])
