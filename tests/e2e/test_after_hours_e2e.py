"""After hours, one coherent answer, end to end (issue 16 item 9): with the desk closed, a patron
behind another is not told "shortly" nor a place in line, gets two automated texts at most (the
webhook's acknowledgement and the after-hours reply), and GET /presence words the opening as
that reply does, in the library's time zone, for the widget."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FIRST, SECOND = "+15557660001", "+15557660002"


@pytest.fixture(scope="module")
def closed_desk(start_devstack):
    zone = ZoneInfo("America/New_York")
    opening = datetime.now(zone) + timedelta(days=3)  # closed now, whatever the hour
    stack = start_devstack(LIBRARY_TIMEZONE="America/New_York",
                           OPENING_HOURS=json.dumps({DAYS[opening.weekday()]: "09:00-10:00"}))
    return stack, f"{opening:%a} 9:00"


def test_a_second_patron_after_hours_gets_the_after_hours_reply_and_the_acknowledgement_only(closed_desk):
    stack, opens = closed_desk
    acknowledged = {}
    for number in (FIRST, SECOND):
        answer = stack.post_json("/_local/api/phone/send", {"from": number, "body": "Are you open on Sunday?"})
        acknowledged[number] = len(re.findall(r"<Message>", answer["twiml"]))

    def texts(number: str) -> list[str]:
        return [message["body"] for message in stack.get_json("/_local/api/phone/messages", number=number)["messages"]]

    reply = f"The desk is closed now; a librarian will answer when we open {opens}."
    stack.wait_until(lambda: reply in texts(SECOND), timeout=15, message="the after-hours reply")
    stack.post_json("/_local/api/phone/send", {"from": SECOND, "body": "Hello?"})  # the same question, again
    stack.wait_until(lambda: len([m for m in stack.get_json("/_local/api/slack/messages")["messages"]
                                  if "Hello?" in str(m.get("text", ""))]) == 1, message="the follow-up shown")
    assert texts(SECOND) == [reply]
    assert acknowledged[SECOND] + len(texts(SECOND)) <= 2
    assert not [body for number in (FIRST, SECOND) for body in texts(number) if "shortly" in body or "in line" in body]

    presence = stack.get_json("/presence")
    assert presence["open_now"] is False and presence["opens"] == opens  # the widget's words, the reply's
