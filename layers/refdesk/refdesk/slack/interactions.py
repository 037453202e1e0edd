"""Button listeners: which presses become jobs. The router has checked each payload's shape
(refdesk.slack.payloads) and that the presser is staff (refdesk.staff) before a listener runs,
except for the patron's rating (`staff=False`)."""
from __future__ import annotations

import re

from refdesk.errors import BadRequest
from refdesk.shapes import check, parse_json
from refdesk.slack import payloads
from refdesk.slack.actions import (BLOCK_ACTION, CLAIM_ACTION, CLOSE_ACTION, INVITE_ACTION, QUICK_REPLY_ACTION,
                                   RATE_ACTION_PREFIX, READ_ACTION_PREFIX, REVEAL_ACTION, TOPIC_ACTION,
                                   TRANSFER_ACTION, UNBLOCK_ACTION)
from refdesk.models import ClaimJob, CloseJob, TransferJob
from refdesk.models import InviteJob, QuickReplyJob
from refdesk.models import BlockPatronJob, UnblockPatronJob
from refdesk.models import AssessJob, RatingJob
from refdesk.slack.router import router


@router.action(CLOSE_ACTION)
def close(action: dict, payload: dict) -> CloseJob | None:
    if not action.get("value"):
        return None
    return _card_job(CloseJob, action, payload, "close")


@router.action(CLAIM_ACTION)
def claim(action: dict, payload: dict) -> ClaimJob:
    """Claim, on a card (the thread's FIFO group) or in the Home tab (the conversation's)."""
    return _card_job(ClaimJob, action, payload, "claim")


@router.action(TRANSFER_ACTION)
def transfer(action: dict, payload: dict) -> TransferJob:
    """A colleague picked in the card's "Transfer to…" menu; the card's thread names the conversation."""
    to_user = action.get("selected_user")
    if not to_user:
        raise BadRequest("transfer without selected_user")
    channel, root_ts = _card(payload)
    if not channel or not root_ts:
        raise BadRequest("transfer outside a conversation card")
    return TransferJob(user=_user_id(payload), to_user=to_user, channel=channel, root_ts=root_ts,
                       action_ts=action.get("action_ts", ""))


def _user_id(payload: dict) -> str:
    return payload["user"]["id"]  # its form checked by the router (payloads.Actor)


def _conversation_id(action: dict, what: str) -> str:
    """The conversation id a card's button carries as its value; anything else is a bad request."""
    value = action.get("value")
    if not value or not SAFE_ID.fullmatch(value):
        raise BadRequest(f"{what} without a conversation")
    return value


def _card(payload: dict) -> tuple[str, str]:
    """(channel, ts) of the message the action was on; ("", "") in a view (the Home tab)."""
    channel, container, message = (payload.get(name) or {} for name in ("channel", "container", "message"))
    if container.get("type") == "view":
        return "", ""
    return (channel.get("id") or container.get("channel_id") or "",
            container.get("message_ts") or message.get("ts") or "")


def _on_card(payload: dict, what: str) -> tuple[str, str]:
    """(channel, ts) of the conversation card an action must be pressed on."""
    channel, ts = _card(payload)
    if not channel or not ts:
        raise BadRequest(f"{what} outside a conversation card")
    return channel, ts


def _card_job(job_type, action: dict, payload: dict, what: str):
    """The job a button names its conversation for, with the card it was pressed on (none in the
    Home tab) and who pressed it."""
    conversation_id = _conversation_id(action, what)
    channel, root_ts = _card(payload)
    return job_type(conversation_id=conversation_id, user=_user_id(payload), channel=channel, root_ts=root_ts,
                    action_ts=action.get("action_ts", ""))


def parse_payload(form: dict[str, str]) -> dict:
    """Interactivity posts one form field, `payload`, holding strict JSON: an object with a type."""
    return check(parse_json(form.get("payload") or "", "payload field"), payloads.Interaction)


# --- departments and quick replies (refdesk.departments) -----------------------------------

SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,100}", re.ASCII)


@router.modal(INVITE_ACTION)
def invite_modal(action: dict, payload: dict) -> dict:
    """The Invite modal, opened by the webhook itself: Slack's trigger_id lasts 3 seconds."""
    from refdesk.slack import cards

    conversation_id = _conversation_id(action, "invite")
    return cards.invite_modal(conversation_id, *_on_card(payload, "invite"))


@router.action(QUICK_REPLY_ACTION)
def quick_reply(action: dict, payload: dict) -> QuickReplyJob:
    from refdesk import deskconfig

    reply_id = (action.get("selected_option") or {}).get("value")
    if not reply_id:
        raise BadRequest("quick reply without selected_option")
    if deskconfig.get().quick_reply(reply_id) is None:
        raise BadRequest("no such quick reply")
    channel, root_ts = _on_card(payload, "quick reply")
    action_ts = action.get("action_ts")
    if not action_ts:
        raise BadRequest("quick reply without action_ts")
    return QuickReplyJob(reply_id=reply_id, user=_user_id(payload), channel=channel, root_ts=root_ts,
                         action_ts=action_ts)


