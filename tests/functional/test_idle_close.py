"""The idle close (issue 16, item 4; refdesk.idle): a conversation with no message for
IdleCloseHours (24) is closed quietly: its card says so, the patron is told nothing, its session is
released and retention runs from then; a question nobody has taken is never closed so. Over the
local parts: the webhooks, the dispatcher fed by the jobs queue's pump, the sweeper invoked by its
one-time schedules in moto (fired as the scheduler fires them, by the test's clock).

Also the three questions for each AWS or Slack call it adds: the idle sweep's CreateSchedule (when
a conversation is taken), its SendMessage of the close's job, the close's conditional write, the
card's chat.update: what if it fails once, fails for an hour, or its answer is lost after it
succeeded. And the backstop: every item holding a patron's text or number, in an open conversation
that is never closed and in one idle-closed, expires within RetentionDays + IdleCloseHours + a day
of its last message.

Time: the store's clock (store.table.now_iso: every time written) and refdesk.idle's are the real
one moved on by the test (`clock.passes`); the schedules fire by the same clock (`run`)."""
from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta

import pytest

from local.faults import Fault
from tests.conftest import fire_due_schedules, fixture, invoke, pump
from tests.functional.test_live import frames, live_api  # noqa: F401 (a fixture)
from tests.functional.test_relay import (PHONE_ANY_FORMAT, conversation_of, open_conversation, staff_reply, table_items,
                                         text_in)
from tests.functional.test_retention_and_job_bodies import partner_event, slack_in
from tests.functional.test_sweep_wakeups import Clock, fail_calls, fail_creating_wake_ups, moved_clock

HOUR = timedelta(hours=1)
ROUNDING = timedelta(seconds=1)  # a wake-up is at a whole second, rounded up: a step that must reach one adds it
DAY = 24 * 3600
QUESTION = "Is Klara and the Sun on the shelf at Eastside?"
ANSWER = "Yes: two copies at Main, shelf FIC ISH."
IDLE_LINE = "Closed after 24 h without a message"
LIBRARIAN = "U0AMANDA"


# --- the clock, the wake-ups ---------------------------------------------------------------------

@pytest.fixture
def clock(monkeypatch) -> Clock:
    """The clock of every time the store writes (store.table.now_iso) and of refdesk.idle."""
    from refdesk import idle
    from refdesk.store import table

    return moved_clock(monkeypatch, table, idle)


def idle_wake_ups(aws) -> list[datetime]:
    """When the pending idle sweeps are due, soonest first."""
    return [when for when, name in aws["schedules"].pending() if name.startswith("idle-")]


def run(aws, clock: Clock) -> list[dict]:
    """The idle sweeps due by the clock, fired (a failed one is retried a minute later); their results."""
    return [result for result in fire_due_schedules(aws, clock.now()) if "idle" in result]


def later(aws, clock: Clock, delta: timedelta) -> list[dict]:
    clock.passes(delta)
    return run(aws, clock)


def settle(aws, clock: Clock) -> None:
    """Each idle sweep in turn, the clock moved on to it, and the jobs it queued; until none is armed."""
    for _ in range(50):
        pending = idle_wake_ups(aws)
        if not pending:
            return
        clock.passes(max(pending[0] - clock.now(), timedelta()) + timedelta(seconds=1))
        run(aws, clock)
        pump(aws)
    raise AssertionError("the idle sweeps never stopped")


def answered(aws, slack, question: str = QUESTION, **overrides) -> dict:
    """An SMS conversation a librarian answered (the reply claimed it), never closed."""
    text_in(question, **overrides)
    pump(aws)
    conversation = conversation_of(slack.roots()[-1])
    staff_reply(conversation["root_ts"], ANSWER)
    pump(aws)
    return conversation


def stored(conversation_id: str):
    from refdesk import store

    return store.conversations.get(conversation_id)


def card_edits(slack, root_ts: str) -> list[str]:
    return [json.dumps(call["params"]) for call in slack.stand_in.calls()
            if call["method"] == "chat.update" and call["params"].get("ts") == root_ts]


def idle_closed(slack, conversation: dict) -> bool:
    return any(IDLE_LINE in edit for edit in card_edits(slack, conversation["root_ts"]))


def texts_to_patron(twilio) -> list[str]:
    return [sent["body"] for sent in twilio.sent]


