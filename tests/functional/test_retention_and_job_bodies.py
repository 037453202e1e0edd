"""Retention in the data layer (issue 9, item 1), through the real handlers.

* Job bodies are references: a patron's message is parked on their session item by the claim
  (the webhook's one table write) and the job carries channel, session, message id,
  conversation and time. Every body queued in a whole conversation on every channel, and every
  body in the dead-letter queue, holds no patron address and no patron text.
* Closing a conversation gives all its items (conversation, messages and markers, REPLY_TO, the
  thread lookup) RetentionDays from the close; items whose expiry has passed read as absent
  before DynamoDB's TTL deletes them.
* A message parked when the conversation closes is stored first; a session holds a bounded
  amount of parked messages (429 past it, 413 for one that can never fit)."""
from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.conftest import PATRON_IP, fixture, invoke, pump
from tests.functional.test_relay import (PATRON, PHONE_ANY_FORMAT, conversation_of, error_of, press_close,
                                         staff_reply, table_items, text_in)

DAY = 24 * 3600
SMS_QUESTION = "Is the Ishiguro novel Klara and the Sun on the shelf at Eastside"
SMS_FOLLOW_UP = "Also my card 29999001234567 says blocked, can you check"
WEB_QUESTION = "Where do I find the 1911 Sanborn fire insurance maps online"
FOLLOW_UP_QUESTION = "Could someone email me the ESL conversation group times"
EMAIL = "maria.gonzalez@example.net"
PATRON_NAME = "Maria Gonzalez"
PARTNER_QUESTION = "Are the 1911 Sanborn maps of Springfield digitised"
PARTNER_USER = "U0PARTNER1"
ANSWER = "Yes: two copies at Main, shelf FIC ISH."


@pytest.fixture
def bodies(monkeypatch) -> list[str]:
    """Every job body put on the jobs queue (refdesk.jobs.enqueue is the queue's only door)."""
    from refdesk import jobs

    sent: list[str] = []
    enqueue = jobs.enqueue

    def recording(job):
        sent.append(job.to_body())
        return enqueue(job)

    monkeypatch.setattr(jobs, "enqueue", recording)
    return sent


@pytest.fixture
def retention(monkeypatch):
    from refdesk.settings import get_settings

    monkeypatch.setenv("RETENTION_DAYS", "7")
    get_settings.cache_clear()
    return 7 * DAY


REFERENCE = {"kind", "conversation_id", "at", "channel", "session_id", "message_id", "media", "sent_at"}


def assert_nothing_personal(bodies: list[str], *secrets: str) -> None:
    """No phone number in any format, none of `secrets`, and patron messages as references only."""
    assert bodies  # jobs were queued, and looked at
    for body in bodies:
        job = json.loads(body)
        assert PHONE_ANY_FORMAT.search(body) is None, body
        for secret in secrets:
            assert secret.lower() not in body.lower(), (secret, body)
        assert not {"reply_address", "patron_name", "message", "label"} & set(job), body
        if job["kind"] == "patron_message":
            assert set(job) == REFERENCE, body


def session_item(session_id: str) -> dict | None:
    from refdesk import clients

    return clients.get("table").get_item(Key={"pk": f"SESSION#{session_id}", "sk": "META"},
                                         ConsistentRead=True).get("Item")


def parked_of(item: dict | None) -> list[str]:
    return [name for name in item or {} if name.startswith("pending:")]


def sms_session() -> str:
    from refdesk import identity

    return f"sms-{identity.patron_id('sms', PATRON)}"


def partner_event(text: str, ts: str, thread_ts: str | None = None) -> dict:
    payload = fixture("slack_connect_thread_reply.json" if thread_ts else "slack_connect_message.json")
    payload["event"].update(ts=ts, event_ts=ts, text=text, user=PARTNER_USER)
    if thread_ts:
        payload["event"]["thread_ts"] = thread_ts
    payload["event_id"] = f"Ev{ts.replace('.', '')[-11:]}"
    return payload


def slack_in(payload: dict) -> dict:
    from tests.conftest import slack_event

    response = invoke("slack_events", slack_event("/slack/events", json.dumps(payload)))
    assert response["statusCode"] == 200, response
    return response


