"""Button listeners: which presses become jobs. The router has checked each payload's shape
(refdesk.slack.payloads) and that the presser is staff (refdesk.staff) before a listener runs,
except for a Slack Connect patron's rating, its comment and "E-mail me this conversation" (`staff=False`)."""
from __future__ import annotations

import re

from refdesk.errors import BadRequest
from refdesk.shapes import check, parse_json
from refdesk.slack import payloads
from refdesk.slack.actions import (BLOCK_ACTION, CANNED_ADD_ACTION, CANNED_EDIT_ACTION, CLAIM_ACTION, CLOSE_ACTION,
                                   COMMENT_ACTION, HOME_FILTER_ACTION, INVITE_ACTION, QUICK_REPLY_ACTION,
                                   RATE_ACTION_PREFIX, READ_ACTION_PREFIX, REVEAL_ACTION, TOPIC_ACTION,
                                   TRANSCRIPT_ACTION, TRANSFER_ACTION, UNBLOCK_ACTION)
from refdesk.models import ClaimJob, CloseJob, TransferJob
from refdesk.models import CannedReplyJob, InviteJob, QuickReplyJob
from refdesk.models import BlockPatronJob, HomeFilterJob, UnblockPatronJob
from refdesk.models import AssessJob, RatingJob
from refdesk.slack.router import ViewErrors, router


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
    """A canned reply picked from the card: its id's form here, the reply itself where it is sent."""
    from refdesk import canned_replies

    reply_id = (action.get("selected_option") or {}).get("value")
    if not reply_id:
        raise BadRequest("quick reply without selected_option")
    canned_replies.check_id(reply_id)
    channel, root_ts = _on_card(payload, "quick reply")
    action_ts = action.get("action_ts")
    if not action_ts:
        raise BadRequest("quick reply without action_ts")
    return QuickReplyJob(reply_id=reply_id, user=_user_id(payload), channel=channel, root_ts=root_ts,
                         action_ts=action_ts)


@router.modal(CANNED_ADD_ACTION)
def add_canned_reply(action: dict, payload: dict) -> dict:
    from refdesk.slack import cards

    return cards.canned_modal()


@router.modal(CANNED_EDIT_ACTION)
def edit_canned_reply(action: dict, payload: dict) -> dict | None:
    """The modal holding the reply as it is now (one GetItem); None, no modal, for one just deleted."""
    from refdesk import canned_replies, store
    from refdesk.slack import cards

    reply = store.canned.get(canned_replies.check_id(action.get("value") or ""))
    return cards.canned_modal(reply) if reply else None


@router.view("canned_reply")  # refdesk.slack.cards.CANNED_CALLBACK
def canned_reply_submitted(view: dict, payload: dict) -> CannedReplyJob:
    """Saved or deleted: a job. Fields to fix (an unknown {variable}, an empty label) keep the
    modal open with Slack showing why (ViewErrors)."""
    from refdesk import canned_replies
    from refdesk.slack import cards

    edited = check(parse_json(view.get("private_metadata") or "", "private_metadata"), payloads.CannedRef,
                   "private_metadata")["reply_id"]
    if edited:
        canned_replies.check_id(edited)
    values = check((view.get("state") or {}).get("values"), payloads.CannedValues, "view.state.values")
    label = ((values[cards.CANNED_LABEL_INPUT].get(cards.CANNED_LABEL_INPUT) or {}).get("value") or "")
    text = ((values[cards.CANNED_TEXT_INPUT].get(cards.CANNED_TEXT_INPUT) or {}).get("value") or "")
    ticked = (values.get(cards.CANNED_DELETE_INPUT) or {}).get(cards.CANNED_DELETE_INPUT) or {}
    if edited and ticked.get("selected_options"):
        return CannedReplyJob(user=_user_id(payload), change="delete", submission=view["id"], reply_id=edited)
    problems = canned_replies.problems(label, text)
    if problems:
        raise ViewErrors(problems)  # block ids are the fields' names (cards.CANNED_*_INPUT)
    return CannedReplyJob(user=_user_id(payload), change="save", submission=view["id"], reply_id=edited,
                          label=label, text=text)


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


@router.action(HOME_FILTER_ACTION)
def home_filter(action: dict, payload: dict) -> HomeFilterJob:
    """The Home tab's filter: a choice the tab offers (refdesk.slack.home.FILTER_CHOICES), or a 400."""
    from refdesk.slack import home

    choice = (action.get("selected_option") or {}).get("value")
    if choice not in home.FILTER_CHOICES:
        raise BadRequest("home filter without a known choice")
    action_ts = action.get("action_ts")
    if not action_ts:
        raise BadRequest("home filter without action_ts")
    return HomeFilterJob(user=_user_id(payload), choice=choice, action_ts=action_ts)


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

    conversation_id, rating = _pair(action.get("value"), "[1-5]")
    channel, message_ts = _on_card(payload, "rating")
    return RatingJob(conversation_id=conversation_id, rating=int(rating), channel=slack_connect.NAME,
                     slack_channel=channel, message_ts=message_ts, rater=_rater(payload))


