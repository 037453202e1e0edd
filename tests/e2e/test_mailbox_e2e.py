"""E-mailed replies end to end: the local stack over HTTP (`make dev`'s), a follow-up left through
the widget's chat API with an e-mail address, the librarian's reply typed in the Slack stand-in,
and the e-mail read back from the staff view's mailbox (GET /_local/api/mail: what the embedded
moto's SES accepted, from the sender identity the stack verified at start)."""
from __future__ import annotations

import uuid

import pytest

from local.environment import LOCAL_PARAMETER_VALUES

SENDER = LOCAL_PARAMETER_VALUES["SesSenderIdentity"]


@pytest.fixture
def fresh(stack):
    """The session's stack with nothing recorded, the mailbox included, and left that way."""
    stack.reset()
    yield stack
    stack.reset()


def follow_up(stack, question: str, contact: str) -> dict:
    """A question left in the offline form, as the widget sends it: the session."""
    origin = {"Origin": stack.base_url}
    created = stack.post("/chat/sessions", headers=origin)
    assert created.status_code == 201, created.text
    session = created.json()
    sent = stack.post(f"/chat/sessions/{session['session_id']}/messages",
                      headers={**origin, "Authorization": f"Bearer {session['token']}"},
                      json={"text": question, "client_id": uuid.uuid4().hex, "contact": contact, "name": "Maria"})
    assert sent.status_code == 201, sent.text
    return session


def root_with(stack, marker: str) -> dict:
    def find():
        return next((m for m in stack.get_json("/_local/api/slack/messages")["messages"]
                     if not m["thread_ts"] and marker in str(m["blocks"])), None)
    return stack.wait_until(find, message=f"the card for {marker}")


def reply(stack, thread_ts: str, text: str) -> str:
    answer = stack.post_json("/_local/api/slack/reply", {"thread_ts": thread_ts, "text": text, "user": "U0AMANDA"})
    assert answer["status"] == 200, answer
    return answer["ts"]


def reactions_of(stack, ts: str) -> list[str]:
    message = next(m for m in stack.get_json("/_local/api/slack/messages")["messages"] if m["ts"] == ts)
    return message["reactions"]


def test_a_reply_to_an_email_follow_up_is_in_the_mailbox_with_a_check_mark(fresh):
    stack, marker = fresh, ("k" + uuid.uuid4().hex[:7])
    address = f"maria.{marker}@example.net"
    session = follow_up(stack, f"Do you have large-print cookbooks? ({marker})", address)
    root = root_with(stack, marker)

    ts = reply(stack, root["ts"], f"Yes, on the shelf at 641.5 LP :books: ({marker}-reply)")

    [mail] = stack.wait_until(lambda: stack.get_json("/_local/api/mail", to=address)["messages"],
                              message="the e-mail in the mailbox")
    assert mail["to"] == [address]
    assert SENDER in mail["from"]
    assert mail["subject"].startswith("Your question to ")
    assert mail["body"].startswith(f"Amanda (library): Yes, on the shelf at 641.5 LP 📚 ({marker}-reply)\n")
    assert f"chat with us at {stack.base_url}" in mail["body"]
    assert f"text us at {stack.config['twilio_from_number']}" in mail["body"]
    assert stack.wait_until(lambda: reactions_of(stack, ts), message="the reaction") == ["white_check_mark"]
    assert stack.get_json("/_local/api/mail")["sender"] == SENDER

    listed = stack.get(f"/chat/sessions/{session['session_id']}/messages",
                       headers={"Origin": stack.base_url, "Authorization": f"Bearer {session['token']}"}).json()
    assert [m["text"] for m in listed["messages"] if m["from"] == "librarian"] == [
        f"Yes, on the shelf at 641.5 LP 📚 ({marker}-reply)"]

    stack.reset()
    assert stack.get_json("/_local/api/mail")["messages"] == []


def test_a_follow_up_that_left_no_way_to_reach_them_gets_a_cross_and_no_email(fresh):
    stack, marker = fresh, ("k" + uuid.uuid4().hex[:7])
    follow_up(stack, f"Can I renew by phone? ({marker})", "ask for Maria at the front desk")
    root = root_with(stack, marker)

    ts = reply(stack, root["ts"], f"Yes, at 555-0100 ({marker}-reply)")

    assert stack.wait_until(lambda: reactions_of(stack, ts), message="the reaction") == ["x"]
    notes = [m["text"] for m in stack.get_json("/_local/api/slack/messages")["messages"]
             if m["thread_ts"] == root["ts"] and m["text"].startswith(":warning:")]
    assert len(notes) == 1 and "neither an e-mail address nor a phone number" in notes[0]
    assert stack.get_json("/_local/api/mail")["messages"] == []
