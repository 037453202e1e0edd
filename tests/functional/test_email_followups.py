"""Replies to follow-ups left in the widget's offline form, through the real handlers: an e-mail
address gets the reply by e-mail (SES: moto's, which like the SES sandbox sends only from a
verified identity), a phone number by SMS (the Twilio stand-in), and a contact that is neither
gets ❌ and a note; the widget shows the reply whatever happens. SES refusals are permanent
(❌ at once), throttling and server errors transient (the queue tries again). Neither the
address nor the text reaches the logs."""
from __future__ import annotations

import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.conftest import (ENV, LIBRARY_NUMBER, STAFF_CHANNEL, TEXT_DELIVERED, close_value, fixture, invoke,
                            log_to_captured_stdout, pump, slack_event)

PATRON_IP = "203.0.113.7"
ADDRESS = "maria.gonzalez@example.net"
QUESTION = "Could someone email me the list of ESL conversation groups at Eastside?"
ANSWER = "Tuesdays 6 pm at Eastside, room B, and Saturdays 10 am at Main :slightly_smiling_face:"
ANSWER_READS = "Tuesdays 6 pm at Eastside, room B, and Saturdays 10 am at Main 🙂"
LIBRARY = "Riverside Public Library"
SENDER = "askus@library.example.org"  # local.environment's SesSenderIdentity, verified by local.aws


@pytest.fixture
def mail(aws, local_aws, monkeypatch):
    """The e-mails moto's SES accepted in this test; the library's name set."""
    from refdesk.settings import get_settings

    monkeypatch.setenv("LIBRARY_NAME", LIBRARY)
    get_settings.cache_clear()
    return local_aws.sent_mail


# --- helpers ---------------------------------------------------------------------------

def follow_up(aws, slack, contact: str, *, name: str = "Maria", question: str = QUESTION) -> tuple[dict, str]:
    """A question left in the offline form with `contact`, shown in the staff channel:
    (session, the thread's ts)."""
    from refdesk import webchat as web

    session = web.create_session(PATRON_IP)
    web.post_message(session["session_id"], session["token"],
                     {"text": question, "client_id": uuid.uuid4().hex, "contact": contact, "name": name}, PATRON_IP)
    pump(aws)
    return session, slack.roots()[-1]["answered_ts"]


def live_chat(aws, slack) -> tuple[dict, str]:
    from refdesk import webchat as web

    session = web.create_session(PATRON_IP)
    web.post_message(session["session_id"], session["token"], {"text": QUESTION, "client_id": uuid.uuid4().hex},
                     PATRON_IP)
    pump(aws)
    return session, slack.roots()[-1]["answered_ts"]


def reply_event(thread_ts: str, text: str = ANSWER, *, user: str = "U0AMANDA") -> str:
    """A librarian's reply in the thread as Slack's Events API sends it (JSON body)."""
    payload = fixture("slack_message_reply.json")
    ts = f"{time.time():.6f}"
    payload["event_id"] = "Ev" + uuid.uuid4().hex[:12].upper()
    payload["event"].update(thread_ts=thread_ts, text=text, user=user, ts=ts, event_ts=ts, channel=STAFF_CHANNEL)
    return json.dumps(payload)


def deliver(body: str) -> str:
    """Slack delivers the event; returns the reply's ts."""
    response = invoke("slack_events", slack_event("/slack/events", body))
    assert response["statusCode"] == 200, response
    return json.loads(body)["event"]["ts"]


def reply(aws, thread_ts: str, text: str = ANSWER) -> str:
    ts = deliver(reply_event(thread_ts, text))
    pump(aws)
    return ts


def reactions_on(slack, ts: str) -> list[str]:
    return [params["name"] for method, params in slack.calls if method == "reactions.add" and params["timestamp"] == ts]


def notes_in(slack, thread_ts: str) -> list[str]:
    return [post["text"] for post in slack.posts() if post.get("thread_ts") == thread_ts
            and post["text"].startswith(":warning:")]


def widget_replies(session: dict) -> list[str]:
    from refdesk import webchat as web

    listed = web.list_messages(session["session_id"], session["token"], "")["messages"]
    return [message["text"] for message in listed if message["from"] != "patron"]


