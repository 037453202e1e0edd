"""Canned replies librarians manage in Slack (refdesk.canned_replies, issue 19 item 2): seeded once
from desk.json, listed on the Home tab, added, edited and deleted through a modal (a bad variable
keeps the modal open with Slack showing why), every change audited, offered by every card's
"Quick reply…" menu, and sent with their variables filled."""
from __future__ import annotations

import json
import time

from tests.conftest import fixture, pump
from tests.functional.test_departments_and_quick_replies import (PATRON, calls_named, choose_quick_reply, interact,
                                                                  open_sms, open_web, what_patron_got)
from tests.functional.test_home_tab import last_view, open_home

LIBRARIAN = "U0AMANDA"


def home_click(action: dict, *, user: str = LIBRARIAN, team: str = "T0LIBRARY") -> dict:
    """A button pressed on the Home tab (a view, no channel), with a fresh trigger_id."""
    payload = fixture("slack_block_actions_home_filter.json")
    payload["user"].update(id=user, team_id=team)
    payload["team"]["id"] = team
    payload["trigger_id"] = f"{int(time.time())}.1379717998065.{time.time_ns()}"
    payload["actions"] = [{"type": "button", "block_id": "canned", "action_ts": f"{time.time():.6f}", **action}]
    return interact(payload)


def submit(view: dict, label: str | None, text: str | None, *, delete: bool = False, user: str = LIBRARIAN,
           team: str = "T0LIBRARY") -> dict:
    """The canned reply modal, as the stand-in opened it, submitted with these fields."""
    payload = fixture("slack_view_submission_invite.json")
    payload["user"].update(id=user, team_id=team)
    payload["team"]["id"] = team
    values = {"label": {"label": {"type": "plain_text_input", "value": label}},
              "text": {"text": {"type": "plain_text_input", "value": text}}}
    if delete:
        values["delete"] = {"delete": {"type": "checkboxes", "selected_options": [
            {"text": {"type": "plain_text", "text": "Delete this canned reply"}, "value": "delete"}]}}
    payload["view"] = {**view, "id": f"V{time.time_ns()}", "state": {"values": values}}
    return interact(payload)


def opened_modal(slack) -> dict:
    view = slack.stand_in.open_views()[-1]
    assert view["callback_id"] == "canned_reply"
    return view


def audit() -> list[tuple[str, str, str]]:
    from refdesk import store

    return [(entry["change"], entry["reply_id"], entry["user"]) for entry in store.canned.audit()]


def by_id() -> dict:
    from refdesk import canned_replies

    return {reply.reply_id: reply for reply in canned_replies.all_replies()}


def test_desk_json_seeds_the_replies_once_and_a_deleted_one_stays_deleted(aws):
    from refdesk import deskconfig, store

    seeds = {reply.id for reply in deskconfig.get().quick_replies}
    assert set(by_id()) == seeds
    store.canned.delete(by_id()["wifi"], LIBRARIAN)
    assert set(by_id()) == seeds - {"wifi"}  # not seeded again
    assert not store.canned.seed([])


def test_add_edit_and_delete_through_the_home_tabs_modal_each_audited(aws, slack):
    open_home()
    pump(aws)
    assert any(block.get("block_id") == "canned:hours" for block in last_view(slack, LIBRARIAN)["blocks"])

    assert home_click({"action_id": "canned_add", "text": {"type": "plain_text", "text": "Add"}})["statusCode"] == 200
    answer = submit(opened_modal(slack), "Room booking", "Hi {patron_first_name}, book rooms at /rooms. {librarian}")
    assert answer["statusCode"] == 200 and answer["body"] == ""  # closes the modal
    pump(aws)
    assert by_id()["room-booking"].text == "Hi {patron_first_name}, book rooms at /rooms. {librarian}"
    assert any(block.get("block_id") == "canned:room-booking" for block in last_view(slack, LIBRARIAN)["blocks"])

    home_click({"action_id": "canned_edit", "value": "room-booking", "text": {"type": "plain_text", "text": "Edit"}})
    view = opened_modal(slack)
    inputs = {block["block_id"]: block["element"] for block in view["blocks"] if block["type"] == "input"}
    assert inputs["label"]["initial_value"] == "Room booking" and "delete" in inputs
    submit(view, "Room booking", "Book study rooms at /rooms.")
    pump(aws)
    assert by_id()["room-booking"].text == "Book study rooms at /rooms."

    submit(view, "Room booking", "Book study rooms at /rooms.", delete=True)
    pump(aws)
    assert "room-booking" not in by_id()
    assert audit() == [("deleted", "room-booking", LIBRARIAN), ("edited", "room-booking", LIBRARIAN),
                       ("added", "room-booking", LIBRARIAN)]


