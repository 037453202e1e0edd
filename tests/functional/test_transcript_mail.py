"""Issue 19, item 3: "E-mail me this conversation". After a web chat ended, POST
/chat/sessions/{id}/transcript {"email": …} queues one plain-text e-mail (SES: moto's) of what the
patron saw, librarians by first name; only after the close, at most twice per session, the address
checked and kept nowhere after the send (not in the table, not on the queue, never logged).
Through functions/webchat, the dispatcher and moto, as tests/functional/test_webchat.py."""
from __future__ import annotations

import json

import pytest

from tests.conftest import close_value, http_event, invoke, log_to_captured_stdout, pump
from tests.functional.test_webchat import (ORIGIN, PATRON_IP, create_session, error_of, open_chat, press_close,
                                           queued_bodies, send, staff_reply, table_items)

ADDRESS = "maria.gonzalez@example.net"
LIBRARY = "Riverside Public Library"
QUESTION = "Do you have the new Louise Erdrich novel?"
ANSWER = "Yes! We have two copies on the shelf at FIC ERD."


@pytest.fixture
def mail(aws, local_aws, monkeypatch):
    """The e-mails moto's SES accepted in this test; the library's name set."""
    from refdesk.settings import get_settings

    monkeypatch.setenv("LIBRARY_NAME", LIBRARY)
    get_settings.cache_clear()
    return local_aws.sent_mail


def ask(session: dict, body, *, source_ip: str = PATRON_IP, token: str | None = None) -> dict:
    raw = body if isinstance(body, str) else json.dumps(body)
    event = http_event("POST", f"/chat/sessions/{session['session_id']}/transcript", raw, {
        "content-type": "application/json", "authorization": f"Bearer {token or session['token']}",
        "origin": ORIGIN})
    event["requestContext"]["http"]["sourceIp"] = source_ip
    return invoke("webchat", event)


def closed_chat(aws, slack, question: str = QUESTION) -> dict:
    """A chat with a note and a reply from Amanda, closed by her: its session."""
    session = create_session()
    assert send(session, question)["statusCode"] == 201
    pump(aws)
    [root] = [post for post in slack.roots() if question in json.dumps(post)]
    staff_reply(root, "note: she asked last week too")
    staff_reply(root, ANSWER)
    pump(aws)
    press_close(close_value(root))
    pump(aws)
    return session


def test_a_closed_chat_is_emailed_once_with_what_the_patron_saw(aws, slack, mail):
    from refdesk.settings import CLOSING_TEXTS

    session = closed_chat(aws, slack)

    response = ask(session, {"email": f"  {ADDRESS} "})
    assert response["statusCode"] == 202, response
    assert json.loads(response["body"]) == {"status": "queued"}
    pump(aws)
    pump(aws)

    [sent] = mail()
    assert sent["to"] == [ADDRESS]
    assert sent["subject"] == f"Your conversation with {LIBRARY}"
    body = sent["body"]
    assert body.startswith(f"Your conversation with {LIBRARY}, ")
    lines = body.split("\n-- \n")[0].strip().split("\n\n")[1:]
    assert [line.split(" ", 1)[1] for line in lines] == [
        f"You: {QUESTION}", f"Amanda: {ANSWER}", f"{LIBRARY}: {CLOSING_TEXTS['web']}"]
    assert all(line[:5].replace(":", "").isdigit() for line in lines)  # HH:MM, the library's time
    assert "note:" not in body and "last week" not in body
    assert LIBRARY in body.split("-- \n", 1)[1]  # the signature of every e-mail reply


def test_the_address_is_nowhere_in_the_table_the_queue_or_the_logs(aws, slack, mail, monkeypatch, capfd):
    log_to_captured_stdout(monkeypatch)
    session = closed_chat(aws, slack)
    capfd.readouterr()

    assert ask(session, {"email": ADDRESS})["statusCode"] == 202
    [job] = [json.loads(body) for body in queued_bodies(aws) if json.loads(body)["kind"] == "transcript_mail"]
    assert ADDRESS not in json.dumps(job) and "example.net" not in json.dumps(job)
    pump(aws)

    assert len(mail()) == 1
    assert ADDRESS not in json.dumps(table_items(), default=str)
    assert "example.net" not in capfd.readouterr().out


