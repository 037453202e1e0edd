"""Reactions are decoration (issue 17): a reply's ✅, ❌ or :lock: failing never fails, retries or
dead-letters the job that delivered it. Through the real handlers, moto's FIFO queues and the
Slack stand-in with faults injected into reactions.add:

* it fails once (Slack 5xx): the reply's job finishes, and the reaction comes from a job of its
  own (OutcomeReactionJob), in a FIFO group that is not the conversation's;
* it fails for an hour: the reply's job still finishes at once, the conversation goes on, and
  the reaction's job is retried, then dropped: no dead letter (no alarm), nothing said in the
  thread about the reply;
* its answer is lost after it succeeded: already_reacted, on the retry, counts as added;
* Slack says it never will (message_not_found: a librarian deleted the reply): given up at once,
  and what staff need to know still reaches them (the "files not sent" note, the ❌'s note).

The tests' RETRY_DELAY_SCALE is 0 (retries at once) unless a test sets it."""
from __future__ import annotations

import json
import time

import pytest

from refdesk.errors import RetryLater
from tests.conftest import STAFF_CHANNEL, log_to_captured_stdout, pump
from tests.functional.test_failure_path import dead_letters, staff_reply_at, thread_texts, transient_attempts
from tests.functional.test_failure_path import received, visibility_changes  # noqa: F401 (fixtures)
from tests.functional.test_relay import PATRON, calls_named, open_conversation, queue_depth
from tests.functional.test_reply_text_relay import in_thread, slack_in

REPLY = "Yes, two copies at Main."


def reactions_on(slack, ts: str) -> list[str]:
    """The reactions Slack shows on a message."""
    [message] = [message for message in slack.stand_in.messages() if message["ts"] == ts]
    return message["reactions"]


def kinds(jobs: list) -> list[str]:
    return [json.loads(job.body)["kind"] for job in jobs]



@pytest.fixture(autouse=True)
def reports_held(twilio):
    """The reaction under test is a text's first, 📤 (Twilio took it); its ✅ once Twilio reports
    the text delivered is test_delivery_status's."""
    twilio.holding_reports = True


