"""Invite a department, quick replies and the shorthand glossary, in process: signed block_actions
and view_submission payloads through the interactions handler, moto for DynamoDB and SQS, the
Slack and Twilio stand-ins behind the real clients, and the dispatcher driven with conftest.pump.
For SMS, web chat and Slack Connect alike."""
from __future__ import annotations

import copy
import json
import time
import urllib.parse
import uuid

import pytest

from tests.conftest import STAFF_CHANNEL, close_value, fixture, invoke, pump, slack_event, twilio_event

PATRON = "+15551234567"
PARTNER_CHANNEL = "C0PARTNER1"
FORM = "application/x-www-form-urlencoded"


# --- helpers ---------------------------------------------------------------------------

def interact(payload: dict, **signing) -> dict:
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    return invoke("slack_interactions", slack_event("/slack/interactions", body, FORM, **signing))


def block_actions(root_ts: str, action: dict, *, user: str = "U0AMANDA") -> dict:
    payload = fixture("slack_block_actions_close.json")
    payload["user"]["id"] = user
    payload["container"]["message_ts"] = payload["message"]["ts"] = root_ts
    payload["trigger_id"] = f"{int(time.time())}.1379717998065.{uuid.uuid4().hex}"
    payload["actions"] = [{"block_id": "conversation", "action_ts": f"{time.time():.6f}", **action}]
    return payload


def click_invite(conversation: dict, **kwargs) -> dict:
    return interact(block_actions(conversation["root_ts"], {
        "action_id": "invite_department", "type": "button", "value": conversation["conversation_id"],
        "text": {"type": "plain_text", "text": "Invite"}}, **kwargs))


def choose_quick_reply(conversation: dict, reply_id: str = "hours", *, action_ts: str | None = None,
                       user: str = "U0AMANDA") -> dict:
    payload = block_actions(conversation["root_ts"], {
        "action_id": "quick_reply", "type": "static_select",
        "selected_option": {"text": {"type": "plain_text", "text": reply_id}, "value": reply_id}}, user=user)
    if action_ts:
        payload["actions"][0]["action_ts"] = action_ts
    return interact(payload)


def submission(view: dict, department: str | None = "it", note: str | None = None, *,
               user: str = "U0AMANDA") -> dict:
    """A view_submission for a modal the stand-in opened (as Slack holds it), filled in."""
    payload = fixture("slack_view_submission_invite.json")
    payload["user"]["id"] = user
    values = {}
    if department is not None:
        values["department"] = {"department": {"type": "static_select", "selected_option": {
            "text": {"type": "plain_text", "text": department}, "value": department}}}
    if note is not None:
        values["note"] = {"note": {"type": "plain_text_input", "value": note}}
    payload["view"] = {**view, "state": {"values": values}}
    return payload


def invite(conversation: dict, slack, department: str = "it", note: str | None = None) -> dict:
    """Invite pressed, the modal submitted; returns the modal as opened."""
    assert click_invite(conversation)["statusCode"] == 200
    view = slack.stand_in.open_views()[-1]
    response = interact(submission(view, department, note))
    assert response["statusCode"] == 200, response
    assert response["body"] == ""  # an empty 200 closes the modal
    return view


def text_in(body: str) -> dict:
    params = fixture("sms_inbound.json")
    sid = "SM" + uuid.uuid4().hex
    params.update(Body=body, From=PATRON, MessageSid=sid, SmsMessageSid=sid, SmsSid=sid)
    response = invoke("sms_inbound", twilio_event(params))
    assert response["statusCode"] == 200
    return response


def open_sms(aws, slack, question: str = "Can't log in to the e-book app, idk why") -> dict:
    text_in(question)
    pump(aws)
    root = slack.roots()[-1]
    return {"conversation_id": close_value(root), "root_ts": root["answered_ts"], "root": root,
            "channel": "sms"}


def open_web(aws, slack, question: str = "Can't log in to the e-book app, idk why") -> dict:
    from tests.functional.test_webchat import create_session, send

    session = create_session()
    assert send(session, question)["statusCode"] == 201
    pump(aws)
    root = slack.roots()[-1]
    return {"conversation_id": close_value(root), "root_ts": root["answered_ts"], "root": root,
            "channel": "web", "session": session}


def open_partner(aws, slack, question: str = "Can't log in to the e-book app, idk why") -> dict:
    payload = fixture("slack_connect_message.json")
    payload["event"]["text"] = question
    response = invoke("slack_events", slack_event("/slack/events", json.dumps(payload)))
    assert response["statusCode"] == 200
    pump(aws)
    [root] = [post for post in slack.roots() if post["channel"] == STAFF_CHANNEL]
    return {"conversation_id": close_value(root), "root_ts": root["answered_ts"], "root": root,
            "channel": "slack_connect", "partner_ts": payload["event"]["ts"]}


