"""Only the library's staff act as staff (refdesk.staff), in process: signed Slack payloads
through the real handlers, moto, the dispatcher driven by pump, and the Slack and Twilio
stand-ins. A member of another organisation (T0PARTNER, as when the staff channel is itself
shared through Slack Connect) pressing any staff element, typing /refdesk or replying in a
staff thread gets one short ephemeral refusal, and nothing else happens."""
from __future__ import annotations

import json
import time
import urllib.parse

import pytest

from refdesk import staff
from tests.conftest import close_value, fixture, invoke, pump, slack_event
from tests.functional.test_claim_transfer import calls_named, ephemerals, sms_card
from tests.functional.test_relay import reply_payload, slack_json

OUTSIDER, OUTSIDE_TEAM = "U0PARTNER2", "T0PARTNER"


def press(card: dict, action: dict, *, user: str = OUTSIDER, team: str | None = OUTSIDE_TEAM,
          container: dict | None = None) -> dict:
    """block_actions on the card as Slack sends it for `user` of `team` (None: the payload names
    no team at all)."""
    payload = fixture("slack_block_actions_close.json")
    payload["user"] = {"id": user, "username": user.lower(), **({"team_id": team} if team else {})}
    if team:
        payload["team"]["id"] = team
    else:
        payload.pop("team")
    payload["container"]["message_ts"] = payload["message"]["ts"] = card["answered_ts"]
    if container is not None:
        payload["container"] = container
        payload.pop("channel")
    payload["actions"] = [{"block_id": "conversation", "action_ts": f"{time.time():.6f}", **action}]
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    response = invoke("slack_interactions", slack_event("/slack/interactions", body,
                                                        "application/x-www-form-urlencoded"))
    assert response["statusCode"] == 200, response
    return response


def staff_actions(conversation_id: str) -> dict[str, dict]:
    return {
        "claim": {"action_id": "claim_conversation", "type": "button", "value": conversation_id},
        "close": {"action_id": "close_conversation", "type": "button", "value": conversation_id},
        "block": {"action_id": "block_patron", "type": "button", "value": conversation_id},
        "transfer": {"action_id": "transfer_conversation", "type": "users_select", "selected_user": OUTSIDER},
        "quick reply": {"action_id": "quick_reply", "type": "static_select", "selected_option": {"value": "hours"}},
        "invite": {"action_id": "invite_department", "type": "button", "value": conversation_id},
        "READ": {"action_id": "read_level_3", "type": "button", "value": f"{conversation_id}:3"},
        "topic": {"action_id": "topic_tag", "type": "static_select",
                  "selected_option": {"value": f"{conversation_id}:catalog"}},
        "reveal": {"action_id": "reveal_original", "type": "button", "value": conversation_id},
    }


def conversation_item(conversation_id: str) -> dict:
    from refdesk import clients

    items = clients.get("table").scan()["Items"]
    return next(item for item in items if item.get("conversation_id") == conversation_id
                and str(item.get("pk", "")).startswith("CONV#") and item.get("sk") == "META")


def everything_stored() -> str:
    from refdesk import clients

    return json.dumps(sorted(clients.get("table").scan()["Items"], key=lambda item: (item["pk"], item["sk"])),
                      default=str)


@pytest.mark.parametrize("name", list(staff_actions("c")))
@pytest.mark.parametrize("team", [OUTSIDE_TEAM, None], ids=["another-team", "no-team"])
def test_an_outsiders_press_is_refused_in_one_ephemeral_line_and_nothing_else_happens(aws, slack, twilio, name,
                                                                                       team):
    card = sms_card(aws, slack)
    conversation_id = close_value(card)
    before = everything_stored()
    slack.forget_calls()
    twilio_before = len(twilio.sent)

    press(card, staff_actions(conversation_id)[name], team=team)
    pump(aws)

    assert slack.methods() == ["chat.postEphemeral"]
    assert ephemerals(slack, OUTSIDER) == [staff.REFUSAL]
    assert calls_named(slack, "chat.postEphemeral")[0]["channel"] == card["channel"]
    assert len(twilio.sent) == twilio_before
    assert everything_stored() == before


def test_the_same_press_by_a_librarian_still_works(aws, slack, twilio):
    card = sms_card(aws, slack)
    press(card, staff_actions(close_value(card))["claim"], user="U0AMANDA", team="T0LIBRARY")
    pump(aws)
    assert conversation_item(close_value(card))["claimed_by"] == "U0AMANDA"


def test_an_outsiders_press_in_the_home_tab_does_nothing_at_all(aws, slack, twilio):
    """A view has no channel to say it in: nothing happens, not even a message."""
    card = sms_card(aws, slack)
    before = everything_stored()
    slack.forget_calls()

    press(card, staff_actions(close_value(card))["claim"], container={"type": "view", "view_id": "V0HOME"})
    press(card, {"action_id": "unblock_patron", "type": "button", "value": "a" * 26},
          container={"type": "view", "view_id": "V0HOME"})
    pump(aws)

    assert slack.methods() == [] and everything_stored() == before


def test_an_outsider_cannot_open_the_invite_modal(aws, slack, twilio):
    card = sms_card(aws, slack)
    slack.forget_calls()
    press(card, staff_actions(close_value(card))["invite"])
    assert "views.open" not in slack.methods()