def logged(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def given_up(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line.get("message") == "reaction given up"]


def reactions_failed(lines: list[dict]) -> list[str]:
    """Each ReactionsFailed counted: what became of the reaction."""
    return [line["dimensions"]["outcome"] for line in lines
            if line.get("message") == "metric" and line.get("metric") == "ReactionsFailed"]


# --- fails once -------------------------------------------------------------------------------------

def test_a_reaction_failing_once_comes_from_its_own_job_and_the_reply_job_finishes(aws, slack, twilio, received,
                                                                                   capsys, monkeypatch):
    log_to_captured_stdout(monkeypatch)
    conversation = open_conversation(aws, slack)
    received.clear()
    slack.fail("reactions.add", status=503)
    ts = staff_reply_at(conversation["root_ts"], REPLY, time.time())
    capsys.readouterr()

    outcomes = pump(aws)

    assert outcomes == ["done", "done"]  # the reply's job, then the reaction's: neither failed
    assert kinds(received) == ["staff_reply", "outcome_reaction"]
    reply_job, reaction_job = received
    assert reaction_job.group_id != reply_job.group_id  # it never holds the conversation's thread
    assert set(json.loads(reaction_job.body)) == {"kind", "conversation_id", "message_id", "channel", "ts", "name"}
    assert REPLY not in reaction_job.body and PATRON not in reaction_job.body  # references only
    assert reactions_on(slack, ts) == ["outbox_tray"]
    assert [sent["body"] for sent in twilio.sent] == [f"Amanda (library): {REPLY}"]
    assert queue_depth(aws) == queue_depth(aws, "dlq") == 0
    assert reactions_failed(logged(capsys)) == ["tried_again_apart"]


# --- fails for an hour ------------------------------------------------------------------------------

def test_a_reaction_failing_for_an_hour_holds_nothing_back_and_is_dropped_quietly(aws, slack, twilio,
                                                                                  visibility_changes, capsys,
                                                                                  monkeypatch):
    from refdesk.settings import get_settings

    log_to_captured_stdout(monkeypatch)
    conversation = open_conversation(aws, slack)
    monkeypatch.setenv("RETRY_DELAY_SCALE", "60")  # a failed job waits minutes: longer than this test
    get_settings.cache_clear()
    slack.fail("reactions.add", status=503, count=10_000)  # every reaction, until Slack is back
    first = staff_reply_at(conversation["root_ts"], REPLY, time.time())

    assert pump(aws) == ["done", "retry"]  # the reply finished at once; its reaction waits its backoff
    second = staff_reply_at(conversation["root_ts"], "Shall I hold one?", time.time())
    assert pump(aws) == ["done", "retry"]  # the thread's next reply was not held behind that reaction
    assert [sent["body"] for sent in twilio.sent] == [f"Amanda (library): {REPLY}",
                                                     "Amanda (library): Shall I hold one?"]

    monkeypatch.setenv("RETRY_DELAY_SCALE", "0")  # ...the hour passes: every attempt left, at once
    get_settings.cache_clear()
    for change in visibility_changes:
        aws["sqs"].change_message_visibility(QueueUrl=aws["queue"], ReceiptHandle=change["ReceiptHandle"],
                                             VisibilityTimeout=0)
    capsys.readouterr()
    outcomes = pump(aws)

    attempts = transient_attempts()
    assert outcomes.count("done") == 2 and outcomes.count("retry") == 2 * (attempts - 2)  # each tried once before
    assert len(calls_named(slack, "reactions.add")) == 2 + 2 * attempts  # each reply's, then its job's attempts
    assert reactions_on(slack, first) == reactions_on(slack, second) == []
    assert queue_depth(aws) == queue_depth(aws, "dlq") == 0 and dead_letters(aws) == []  # no alarm
    assert thread_texts(slack, conversation["root_ts"]) == []  # nobody told the reply failed: it did not
    assert len(twilio.sent) == 2
    lines = logged(capsys)
    assert [(line["error"], line["conversation_id"]) for line in given_up(lines)] == \
        [("fatal_error", conversation["conversation_id"])] * 2  # the stand-in's 503 says fatal_error
    assert reactions_failed(lines) == ["given_up", "given_up"]


# --- the answer lost after it succeeded -------------------------------------------------------------

def test_a_reaction_whose_answer_was_lost_is_not_doubled(aws, slack, twilio, capsys, monkeypatch):
    log_to_captured_stdout(monkeypatch)
    conversation = open_conversation(aws, slack)
    slack.fail("reactions.add", status=500, commit=True)  # added, then answered with an error
    ts = staff_reply_at(conversation["root_ts"], REPLY, time.time())
    capsys.readouterr()

    outcomes = pump(aws)

    assert outcomes == ["done", "done"]  # the reaction's own job met already_reacted: counted as added
    assert len(calls_named(slack, "reactions.add")) == 2
    assert reactions_on(slack, ts) == ["outbox_tray"]
    assert given_up(logged(capsys)) == []


# --- Slack says it never will -----------------------------------------------------------------------

def test_a_deleted_reply_finishes_at_once_and_its_file_still_reaches_the_patron(aws, slack, twilio, capsys,
                                                                               monkeypatch):
    log_to_captured_stdout(monkeypatch)
    conversation = open_conversation(aws, slack)
    now = f"{time.time():.6f}"
    slack.fail("reactions.add", error="message_not_found")  # the librarian deleted the reply meanwhile
    reply = in_thread("slack_file_share.json", conversation["root_ts"], ts=now, event_ts=now)
    reply["event"]["files"] = [slack.stand_in.share_file("floor-map.pdf", "application/pdf", b"%PDF-1.7\n", "U0AMANDA")]
    slack_in(reply)
    capsys.readouterr()

    outcomes = pump(aws)

    assert outcomes == ["done"]  # no retry, no job for the reaction
    [sent] = twilio.sent
    assert "floor-map.pdf: " in sent["body"]
    assert calls_named(slack, "chat.postEphemeral") == []
    assert queue_depth(aws) == queue_depth(aws, "dlq") == 0
    lines = logged(capsys)
    [line] = given_up(lines)
    assert (line["error"], line["conversation_id"]) == ("message_not_found", conversation["conversation_id"])
    assert reactions_failed(lines) == ["given_up"]
    assert not [text for text in (PATRON, "floor map") if text in json.dumps(given_up(lines))]


@pytest.mark.parametrize("fault, shown", [({"error": "message_not_found"}, []), ({"status": 503}, ["x"])])
def test_an_undeliverable_reply_gets_its_note_whatever_becomes_of_its_cross(aws, slack, twilio, fault, shown):
    conversation = open_conversation(aws, slack)
    twilio.opt_out(PATRON)  # Twilio refuses for good (21610)
    slack.fail("reactions.add", **fault)
    ts = staff_reply_at(conversation["root_ts"], REPLY, time.time())

    outcomes = pump(aws)

    assert "retry" not in outcomes
    assert reactions_on(slack, ts) == shown
    [note] = thread_texts(slack, conversation["root_ts"])
    assert note.startswith(":warning: Not delivered to the patron (Twilio error 21610")
    assert queue_depth(aws) == queue_depth(aws, "dlq") == 0


# --- which failures are tried again -----------------------------------------------------------------

def reaction(ts: str = "1795950000.000300"):
    from refdesk.models import OutcomeReactionJob

    return OutcomeReactionJob(conversation_id="c1", message_id=f"slack-{ts}", channel=STAFF_CHANNEL, ts=ts,
                              name="outbox_tray")


@pytest.mark.parametrize("error", ["message_not_found", "channel_not_found", "not_in_channel", "is_archived",
                                   "invalid_name", "too_many_emoji", "too_many_reactions", "thread_locked",
                                   "bad_timestamp", "missing_scope"])
def test_a_reaction_slack_refuses_for_good_is_given_up_at_once(slack, error):
    from refdesk import delivery

    slack.fail("reactions.add", error=error)

    delivery.add_reaction(reaction())  # returns: nothing is left to do

    assert [call["response"].get("error") for call in slack.stand_in.calls()] == [error]


@pytest.mark.parametrize("fault, raised", [({"status": 500}, "SlackApiError"), ({"status": 503}, "SlackApiError"),
                                           ({"error": "ratelimited", "status": 429, "retry_after": 30}, "RetryLater"),
                                           ({"error": "service_unavailable"}, "SlackApiError")])
def test_a_reaction_failing_for_a_while_is_raised_for_the_queue_to_try_again(slack, fault, raised):
    from refdesk import delivery

    slack.fail("reactions.add", count=2, **fault)

    with pytest.raises(Exception) as failure:
        delivery.add_reaction(reaction())

    assert type(failure.value).__name__ == raised
    assert isinstance(failure.value, RetryLater) == (raised == "RetryLater")


def test_a_reaction_slack_cannot_be_reached_for_is_raised_for_the_queue_to_try_again(slack, monkeypatch):
    from refdesk import clients, delivery, retry

    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api/")  # nothing listens there
    clients.reset()

    with pytest.raises(Exception) as failure:
        delivery.add_reaction(reaction())

    assert retry.is_transient(failure.value)