OPEN = {"sms": open_sms, "web": open_web, "slack_connect": open_partner}


def staff_reply(conversation: dict, text: str, *, user: str, ts: str | None = None) -> None:
    payload = fixture("slack_message_reply.json")
    ts = ts or f"{time.time():.6f}"
    payload["event"].update(thread_ts=conversation["root_ts"], text=text, ts=ts, event_ts=ts, user=user)
    payload["event_id"] = "Ev" + uuid.uuid4().hex[:12].upper()
    response = invoke("slack_events", slack_event("/slack/events", json.dumps(payload)))
    assert response["statusCode"] == 200


def what_patron_got(conversation: dict, twilio, slack) -> list[str]:
    """The replies the patron received on their own channel."""
    if conversation["channel"] == "sms":
        return [message["body"] for message in twilio.sent if message["to"] == PATRON]
    if conversation["channel"] == "slack_connect":
        return [post["text"] for post in slack.posts() if post["channel"] == PARTNER_CHANNEL]
    from tests.functional.test_webchat import poll

    return [f"{message['name']}: {message['text']}" for message in poll(conversation["session"])["messages"]
            if message["from"] == "librarian"]


def calls_named(slack, method: str) -> list[dict]:
    return [params for name, params in slack.calls if name == method]


def blocks_of(post: dict) -> list[dict]:
    blocks = post.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def context_texts(post: dict) -> list[str]:
    return [element["text"] for block in blocks_of(post) if block["type"] == "context"
            for element in block["elements"]]


