"""Twilio failing the desk's replies, over the local stack (its own instance, so that no other
test's patrons wait in line and take a text): a Twilio outage (5xx) on a librarian's replies
holds them back, and once it clears the patron gets each reply exactly once and in order; a
patron who opted out (Twilio error 21610) costs one attempt, a ❌ and one note in the thread,
and replies reach them again after they text START; a text Twilio accepted though its answer was
lost is found in Twilio's Messages list on the retry and not sent again."""
from __future__ import annotations

import json
import time
import uuid

import pytest


LIBRARIAN = "U0AMANDA"


@pytest.fixture(scope="module")
def desk(start_devstack):
    return start_devstack()


def new_patron() -> str:
    return "+1555" + str(uuid.uuid4().int)[:7]


def open_conversation(desk, patron: str) -> dict:
    marker = "k" + uuid.uuid4().hex[:7]
    desk.post_json("/_local/api/phone/send", {"from": patron, "body": f"Question {marker}"})
    return desk.wait_until(lambda: next((m for m in slack_messages(desk) if not m["thread_ts"]
                                         and marker in json.dumps(m["blocks"])), None), message="the card")


def slack_messages(desk) -> list[dict]:
    return desk.get_json("/_local/api/slack/messages")["messages"]


def reply(desk, root: dict, text: str) -> str:
    return desk.post_json("/_local/api/slack/reply", {"thread_ts": root["ts"], "user": LIBRARIAN, "text": text})["ts"]


def phone(desk, patron: str) -> dict:
    return desk.get_json("/_local/api/phone/messages", number=patron)


def texts(desk, patron: str, word: str) -> list[str]:
    return [m["body"] for m in phone(desk, patron)["messages"] if word in m["body"]]


def reactions_on(desk, ts: str) -> list[str]:
    return next(m["reactions"] for m in slack_messages(desk) if m["ts"] == ts)


def notes_in(desk, root: dict, words: str) -> list[dict]:
    return [m for m in slack_messages(desk) if m["thread_ts"] == root["ts"] and words in m["text"]]


def test_replies_held_up_by_a_twilio_outage_reach_the_patron_once_each_and_in_order(desk):
    patron = new_patron()
    root = open_conversation(desk, patron)
    desk.post_json("/_local/api/faults", {"twilio": {"status": 503, "count": 3}})

    sent = [reply(desk, root, f"Answer {n} of 3") for n in (1, 2, 3)]

    desk.wait_until(lambda: len(texts(desk, patron, " of 3")) >= 3, timeout=30, message="the three replies")
    time.sleep(1)  # long enough for a duplicate to follow
    assert texts(desk, patron, " of 3") == [f"Amanda (library): Answer {n} of 3" for n in (1, 2, 3)]
    refused = [a for a in phone(desk, patron)["attempts"] if a["status"] == 503]
    assert len(refused) == 3 and {a["body"] for a in refused} == {"Amanda (library): Answer 1 of 3"}
    desk.wait_until(lambda: all("white_check_mark" in reactions_on(desk, ts) for ts in sent), message="✅ on each")
    assert desk.get_json("/_local/api/dlq") == {"count": 0}


def test_a_text_whose_answer_was_lost_reaches_the_patron_once(desk):
    patron = new_patron()
    root = open_conversation(desk, patron)
    desk.post_json("/_local/api/faults", {"twilio": {"status": 500, "commit": True}})

    sent = reply(desk, root, "Your hold is ready at Main.")

    desk.wait_until(lambda: "white_check_mark" in reactions_on(desk, sent), timeout=30, message="✅ on the reply")
    time.sleep(1)  # long enough for a duplicate to follow
    assert texts(desk, patron, "hold is ready") == ["Amanda (library): Your hold is ready at Main."]
    assert [a["status"] for a in phone(desk, patron)["attempts"]] == [500]  # sent, its answer lost; not sent again
    assert desk.get_json("/_local/api/dlq") == {"count": 0}


def test_an_opted_out_patron_costs_one_attempt_and_one_note_and_hears_from_us_after_start(desk):
    patron = new_patron()
    root = open_conversation(desk, patron)
    desk.post_json("/_local/api/faults", {"twilio_opted_out": [patron]})

    refused = reply(desk, root, "The book is on hold for you.")

    desk.wait_until(lambda: "x" in reactions_on(desk, refused), message="❌ on the reply")
    desk.wait_until(lambda: notes_in(desk, root, "Not delivered"), message="the note in the thread")
    time.sleep(1)  # long enough for a retry storm to show
    [note] = notes_in(desk, root, "Not delivered")
    assert "21610" in note["text"] and "Retrying will not help" in note["text"]
    assert [a["status"] for a in phone(desk, patron)["attempts"]] == [400]
    assert desk.get_json("/_local/api/dlq") == {"count": 0}

    desk.post_json("/_local/api/faults", {"twilio_opted_out": []})  # the patron texted START to Twilio …
    assert desk.text_in(patron, "START", OptOutType="START").status_code == 200  # … which tells the desk (Advanced Opt-Out)
    later = reply(desk, root, "Welcome back: it is still on hold.")

    desk.wait_until(lambda: texts(desk, patron, "Welcome back"), message="the reply after START")
    desk.wait_until(lambda: "white_check_mark" in reactions_on(desk, later), message="✅ on the later reply")
    assert texts(desk, patron, "on hold") == ["Amanda (library): Welcome back: it is still on hold."]


def test_a_close_that_fails_midway_finishes_once_when_slack_and_twilio_recover(desk):
    patron = new_patron()
    root = open_conversation(desk, patron)
    # The card's update fails twice, then the closing text fails twice: each retry of the close
    # resumes at the step that failed.
    desk.post_json("/_local/api/faults", {"slack": {"method": "chat.update", "status": 500, "count": 2},
                                          "twilio": {"status": 503, "count": 2}})

    assert desk.post_json("/_local/api/slack/click", {"ts": root["ts"], "action_id": "close_conversation",
                                                      "user": LIBRARIAN})["status"] == 200

    desk.wait_until(lambda: texts(desk, patron, "closed"), timeout=30, message="the closing text")
    time.sleep(1)  # long enough for a repeat to follow
    assert len(texts(desk, patron, "closed")) == 1
    refused = [a for a in phone(desk, patron)["attempts"] if a["status"] == 503]
    assert len(refused) == 2 and all("closed" in a["body"] for a in refused)  # the faults did happen
    [card] = [m for m in slack_messages(desk) if m["ts"] == root["ts"]]
    assert "Closed by" in json.dumps(card["blocks"])
    assert not [m for m in slack_messages(desk) if "already closed" in m["text"]]
    assert desk.get_json("/_local/api/dlq") == {"count": 0}
    marker = "k" + uuid.uuid4().hex[:7]  # the patron's next text opens a new conversation
    desk.post_json("/_local/api/phone/send", {"from": patron, "body": f"New question {marker}"})
    fresh = desk.wait_until(lambda: next((m for m in slack_messages(desk) if not m["thread_ts"]
                                          and marker in json.dumps(m["blocks"])), None), message="a new card")
    assert fresh["ts"] != root["ts"]
