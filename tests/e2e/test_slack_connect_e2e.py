"""Slack Connect end to end over the local stack: a member of the partner organisation posts in the
shared channel through the control API (which signs and sends the event exactly as Slack does for
a shared channel), the card appears in the staff channel, a librarian answers in the staff
thread, and the answer appears in the shared thread with ✅ on the librarian's message. Both
directions run over HTTP; what Slack received is read from the Slack stand-in."""
from __future__ import annotations

import json
import uuid

import pytest

PARTNER_CHANNEL = "C0PARTNER1"


@pytest.fixture(scope="module")
def desk(stack):
    return stack


def messages(stack) -> list[dict]:
    return stack.get_json("/_local/api/slack/messages")["messages"]


def staff_root_with(stack, marker: str):
    staff = stack.config["slack_staff_channel"]

    def find():
        return next((m for m in messages(stack) if m["channel"] == staff and not m["thread_ts"]
                     and marker in json.dumps(m["blocks"], ensure_ascii=False)), None)
    return stack.wait_until(find, timeout=15, message=f"a staff card with {marker}")


def shared_thread(stack, root_ts: str) -> list[dict]:
    return [m for m in messages(stack) if m["channel"] == PARTNER_CHANNEL and m["thread_ts"] == root_ts]


def test_the_stack_describes_its_shared_channel(desk):
    partner = desk.config["slack_partner"]
    assert partner["channel"] == PARTNER_CHANNEL and partner["team_id"] == "T0PARTNER"
    assert "U0PARTNER1" in partner["users"]


def test_partner_asks_staff_answer_the_partner_reads_it_in_the_shared_thread(desk):
    marker = ("k" + uuid.uuid4().hex[:7])
    question = f"Do you have the 1911 Sanborn maps & the 1925 ones? ({marker})"

    posted = desk.post_json("/_local/api/slack/partner", {"text": question, "user": "U0PARTNER1"})
    assert posted["status"] == 200 and posted["channel"] == PARTNER_CHANNEL

    root = staff_root_with(desk, marker)
    card = json.dumps(root["blocks"], ensure_ascii=False)
    assert "Slack Connect · T0PARTNER ···NER1" in card
    assert "maps &amp; the 1925" in card  # escaped once: the stand-in's client escaped, the card re-escaped
    assert "Jordan" not in card and "Lee" not in card

    # The partner adds to it in the thread of their message: it joins the same conversation.
    desk.post_json("/_local/api/slack/partner", {"text": f"Also any fire atlas ({marker}-more)", "user": "U0PARTNER1",
                                                 "thread_ts": posted["ts"]})
    desk.wait_until(lambda: any(f"{marker}-more" in json.dumps(m["blocks"]) for m in messages(desk)
                                if m["thread_ts"] == root["ts"]), message="the follow-up in the staff thread")

    reply = desk.post_json("/_local/api/slack/reply", {"thread_ts": root["ts"], "user": "U0BEN",
                                                       "text": f"Yes, both are digitised <{marker}>"})
    assert reply["status"] == 200
    answer = desk.wait_until(lambda: next((m for m in shared_thread(desk, posted["ts"])  # (not its place in line)
                                           if m["user"] == "U0REFDESK" and " in line." not in m["text"]), None),
                             message="the answer in the shared thread")
    assert answer["text"] == f"Ben (library): Yes, both are digitised &lt;{marker}&gt;"
    desk.wait_until(lambda: any(m["ts"] == reply["ts"] and "white_check_mark" in m["reactions"]
                                for m in messages(desk)), message="the sent reaction")

    # The bot's own post came back as an event (bot_id): nothing new reaches the staff thread.
    staff_thread = [m for m in messages(desk) if m["thread_ts"] == root["ts"]]
    assert sum(1 for m in staff_thread if "Ben (library)" in m["text"]) == 0

    # Close: the closing line reaches the shared thread.
    assert desk.post_json("/_local/api/slack/click", {"ts": root["ts"], "action_id": "close_conversation",
                                                      "user": "U0BEN"})["status"] == 200
    desk.wait_until(lambda: any("closed" in m["text"].lower() for m in shared_thread(desk, posted["ts"])),
                    message="the closing line in the shared thread")


def test_a_partner_member_writing_in_the_staff_thread_is_never_relayed(desk):
    marker = ("k" + uuid.uuid4().hex[:7])
    posted = desk.post_json("/_local/api/slack/partner", {"text": f"Question ({marker})", "user": "U0PARTNER1"})
    root = staff_root_with(desk, marker)

    # An outsider's reply in the staff thread (the staff channel being shared): users.info says so.
    outsider = desk.post_json("/_local/api/slack/reply", {"thread_ts": root["ts"], "user": "U0PARTNER2",
                                                          "text": f"I can answer that ({marker}-outsider)"})
    assert outsider["status"] == 200
    desk.wait_until(lambda: any(m["ts"] == outsider["ts"] and "lock" in m["reactions"] for m in messages(desk)),
                    message="the outsider's message kept internal")
    assert not any(f"{marker}-outsider" in m["text"] for m in shared_thread(desk, posted["ts"]))


def test_the_staff_page_serves_the_shared_channel_pane(desk):
    page = desk.get("/_local/")
    assert page.status_code == 200 and 'id="partner-threads"' in page.text and "partner.js" in page.text
    script = desk.get("/_local/static/partner.js")
    assert script.status_code == 200 and "innerHTML" not in script.text


def test_the_control_api_refuses_what_slack_would_not_send(desk):
    assert desk.post("/_local/api/slack/partner", json={"text": "hi", "user": "U0AMANDA"}).status_code == 400
    assert desk.post("/_local/api/slack/partner", json={"user": "U0PARTNER1"}).status_code == 400
    assert desk.post("/_local/api/slack/partner", json={"text": "  "}).status_code == 400