def test_an_open_chat_is_409_and_nothing_is_sent(aws, slack, mail):
    session, _ = open_chat(aws, slack, QUESTION)

    response = ask(session, {"email": ADDRESS})
    pump(aws)

    assert response["statusCode"] == 409
    assert "still open" in error_of(response)["message"]
    assert mail() == []
    assert ADDRESS not in json.dumps(table_items(), default=str)


@pytest.mark.parametrize("body", [{"email": "maria.gonzalez"}, {"email": "maria@"}, {"email": "@example.net"},
                                  {"email": "maria gonzalez@example.net"}, {"email": ""}, {"email": 7}, {},
                                  {"email": "m@" + "x" * 250 + ".net"}, [ADDRESS], "not json"])
def test_a_bad_address_is_a_clear_400_that_does_not_quote_it(aws, slack, mail, body):
    session = closed_chat(aws, slack)

    response = ask(session, body)

    assert response["statusCode"] == 400, response
    message = error_of(response)["message"]
    assert "email" in message or "JSON" in message or "body" in message
    assert "maria" not in message
    pump(aws)
    assert mail() == []


def test_a_third_send_is_429_and_only_two_are_sent(aws, slack, mail):
    session = closed_chat(aws, slack)

    answers = [ask(session, {"email": address})["statusCode"] for address in (ADDRESS, f"other.{ADDRESS}")]
    third = ask(session, {"email": ADDRESS})
    pump(aws)

    assert answers == [202, 202]
    assert third["statusCode"] == 429
    assert "2 times" in error_of(third)["message"]
    assert sorted(sent["to"][0] for sent in mail()) == [ADDRESS, f"other.{ADDRESS}"]


def test_a_wrong_token_is_403_and_an_unknown_session_404(aws, slack, mail):
    session = closed_chat(aws, slack)

    assert ask(session, {"email": ADDRESS}, token="not-the-token")["statusCode"] == 403
    assert ask({**session, "session_id": "s0123abc"}, {"email": ADDRESS})["statusCode"] == 404
    assert ask({**session, "session_id": "nope!"}, {"email": ADDRESS})["statusCode"] == 404


def test_one_address_asking_for_many_sessions_is_rate_limited(aws, slack, mail, monkeypatch):
    from refdesk import webchat

    monkeypatch.setattr(webchat, "TRANSCRIPTS_PER_ADDRESS", (1, 3600))
    first, second = closed_chat(aws, slack), closed_chat(aws, slack, "Any large-print atlases?")

    assert ask(first, {"email": ADDRESS})["statusCode"] == 202
    assert ask(second, {"email": ADDRESS})["statusCode"] == 429
    assert ask(second, {"email": ADDRESS}, source_ip="198.51.100.9")["statusCode"] == 202


def test_an_address_ses_refuses_for_good_is_dropped_without_retrying(aws, slack, mail):
    from botocore.exceptions import ClientError

    from refdesk import clients
    from tests.functional.test_email_followups import FlakySes

    session = closed_chat(aws, slack)
    refusing = FlakySes([ClientError({"Error": {"Code": "MessageRejected", "Message": f"refused {ADDRESS}"},
                                      "ResponseMetadata": {"HTTPStatusCode": 400}}, "SendEmail")])
    clients.use("ses", refusing)

    assert ask(session, {"email": ADDRESS})["statusCode"] == 202
    pump(aws)
    pump(aws)

    assert refusing.calls == 1
    assert mail() == []
    assert ADDRESS not in json.dumps(table_items(), default=str)
    assert queued_bodies(aws) == []


def test_after_the_patrons_delete_nothing_is_sent(aws, slack, mail):
    session = closed_chat(aws, slack)
    assert ask(session, {"email": ADDRESS})["statusCode"] == 202
    deleted = invoke("webchat", http_event("DELETE", f"/chat/sessions/{session['session_id']}", headers={
        "origin": ORIGIN, "authorization": f"Bearer {session['token']}"}))
    assert deleted["statusCode"] == 202

    pump(aws)
    pump(aws)

    # The erasure and the send share no FIFO group: whichever runs first, the address is gone after.
    assert len(mail()) <= 1
    assert ADDRESS not in json.dumps(table_items(), default=str)
