"""Delivery status (refdesk.delivery_status): ✅ means the patron got it. Twilio's status
callbacks (POST /twilio/status, the events/twilio_status_callback.json fixture) and SES's bounces
through SNS (events/ses_bounce_notification.json, published to the dispatcher as SNS would: moto's
SES emits no events) move a reply's 📤 to ✅ or ❌ and a note; each is asked what happens when it
fails once, fails for an hour, or succeeds and its answer is lost."""
from __future__ import annotations

import copy
import json
import urllib.parse

import pytest

from refdesk import jobs, store
from refdesk.channels import sms
from refdesk.models import Delivery
from tests.conftest import (FORM, STAFF_CHANNEL, TEXT_DELIVERED, fixture, http_event, invoke, log_to_captured_stdout,
                            pump, report_status, twilio_event)
from tests.functional.test_email_followups import mail  # noqa: F401 (a fixture)
from tests.functional.test_email_followups import follow_up, notes_in, reactions_on
from tests.functional.test_email_followups import reply as reply_in_thread
from tests.functional.test_slack_no_duplicates import PATRON, open_conversation
from tests.functional.test_twilio_no_duplicates import reply

LANDLINE_NOTE = "landline (30006)"
LONG_ANSWER = " ".join(f"Shelf {n} holds the large-print mysteries." for n in range(90))  # three texts


def held_reports(twilio) -> list[tuple[str, dict, dict]]:
    """The status reports owed so far, signed by the stand-in, not yet made."""
    owed = []
    twilio.stand_in.report_statuses(lambda *report: owed.append(report))
    return owed


def make(report: tuple[str, dict, dict]) -> dict:
    return report_status(*report)


def status_of(sid: str, status: str, error_code: str = "") -> dict:
    """The fixture of record, for this text and status."""
    params = fixture("twilio_status_callback.json")
    params.update(MessageSid=sid, SmsSid=sid, MessageStatus=status, SmsStatus=status, To=PATRON)
    if error_code:
        params["ErrorCode"] = error_code
    else:
        del params["ErrorCode"]
    return params


def callback(params: dict, **kwargs) -> dict:
    return invoke("sms_inbound", twilio_event(params, path=sms.STATUS_PATH, **kwargs))


def stored_reply(conversation_id: str):
    [message] = [message for message in store.messages.list_after(conversation_id) if message.parts_sent]
    return message


def conversation_id_of(root_ts: str) -> str:
    return store.conversations.for_thread(STAFF_CHANNEL, root_ts)


# --- Twilio -----------------------------------------------------------------------------------

def test_every_text_names_the_status_callback_under_the_public_url(aws, slack, twilio):
    root_ts = open_conversation(aws, slack)
    twilio.holding_reports = True

    ts, _ = reply(aws, root_ts)

    [text] = twilio.stand_in.sent()
    assert text["status_callback"] == "https://refdesk.example.org/twilio/status"
    assert reactions_on(slack, ts) == ["outbox_tray"]  # Twilio took it: not yet on the phone


def test_delivered_turns_the_outbox_into_a_check_mark(aws, slack, twilio):
    root_ts = open_conversation(aws, slack)

    ts, _ = reply(aws, root_ts)

    assert reactions_on(slack, ts) == TEXT_DELIVERED
    assert notes_in(slack, root_ts) == []


def test_sent_alone_keeps_the_outbox(aws, slack, twilio):
    root_ts = open_conversation(aws, slack)
    twilio.holding_reports = True
    ts, _ = reply(aws, root_ts)
    sent, _delivered = held_reports(twilio)

    assert make(sent)["statusCode"] == 204
    pump(aws)

    assert reactions_on(slack, ts) == ["outbox_tray"]


def test_the_fixture_of_record_undelivered_30006_is_a_cross_and_a_note_in_plain_words(aws, slack, twilio):
    root_ts = open_conversation(aws, slack)
    twilio.holding_reports = True
    ts, _ = reply(aws, root_ts)
    [text] = twilio.stand_in.sent()

    response = callback(status_of(text["sid"], "undelivered", "30006"))
    pump(aws)

    assert response["statusCode"] == 204
    assert reactions_on(slack, ts) == ["outbox_tray", "x"]
    [note] = notes_in(slack, root_ts)
    assert LANDLINE_NOTE in note and "most often the number is a landline" in note