# --- job bodies are references -------------------------------------------------------------

def test_a_whole_sms_conversation_queues_no_number_and_no_patron_text(aws, slack, twilio, bodies):
    assert text_in(SMS_QUESTION)["statusCode"] == 200
    pump(aws)
    conversation = conversation_of(slack.roots()[-1])
    staff_reply(conversation["root_ts"], ANSWER)
    pump(aws)
    assert text_in(SMS_FOLLOW_UP)["statusCode"] == 200
    pump(aws)
    assert press_close(conversation["conversation_id"])["statusCode"] == 200
    pump(aws)

    assert [sent["to"] for sent in twilio.sent][-1] == PATRON  # the replies reached the number
    assert any("says blocked" in json.dumps(post) for post in slack.posts())  # staff saw the text
    kinds = [json.loads(body)["kind"] for body in bodies]
    assert kinds.count("patron_message") == 2 and "staff_reply" in kinds and "close" in kinds
    assert_nothing_personal(bodies, "Ishiguro", "Klara", "Eastside", "29999001234567", "says blocked")


def test_a_live_web_chat_and_an_offline_follow_up_with_an_email_queue_no_address_and_no_text(
        aws, slack, twilio, bodies):
    from refdesk import webchat as web

    live = web.create_session(PATRON_IP)
    web.post_message(live["session_id"], live["token"], {"text": WEB_QUESTION, "client_id": uuid.uuid4().hex},
                     PATRON_IP)
    pump(aws)
    live_thread = slack.roots()[-1]
    staff_reply(live_thread["answered_ts"], ANSWER)
    pump(aws)
    press_close(conversation_of(live_thread)["conversation_id"])
    pump(aws)

    offline = web.create_session(PATRON_IP)
    web.post_message(offline["session_id"], offline["token"],
                     {"text": FOLLOW_UP_QUESTION, "client_id": uuid.uuid4().hex, "contact": EMAIL,
                      "name": PATRON_NAME}, PATRON_IP)
    pump(aws)
    follow_up_thread = slack.roots()[-1]
    staff_reply(follow_up_thread["answered_ts"], ANSWER, ts="1700000500.000900", event_id="Ev0FOLLOWUP1")
    pump(aws)
    press_close(conversation_of(follow_up_thread)["conversation_id"], action_ts="1700000600.000001")
    pump(aws)

    listed = web.list_messages(live["session_id"], live["token"], "")["messages"]
    assert [message["text"] for message in listed][:2] == [WEB_QUESTION, ANSWER]
    assert len(slack.roots()) == 2
    assert_nothing_personal(bodies, "Sanborn", "insurance", "ESL conversation", EMAIL, "gonzalez", "Maria",
                            PATRON_IP)


def test_a_slack_connect_conversation_queues_no_partner_user_and_no_partner_text(aws, slack, twilio, bodies):
    root_ts = "1700000300.000100"
    slack_in(partner_event(PARTNER_QUESTION, root_ts))
    pump(aws)
    staff_thread = slack.roots()[-1]
    staff_reply(staff_thread["answered_ts"], ANSWER)
    pump(aws)
    slack_in(partner_event("Thanks, and the 1925 edition as well?", "1700000700.000200", thread_ts=root_ts))
    pump(aws)
    press_close(conversation_of(staff_thread)["conversation_id"])
    pump(aws)

    assert any("1925" in json.dumps(post) for post in slack.posts())  # the follow-up reached staff
    assert_nothing_personal(bodies, "Sanborn", "Springfield", "digitised", "1925 edition", PARTNER_USER, "···NER1")


