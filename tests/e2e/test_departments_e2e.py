"""Invite a department and quick replies end to end over the local stack, driven through the
control API as the staff view drives it: a patron texts, a librarian presses Invite (a signed
block_actions; the Slack stand-in opens the modal with views.open), submits the modal (a signed
view_submission), an IT member answers in the thread, and the patron gets it credited to IT; a
quick reply picked from the card reaches the patron with ✅."""
from __future__ import annotations

import json
import random

PATRON = f"+1555{random.randint(1000000, 9999999)}"


def texts_to(stack, number: str) -> list[str]:
    return [m["body"] for m in stack.get_json("/_local/api/phone/messages", number=number)["messages"]]


def messages(stack) -> list[dict]:
    return stack.get_json("/_local/api/slack/messages")["messages"]


def card_for(stack, question: str) -> dict:
    return stack.wait_until(lambda: next((m for m in messages(stack) if not m["thread_ts"]
                                          and question in json.dumps(m["blocks"])), None),
                            message="the conversation's card")


def test_invite_a_department_and_its_member_answers_the_patron_credited_with_it(stack):
    question = "idk how to get on the e-book app, it keeps saying error 403"
    assert stack.post_json("/_local/api/phone/send", {"from": PATRON, "body": question})["status"] == 200
    card = card_for(stack, question)
    assert any("Shorthand: idk = I don't know" in json.dumps(block) for block in card["blocks"])

    clicked = stack.post_json("/_local/api/slack/click", {"ts": card["ts"], "action_id": "invite_department"})
    assert clicked["status"] == 200
    view = stack.wait_until(lambda: next((v for v in stack.get_json("/_local/api/slack/views")["views"]
                                          if card["ts"] in v["private_metadata"]), None),
                            message="the Invite modal")
    assert view["callback_id"] == "invite_department"

    submitted = stack.post_json("/_local/api/slack/submit", {"view_id": view["id"],
                                                             "values": {"department": "it", "note": "Login loop"}})
    assert submitted["status"] == 200 and submitted["closed"] is True

    mention = stack.wait_until(lambda: next((m for m in messages(stack) if m["thread_ts"] == card["ts"]
                                             and "<!subteam^S0LIBIT>" in m["text"]), None),
                               message="the department's mention in the thread")
    assert "Login loop" in mention["text"]
    pointer = stack.wait_until(lambda: next((m for m in messages(stack) if m["channel"] == "C0LIBIT"
                                             and card["ts"].replace(".", "") in m["text"]), None),
                               message="the pointer in the department's channel")
    assert "/archives/" in pointer["text"]

    reply = stack.post_json("/_local/api/slack/reply", {"thread_ts": card["ts"], "user": "U0PRIYA",
                                                        "text": "Sign out and in again with your card number."})
    assert reply["status"] == 200
    got = stack.wait_until(lambda: [t for t in texts_to(stack, PATRON) if t.startswith("Priya (IT): ")],
                           message="the IT member's reply at the patron's phone")
    assert got == ["Priya (IT): Sign out and in again with your card number."]


def test_a_quick_reply_picked_on_the_card_reaches_the_patron_with_a_check_mark(stack):
    number = f"+1555{random.randint(1000000, 9999999)}"
    question = "what time do you open on sunday?"
    stack.post_json("/_local/api/phone/send", {"from": number, "body": question})
    card = card_for(stack, question)

    picked = stack.post_json("/_local/api/slack/select", {"ts": card["ts"], "action_id": "quick_reply",
                                                          "value": "hours", "user": "U0BEN"})
    assert picked["status"] == 200

    got = stack.wait_until(lambda: [t for t in texts_to(stack, number) if t.startswith("Ben (library): ")],
                           message="the quick reply at the patron's phone")
    assert "open" in got[0]
    post = stack.wait_until(lambda: next((m for m in messages(stack) if m["thread_ts"] == card["ts"]
                                          and "white_check_mark" in m["reactions"]), None),
                            message="the quick reply's post marked sent")
    assert "Quick reply" in json.dumps(post["blocks"]) and "<@U0BEN>" in json.dumps(post["blocks"])