def test_undelivered_and_failed_from_the_stand_in_are_crosses(aws, slack, twilio):
    root_ts = open_conversation(aws, slack)
    twilio.fail_delivery("undelivered", 30006)
    twilio.fail_delivery("failed", None)

    landline, _ = reply(aws, root_ts)
    failed, _ = reply(aws, root_ts, "And one more thing.")

    assert reactions_on(slack, landline) == reactions_on(slack, failed) == ["outbox_tray", "x"]
    notes = notes_in(slack, root_ts)
    assert len(notes) == 2 and LANDLINE_NOTE in notes[0] and "Twilio reported it failed" in notes[1]


def test_a_multi_part_reply_is_a_check_mark_only_once_every_part_is_delivered(aws, slack, twilio):
    root_ts = open_conversation(aws, slack)
    twilio.holding_reports = True
    ts, _ = reply(aws, root_ts, LONG_ANSWER)
    reports = held_reports(twilio)
    delivered = [report for report in reports if report[1]["MessageStatus"] == "delivered"]
    assert len(delivered) == 3

    for report in delivered[:2]:
        make(report)
    pump(aws)
    assert reactions_on(slack, ts) == ["outbox_tray"]

    make(delivered[2])
    pump(aws)
    assert reactions_on(slack, ts) == TEXT_DELIVERED


def test_a_multi_part_reply_with_one_part_undelivered_is_one_cross_and_one_note(aws, slack, twilio):
    root_ts = open_conversation(aws, slack)
    twilio.fail_delivery("undelivered", 30006, count=1)

    ts, _ = reply(aws, root_ts, LONG_ANSWER)  # the first part undelivered, the others delivered

    assert reactions_on(slack, ts) == ["outbox_tray", "x"]
    assert len(notes_in(slack, root_ts)) == 1
    message = stored_reply(conversation_id_of(root_ts))
    assert message.part_status == {"0": "undelivered", "1": "delivered", "2": "delivered"}


def test_reports_before_the_last_parts_hand_over_are_settled_by_it(aws, slack, twilio):
    """Twilio may report the first texts delivered while the last is still being sent."""
    root_ts = open_conversation(aws, slack)
    twilio.holding_reports = True
    twilio.fail(500, after=2)  # the third text fails once: the reply waits for its retry

    ts, _ = reply(aws, root_ts, LONG_ANSWER)
    # The retry ran in the same drain; replay the reports as if they had come before it.
    for report in held_reports(twilio):
        make(report)
    pump(aws)

    assert reactions_on(slack, ts) == TEXT_DELIVERED


def test_out_of_order_and_repeated_reports_never_downgrade_or_repeat(aws, slack, twilio):
    root_ts = open_conversation(aws, slack)
    twilio.holding_reports = True
    ts, _ = reply(aws, root_ts)
    sent, delivered = held_reports(twilio)

    for report in (delivered, sent, delivered, sent):  # delivered before sent, and each twice
        assert make(report)["statusCode"] == 204
    pump(aws)

    assert reactions_on(slack, ts) == TEXT_DELIVERED
    assert stored_reply(conversation_id_of(root_ts)).part_status == {"0": "delivered"}


@pytest.mark.parametrize("signature", ["", "bm90IFR3aWxpbydzIHNpZ25hdHVyZQ=="])
def test_an_unsigned_or_mis_signed_report_is_refused_and_changes_nothing(aws, slack, twilio, signature):
    root_ts = open_conversation(aws, slack)
    twilio.holding_reports = True
    ts, _ = reply(aws, root_ts)
    [text] = twilio.stand_in.sent()
    before = stored_reply(conversation_id_of(root_ts))

    response = callback(status_of(text["sid"], "undelivered", "30006"), signature=signature)
    pump(aws)

    assert response["statusCode"] == 403
    assert stored_reply(conversation_id_of(root_ts)) == before
    assert reactions_on(slack, ts) == ["outbox_tray"]


def test_a_report_signed_over_another_url_is_refused(aws, slack, twilio):
    root_ts = open_conversation(aws, slack)
    twilio.holding_reports = True
    reply(aws, root_ts)
    url, params, headers = held_reports(twilio)[-1]

    response = invoke("sms_inbound", http_event("POST", "/sms/inbound", urllib.parse.urlencode(params),
                                                {"Content-Type": FORM, **headers}))

    assert response["statusCode"] == 403