def test_an_outsiders_modal_submission_queues_nothing(aws, slack, twilio):
    card = sms_card(aws, slack)
    payload = fixture("slack_view_submission_invite.json")
    payload["user"] = {"id": OUTSIDER, "team_id": OUTSIDE_TEAM}
    payload["team"] = {"id": OUTSIDE_TEAM}
    payload["view"]["private_metadata"] = json.dumps({"conversation_id": close_value(card), "channel": card["channel"],
                                                      "ts": card["answered_ts"]})
    slack.forget_calls()
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    response = invoke("slack_interactions", slack_event("/slack/interactions", body,
                                                        "application/x-www-form-urlencoded"))
    assert response["statusCode"] == 200
    assert pump(aws) == [] and slack.methods() == []


@pytest.mark.parametrize("text", ["on", "off", "status", "stats 7d"])
def test_an_outsiders_slash_command_is_refused_and_puts_nobody_on_duty(aws, slack, text):
    from refdesk import presence, store

    form = {**fixture("slack_command_on.json"), "team_id": OUTSIDE_TEAM, "user_id": OUTSIDER, "text": text}
    response = invoke("slack_commands", slack_event("/slack/commands", urllib.parse.urlencode(form),
                                                    "application/x-www-form-urlencoded"))

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"response_type": "ephemeral", "text": staff.REFUSAL}
    assert store.duty.on_duty() == [] and presence.current()["status"] == "unavailable"


def test_a_librarians_slash_command_still_puts_them_on_duty(aws, slack):
    from refdesk import presence

    form = fixture("slack_command_on.json")
    invoke("slack_commands", slack_event("/slack/commands", urllib.parse.urlencode(form),
                                         "application/x-www-form-urlencoded"))
    assert presence.current()["status"] == "available"


def test_a_slash_command_naming_no_team_is_a_bad_request(aws, slack):
    form = {**fixture("slack_command_on.json")}
    del form["team_id"]
    response = invoke("slack_commands", slack_event("/slack/commands", urllib.parse.urlencode(form),
                                                    "application/x-www-form-urlencoded"))
    assert response["statusCode"] == 400


def test_an_outsiders_reply_in_a_staff_thread_gets_the_lock_and_a_refusal_and_reaches_nobody(aws, slack, twilio):
    card = sms_card(aws, slack)
    twilio_before = len(twilio.sent)
    slack.forget_calls()

    payload = reply_payload(card["answered_ts"], "We're open till 9!", user=OUTSIDER)
    payload["event"].update(team=OUTSIDE_TEAM, user_team=OUTSIDE_TEAM, source_team=OUTSIDE_TEAM)
    assert invoke("slack_events", slack_json(payload))["statusCode"] == 200
    pump(aws)

    assert len(twilio.sent) == twilio_before
    assert [call["name"] for call in calls_named(slack, "reactions.add")] == ["lock"]
    assert ephemerals(slack, OUTSIDER) == [staff.REFUSAL]
    assert "open till 9" not in everything_stored()


def test_a_reply_by_someone_slack_does_not_know_is_not_relayed(aws, slack, twilio):
    """The event names the library's team, but users.info cannot find the person: not staff."""
    card = sms_card(aws, slack)
    twilio_before = len(twilio.sent)
    assert invoke("slack_events", slack_json(reply_payload(card["answered_ts"], "We're open till 9!",
                                                           user="U0NOBODY")))["statusCode"] == 200
    pump(aws)
    assert len(twilio.sent) == twilio_before
    assert "open till 9" not in everything_stored()


def test_an_outsider_opening_the_home_tab_is_shown_nothing(aws, slack):
    payload = {"type": "event_callback", "team_id": "T0LIBRARY", "api_app_id": "A0REFDESK1",
               "event_id": f"Ev{time.time_ns()}", "event": {"type": "app_home_opened", "user": OUTSIDER, "tab": "home"}}
    assert invoke("slack_events", slack_event("/slack/events", json.dumps(payload)))["statusCode"] == 200
    pump(aws)
    assert "views.publish" not in slack.methods()


def test_a_staff_job_that_did_not_come_through_the_edge_does_nothing(aws, slack, twilio):
    """The dispatcher trusts only jobs whose actor the edge verified: one put on the queue by other
    means (or by an older version) with no verified team is dropped."""
    from refdesk import jobs
    from refdesk.models import ClaimJob, CloseJob

    card = sms_card(aws, slack)
    conversation_id = close_value(card)
    before = everything_stored()
    slack.forget_calls()
    jobs.enqueue(ClaimJob(conversation_id=conversation_id, user="U0AMANDA", action_ts="1.1"))
    jobs.enqueue(CloseJob(conversation_id=conversation_id, user="U0AMANDA", channel=card["channel"],
                          root_ts=card["answered_ts"], action_ts="1.2", actor_team=OUTSIDE_TEAM))
    pump(aws)

    assert slack.methods() == [] and everything_stored() == before


def test_without_the_librarys_team_set_nobody_is_staff_and_the_refusal_says_why(aws, slack, twilio, monkeypatch):
    from refdesk.settings import get_settings

    card = sms_card(aws, slack)
    monkeypatch.setenv("SLACK_TEAM_ID", "")
    get_settings.cache_clear()
    slack.forget_calls()

    press(card, staff_actions(close_value(card))["claim"], user="U0AMANDA", team="T0LIBRARY")
    pump(aws)

    assert ephemerals(slack, "U0AMANDA") == [staff.REFUSAL + staff.UNSET]
    assert not conversation_item(close_value(card)).get("claimed_by")