def dead_letters(aws) -> list[dict]:
    return aws["sqs"].receive_message(QueueUrl=aws["dlq"], MaxNumberOfMessages=10).get("Messages", [])


# --- the idle close -------------------------------------------------------------------------------

def test_an_answered_conversation_left_open_is_closed_quietly_a_day_after_its_last_message(
        aws, slack, twilio, clock):
    conversation = answered(aws, slack)
    [armed] = idle_wake_ups(aws)  # the reply claimed it: an idle sweep armed for a day later
    assert timedelta(hours=23, minutes=59) < armed - clock.now() <= timedelta(hours=24, seconds=1)

    assert later(aws, clock, timedelta(hours=23)) == []
    assert later(aws, clock, HOUR + timedelta(minutes=1)) == [{"idle": 0}]  # its message recorded to the hour
    assert later(aws, clock, HOUR + ROUNDING) == [{"idle": 1}]
    slack.forget_calls()
    pump(aws)

    closed = stored(conversation["conversation_id"])
    homes = [call["params"] for call in slack.stand_in.calls() if call["method"] == "views.publish"]
    assert homes and {home["user_id"] for home in homes} >= {LIBRARIAN}  # Amanda's Home tab drops it
    assert conversation["conversation_id"] not in json.dumps(homes[-1])
    assert not closed.is_open and closed.closed_by == "" and closed.close_finished_at
    assert idle_closed(slack, conversation)  # the card says so
    assert texts_to_patron(twilio) == [f"Amanda (library): {ANSWER}"]  # the patron was told nothing more
    session = next(item for item in table_items(aws) if item["pk"].startswith("SESSION#sms-"))
    assert "conversation_id" not in session  # released: the next text opens a new conversation
    closed_at = datetime.fromisoformat(closed.closed_at.replace("Z", "+00:00")).timestamp()
    for item in table_items(aws):
        if item["pk"] == f"CONV#{conversation['conversation_id']}":
            assert int(item["expires_at"]) <= closed_at + 30 * DAY, item["sk"]  # retention runs from the close

    assert later(aws, clock, HOUR + ROUNDING) == [{"idle": 0}]  # a step on, to see it gone: nothing open, nothing armed
    assert idle_wake_ups(aws) == []
    text_in("One more question: is the café open?")
    pump(aws)
    [card] = [root for root in slack.roots() if "café" in root["text"]]
    assert card["answered_ts"] != conversation["root_ts"]  # a new conversation, a new card


def test_a_message_before_the_day_is_out_keeps_it_open_and_the_day_counts_from_that_message(
        aws, slack, twilio, clock):
    conversation = answered(aws, slack)
    clock.passes(timedelta(hours=20))
    text_in("Thanks! And is there a large-print copy?")
    pump(aws)

    assert later(aws, clock, timedelta(hours=6)) == [{"idle": 0}]  # 26 h after the reply, 6 h after the text
    assert stored(conversation["conversation_id"]).is_open
    [armed] = idle_wake_ups(aws)
    assert armed - clock.now() > timedelta(hours=18)  # a day (and the hour's step) after the text

    clock.passes(armed - clock.now() + ROUNDING)
    assert run(aws, clock) == [{"idle": 1}]
    pump(aws)
    assert not stored(conversation["conversation_id"]).is_open and idle_closed(slack, conversation)


def test_a_question_nobody_has_taken_is_never_closed_for_being_idle(aws, slack, twilio, clock):
    from refdesk import idle

    conversation = open_conversation(aws, slack, QUESTION)
    assert idle_wake_ups(aws) == []  # waiting is not armed: the digest reminds the desk

    clock.passes(timedelta(days=3))  # a long weekend
    assert idle.sweep() == {"idle": 0}
    pump(aws)
    assert stored(conversation["conversation_id"]).is_open and not idle_closed(slack, conversation)
    assert idle_wake_ups(aws) == []  # nothing armed for it until someone takes it


def test_a_conversation_taken_after_waiting_long_gets_a_full_day_from_the_claim(aws, slack, twilio, clock):
    conversation = open_conversation(aws, slack, QUESTION)
    clock.passes(timedelta(days=2))
    staff_reply(conversation["root_ts"], ANSWER)  # Monday morning's answer to Saturday's question
    pump(aws)

    assert later(aws, clock, timedelta(hours=23)) == []
    assert later(aws, clock, HOUR + timedelta(minutes=1)) == [{"idle": 0}]  # the reply recorded to the hour
    assert stored(conversation["conversation_id"]).is_open
    assert later(aws, clock, HOUR + ROUNDING) == [{"idle": 1}]
    pump(aws)
    assert not stored(conversation["conversation_id"]).is_open