def conversation_of(slack, thread_ts: str) -> str:
    return close_value(next(post for post in slack.roots() if post["answered_ts"] == thread_ts))


def press_close(conversation_id: str, thread_ts: str) -> None:
    import urllib.parse

    payload = fixture("slack_block_actions_close.json")
    payload["actions"][0]["value"] = conversation_id
    payload["container"]["message_ts"] = thread_ts
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    response = invoke("slack_interactions",
                      slack_event("/slack/interactions", body, "application/x-www-form-urlencoded"))
    assert response["statusCode"] == 200, response


class FlakySes:
    """The real SES client (moto's), with errors answered first to the next send_email calls."""

    def __init__(self, errors: list[ClientError]):
        import boto3

        self.client = boto3.client("sesv2")
        self.errors = list(errors)
        self.calls = 0

    def send_email(self, **kwargs):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.client.send_email(**kwargs)


def ses_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"refused for {ADDRESS}"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "SendEmail")


def use_ses(client) -> None:
    from refdesk import clients

    clients.use("ses", client)


# --- e-mail ----------------------------------------------------------------------------

def test_a_follow_up_with_an_email_address_gets_the_reply_by_email_once(aws, slack, twilio, mail):
    session, thread_ts = follow_up(aws, slack, ADDRESS)

    body = reply_event(thread_ts)
    ts = deliver(body)
    deliver(body)  # Slack's retry of the same event
    pump(aws)
    pump(aws)

    [sent] = mail()
    assert sent["to"] == [ADDRESS]
    assert sent["from"] == f"{LIBRARY} <{SENDER}>"
    assert sent["subject"] == f"Your question to {LIBRARY}"
    assert sent["body"].startswith(f"Amanda (library): {ANSWER_READS}\n\nYou asked:\n> {QUESTION}\n\n-- \n")
    assert LIBRARY in sent["body"].split("-- \n", 1)[1]
    assert (f"To ask us something else, chat with us at {ENV['ALLOWED_ORIGINS']} or text us at {LIBRARY_NUMBER}."
            in sent["body"])
    assert reactions_on(slack, ts) == ["white_check_mark"]
    assert notes_in(slack, thread_ts) == []
    assert twilio.sent == []
    assert widget_replies(session) == [ANSWER_READS]  # a patron still on the page sees it too


def test_each_reply_is_one_email_and_notes_are_never_sent(aws, slack, twilio, mail):
    _, thread_ts = follow_up(aws, slack, "  Maria.Gonzalez@Example.NET ")

    reply(aws, thread_ts, "note: she asked at the desk last week too")
    first = reply(aws, thread_ts, "The Eastside group meets on Tuesdays.")
    second = reply(aws, thread_ts, "And the Main group on Saturdays.")

    assert [(sent["to"], sent["body"].split("\n")[0]) for sent in mail()] == [
        (["Maria.Gonzalez@Example.NET"], "Amanda (library): The Eastside group meets on Tuesdays."),
        (["Maria.Gonzalez@Example.NET"], "Amanda (library): And the Main group on Saturdays.")]
    assert reactions_on(slack, first) == reactions_on(slack, second) == ["white_check_mark"]


def test_closing_a_follow_up_sends_no_email_and_the_widget_shows_the_closing_line(aws, slack, twilio, mail):
    from refdesk.settings import CLOSING_TEXTS

    session, thread_ts = follow_up(aws, slack, ADDRESS)
    reply(aws, thread_ts)

    press_close(conversation_of(slack, thread_ts), thread_ts)
    pump(aws)

    assert len(mail()) == 1  # the reply; "start a new chat here" is for the widget
    assert widget_replies(session) == [ANSWER_READS, CLOSING_TEXTS["web"]]


# --- SMS and no way to reach -----------------------------------------------------------

@pytest.mark.parametrize("contact, number", [("(555) 123-4567", "+15551234567"), ("+1 555 123 4567", "+15551234567"),
                                             ("1-555-123-4567", "+15551234567"), ("+44 20 7946 0958", "+442079460958")])