def test_an_unknown_variable_keeps_the_modal_open_saying_why_and_saves_nothing(aws, slack):
    home_click({"action_id": "canned_add", "text": {"type": "plain_text", "text": "Add"}})
    answer = submit(opened_modal(slack), "Hours", "We open at {opening_time}.")

    assert answer["statusCode"] == 200
    body = json.loads(answer["body"])
    assert body["response_action"] == "errors" and "{opening_time}" in body["errors"]["text"]
    assert list(body["errors"]) == ["text"]
    pump(aws)
    assert "hours-2" not in by_id() and audit() == []


def test_only_the_librarys_staff_can_change_them(aws, slack):
    home_click({"action_id": "canned_add", "text": {"type": "plain_text", "text": "Add"}}, user="U0PARTNER1",
               team="T0PARTNER")
    assert slack.stand_in.open_views() == []
    view = {"id": "V1", "type": "modal", "callback_id": "canned_reply", "private_metadata": json.dumps({"reply_id": ""})}
    submit(view, "Sneaky", "Call 555-0100.", user="U0PARTNER1", team="T0PARTNER")
    pump(aws)
    assert "sneaky" not in by_id() and audit() == []


def test_a_reply_is_sent_with_its_variables_filled(aws, slack, twilio):
    from refdesk import canned_replies, store
    from refdesk.store.canned import CannedReply

    by_id()  # seeded
    store.canned.save(CannedReply("greeting", "Greeting", "Hi {patron_first_name}, we're open {hours_today} today "
                                  "at {library_name}. {librarian}"), LIBRARIAN, added=True)
    hours = canned_replies.hours_today()

    sms = open_sms(aws, slack)  # no name: it goes with its space
    choose_quick_reply(sms, "greeting")
    pump(aws)
    assert what_patron_got(sms, twilio, slack) == [
        f"Amanda (library): Hi, we're open {hours} today at the library. Amanda"]


def test_a_web_follow_ups_name_fills_patron_first_name(aws, slack, twilio):
    from refdesk import store, webchat
    from refdesk.store.canned import CannedReply
    from tests.functional.test_email_followups import PATRON_IP

    by_id()
    store.canned.save(CannedReply("greeting", "Greeting", "Hi {patron_first_name}, thanks for asking."), LIBRARIAN,
                      added=True)
    session = webchat.create_session(PATRON_IP)
    webchat.post_message(session["session_id"], session["token"], {
        "text": "Any ESL groups?", "client_id": "c-1", "contact": "+15551234567", "name": "Maria Gonzalez"}, PATRON_IP)
    pump(aws)
    root = slack.roots()[-1]
    choose_quick_reply({"root_ts": root["answered_ts"]}, "greeting")
    pump(aws)
    assert [message["body"] for message in twilio.sent] == ["Amanda (library): Hi Maria, thanks for asking."]


def test_a_reply_deleted_after_the_card_was_posted_is_not_sent_and_the_librarian_is_told(aws, slack, twilio):
    from refdesk import store

    web = open_web(aws, slack)
    store.canned.delete(by_id()["hours"], LIBRARIAN)
    choose_quick_reply(web, "hours")
    pump(aws)
    assert what_patron_got(web, twilio, slack) == []
    told = [call["text"] for call in calls_named(slack, "chat.postEphemeral")]
    assert "That canned reply was deleted." in told
    assert PATRON  # the SMS patron of the helpers is not involved