def test_a_web_chat_idle_closed_is_told_it_ended_on_its_live_connection_and_its_poll(
        aws, slack, twilio, clock, live_api, monkeypatch):  # noqa: F811
    from websockets.sync.client import connect

    from refdesk.settings import get_settings
    from tests.functional.test_webchat import open_chat, poll
    from tests.functional.test_webchat import staff_reply as reply_in_thread

    monkeypatch.setenv("IDLE_CLOSE_HOURS", "1")  # within the chat's 24 h token
    get_settings.cache_clear()
    session, root = open_chat(aws, slack)
    with connect(session["live_url"]) as socket:
        reply_in_thread(root, ANSWER)
        pump(aws)
        frames(socket, 2)  # "Amanda joined", the reply

        clock.passes(timedelta(hours=2, minutes=1))
        assert run(aws, clock) == [{"idle": 1}]
        pump(aws)

        assert frames(socket, 1) == [{"type": "status", "status": "closed", "queue": None}]
    listed = poll(session)
    assert listed["status"] == "closed"
    assert [message["text"] for message in listed["messages"]][-1] == ANSWER  # no closing line
    assert any("Closed after 1 h without a message" in edit for edit in card_edits(slack, root["answered_ts"]))


def test_a_web_chat_whose_session_ttl_deleted_is_idle_closed_all_the_same(aws, slack, twilio, clock):
    """A web chat's session lives 24 h from the chat's start, and DynamoDB's TTL deletes it up to
    two days later: the idle close, a day after the last message, often finds it gone."""
    from refdesk import clients
    from tests.functional.test_webchat import open_chat
    from tests.functional.test_webchat import staff_reply as reply_in_thread

    session, root = open_chat(aws, slack)
    reply_in_thread(root, ANSWER)
    pump(aws)
    clients.get("table").delete_item(Key={"pk": f"SESSION#{session['session_id']}", "sk": "META"})

    clock.passes(timedelta(hours=26, minutes=1))
    assert {"idle": 1} in run(aws, clock)
    pump(aws)

    assert any(IDLE_LINE in edit for edit in card_edits(slack, root["answered_ts"]))
    assert not [item for item in table_items(aws) if item["pk"] == f"SESSION#{session['session_id']}"]


def test_a_sweep_queues_so_many_closes_at_most_and_the_rest_a_step_later(aws, slack, twilio, clock, monkeypatch):
    from refdesk import idle

    monkeypatch.setattr(idle, "JOBS_PER_SWEEP", 1)
    first = answered(aws, slack)
    second = answered(aws, slack, "Do you have museum passes?", From="+15551230002")

    assert later(aws, clock, timedelta(hours=25, minutes=1)) == [{"idle": 1}]
    pump(aws)
    assert not stored(first["conversation_id"]).is_open and stored(second["conversation_id"]).is_open
    assert later(aws, clock, HOUR + ROUNDING) == [{"idle": 1}]
    pump(aws)
    assert not stored(second["conversation_id"]).is_open


def test_the_sweeper_takes_the_idle_wake_up_of_record_and_an_idle_desk_arms_nothing(aws, slack, twilio):
    assert invoke("sweeper", fixture("idle_wake_up.json")) == {"idle": 0}
    assert idle_wake_ups(aws) == [] and aws["schedules"].pending() == []


# --- whatever came meanwhile wins -----------------------------------------------------------------

def test_a_patron_message_after_the_sweep_queued_the_close_keeps_it_open(aws, slack, twilio, clock):
    conversation = answered(aws, slack)
    assert later(aws, clock, timedelta(hours=25, minutes=1)) == [{"idle": 1}]
    text_in("Wait, one more thing: can I renew it?")  # parked on the session, its job queued after the close's

    pump(aws)

    assert stored(conversation["conversation_id"]).is_open and not idle_closed(slack, conversation)
    thread = [post for post in slack.posts() if post.get("thread_ts") == conversation["root_ts"]]
    assert any("renew" in json.dumps(post) for post in thread)  # shown in the same thread


