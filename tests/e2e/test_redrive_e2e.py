"""The documented redrive (scripts/redrive.py, `make redrive`) over the local stack: a reply whose
every attempt failed lands in the dead-letter queue; once the outage is over, redriving it gets
the reply to the patron, once."""
from __future__ import annotations

import uuid

import pytest

from scripts import redrive

PATRON = "+15557650001"


@pytest.fixture(scope="module")
def outage_stack(start_devstack):
    # A Twilio outage is transient: retried for RETRY_HORIZON_HOURS of backoff, 36 s here (4 attempts).
    return start_devstack(MAX_DELIVERY_ATTEMPTS="2", LOCAL_RETRY_DELAY="0.2", RETRY_HORIZON_HOURS="0.01")


def test_a_dead_lettered_reply_is_delivered_once_after_redrive(outage_stack):
    stack = outage_stack
    question = f"Redrive question {("k" + uuid.uuid4().hex[:7])}"
    stack.post_json("/_local/api/phone/send", {"from": PATRON, "body": question})
    root = stack.wait_until(lambda: next((m for m in stack.get_json("/_local/api/slack/messages")["messages"]
                                          if not m["thread_ts"] and question in str(m["blocks"])), None),
                            message="the card")
    stack.post_json("/_local/api/faults", {"twilio": {"status": 503, "count": 50}})
    stack.post_json("/_local/api/slack/reply", {"thread_ts": root["ts"], "user": "U0AMANDA", "text": "It is in."})
    stack.wait_until(lambda: stack.get_json("/_local/api/dlq")["count"] == 1, timeout=30,
                     message="the reply in the dead-letter queue")
    assert redrive.main(["--local", stack.url(""), "--dry-run"]) == 0

    stack.post_json("/_local/api/faults", {"twilio": {"status": 503, "count": 0}})  # the outage is over
    assert redrive.main(["--local", stack.url("")]) == 0

    def replies():
        return [m["body"] for m in stack.get_json("/_local/api/phone/messages", number=PATRON)["messages"]
                if "It is in." in m["body"]]
    stack.wait_until(lambda: replies(), timeout=20, message="the reply after the redrive")
    assert stack.get_json("/_local/api/dlq")["count"] == 0
    assert len(replies()) == 1