def test_a_follow_up_with_a_phone_number_gets_the_reply_by_sms(aws, slack, twilio, mail, contact, number):
    session, thread_ts = follow_up(aws, slack, contact)

    ts = reply(aws, thread_ts)

    assert [(sent["to"], sent["from_"], sent["body"]) for sent in twilio.sent] == [
        (number, LIBRARY_NUMBER, f"Amanda (library): {ANSWER_READS}")]
    assert mail() == []
    assert reactions_on(slack, ts) == TEXT_DELIVERED
    assert widget_replies(session) == [ANSWER_READS]


def test_a_phone_follow_up_that_texted_stop_is_not_texted(aws, slack, twilio, mail):
    twilio.opt_out("+15551234567")
    _, thread_ts = follow_up(aws, slack, "555.123.4567")

    ts = reply(aws, thread_ts)

    assert twilio.sent == []
    assert reactions_on(slack, ts) == ["x"]
    [note] = notes_in(slack, thread_ts)
    assert "21610" in note


@pytest.mark.parametrize("contact", ["maria at example dot net", "maria@", "@example.net", "maria@example",
                                     "555-1234", "ask for me at the desk"])
def test_a_contact_that_is_neither_an_address_nor_a_number_gets_a_cross_and_a_note(aws, slack, twilio, mail,
                                                                                      contact):
    session, thread_ts = follow_up(aws, slack, contact)

    ts = reply(aws, thread_ts)

    assert reactions_on(slack, ts) == ["x"]
    [note] = notes_in(slack, thread_ts)
    assert "neither an e-mail address nor a phone number" in note
    assert mail() == [] and twilio.sent == []
    assert widget_replies(session) == [ANSWER_READS]  # should they still be on the page
    assert aws["sqs"].receive_message(QueueUrl=aws["dlq"]).get("Messages") is None


def test_a_live_chat_reply_is_stored_for_the_widget_and_counts_as_sent(aws, slack, twilio, mail):
    session, thread_ts = live_chat(aws, slack)

    ts = reply(aws, thread_ts)

    assert widget_replies(session) == [ANSWER_READS]
    assert reactions_on(slack, ts) == ["white_check_mark"]
    assert mail() == [] and twilio.sent == []


# --- SES errors ------------------------------------------------------------------------

def test_an_unverified_sender_is_refused_for_good_with_a_cross_and_a_clear_note(aws, slack, twilio, mail,
                                                                                 monkeypatch):
    from refdesk.settings import get_settings

    monkeypatch.setenv("SES_SENDER_IDENTITY", "not-verified@library.example.org")
    get_settings.cache_clear()
    session, thread_ts = follow_up(aws, slack, ADDRESS)

    ts = reply(aws, thread_ts)

    assert mail() == []
    assert reactions_on(slack, ts) == ["x"]
    [note] = notes_in(slack, thread_ts)
    assert "SES refused the e-mail (MessageRejected)" in note and "verified" in note
    assert ADDRESS not in note
    assert widget_replies(session) == [ANSWER_READS]


@pytest.mark.parametrize("code, status", [("MessageRejected", 400), ("AccountSuspendedException", 400),
                                          ("SendingPausedException", 400), ("AccessDeniedException", 403),
                                          ("MailFromDomainNotVerifiedException", 400)])
def test_ses_refusals_are_permanent_and_not_retried(aws, slack, twilio, mail, code, status):
    _, thread_ts = follow_up(aws, slack, ADDRESS)
    ses = FlakySes([ses_error(code, status)] * 5)
    use_ses(ses)

    ts = reply(aws, thread_ts)

    assert ses.calls == 1
    assert reactions_on(slack, ts) == ["x"]
    [note] = notes_in(slack, thread_ts)
    assert f"SES refused the e-mail ({code})" in note and "Retrying will not help" in note
    assert ADDRESS not in note  # SES's own message, which quotes the address, is not passed on
    assert mail() == []


@pytest.mark.parametrize("code, status", [("TooManyRequestsException", 429), ("Throttling", 400),
                                          ("InternalFailure", 500), ("ServiceUnavailable", 503),
                                          ("LimitExceededException", 400)])