def test_a_transfer_after_the_sweep_queued_the_close_keeps_it_open(aws, slack, twilio, clock):
    from refdesk import store

    conversation = answered(aws, slack)
    assert later(aws, clock, timedelta(hours=25, minutes=1)) == [{"idle": 1}]
    store.queue.transfer(conversation["conversation_id"], "U0BORIS", LIBRARIAN)

    pump(aws)

    assert stored(conversation["conversation_id"]).is_open and not idle_closed(slack, conversation)


# --- the three questions: arming when a conversation is taken (CreateSchedule) --------------------

def test_arming_that_fails_once_fails_the_reply_job_whose_retry_arms(aws, slack, twilio, clock):
    text_in(QUESTION)
    pump(aws)
    conversation = conversation_of(slack.roots()[-1])
    left = fail_creating_wake_ups(1)
    staff_reply(conversation["root_ts"], ANSWER)

    assert pump(aws)[:2] == ["retry", "done"]

    assert left == [0] and len(idle_wake_ups(aws)) == 1
    assert texts_to_patron(twilio) == [f"Amanda (library): {ANSWER}"]  # once, whatever failed after it


def test_arming_failing_for_an_hour_never_holds_the_reply_back_and_the_next_conversation_taken_arms(
        aws, slack, twilio, clock, caplog):
    from refdesk.waiting import TRANSIENT_ARM_ATTEMPTS

    text_in(QUESTION)
    pump(aws)
    first = conversation_of(slack.roots()[-1])
    left = fail_creating_wake_ups(10_000)
    staff_reply(first["root_ts"], ANSWER)
    pump(aws)
    assert 10_000 - left[0] == TRANSIENT_ARM_ATTEMPTS + 1
    assert texts_to_patron(twilio) == [f"Amanda (library): {ANSWER}"]  # the reply went on without it
    assert idle_wake_ups(aws) == [] and "idle close not armed" in caplog.text

    left[0] = 0  # an hour later the scheduler answers again: the next conversation taken arms
    clock.passes(HOUR)
    second = answered(aws, slack, "Do you have museum passes?", From="+15551230002")
    assert len(idle_wake_ups(aws)) == 1
    settle(aws, clock)  # whose sweeps find the first one idle too
    assert not stored(first["conversation_id"]).is_open and not stored(second["conversation_id"]).is_open


def test_arming_whose_answer_was_lost_is_refused_on_retry_and_counts_as_armed(aws, slack, twilio, clock):
    text_in(QUESTION)
    pump(aws)
    conversation = conversation_of(slack.roots()[-1])
    left = fail_creating_wake_ups(1, after_it_succeeded=True)
    staff_reply(conversation["root_ts"], ANSWER)
    pump(aws)

    assert left == [0] and len(idle_wake_ups(aws)) == 1  # the retry's CreateSchedule: a conflict, armed
    settle(aws, clock)
    assert not stored(conversation["conversation_id"]).is_open


# --- the three questions: the sweep's SendMessage of the close's job ------------------------------

def fail_sending_jobs(count: int, *, after_it_succeeded: bool = False) -> list[int]:
    """The next `count` SendMessage calls (the sweep's jobs) fail (test_sweep_wakeups.fail_calls)."""
    return fail_calls("sqs", "SendMessage", count, after_it_succeeded=after_it_succeeded)


def idle_by_now(aws, slack, clock) -> dict:
    """An answered conversation, its idle sweep due: the clock a day and an hour on."""
    conversation = answered(aws, slack)
    assert later(aws, clock, timedelta(hours=24, minutes=1)) == [{"idle": 0}]
    clock.passes(HOUR + ROUNDING)
    return conversation


def test_a_job_that_cannot_be_queued_once_fails_the_sweep_whose_retry_by_lambda_queues_it(
        aws, slack, twilio, clock):
    conversation = idle_by_now(aws, slack, clock)
    left = fail_sending_jobs(1)

    assert run(aws, clock) == []  # the sweep raised
    assert left == [0] and len(aws["schedules"].errors) == 1
    assert later(aws, clock, timedelta(minutes=1)) == [{"idle": 1}]  # Lambda's retry, the same event
    pump(aws)
    assert not stored(conversation["conversation_id"]).is_open and idle_closed(slack, conversation)