def test_a_report_for_an_unknown_or_erased_message_does_nothing(aws, slack, twilio):
    root_ts = open_conversation(aws, slack)
    twilio.holding_reports = True
    reply(aws, root_ts)
    [text] = twilio.stand_in.sent()
    conversation_id = conversation_id_of(root_ts)
    store.messages.list_after(conversation_id)  # it is there …
    from refdesk.store import keys
    from refdesk.store.table import table

    for message in store.messages.list_after(conversation_id):  # … and is erased
        table().delete_item(Key={"pk": keys.messages_partition(conversation_id), "sk": message.sort_key})
    slack.forget_calls()

    assert callback(status_of("SM" + "0" * 32, "delivered"))["statusCode"] == 204
    assert callback(status_of(text["sid"], "undelivered", "30006"))["statusCode"] == 204
    assert pump(aws) == []
    assert slack.calls == []


def test_a_report_that_fails_once_is_answered_503_and_twilios_repeat_settles_it(aws, slack, twilio, local_aws):
    from local.faults import Fault

    root_ts = open_conversation(aws, slack)
    twilio.holding_reports = True
    ts, _ = reply(aws, root_ts)
    _, delivered = held_reports(twilio)
    local_aws.dynamodb_faults.add(Fault(method="UpdateItem", error="ProvisionedThroughputExceededException",
                                        count=10))

    assert make(delivered)["statusCode"] == 503  # busy: Twilio may call again
    local_aws.dynamodb_faults.clear()
    assert make(delivered)["statusCode"] == 204
    pump(aws)

    assert reactions_on(slack, ts) == TEXT_DELIVERED


def test_a_report_whose_answer_was_lost_after_it_settled_shows_once(aws, slack, twilio, monkeypatch):
    """The report settled the reply, then died before it queued the ✅: the repeat queues it."""
    root_ts = open_conversation(aws, slack)
    twilio.holding_reports = True
    ts, _ = reply(aws, root_ts)
    _, delivered = held_reports(twilio)
    enqueue = jobs.enqueue

    def dies(job):
        monkeypatch.setattr(jobs, "enqueue", enqueue)
        raise ConnectionError("the process died")

    monkeypatch.setattr(jobs, "enqueue", dies)
    assert make(delivered)["statusCode"] == 503  # Twilio may call again
    assert stored_reply(conversation_id_of(root_ts)).delivery is Delivery.DELIVERED  # settled, not shown

    make(delivered)
    make(delivered)
    pump(aws)

    assert reactions_on(slack, ts) == TEXT_DELIVERED


def test_slack_failing_for_an_hour_delays_the_cross_and_its_note_never_repeats_them(aws, slack, twilio):
    root_ts = open_conversation(aws, slack)
    twilio.fail_delivery("undelivered", 30006)
    slack.fail("chat.postMessage", status=500, count=5)  # the note's post fails, again and again

    ts, _ = reply(aws, root_ts)

    # The DeliveryOutcomeJob went back to the queue on its backoff until Slack took the note
    assert [call["response"].get("ok", False) for call in slack.stand_in.calls()
            if call["method"] == "chat.postMessage"][-6:] == [False] * 5 + [True]
    assert set(reactions_on(slack, ts)) == {"outbox_tray", "x"}  # each try adds the ❌ (Slack: already_reacted)
    [note] = notes_in(slack, root_ts)
    assert LANDLINE_NOTE in note


def test_neither_the_number_nor_the_text_is_logged(aws, slack, twilio, capfd, monkeypatch):
    log_to_captured_stdout(monkeypatch)
    root_ts = open_conversation(aws, slack)
    twilio.fail_delivery("undelivered", 30006)

    reply(aws, root_ts, "Room B has the microfiche reader.")

    logs = capfd.readouterr().out
    assert "delivery settled" in logs
    assert PATRON not in logs and PATRON[1:] not in logs and "microfiche" not in logs


# --- SES (bounces and complaints through SNS) ------------------------------------------------

def ses_event(message_id: str, kind: str = "Bounce") -> dict:
    """The fixture of record, for this e-mail: an SNS notification of SES's event."""
    event = fixture("ses_bounce_notification.json")
    notification = json.loads(event["Records"][0]["Sns"]["Message"])
    notification["mail"]["messageId"] = message_id
    if kind == "Complaint":
        del notification["bounce"]
        notification.update(eventType="Complaint", complaint={"complainedRecipients": [
            {"emailAddress": "recipient@example.com"}], "complaintFeedbackType": "abuse"})
    event["Records"][0]["Sns"]["Message"] = json.dumps(notification)
    return event