def test_the_dead_letter_queue_holds_no_patron_address_and_no_patron_text(aws, slack, twilio, monkeypatch):
    """Slack down: the patron's message fails every attempt and is dead-lettered; Twilio down: a
    librarian's reply is. The dead-letter bodies hold references only; the parked message waits
    on the session (under the table's retention), so a redrive still delivers it."""
    from refdesk.settings import get_settings

    monkeypatch.setenv("RETRY_HORIZON_HOURS", "0.1")  # 6 attempts, not a day's 32: fewer than the 50 faults
    get_settings.cache_clear()
    slack.fail("chat.postMessage", status=500, count=50)
    assert text_in(SMS_QUESTION)["statusCode"] == 200
    pump(aws)
    dead = aws["sqs"].receive_message(QueueUrl=aws["dlq"], MaxNumberOfMessages=10,
                                      AttributeNames=["MessageGroupId"])["Messages"]
    assert [json.loads(message["Body"])["kind"] for message in dead] == ["patron_message"]
    assert_nothing_personal([message["Body"] for message in dead], "Ishiguro", "Klara", "Eastside")
    assert len(parked_of(session_item(sms_session()))) == 1  # still held, for a redrive

    slack.stand_in.reset()
    for message in dead:  # the administrator redrives it
        aws["sqs"].send_message(QueueUrl=aws["queue"], MessageBody=message["Body"],
                                MessageGroupId=message["Attributes"]["MessageGroupId"],
                                MessageDeduplicationId=uuid.uuid4().hex)
        aws["sqs"].delete_message(QueueUrl=aws["dlq"], ReceiptHandle=message["ReceiptHandle"])
    pump(aws)
    [card] = slack.roots()
    assert "Klara and the Sun" in json.dumps(card)
    assert parked_of(session_item(sms_session())) == []

    twilio.fail(500, count=50)
    staff_reply(card["answered_ts"], ANSWER)
    pump(aws)
    dead = aws["sqs"].receive_message(QueueUrl=aws["dlq"], MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(message["Body"])["kind"] for message in dead] == ["staff_reply"]
    assert_nothing_personal([message["Body"] for message in dead], "Ishiguro", "Klara", "Eastside")


def test_a_patron_message_waits_parked_on_its_session_until_the_dispatcher_stores_it(aws, slack, twilio, bodies):
    from refdesk import relay
    from refdesk.models import job_from_body

    assert text_in(SMS_QUESTION)["statusCode"] == 200
    item = session_item(sms_session())
    [name] = parked_of(item)
    assert SMS_QUESTION in item[name] and int(item["pending_bytes"]) > len(SMS_QUESTION)
    pump(aws)
    item = session_item(sms_session())
    assert parked_of(item) == [] and int(item["pending_bytes"]) == 0
    assert len(slack.roots()) == 1

    relay.deliver_patron_message(job_from_body(bodies[0]))  # a retry after the parked copy went
    assert len(slack.posts()) == 1 and parked_of(session_item(sms_session())) == []


def test_a_message_parked_when_the_conversation_closes_is_stored_and_shown(aws, slack, twilio):
    from refdesk import relay
    from refdesk.models import CloseJob

    assert text_in(SMS_QUESTION)["statusCode"] == 200
    pump(aws)
    conversation = conversation_of(slack.roots()[-1])
    assert text_in(SMS_FOLLOW_UP)["statusCode"] == 200  # parked and queued, not yet run
    relay.close(CloseJob(conversation_id=conversation["conversation_id"], user="U0AMANDA",
                         channel=conversation["root"]["channel"], root_ts=conversation["root_ts"]))
    released = session_item(sms_session())  # an SMS session keeps only its message ids after a close
    assert "conversation_id" not in released and parked_of(released) == []
    from refdesk import store

    texts = [message.text for message in store.messages.list_after(conversation["conversation_id"])]
    assert SMS_FOLLOW_UP in texts  # stored by the close before the session went
    pump(aws)  # the message's own job finds it stored and shows it in the thread
    assert any("says blocked" in json.dumps(post) for post in slack.posts() if post.get("thread_ts") == conversation["root_ts"])