def test_jobs_that_cannot_be_queued_for_an_hour_are_queued_by_the_sweep_armed_before_them(
        aws, slack, twilio, clock):
    conversation = idle_by_now(aws, slack, clock)
    left = fail_sending_jobs(10_000)

    assert run(aws, clock) == []
    for _ in range(2):  # Lambda's two retries fail too, and the event is dropped
        later(aws, clock, timedelta(minutes=1))
    assert stored(conversation["conversation_id"]).is_open
    assert idle_wake_ups(aws)  # armed a step on before queueing (by each try)

    left[0] = 0
    assert {"idle": 1} in later(aws, clock, HOUR + timedelta(minutes=3))
    assert pump(aws) == ["done"]  # the sweeps' jobs for it are one (the queue de-duplicates)
    assert not stored(conversation["conversation_id"]).is_open and idle_closed(slack, conversation)


def test_a_job_whose_send_answer_was_lost_is_queued_once(aws, slack, twilio, clock):
    conversation = idle_by_now(aws, slack, clock)
    left = fail_sending_jobs(1, after_it_succeeded=True)

    assert run(aws, clock) == []  # queued, but the sweep raised
    assert later(aws, clock, timedelta(minutes=1)) == [{"idle": 1}]  # Lambda's retry queues it again
    assert left == [0]
    assert pump(aws) == ["done"]  # one job: the queue de-duplicated the second
    assert len([edit for edit in card_edits(slack, conversation["root_ts"]) if IDLE_LINE in edit]) == 1


# --- the three questions: the close's conditional write, and the card's chat.update ---------------

def test_a_close_write_that_fails_once_is_retried(aws, slack, twilio, clock, local_aws):
    conversation = idle_by_now(aws, slack, clock)
    assert run(aws, clock) == [{"idle": 1}]
    local_aws.dynamodb_faults.add(Fault(method="TransactWriteItems", error="InternalServerError", count=3))

    assert pump(aws) == ["retry", "done"]
    assert not stored(conversation["conversation_id"]).is_open and idle_closed(slack, conversation)


def test_a_close_write_whose_answer_was_lost_is_found_made_and_its_steps_finished(
        aws, slack, twilio, clock, local_aws):
    conversation = idle_by_now(aws, slack, clock)
    assert run(aws, clock) == [{"idle": 1}]
    local_aws.dynamodb_faults.add(Fault(method="TransactWriteItems", error="InternalServerError", count=1,
                                        commit=True))  # closed; boto3's retry finds it closed

    assert pump(aws) == ["done"]
    closed = stored(conversation["conversation_id"])
    assert not closed.is_open and closed.close_finished_at and idle_closed(slack, conversation)
    assert texts_to_patron(twilio) == [f"Amanda (library): {ANSWER}"]


@pytest.mark.parametrize("failures", [1, 7], ids=["fails once", "fails for an hour"])
def test_while_the_cards_edit_fails_the_close_is_made_and_its_retries_finish_it_once(
        aws, slack, twilio, clock, failures):
    from refdesk import retry

    conversation = idle_by_now(aws, slack, clock)
    assert failures == 1 or sum(retry.delay(attempt) for attempt in range(1, failures + 1)) > 3600
    slack.fail("chat.update", status=503, count=failures)
    assert run(aws, clock) == [{"idle": 1}]

    outcomes = pump(aws)

    assert outcomes.count("retry") == failures and outcomes[-1] == "done"
    closed = stored(conversation["conversation_id"])
    assert not closed.is_open and closed.close_finished_at and idle_closed(slack, conversation)
    assert dead_letters(aws) == [] and texts_to_patron(twilio) == [f"Amanda (library): {ANSWER}"]


def test_a_card_edit_whose_answer_was_lost_is_made_again_harmlessly(aws, slack, twilio, clock):
    conversation = idle_by_now(aws, slack, clock)
    slack.fail("chat.update", status=503, commit=True)
    assert run(aws, clock) == [{"idle": 1}]

    assert pump(aws) == ["retry", "done"]
    edits = [edit for edit in card_edits(slack, conversation["root_ts"]) if IDLE_LINE in edit]
    assert len(edits) == 2 and edits[0] == edits[1]  # the same card, edited again
    assert stored(conversation["conversation_id"]).close_finished_at


# --- the backstop: nothing holding a patron's words or number outlives its last message -----------