def emailed_reply(aws, slack, mail) -> tuple[str, str, str]:
    """A follow-up's reply by e-mail: (the thread's ts, the reply's ts, SES's message id)."""
    _, thread_ts = follow_up(aws, slack, "maria@example.org")
    ts = reply_in_thread(aws, thread_ts)
    [sent] = mail()
    return thread_ts, ts, sent["id"]


def test_emails_go_out_under_the_configuration_set(aws, slack, twilio, mail, monkeypatch):
    from refdesk import clients

    sent = []
    ses = clients.get("ses")
    monkeypatch.setattr(ses, "send_email", lambda **request: sent.append(request) or {"MessageId": "0100-x"})
    emailed = follow_up(aws, slack, "maria@example.org")[1]
    reply_in_thread(aws, emailed)

    [request] = sent
    assert request["ConfigurationSetName"] == "refdesk-local-DeliveryEventsConfigurationSet"


@pytest.mark.parametrize("kind, words", [("Bounce", "their mail server refused it for good"),
                                         ("Complaint", "they marked the e-mail as spam")])
def test_a_bounce_or_complaint_turns_the_check_mark_into_a_cross_and_a_note(aws, slack, twilio, mail, kind, words):
    thread_ts, ts, message_id = emailed_reply(aws, slack, mail)
    assert reactions_on(slack, ts) == ["white_check_mark"]  # SES took it

    invoke("dispatcher", ses_event(message_id, kind))
    pump(aws)

    assert reactions_on(slack, ts) == ["white_check_mark", "x"]
    [note] = notes_in(slack, thread_ts)
    assert words in note


def test_a_repeated_or_unknown_ses_event_changes_nothing_twice(aws, slack, twilio, mail):
    thread_ts, ts, message_id = emailed_reply(aws, slack, mail)

    for event in (ses_event(message_id), ses_event(message_id), ses_event("0100-unknown-000000")):
        invoke("dispatcher", event)  # SNS delivers at least once; Lambda retries a failed invocation
    pump(aws)

    assert reactions_on(slack, ts).count("x") == 1
    assert len(notes_in(slack, thread_ts)) == 1


def test_an_ses_event_that_fails_once_is_tried_again_by_lambda_with_the_same_event(aws, slack, twilio, mail,
                                                                                   local_aws):
    from local.faults import Fault

    thread_ts, ts, message_id = emailed_reply(aws, slack, mail)
    event = ses_event(message_id)
    local_aws.dynamodb_faults.add(Fault(method="GetItem", error="InternalServerError", count=10))

    with pytest.raises(Exception):
        invoke("dispatcher", copy.deepcopy(event))
    local_aws.dynamodb_faults.clear()
    invoke("dispatcher", event)  # Lambda's retry of the asynchronous invocation
    pump(aws)

    assert reactions_on(slack, ts) == ["white_check_mark", "x"]
    assert len(notes_in(slack, thread_ts)) == 1


@pytest.mark.parametrize("reported, outcome", [("delivered", Delivery.DELIVERED), ("undelivered", Delivery.FAILED)])
def test_a_report_that_comes_before_its_part_is_recorded_is_taken_when_it_is(aws, slack, twilio, reported, outcome):
    """Twilio reports within seconds; when the send's answer was lost, the sender learns the id only
    on its retry (after 5 s in AWS), so the report can come first: it is held, not dropped (📤 forever)."""
    from refdesk import delivery_status
    from refdesk.models import Author, Message, Receipt
    from refdesk.store.table import now_iso

    conversation_id = conversation_id_of(open_conversation(aws, slack))
    message, _ = store.messages.put(conversation_id, Message(message_id="slack-early", at=now_iso(),
                                                              author=Author.LIBRARIAN, text="Your hold is ready.",
                                                              delivery=Delivery.PENDING))
    assert store.messages.find_part("SMearly") is None

    delivery_status.report("SMearly", reported, "the number is a landline (30006)")
    delivery_status.report("SMearly", "sent")  # behind it: changes nothing
    stored = store.messages.handed_over(conversation_id, message, 0, Receipt("SMearly", reports_delivery=True),
                                        delivery_status.HANDED_OVER, delivery=Delivery.ACCEPTED)

    assert stored.part_status == {"0": reported}
    assert delivery_status.outcome(stored) is outcome
    assert store.messages.find_part("SMearly")[2] == 0