def test_throttling_and_server_errors_are_retried_by_the_queue(aws, slack, twilio, mail, code, status):
    session, thread_ts = follow_up(aws, slack, ADDRESS)
    ses = FlakySes([ses_error(code, status)])
    use_ses(ses)

    ts = reply(aws, thread_ts)

    assert ses.calls == 2
    assert len(mail()) == 1
    assert reactions_on(slack, ts) == ["white_check_mark"]
    assert notes_in(slack, thread_ts) == []


def test_ses_failing_every_attempt_ends_in_the_dead_letter_queue_and_the_thread_is_told(aws, slack, twilio, mail):
    from refdesk import retry

    _, thread_ts = follow_up(aws, slack, ADDRESS)
    attempts = retry.transient_attempts(25)  # SES unavailable: retried for a day (RETRY_HORIZON_HOURS)
    ses = FlakySes([ses_error("ServiceUnavailable", 503)] * attempts)
    use_ses(ses)

    ts = reply(aws, thread_ts)

    assert ses.calls == attempts
    assert mail() == []
    assert reactions_on(slack, ts) == ["x"]
    [note] = notes_in(slack, thread_ts)
    assert f"not delivered after {attempts} attempts" in note
    assert aws["sqs"].receive_message(QueueUrl=aws["dlq"]).get("Messages")


def test_without_a_sender_identity_email_follow_ups_get_a_cross(aws, slack, twilio, mail, monkeypatch):
    from refdesk.settings import get_settings

    monkeypatch.setenv("SES_SENDER_IDENTITY", "")
    get_settings.cache_clear()
    _, thread_ts = follow_up(aws, slack, ADDRESS)

    ts = reply(aws, thread_ts)

    assert reactions_on(slack, ts) == ["x"]
    [note] = notes_in(slack, thread_ts)
    assert "e-mail replies are not set up" in note
    assert mail() == []


def test_a_domain_identity_sends_from_the_configured_address(aws, slack, twilio, mail, local_aws, monkeypatch):
    from refdesk.settings import get_settings

    local_aws.ses.verify_domain_identity(Domain="riverside.example.org")
    monkeypatch.setenv("SES_SENDER_IDENTITY", "riverside.example.org")
    monkeypatch.setenv("SES_FROM_ADDRESS", "reference@riverside.example.org")
    monkeypatch.setenv("LIBRARY_EMAIL", "info@riverside.example.org")
    get_settings.cache_clear()
    _, thread_ts = follow_up(aws, slack, ADDRESS)

    ts = reply(aws, thread_ts)

    [sent] = mail()
    assert sent["from"] == f"{LIBRARY} <reference@riverside.example.org>"
    assert reactions_on(slack, ts) == ["white_check_mark"]


# --- privacy ---------------------------------------------------------------------------

def test_logs_hold_neither_the_address_nor_the_texts(aws, slack, twilio, mail, capfd, monkeypatch):
    log_to_captured_stdout(monkeypatch)
    capfd.readouterr()

    _, thread_ts = follow_up(aws, slack, ADDRESS)
    reply(aws, thread_ts)
    use_ses(FlakySes([ses_error("TooManyRequestsException", 429), ses_error("MessageRejected", 400)]))
    reply(aws, thread_ts, "Also: bring your library card to the Saturday group")
    _, other = follow_up(aws, slack, "(555) 867-5309", question="Where do I renew a passport photo?")
    reply(aws, other, "The Main branch takes passport photos")
    _, nowhere = follow_up(aws, slack, "ask for Rosalind Okonkwo", question="Any Okonkwo family history?")
    reply(aws, nowhere, "The genealogy room has the Okonkwo papers")
    out = capfd.readouterr()
    logs = out.out + out.err

    assert "reply handed over" in logs and "delivery failed for good" in logs  # the logs were captured
    assert len(mail()) == 1 and len(twilio.sent) == 1
    for secret in (ADDRESS, "maria.gonzalez", "example.net", "867-5309", "5558675309", "Okonkwo", "ESL conversation",
                   "Tuesdays 6 pm", "library card", "passport", "genealogy"):
        assert secret not in logs, secret