for _level in range(1, 7):
    router.action(f"{READ_ACTION_PREFIX}{_level}")(read_level)
router.action(TOPIC_ACTION)(topic_tag)
for _rating in range(1, 6):
    router.action(f"{RATE_ACTION_PREFIX}{_rating}", staff=False)(rate)


def _rater(payload: dict) -> str:
    """The keyed hash of whoever pressed or submitted, as a Slack Connect patron is known by:
    refdesk.assessment counts a rating or comment only when it is the conversation's patron's."""
    from refdesk.channels import slack_connect
    from refdesk.staff import team_of_interaction

    return slack_connect.patron_of(team_of_interaction(payload), _user_id(payload))


@router.modal(COMMENT_ACTION, staff=False)
def comment_modal(action: dict, payload: dict) -> dict:
    """"Add a comment" on the rating's thanks: the modal, opened by the webhook itself (Slack's
    trigger_id lasts 3 seconds). Anyone in the shared channel may open it; only the patron's
    submission counts."""
    from refdesk.assessment import COMMENT_MAX
    from refdesk.slack import cards

    conversation_id = _conversation_id(action, "comment")
    return cards.comment_modal(conversation_id, *_on_card(payload, "comment"), max_length=COMMENT_MAX)


@router.view("rating_comment", staff=False)  # refdesk.slack.cards.COMMENT_CALLBACK
def comment_submitted(view: dict, payload: dict) -> RatingJob | None:
    """The comment modal submitted: a comment (rating 0) on the rating the same person gave,
    cleaned here (refdesk.assessment.clean_comment: names and identifiers masked; over
    COMMENT_MAX characters, which Slack's max_length stops first, is a 400). An empty one: no job."""
    from refdesk import assessment
    from refdesk.channels import slack_connect
    from refdesk.slack import cards

    card = check(parse_json(view.get("private_metadata") or "", "private_metadata"), payloads.CardRef,
                 "private_metadata")
    values = check((view.get("state") or {}).get("values"), payloads.CommentValues, "view.state.values")
    comment = assessment.clean_comment(((values.get(cards.COMMENT_INPUT) or {}).get(cards.COMMENT_INPUT) or {})
                                       .get("value") or "")
    if not comment:
        return None
    return RatingJob(conversation_id=card["conversation_id"], rating=0, comment=comment, channel=slack_connect.NAME,
                     slack_channel=card["channel"], message_ts=card["ts"], rater=_rater(payload))


# --- "E-mail me this conversation" (refdesk.transcript_mail): a Slack Connect patron's ---------



@router.modal(TRANSCRIPT_ACTION, staff=False)
def transcript_modal(action: dict, payload: dict) -> dict:
    """"E-mail me this conversation" on the rating's post: the modal asking for an address, opened
    by the webhook itself (Slack's trigger_id lasts 3 seconds). Anyone in the shared channel may
    open it; only the patron's submission parks an address."""
    from refdesk.slack import cards

    conversation_id = _conversation_id(action, "e-mail")
    return cards.transcript_modal(conversation_id, *_on_card(payload, "e-mail"))


@router.view("email_transcript", staff=False)  # refdesk.slack.cards.TRANSCRIPT_CALLBACK
def transcript_submitted(view: dict, payload: dict):
    """The transcript modal submitted: the address checked and parked here, the one listener that
    writes (one transaction, as the widget's POST …/transcript does: the job must carry only
    references), only for the conversation's patron, at most twice a conversation. Anything to
    fix keeps the modal open with Slack showing why (ViewErrors), never quoting the address."""
    from refdesk import transcript_mail
    from refdesk.errors import RefDeskError
    from refdesk.slack import cards

    card = check(parse_json(view.get("private_metadata") or "", "private_metadata"), payloads.CardRef,
                 "private_metadata")
    values = check((view.get("state") or {}).get("values"), payloads.TranscriptValues, "view.state.values")
    typed = ((values.get(cards.EMAIL_INPUT) or {}).get(cards.EMAIL_INPUT) or {}).get("value") or ""
    try:
        address = transcript_mail.checked(typed)
    except BadRequest:
        raise ViewErrors({cards.EMAIL_INPUT: "Enter an e-mail address, such as name@example.org."}) from None
    try:
        return transcript_mail.request_by_partner(card["conversation_id"], _rater(payload), _user_id(payload),
                                                  view["id"], address)
    except RefDeskError as refused:  # NotFound, Forbidden, Conflict, RateLimited: the reason, in a sentence
        raise ViewErrors({cards.EMAIL_INPUT: f"{refused.message[:1].upper()}{refused.message[1:]}."}) from None


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