def test_a_session_holds_a_bounded_amount_of_parked_messages(aws, slack, twilio, monkeypatch):
    from refdesk.store import sessions

    monkeypatch.setattr(sessions, "PENDING_BUDGET", 3000)  # a 1,000-character text parks in ~1.3 KB
    assert text_in("a" * 1000)["statusCode"] == 200
    assert text_in("b" * 1000)["statusCode"] == 200
    refused = text_in("c" * 1000)
    assert refused["statusCode"] == 429, refused
    assert error_of(refused)["code"] == "rate_limited"
    assert error_of(text_in("d" * 2900))["code"] == "too_large"
    assert len(parked_of(session_item(sms_session()))) == 2
    pump(aws)
    assert text_in("c" * 1000)["statusCode"] == 200  # the dispatcher caught up
    pump(aws)
    assert parked_of(session_item(sms_session())) == []


# --- retention ------------------------------------------------------------------------------

def test_closing_gives_every_item_of_the_conversation_retention_days(aws, slack, twilio, retention):
    assert text_in(SMS_QUESTION)["statusCode"] == 200
    pump(aws)
    conversation = conversation_of(slack.roots()[-1])
    staff_reply(conversation["root_ts"], ANSWER)
    pump(aws)
    open_items = [item for item in table_items(aws) if item["pk"] == f"CONV#{conversation['conversation_id']}"]
    assert {item["sk"] for item in open_items} >= {"META", "REPLY_TO"}
    # Kept while open, RetentionDays + IdleCloseHours (a day) from when they were written at most.
    assert all(time.time() + retention < int(item["expires_at"]) <= time.time() + retention + DAY
               for item in open_items)

    press_close(conversation["conversation_id"])
    pump(aws)
    closed_at = time.time()
    mine = [item for item in table_items(aws) if item["pk"] == f"CONV#{conversation['conversation_id']}"
            or (item["pk"].startswith("THREAD#") and item.get("conversation_id") == conversation["conversation_id"])]
    kinds = {item["sk"].split("#")[0] for item in mine}
    assert {"META", "REPLY_TO", "MSG", "ID"} <= kinds and any(item["pk"].startswith("THREAD#") for item in mine)
    assert sum(1 for item in mine if item["sk"].startswith("MSG#")) == 3  # question, answer, closing line
    for item in mine:
        assert closed_at + retention - 60 < int(item["expires_at"]) <= closed_at + retention, item["sk"]
    [session] = [item for item in table_items(aws) if item["pk"] == f"SESSION#{sms_session()}"]
    assert "conversation_id" not in session and int(session["expires_at"]) <= closed_at + DAY  # replays only


def test_a_closed_conversation_past_its_retention_reads_as_gone_before_ttl_deletes_it(aws, slack, twilio):
    """DynamoDB's TTL deletes up to ~48 h late: reads filter on expires_at themselves."""
    from refdesk import clients, store
    from refdesk.errors import NotFound

    assert text_in(SMS_QUESTION)["statusCode"] == 200
    pump(aws)
    conversation = conversation_of(slack.roots()[-1])
    conversation_id, root_ts = conversation["conversation_id"], conversation["root_ts"]
    press_close(conversation_id)
    pump(aws)
    assert store.conversations.for_thread(conversation["root"]["channel"], root_ts) == conversation_id
    assert store.conversations.get_reply_to(conversation_id).address == PATRON
    first = store.messages.list_after(conversation_id)[0]
    assert store.messages.get(conversation_id, first.message_id) == first

    table = clients.get("table")
    past = int(time.time()) - 60
    for item in table_items(aws):  # retention over; TTL has not deleted them yet
        if item["pk"] == f"CONV#{conversation_id}" or item.get("conversation_id") == conversation_id:
            table.update_item(Key={"pk": item["pk"], "sk": item["sk"]}, UpdateExpression="SET expires_at = :t",
                              ExpressionAttributeValues={":t": past})

    with pytest.raises(NotFound):
        store.conversations.get(conversation_id)
    assert store.conversations.get_reply_to(conversation_id).address == ""
    assert store.conversations.for_thread(conversation["root"]["channel"], root_ts) is None
    assert store.messages.list_after(conversation_id) == []
    assert store.messages.get(conversation_id, first.message_id) is None
    twilio.forget_sent()
    staff_reply(root_ts, "One more thing about your question", ts="1700000900.000100", event_id="Ev0LATE00001")
    pump(aws)
    assert twilio.sent == []  # nobody left to send to: the number is gone
