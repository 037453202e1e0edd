"""The idle close end to end (issue 16, item 4; refdesk.idle): the local stack over HTTP, its
scheduler firing the idle sweeps' one-time schedules at the sweeper when their time comes, as
EventBridge Scheduler does. With IdleCloseHours 0.001 (4 s) an answered conversation that nobody
closes is closed quietly within seconds of its last message: its card says so, the patron got the
answer and no closing line, and every item of it in the stack's own table expires within
RetentionDays + IdleCloseHours + a day of that message."""
from __future__ import annotations

import json
import re
import uuid
from datetime import datetime

import pytest

from tests.e2e.test_claim_transfer_e2e import card_for, conversation_id, current
from tests.e2e.test_erasure_e2e import table_dump

DAY = 24 * 3600
RETENTION_DAYS = 30


@pytest.fixture(scope="module")
def desk(start_devstack):
    return start_devstack(IDLE_CLOSE_HOURS="0.001", SMS_ACK_TEXT="", RETENTION_DAYS=str(RETENTION_DAYS))


def table_items(stack) -> list[dict]:
    return json.loads(table_dump(stack))


def test_an_answered_conversation_nobody_closes_is_closed_quietly_and_kept_no_longer_than_promised(desk):
    number = "+1555" + str(uuid.uuid4().int)[:7]
    digits = re.compile(r"\D{0,3}".join(number[2:]))
    question = f"Is the makerspace 3D printer free on Friday? {uuid.uuid4().hex[:8]}"
    assert desk.post_json("/_local/api/phone/send", {"from": number, "body": question})["status"] == 200
    card = card_for(desk, question)
    reply = desk.post_json("/_local/api/slack/reply", {"thread_ts": card["ts"], "user": "U0AMANDA",
                                                      "text": "Yes, book it at the desk."})
    assert reply["status"] == 200

    def texts() -> list[str]:
        return [m["body"] for m in desk.get_json("/_local/api/phone/messages", number=number)["messages"]]

    desk.wait_until(lambda: any("book it at the desk" in body for body in texts()), message="the answer")
    closed = desk.wait_until(lambda: "without a message" in json.dumps(current(desk, card)["blocks"]), timeout=40,
                             message="the card saying the conversation was closed for being idle")

    assert closed and "Closed after 0.001 h without a message" in json.dumps(current(desk, card)["blocks"])
    assert texts() == ["Amanda (library): Yes, book it at the desk."]  # no closing line
    mine = [item for item in table_items(desk) if item["pk"] == f"CONV#{conversation_id(card)}"]
    meta = next(item for item in mine if item["sk"] == "META")
    assert meta["status"] == "closed" and meta["closed_by"] == "" and "open_pk" not in meta
    stamps = [re.match(r"MSG#([^#]+)#", item["sk"]).group(1) for item in mine if item["sk"].startswith("MSG#")]
    last = datetime.fromisoformat(max(stamps).replace("Z", "+00:00")).timestamp()
    bound = last + RETENTION_DAYS * DAY + 0.001 * 3600 + DAY
    held = [item for item in table_items(desk) if question in json.dumps(item, default=str)
            or digits.search(json.dumps(item, default=str))]
    assert held and all(int(item["expires_at"]) <= bound for item in held), held

    # The patron's next text opens a new conversation, as after any close.
    assert desk.post_json("/_local/api/phone/send", {"from": number, "body": "One more thing!"})["status"] == 200
    assert card_for(desk, "One more thing!")["ts"] != card["ts"]