@router.view("invite_department")  # refdesk.slack.cards.INVITE_CALLBACK
def invite_submitted(view: dict, payload: dict) -> InviteJob:
    """The Invite modal submitted: which department, for which conversation (private_metadata)."""
    from refdesk import deskconfig
    from refdesk.slack import cards

    card = check(parse_json(view.get("private_metadata") or "", "private_metadata"), payloads.CardRef,
                 "private_metadata")
    values = check((view.get("state") or {}).get("values"), payloads.InviteValues, "view.state.values")
    department_id = (values[cards.DEPARTMENT_INPUT][cards.DEPARTMENT_INPUT].get("selected_option") or {}).get("value")
    if not department_id or deskconfig.get().department(department_id) is None:
        raise BadRequest("invite modal without a known department")
    note = ((values.get(cards.NOTE_INPUT) or {}).get(cards.NOTE_INPUT) or {}).get("value") or ""
    return InviteJob(conversation_id=card["conversation_id"], department_id=department_id, user=_user_id(payload),
                     submission=view["id"], channel=card["channel"], root_ts=card["ts"], note=note[:cards.MAX_NOTE])


@router.action(BLOCK_ACTION)
def block_patron(action: dict, payload: dict) -> BlockPatronJob:
    """Block patron, pressed (and confirmed) on a conversation card."""
    return _card_job(BlockPatronJob, action, payload, "block")


@router.action(UNBLOCK_ACTION)
def unblock_patron(action: dict, payload: dict) -> UnblockPatronJob:
    """Unblock, pressed in the Home tab's "Blocked patrons"."""
    patron_id = action.get("value")
    if not patron_id or not re.fullmatch(r"[a-z2-7]{16,64}", patron_id):
        raise BadRequest("unblock without a patron")
    return UnblockPatronJob(patron_id=patron_id, user=_user_id(payload), action_ts=action.get("action_ts", ""))


# --- assessment (refdesk.assessment): READ and topic on the closed card; a patron's rating ---



def _pair(value: str | None, pattern: str) -> tuple[str, str]:
    if not value or not re.fullmatch(rf"[A-Za-z0-9_-]{{1,100}}:{pattern}", value, re.ASCII):
        raise BadRequest("assessment without a conversation and a value")
    conversation_id, _, chosen = value.partition(":")
    return conversation_id, chosen


def _assess(payload: dict, action: dict, conversation_id: str, **chosen) -> AssessJob:
    channel, root_ts = _on_card(payload, "assessment")
    return AssessJob(conversation_id=conversation_id, user=_user_id(payload), channel=channel, root_ts=root_ts,
                     action_ts=action.get("action_ts", ""), **chosen)


def read_level(action: dict, payload: dict) -> AssessJob:
    conversation_id, level = _pair(action.get("value"), "[1-6]")
    return _assess(payload, action, conversation_id, read_level=int(level))


def topic_tag(action: dict, payload: dict) -> AssessJob:
    conversation_id, topic = _pair((action.get("selected_option") or {}).get("value"), "[a-z0-9_-]{1,40}")
    return _assess(payload, action, conversation_id, topic=topic)


def rate(action: dict, payload: dict) -> RatingJob:
    """A Slack Connect patron's rating, pressed in the shared thread after close: who pressed it
    rides along as the keyed hash the conversation's patron has (refdesk.assessment counts only
    theirs, not a colleague's or anyone else's in the shared channel)."""
    from refdesk.channels import slack_connect
    from refdesk.staff import team_of_interaction

    conversation_id, rating = _pair(action.get("value"), "[1-5]")
    channel, message_ts = _on_card(payload, "rating")
    return RatingJob(conversation_id=conversation_id, rating=int(rating), channel=slack_connect.NAME,
                     slack_channel=channel, message_ts=message_ts,
                     rater=slack_connect.patron_of(team_of_interaction(payload), _user_id(payload)))


for _level in range(1, 7):
    router.action(f"{READ_ACTION_PREFIX}{_level}")(read_level)
router.action(TOPIC_ACTION)(topic_tag)
for _rating in range(1, 6):
    router.action(f"{RATE_ACTION_PREFIX}{_rating}", staff=False)(rate)


# --- Reveal (refdesk.reveal): the original of a patron message shown redacted ----------------



@router.action(REVEAL_ACTION)
def reveal(action: dict, payload: dict):
    """Reveal, pressed on a patron message: which post (its ts names the stored message), in
    which thread, by whom. The original is looked up and shown by the dispatcher."""
    from refdesk.models import RevealJob

    conversation_id = _conversation_id(action, "reveal")
    channel, message_ts = _on_card(payload, "reveal")
    container, message = payload.get("container") or {}, payload.get("message") or {}
    root_ts = container.get("thread_ts") or message.get("thread_ts") or message_ts
    action_ts = action.get("action_ts")
    if not action_ts:
        raise BadRequest("reveal without action_ts")
    return RevealJob(conversation_id=conversation_id, user=_user_id(payload), channel=channel, root_ts=root_ts,
                     message_ts=message_ts, action_ts=action_ts)