EMAIL = "maria.gonzalez@example.net"
PARTNER_QUESTION = "Are the 1911 Sanborn maps of Springfield digitised"
WEB_QUESTION = "Could someone email me the ESL conversation group times"
SMS_FOLLOW_UP = "Also my card 29999001234567 says blocked, can you check"
PATRON_WORDS = ("Klara", "large-print", "says blocked", "Sanborn", "1925 edition", "ESL conversation", EMAIL,
                "gonzalez")


def holds_patron_data(item: dict) -> bool:
    dump = json.dumps(item, default=str)
    return bool(PHONE_ANY_FORMAT.search(dump)) or any(words.lower() in dump.lower() for words in PATRON_WORDS)


def last_message_at(items: list[dict]) -> float:
    stamps = [re.match(r"MSG#([^#]+)#", item["sk"]).group(1) for item in items if item["sk"].startswith("MSG#")]
    return datetime.fromisoformat(max(stamps).replace("Z", "+00:00")).timestamp()


def typical_conversations(aws, slack, clock, *, leave_parked: bool = False) -> None:
    """An SMS conversation answered, followed up, transferred; a web chat's offline follow-up with
    an e-mail, answered; a Slack Connect partner's question, answered and followed up; with
    `leave_parked`, a last SMS follow-up still parked on its session. Never closed."""
    from refdesk import store
    from tests.functional.test_webchat import create_session, send
    from tests.functional.test_webchat import staff_reply as reply_in_thread

    sms = answered(aws, slack)
    clock.passes(timedelta(hours=3))
    text_in("Thanks! Is there a large-print copy too?")
    text_in(SMS_FOLLOW_UP)
    pump(aws)
    store.queue.transfer(sms["conversation_id"], "U0BORIS", LIBRARIAN)

    web = create_session()
    assert send(web, WEB_QUESTION, contact=EMAIL, name="Maria Gonzalez")["statusCode"] == 201
    pump(aws)
    reply_in_thread(slack.roots()[-1], "Tuesdays at 6 pm.")
    pump(aws)

    slack_in(partner_event(PARTNER_QUESTION, "1700000300.000100"))
    pump(aws)
    staff_reply(slack.roots()[-1]["answered_ts"], ANSWER)
    pump(aws)
    clock.passes(timedelta(hours=2))
    slack_in(partner_event("Thanks, and the 1925 edition as well?", "1700000700.000200",
                           thread_ts="1700000300.000100"))
    pump(aws)
    if leave_parked:
        text_in("P.S. is there a Klara audiobook?")


def assert_within_the_backstop(items: list[dict], bound: float) -> int:
    held = [item for item in items if holds_patron_data(item)]
    for item in held:
        assert int(item["expires_at"]) <= bound, (item["pk"], item["sk"], int(item["expires_at"]) - bound)
    return len(held)


def test_an_open_conversations_patron_data_expires_within_retention_and_idle_close_of_its_last_message(
        aws, slack, twilio, clock):
    typical_conversations(aws, slack, clock, leave_parked=True)

    items = table_items(aws)
    bound = last_message_at(items) + 30 * DAY + DAY + DAY  # RetentionDays + IdleCloseHours + a day
    held = assert_within_the_backstop(items, bound)
    kinds = {item["pk"].split("#")[0] + "/" + item["sk"].split("#")[0] for item in items if holds_patron_data(item)}
    assert held >= 9 and {"CONV/MSG", "CONV/REPLY_TO", "SESSION/META"} <= kinds, kinds  # SESSION: the parked one
    assert all(int(item["expires_at"]) > time.time() + 30 * DAY for item in items
               if item["sk"] == "META" and item["pk"].startswith("CONV#"))  # open: kept at least RetentionDays


def test_idle_closed_conversations_patron_data_expires_within_the_same_bound(aws, slack, twilio, clock):
    typical_conversations(aws, slack, clock)
    last = last_message_at(table_items(aws))

    settle(aws, clock)

    items = table_items(aws)
    assert not [item for item in items if item["sk"] == "META" and item["pk"].startswith("CONV#")
                and item["status"] == "open"]
    assert assert_within_the_backstop(items, last + 30 * DAY + DAY + DAY) >= 8
    assert not [item for item in items if item["pk"].startswith("SESSION#") and holds_patron_data(item)]