def queue_depth(aws) -> int:
    attributes = aws["sqs"].get_queue_attributes(
        QueueUrl=aws["queue"], AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


# --- the card ----------------------------------------------------------------------------

def test_the_card_offers_invite_and_the_quick_replies_of_the_configuration(aws, slack, twilio):
    from refdesk import deskconfig

    conversation = open_sms(aws, slack)

    elements = {element["action_id"]: element for block in blocks_of(conversation["root"])
                if block["type"] == "actions" for element in block["elements"]}
    assert elements["invite_department"]["value"] == conversation["conversation_id"]
    menu = elements["quick_reply"]
    assert menu["type"] == "static_select" and menu["placeholder"]["text"] == "Quick reply…"
    # desk.json's quick replies seed the canned replies (refdesk.canned_replies), offered by label
    assert [option["value"] for option in menu["options"]] == [
        reply.id for reply in sorted(deskconfig.get().quick_replies, key=lambda reply: reply.label.lower())]


# --- Invite --------------------------------------------------------------------------------

def test_invite_opens_the_modal_at_once_with_one_slack_call_and_queues_nothing(aws, slack, twilio):
    from refdesk import deskconfig

    conversation = open_sms(aws, slack)
    slack.forget_calls()

    response = click_invite(conversation)

    assert response["statusCode"] == 200
    assert slack.methods() == ["views.open"]
    assert queue_depth(aws) == 0
    [view] = slack.stand_in.open_views()
    assert view["callback_id"] == "invite_department"
    assert json.loads(view["private_metadata"]) == {"conversation_id": conversation["conversation_id"],
                                                    "channel": STAFF_CHANNEL, "ts": conversation["root_ts"]}
    [select] = [block["element"] for block in view["blocks"] if block.get("block_id") == "department"]
    assert [option["value"] for option in select["options"]] == [d.id for d in deskconfig.get().departments]


def test_a_modal_slack_refuses_to_open_still_acknowledges(aws, slack, twilio):
    conversation = open_sms(aws, slack)
    slack.fail("views.open", error="expired_trigger_id")

    assert click_invite(conversation)["statusCode"] == 200
    assert slack.stand_in.open_views() == []


@pytest.mark.parametrize("channel", ["sms", "web", "slack_connect"])
def test_inviting_mentions_the_group_in_the_thread_and_points_its_channel_at_it(aws, slack, twilio, channel):
    conversation = OPEN[channel](aws, slack)
    twilio.forget_sent()
    slack.forget_calls()

    invite(conversation, slack, "it", note="Patron can't log in to the e-book app")
    assert queue_depth(aws) == 1
    pump(aws)

    [mention] = [post for post in slack.posts() if post.get("thread_ts") == conversation["root_ts"]]
    assert mention["channel"] == STAFF_CHANNEL
    assert "<!subteam^S0LIBIT>" in mention["text"] and "<@U0AMANDA>" in mention["text"]
    assert "can&#39;t" not in mention["text"] and "log in to the e-book app" in mention["text"]
    [link] = calls_named(slack, "chat.getPermalink")
    assert (link["channel"], link["message_ts"]) == (STAFF_CHANNEL, conversation["root_ts"])
    [pointer] = [post for post in slack.posts() if post["channel"] == "C0LIBIT"]
    assert not pointer.get("thread_ts")
    assert f"/archives/{STAFF_CHANNEL}/p{conversation['root_ts'].replace('.', '')}" in pointer["text"]
    assert "idk" not in pointer["text"]  # a pointer, not the patron's question
    assert twilio.sent == []
    assert what_patron_got(conversation, twilio, slack) == []


def test_a_department_without_a_channel_is_only_mentioned(aws, slack, twilio):
    conversation = open_sms(aws, slack)
    slack.forget_calls()

    invite(conversation, slack, "specialists")
    pump(aws)

    assert [post["channel"] for post in slack.posts()] == [STAFF_CHANNEL]
    assert "<!subteam^S0SUBJECT>" in slack.posts()[0]["text"]
    assert "chat.getPermalink" not in slack.methods()


def test_the_same_submission_twice_invites_once_and_a_second_invite_is_told_privately(aws, slack, twilio):
    conversation = open_sms(aws, slack)
    view = invite(conversation, slack, "it")
    pump(aws)
    slack.forget_calls()

    again = interact(submission(view, "it"))  # Slack (or a double click) sent the same submission again
    assert again["statusCode"] == 200
    pump(aws)
    assert slack.posts() == []

    invite(conversation, slack, "it", note="still stuck")  # a colleague, another modal
    pump(aws)
    assert slack.posts() == []
    [told] = calls_named(slack, "chat.postEphemeral")
    assert "already invited" in told["text"] and told["user"] == "U0AMANDA"


def test_a_retried_invite_job_resumes_after_the_mention_without_mentioning_again(aws, slack, twilio):
    conversation = open_sms(aws, slack)
    slack.fail("chat.getPermalink", error="fatal_error")

    invite(conversation, slack, "it")
    pump(aws)

    mentions = [post for post in slack.posts() if post.get("thread_ts") == conversation["root_ts"]]
    assert len(mentions) == 1
    assert len([post for post in slack.posts() if post["channel"] == "C0LIBIT"]) == 1


# --- a department's replies ----------------------------------------------------------------

@pytest.mark.parametrize("channel", ["sms", "web", "slack_connect"])
def test_replies_from_the_invited_departments_members_are_credited_with_the_department(aws, slack, twilio,
                                                                                        channel):
    conversation = OPEN[channel](aws, slack)
    invite(conversation, slack, "it")
    pump(aws)
    slack.forget_calls()

    staff_reply(conversation, "Try resetting your password at the self-service page.", user="U0PRIYA")
    staff_reply(conversation, "note: she may need a new PIN", user="U0PRIYA")
    staff_reply(conversation, "Let us know if that worked!", user="U0AMANDA")
    pump(aws)

    got = what_patron_got(conversation, twilio, slack)
    assert any(text.startswith("Priya (IT): Try resetting your password") for text in got), got
    library = "Amanda" if channel == "web" else "Amanda (library)"  # the widget shows who wrote by name
    assert any(text.startswith(f"{library}: Let us know") for text in got), got
    assert not any("PIN" in text for text in got)
    assert len(calls_named(slack, "usergroups.users.list")) == 1  # cached: asked once for both replies
    sent = [params for params in calls_named(slack, "reactions.add") if params["name"] == "white_check_mark"]
    assert len(sent) == 2


def test_without_an_invitation_a_department_member_answers_for_the_library(aws, slack, twilio):
    conversation = open_sms(aws, slack)
    slack.forget_calls()

    staff_reply(conversation, "Try resetting your password.", user="U0PRIYA")
    pump(aws)

    assert [message["body"] for message in twilio.sent] == ["Priya (library): Try resetting your password."]
    assert "usergroups.users.list" not in slack.methods()  # no invitation, no membership question


# --- quick replies -------------------------------------------------------------------------

@pytest.mark.parametrize("channel", ["sms", "web", "slack_connect"])
def test_a_quick_reply_is_posted_credited_sent_like_a_reply_and_marked_sent(aws, slack, twilio, channel):
    from refdesk import deskconfig, store

    conversation = OPEN[channel](aws, slack)
    twilio.forget_sent()
    slack.forget_calls()
    hours = deskconfig.get().quick_reply("hours")

    response = choose_quick_reply(conversation, "hours")
    assert response["statusCode"] == 200
    assert slack.calls == []  # the webhook only queues
    pump(aws)

    [post] = [post for post in slack.posts() if post.get("thread_ts") == conversation["root_ts"]]
    assert post["channel"] == STAFF_CHANNEL
    assert any("<@U0AMANDA>" in text and "Opening hours" in text for text in context_texts(post))
    got = what_patron_got(conversation, twilio, slack)
    assert got == [f"{'Amanda' if channel == 'web' else 'Amanda (library)'}: {hours.text}"], got
    assert ("white_check_mark", post["answered_ts"]) in [(params["name"], params["timestamp"])
                                                         for params in calls_named(slack, "reactions.add")]
    [stored] = [message for message in store.messages.list_after(conversation["conversation_id"])
                if message.message_id.startswith("quick-")]
    assert (stored.author_user, stored.author_name, stored.text) == ("U0AMANDA", "Amanda", hours.text)
    # a text: delivered, as Twilio's status callback said; the web chat's: stored for the widget
    assert stored.delivery.value == ("delivered" if channel == "sms" else "sent") and stored.slack_ts == post["answered_ts"]


def test_a_double_click_on_a_quick_reply_sends_it_once_and_tells_the_librarian(aws, slack, twilio):
    conversation = open_sms(aws, slack)
    twilio.forget_sent()

    choose_quick_reply(conversation, "wifi", action_ts="1700000300.000001")
    choose_quick_reply(conversation, "wifi", action_ts="1700000300.400001")
    pump(aws)

    assert len(twilio.sent) == 1
    assert any("was just sent" in params["text"] for params in calls_named(slack, "chat.postEphemeral"))


def test_a_retried_quick_reply_job_does_not_send_twice(aws, slack, twilio):
    from refdesk import relay
    from refdesk.models import QuickReplyJob

    conversation = open_sms(aws, slack)
    twilio.forget_sent()
    job = QuickReplyJob(reply_id="renewals", user="U0AMANDA", channel=STAFF_CHANNEL,
                        root_ts=conversation["root_ts"], action_ts="1700000400.000001")
    relay.send_quick_reply(job)
    relay.send_quick_reply(job)

    assert len(twilio.sent) == 1
    assert len([post for post in slack.posts() if post.get("thread_ts") == conversation["root_ts"]]) == 1


# --- the shorthand glossary ----------------------------------------------------------------

def test_the_glossary_line_is_under_the_question_on_the_card_and_under_later_messages(aws, slack, twilio):
    conversation = open_sms(aws, slack, "idk how to renew, lmk pls")

    card_context = context_texts(conversation["root"])
    assert any("Shorthand: idk = I don't know · lmk = let me know · pls = please" in text for text in card_context)

    text_in("ty! see https://example.org/idk too")
    pump(aws)
    [later] = [post for post in slack.posts() if post.get("thread_ts") == conversation["root_ts"]]
    assert any(text.endswith("Shorthand: ty = thank you") for text in context_texts(later))


def test_a_message_without_shorthand_gets_no_glossary_line(aws, slack, twilio):
    conversation = open_sms(aws, slack, "Do you have the new Ishiguro? https://example.org/idk")
    assert not any("Shorthand" in text for text in context_texts(conversation["root"]))


# --- malformed but signed: 400, never 500; unsigned: 403 -----------------------------------

def _invite_submission(conversation: dict) -> dict:
    payload = fixture("slack_view_submission_invite.json")
    metadata = {"conversation_id": conversation["conversation_id"], "channel": STAFF_CHANNEL,
                "ts": conversation["root_ts"]}
    payload["view"]["private_metadata"] = json.dumps(metadata)
    return payload


@pytest.mark.parametrize("breakage", [
    "no_state", "no_private_metadata", "metadata_not_json", "metadata_without_card", "unknown_department",
    "no_selected_option", "view_not_object", "note_not_text", "no_view_id",
])
def test_malformed_view_submissions_are_refused_with_400(aws, slack, twilio, breakage):
    conversation = open_sms(aws, slack)
    payload = _invite_submission(conversation)
    view = payload["view"]
    if breakage == "no_state":
        del view["state"]
    elif breakage == "no_private_metadata":
        del view["private_metadata"]
    elif breakage == "metadata_not_json":
        view["private_metadata"] = "{not json"
    elif breakage == "metadata_without_card":
        view["private_metadata"] = json.dumps({"conversation_id": conversation["conversation_id"]})
    elif breakage == "unknown_department":
        view["state"]["values"]["department"]["department"]["selected_option"]["value"] = "astrology"
    elif breakage == "no_selected_option":
        del view["state"]["values"]["department"]["department"]["selected_option"]
    elif breakage == "view_not_object":
        payload["view"] = "V0INVITE01"
    elif breakage == "note_not_text":
        view["state"]["values"]["note"]["note"]["value"] = ["a", "list"]
    elif breakage == "no_view_id":
        del view["id"]

    response = interact(payload)

    assert response["statusCode"] == 400, response
    assert queue_depth(aws) == 0


@pytest.mark.parametrize("breakage", ["no_selected_option", "malformed_reply_id", "selected_option_not_object",
                                      "no_action_ts", "no_container"])
def test_malformed_quick_reply_actions_are_refused_with_400(aws, slack, twilio, breakage):
    conversation = open_sms(aws, slack)
    payload = block_actions(conversation["root_ts"], {
        "action_id": "quick_reply", "type": "static_select",
        "selected_option": {"text": {"type": "plain_text", "text": "Hours"}, "value": "hours"}})
    action = payload["actions"][0]
    if breakage == "no_selected_option":
        del action["selected_option"]
    elif breakage == "malformed_reply_id":
        action["selected_option"]["value"] = "not an id!"
    elif breakage == "selected_option_not_object":
        action["selected_option"] = "hours"
    elif breakage == "no_action_ts":
        del action["action_ts"]
    elif breakage == "no_container":
        del payload["container"], payload["channel"]

    response = interact(payload)

    assert response["statusCode"] == 400, response
    assert queue_depth(aws) == 0


@pytest.mark.parametrize("breakage", ["no_value", "no_trigger", "no_user", "not_on_a_card"])
def test_malformed_invite_clicks_are_refused_with_400_and_open_nothing(aws, slack, twilio, breakage):
    conversation = open_sms(aws, slack)
    payload = block_actions(conversation["root_ts"], {"action_id": "invite_department", "type": "button",
                                                      "value": conversation["conversation_id"]})
    if breakage == "no_value":
        del payload["actions"][0]["value"]
    elif breakage == "no_trigger":
        del payload["trigger_id"]
    elif breakage == "no_user":
        del payload["user"]
    elif breakage == "not_on_a_card":
        payload["container"] = {"type": "view", "view_id": "V1"}
        del payload["channel"]
    slack.forget_calls()

    response = interact(payload)

    assert response["statusCode"] == 400, response
    assert "views.open" not in slack.methods()


def test_an_unsigned_or_stale_submission_is_refused_before_anything(aws, slack, twilio):
    conversation = open_sms(aws, slack)
    payload = _invite_submission(conversation)
    slack.forget_calls()

    assert interact(payload, secret="wrong-secret")["statusCode"] == 403
    assert interact(payload, timestamp=int(time.time()) - 600)["statusCode"] == 403
    forged = block_actions(conversation["root_ts"], {"action_id": "invite_department", "type": "button",
                                                     "value": conversation["conversation_id"]})
    assert interact(forged, secret="wrong-secret")["statusCode"] == 403
    assert slack.calls == [] and queue_depth(aws) == 0


def test_a_submission_for_a_modal_refdesk_does_not_know_is_acknowledged_and_ignored(aws, slack, twilio):
    payload = copy.deepcopy(fixture("slack_view_submission_invite.json"))
    payload["view"]["callback_id"] = "someone_elses_modal"

    assert interact(payload)["statusCode"] == 200
    assert queue_depth(aws) == 0


# --- /refdesk status ------------------------------------------------------------------------

def test_refdesk_status_lists_who_is_on_duty_and_the_departments_that_can_be_asked(aws, slack):
    def command(text: str, user: str) -> str:
        form = fixture("slack_command_on.json")
        form.update(text=text, user_id=user)
        response = invoke("slack_commands", slack_event("/slack/commands", urllib.parse.urlencode(form), FORM))
        assert response["statusCode"] == 200
        return json.loads(response["body"])["text"]

    command("on", "U0AMANDA")
    command("on", "U0BEN")
    status = command("status", "U0AMANDA")

    assert "*On duty:* <@U0AMANDA>, <@U0BEN>" in status
    for name in ("IT", "Archives", "Government documents", "Subject specialists"):
        assert f"• *{name}*" in status
    assert "<#C0LIBIT>" in status
    assert "<!subteam^" not in status  # listing the directory pings nobody
    assert slack.calls == []
