"""Patron control: a patron deletes their conversations (refdesk.erasure), on every channel, in
process: the webhooks fed the fixtures of record, moto for DynamoDB and SQS, the Slack and Twilio
stand-ins behind the real clients, and the dispatcher driven with conftest.pump.

The records go first, Slack or no Slack; the staff thread's edits follow as jobs of their own
(one per post, then the note), each retried on refdesk.retry's backoff. The session keeps only
its message ids, for a day, so that a replay is a duplicate and not the erased question again."""
from __future__ import annotations

import json
import re
import time

import pytest

from refdesk.erasure import CONFIRMATION, REMOVED, THREAD_NOTE
from tests.conftest import STAFF_CHANNEL, fixture, http_event, invoke, log_to_captured_stdout, pump
from tests.functional import test_slack_connect_relay as connect
from tests.functional import test_webchat as web
from tests.functional.test_failure_path import dead_letters, transient_attempts, visibility_changes  # noqa: F401
from tests.functional.test_relay import (PATRON, PHONE_ANY_FORMAT, new_sid, open_conversation, staff_reply,
                                         text_in)

OTHER_PATRON = "+15559876543"
QUESTION = "Hi, do you have The Power Broker by Robert Caro? Is a copy on the shelf at the main branch?"
FOLLOW_UP = "Also my card 21234000567890 expired, can you renew it?"


# --- helpers ---------------------------------------------------------------------------

def every_item() -> list[dict]:
    """The whole table, every page (a scan: only a test does this)."""
    from refdesk import clients

    table, items, query = clients.get("table"), [], {}
    while True:
        page = table.scan(**query)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def flat(item) -> str:
    return json.dumps(item, default=str, ensure_ascii=False)


def items_with(*needles: str | re.Pattern) -> list[dict]:
    def has(text: str, needle) -> bool:
        return bool(needle.search(text)) if isinstance(needle, re.Pattern) else needle in text

    return [item for item in every_item() if any(has(flat(item), needle) for needle in needles)]


def patron_hash(channel: str, address: str) -> str:
    from refdesk import identity

    return identity.patron_id(channel, address)


def updates(slack) -> list[dict]:
    return [params for name, params in slack.calls if name == "chat.update"]


def posts_with(slack, text: str) -> list[dict]:
    return [post for post in slack.posts() if post.get("text") == text]


def aws_calls() -> list[str]:
    from refdesk import clients

    calls: list[str] = []
    record = lambda model, **kwargs: calls.append(model.name)  # noqa: E731
    clients.get("table").meta.client.meta.events.register("before-call", record)
    clients.get("sqs").meta.events.register("before-call", record)
    return calls


def sms_patron_with_two_conversations(aws, slack):
    """The patron asked, was answered, the conversation was closed, and asked again (with a second
    message in the thread). Returns the two conversations."""
    first = open_conversation(aws, slack, QUESTION)
    staff_reply(first["root_ts"], "Yes, two copies at Main.", ts="1700000401.000100")
    pump(aws)
    web.press_close(first["conversation_id"])
    pump(aws)
    second = open_conversation(aws, slack, "Is the reading room open Sunday?")
    text_in(FOLLOW_UP)
    pump(aws)
    return first, second


def other_sms_patron(aws, slack) -> tuple[tuple, list[dict]]:
    """Another patron's conversation: every item of theirs (conversation, messages, REPLY_TO, thread
    lookup, session), as they are before anyone deletes anything."""
    text_in("Where is the tax form desk?", From=OTHER_PATRON)
    pump(aws)
    conversation = next(item for item in every_item() if "tax form desk" in flat(item))["pk"]
    needles = (re.compile(r"\D{0,3}".join("5559876543")), patron_hash("sms", OTHER_PATRON),
               conversation.removeprefix("CONV#"), "tax form desk")
    theirs = sorted(items_with(*needles), key=flat)
    assert {item["pk"].split("#")[0] for item in theirs} >= {"CONV", "THREAD", "SESSION"}
    return needles, theirs


def text_delete(body: str = "DELETE", sid: str | None = None) -> dict:
    response = text_in(body, MessageSid=sid or new_sid())
    assert response["statusCode"] == 200
    return response


REPLAY_MARKERS = {"pk", "sk", "closed_ids", "expires_at"}  # a session erased: its message ids, nothing else
SENT_PART_KEYS = {"pk", "sk", "conversation_id", "message_sk", "part", "expires_at"}


def staff_channel(slack) -> dict[str, dict]:
    """What the staff channel shows now, by ts (whatever the API answered the calls)."""
    return {message["ts"]: message for message in slack.stand_in.messages() if message["channel"] == STAFF_CHANNEL}


def notes_in(slack, root_ts: str) -> list[dict]:
    return [message for message in staff_channel(slack).values()
            if message["thread_ts"] == root_ts and message["text"] == THREAD_NOTE]


def sms_conversation_with_posts(aws, slack, follow_ups: int) -> tuple[dict, list[str]]:
    """A conversation whose card is followed by `follow_ups` patron messages in its thread: the
    conversation, and the ts of every post the erasure edits (the card first)."""
    conversation = open_conversation(aws, slack, QUESTION)
    for number in range(follow_ups):
        text_in(f"{FOLLOW_UP} ({number})")
    pump(aws)
    posts = [post["answered_ts"] for post in slack.posts() if post.get("thread_ts") == conversation["root_ts"]]
    assert len(posts) == follow_ups
    return conversation, [conversation["root_ts"], *posts]


def removed(slack, posts: list[str]) -> list[bool]:
    """Whether each post reads as removed, and shows no patron text."""
    shown = staff_channel(slack)
    return [REMOVED in flat(shown[ts]) and QUESTION not in flat(shown[ts]) and FOLLOW_UP not in flat(shown[ts])
            for ts in posts]


def retries_after_a_real_delay(monkeypatch) -> None:
    """A failed job is hidden for its backoff (the tests' scale is 0: retried at once)."""
    from refdesk.settings import get_settings

    monkeypatch.setenv("RETRY_DELAY_SCALE", "1")
    get_settings.cache_clear()


def its_delay_passes(aws, visibility_changes) -> None:  # noqa: F811
    aws["sqs"].change_message_visibility(QueueUrl=aws["queue"], VisibilityTimeout=0,
                                         ReceiptHandle=visibility_changes[-1]["ReceiptHandle"])


# --- SMS -------------------------------------------------------------------------------

@pytest.mark.parametrize("body", ["DELETE", "delete", "  Delete \n"])
def test_texting_delete_erases_everything_of_the_patron_and_confirms_once(aws, slack, twilio, body):
    first, second = sms_patron_with_two_conversations(aws, slack)
    their_needles, theirs = other_sms_patron(aws, slack)
    phone = re.compile(PHONE_ANY_FORMAT.pattern)
    hashed = patron_hash("sms", PATRON)
    ids = (first["conversation_id"], second["conversation_id"])
    before = items_with(phone, QUESTION, FOLLOW_UP, "Two copies", hashed, *ids)
    assert len(before) > 10  # the patron's data is there to find
    twilio.forget_sent()
    slack.forget_calls()

    text_delete(body)
    pump(aws)

    # Left: the session (named by the keyed hash) with the message ids only, for replays, and the
    # texts' provider ids (ids only: a late delivery report finds no message, store.messages.find_part).
    left = items_with(phone, QUESTION, FOLLOW_UP, "21234000567890", hashed, *ids)
    assert [set(item) for item in left if not item["pk"].startswith("SID#")] == [REPLAY_MARKERS]
    assert all(set(item) == SENT_PART_KEYS for item in left if item["pk"].startswith("SID#"))
    assert sorted(items_with(*their_needles), key=flat) == theirs  # the other patron's items, untouched
    assert [message["body"] for message in twilio.sent if message["to"] == PATRON] == [CONFIRMATION]
    assert not [message for message in twilio.sent if message["to"] == OTHER_PATRON]


def test_the_cards_and_the_patrons_posts_become_removed_and_the_thread_is_told(aws, slack, twilio):
    first, second = sms_patron_with_two_conversations(aws, slack)
    patron_posts = [post["answered_ts"] for post in slack.posts()
                    if post.get("thread_ts") == second["root_ts"] and post["text"].startswith("SMS ")]
    assert len(patron_posts) == 1  # FOLLOW_UP, posted by the bot in the thread
    slack.forget_calls()

    text_delete()
    pump(aws)

    edited = {(params["channel"], params["ts"]) for params in updates(slack)}
    assert edited == {(STAFF_CHANNEL, first["root_ts"]), (STAFF_CHANNEL, second["root_ts"]),
                      (STAFF_CHANNEL, patron_posts[0])}
    for params in updates(slack):
        assert params["text"] == REMOVED
        assert QUESTION not in flat(params) and FOLLOW_UP not in flat(params)
    notes = posts_with(slack, THREAD_NOTE)
    assert sorted(note["thread_ts"] for note in notes) == sorted([first["root_ts"], second["root_ts"]])


def test_a_redelivered_delete_and_a_rerun_job_do_nothing_twice(aws, slack, twilio):
    from refdesk import dispatch, jobs

    open_conversation(aws, slack, QUESTION)
    sid = new_sid()
    text_delete(sid=sid)
    [body] = web.queued_bodies(aws)
    pump(aws)
    twilio.forget_sent()
    slack.forget_calls()

    text_delete(sid=sid)  # Twilio retried the webhook
    pump(aws)
    dispatch.run(jobs.Received(body=body, attempt=2, receipt_handle="", group_id="", message_id=""))  # SQS again

    assert twilio.sent == []
    assert slack.calls == []


def test_a_later_delete_finds_nothing_left_and_is_confirmed_again_without_slack(aws, slack, twilio):
    open_conversation(aws, slack, QUESTION)
    text_delete()
    pump(aws)
    twilio.forget_sent()
    slack.forget_calls()

    text_delete()
    pump(aws)

    assert [message["body"] for message in twilio.sent] == [CONFIRMATION]
    assert slack.calls == []


def test_a_rerun_after_a_failure_halfway_finishes_and_tells_the_thread_once(aws, slack, twilio):
    conversation = open_conversation(aws, slack, QUESTION)
    slack.forget_calls()
    twilio.fail(500)  # the confirmation fails once: the job runs again from the start

    text_delete()
    pump(aws)

    assert len(posts_with(slack, THREAD_NOTE)) == 1
    assert [message["body"] for message in twilio.sent] == [CONFIRMATION]
    assert items_with(QUESTION, conversation["conversation_id"]) == []


def test_the_delete_webhook_makes_at_most_two_aws_calls_and_no_slack_or_twilio_call(aws, slack, twilio):
    open_conversation(aws, slack, QUESTION)
    slack.forget_calls()
    twilio.forget_sent()
    calls = aws_calls()

    response = text_delete()

    assert 1 <= len(calls) <= 2, calls
    assert "<Message>" not in response["body"]  # confirmed by the dispatcher, not in TwiML
    assert slack.calls == [] and twilio.sent == []
    assert all(PATRON not in body and "DELETE" not in body for body in web.queued_bodies(aws))


@pytest.mark.parametrize("body", ["delete my account please", "DELETE?", "Can I delete a hold?"])
def test_delete_inside_a_question_is_a_question(aws, slack, twilio, body):
    text_in(body)
    pump(aws)

    assert len(slack.roots()) == 1
    assert updates(slack) == []


def test_stop_and_help_stay_twilios(aws, slack, twilio):
    from refdesk.channels import sms

    for word in ("STOP", "HELP"):
        text_in(word, OptOutType=word)
    pump(aws)

    assert slack.calls == [] and twilio.sent == []
    assert "DELETE" not in sms.KEYWORD_NOTES


def test_the_erasure_logs_no_patron_text_number_or_hash(aws, slack, twilio, monkeypatch, capfd):
    open_conversation(aws, slack, QUESTION)
    text_in(FOLLOW_UP)
    pump(aws)
    log_to_captured_stdout(monkeypatch)
    capfd.readouterr()

    text_delete()
    pump(aws)

    logged = capfd.readouterr().out
    assert "erasure requested" in logged and "erased" in logged
    for secret in (QUESTION, FOLLOW_UP, patron_hash("sms", PATRON)):
        assert secret not in logged
    assert not re.search(PHONE_ANY_FORMAT, logged)


# --- Slack failing: the records go first, the thread's edits follow --------------------------

@pytest.mark.parametrize("failures", [1, 7], ids=["fails once", "fails for an hour"])
def test_while_chat_update_fails_the_records_are_gone_and_only_the_edits_wait_on_a_backoff(
        aws, slack, twilio, visibility_changes, monkeypatch, failures):  # noqa: F811
    from refdesk import retry

    conversation, posts = sms_conversation_with_posts(aws, slack, follow_ups=1)
    retries_after_a_real_delay(monkeypatch)
    slack.fail("chat.update", status=503, count=failures)
    twilio.forget_sent()

    text_delete()

    assert pump(aws) == ["done", "retry"]  # the erasure, then the card's edit, hidden for its backoff
    assert items_with(QUESTION, FOLLOW_UP, PHONE_ANY_FORMAT, conversation["conversation_id"]) == []
    assert [message["body"] for message in twilio.sent] == [CONFIRMATION]
    assert removed(slack, posts) == [False, False]
    for _ in range(failures):
        its_delay_passes(aws, visibility_changes)
        pump(aws)
    delays = [change["VisibilityTimeout"] for change in visibility_changes]
    assert delays == [retry.delay(attempt) for attempt in range(1, failures + 1)]
    assert failures == 1 or sum(delays) >= 3600
    assert removed(slack, posts) == [True, True]
    assert len(notes_in(slack, conversation["root_ts"])) == 1
    assert dead_letters(aws) == [] and [message["body"] for message in twilio.sent] == [CONFIRMATION]


def test_slack_down_past_the_horizon_dead_letters_one_edit_never_the_erasure(aws, slack, twilio):
    conversation, posts = sms_conversation_with_posts(aws, slack, follow_ups=1)
    slack.fail("chat.update", status=503, count=transient_attempts())  # every attempt at the card's edit
    twilio.forget_sent()

    text_delete()
    pump(aws)

    assert items_with(QUESTION, FOLLOW_UP, PHONE_ANY_FORMAT, conversation["conversation_id"]) == []
    assert [message["body"] for message in twilio.sent] == [CONFIRMATION]
    [dead] = dead_letters(aws)
    assert dead["job"] == {"kind": "remove_from_slack", "channel": STAFF_CHANNEL, "root_ts": posts[0],
                           "ts": posts[0], "erased_at": ""}  # references only, for the redrive
    assert removed(slack, posts) == [False, True]  # the edits behind it went on
    assert len(notes_in(slack, conversation["root_ts"])) == 1


def test_edits_and_a_note_whose_answers_were_lost_are_not_doubled(aws, slack, twilio):
    conversation, posts = sms_conversation_with_posts(aws, slack, follow_ups=1)
    slack.fail("chat.update", status=503, commit=True)  # the card is edited, the answer lost
    slack.fail("chat.postMessage", status=503, commit=True)  # the note is posted, the answer lost

    text_delete()
    pump(aws)

    assert removed(slack, posts) == [True, True]
    assert len(notes_in(slack, conversation["root_ts"])) == 1
    assert dead_letters(aws) == []


def test_a_long_conversations_retried_edit_does_not_redo_the_edits_made_before_it(aws, slack, twilio):
    conversation, posts = sms_conversation_with_posts(aws, slack, follow_ups=6)
    slack.forget_calls()
    slack.fail("chat.update", status=503, after=4)  # the fifth edit fails once

    text_delete()
    pump(aws)

    edits = [params["ts"] for params in updates(slack)]
    assert edits == [*posts[:5], *posts[4:]]  # in order, the failed one tried again, no other twice
    assert removed(slack, posts) == [True] * 7
    assert len(notes_in(slack, conversation["root_ts"])) == 1


# --- replays after the delete ------------------------------------------------------------------

def test_a_replayed_text_after_delete_is_a_duplicate_not_the_erased_question_again(aws, slack, twilio):
    first_sid, second_sid = new_sid(), new_sid()
    text_in(QUESTION, MessageSid=first_sid)
    pump(aws)
    text_in(FOLLOW_UP, MessageSid=second_sid)
    pump(aws)
    text_delete()
    pump(aws)
    slack.forget_calls()
    twilio.forget_sent()

    for sid, body in ((first_sid, QUESTION), (second_sid, FOLLOW_UP)):  # Twilio retries, or anyone replays
        assert text_in(body, MessageSid=sid)["statusCode"] == 200
    pump(aws)

    assert slack.calls == [] and twilio.sent == []
    assert items_with(QUESTION, FOLLOW_UP) == []
    [session] = [item for item in every_item() if item["pk"].startswith("SESSION#")]
    assert set(session) == REPLAY_MARKERS and set(session["closed_ids"]) == {first_sid, second_sid}
    assert 23 * 3600 < int(session["expires_at"]) - time.time() <= 24 * 3600  # the replay window, then TTL
    text_in("Is the reading room open Sunday?")  # a new text is a new conversation
    pump(aws)
    assert len(slack.roots()) == 1


def test_a_replayed_slack_event_after_a_partners_delete_opens_nothing(aws, slack):
    connect.open_partner_conversation(aws, slack)
    connect.slack_in(connect.partner_says("delete", ts="1700000320.000100", thread_ts=connect.ROOT_TS))
    pump(aws)
    slack.forget_calls()

    connect.slack_in(fixture("slack_connect_message.json"))  # Slack retries the question's event
    pump(aws)

    assert slack.calls == []
    assert items_with("Sanborn") == []


# --- web chat --------------------------------------------------------------------------

def delete_event(session: dict, *, token: str | None = None, origin: str = web.ORIGIN) -> dict:
    headers = {"Origin": origin, "Authorization": f"Bearer {token or session['token']}"}
    return http_event("DELETE", f"/chat/sessions/{session['session_id']}", headers=headers)


def test_delete_this_conversation_in_the_widget_erases_the_chat_and_its_contact(aws, slack, twilio):
    contact = "pat.reader@example.net"
    client_id = "c-first-question"
    session, root = web.open_chat(aws, slack, QUESTION, contact=contact, name="Pat Reader", client_id=client_id)
    web.staff_reply(root, "Yes, two copies at Main.")
    pump(aws)
    other, other_root = create_other_web_chat(aws, slack)
    hashed = patron_hash("web", session["session_id"])
    before = items_with(contact, "Pat Reader", QUESTION, hashed, session["session_id"])
    assert before
    theirs = sorted(items_with(other["session_id"], "Where is the tax form desk?"), key=flat)
    slack.forget_calls()
    calls = aws_calls()

    response = invoke("webchat", delete_event(session))

    assert response["statusCode"] == 202, response
    assert web.body_of(response)["message"] == CONFIRMATION
    assert 1 <= len(calls) <= 2, calls
    assert slack.calls == []
    pump(aws)
    assert items_with(contact, "Pat Reader", "pat.reader", QUESTION, hashed, session["session_id"]) == []
    assert sorted(items_with(other["session_id"], "Where is the tax form desk?"), key=flat) == theirs
    assert {params["ts"] for params in updates(slack)} == {root["answered_ts"]}
    assert len(posts_with(slack, THREAD_NOTE)) == 1
    assert invoke("webchat", web.poll_event(session))["statusCode"] == 404  # the widget's session is gone
    # A replayed send needs the session's token too: it finds nothing, and opens nothing.
    assert web.send(session, QUESTION, client_id=client_id, contact=contact)["statusCode"] == 404
    pump(aws)
    assert slack.roots() == [] and items_with(QUESTION) == []


def create_other_web_chat(aws, slack) -> tuple[dict, dict]:
    other = web.create_session()
    assert web.send(other, "Where is the tax form desk?")["statusCode"] == 201
    pump(aws)
    return other, slack.roots()[-1]


def test_only_the_sessions_token_deletes_it(aws, slack):
    session, _ = web.open_chat(aws, slack, QUESTION)
    other = web.create_session()

    response = invoke("webchat", delete_event(session, token=other["token"]))

    assert response["statusCode"] == 403
    assert web.queued_bodies(aws) == []
    assert items_with(QUESTION)


def test_the_delete_preflight_allows_the_librarys_origin(aws):
    event = http_event("OPTIONS", "/chat/sessions/s123", headers={
        "Origin": web.ORIGIN, "Access-Control-Request-Method": "DELETE", "Access-Control-Request-Headers": "authorization"})

    response = invoke("webchat", event)

    assert response["statusCode"] in (200, 204), response
    assert web.header(response, "access-control-allow-origin") == web.ORIGIN
    assert "DELETE" in (web.header(response, "access-control-allow-methods") or "")


# --- Slack Connect ---------------------------------------------------------------------

def test_a_partners_delete_in_the_shared_thread_erases_their_conversation_and_confirms_there(aws, slack):
    conversation = connect.open_partner_conversation(aws, slack)
    connect.slack_in(connect.partner_says("And the 1923 atlas too?", ts="1700000310.000100",
                                          thread_ts=connect.ROOT_TS))
    pump(aws)
    hashed = patron_hash("slack_connect", "T0PARTNER:U0PARTNER1")
    needles = ("Sanborn", "1923 atlas", "U0PARTNER1", connect.LABEL, hashed, conversation["conversation_id"])
    assert items_with(*needles)
    slack.forget_calls()
    calls = aws_calls()

    connect.slack_in(connect.partner_says("delete", ts="1700000320.000100", thread_ts=connect.ROOT_TS))

    assert 1 <= len(calls) <= 2, calls
    assert slack.calls == []
    pump(aws)
    assert items_with(*needles) == []
    confirmations = [post for post in connect.posts_in(slack, connect.PARTNER_CHANNEL, connect.ROOT_TS)
                     if post["text"] == CONFIRMATION]
    assert len(confirmations) == 1
    assert conversation["thread"] in {params["ts"] for params in updates(slack)}
    assert len(updates(slack)) == 2  # the card and the bot's post of the partner's second message
    assert len(posts_with(slack, THREAD_NOTE)) == 1


def test_another_members_delete_in_the_thread_leaves_the_askers_conversation(aws, slack):
    conversation = connect.open_partner_conversation(aws, slack)
    slack.forget_calls()

    connect.slack_in(connect.partner_says("delete", ts="1700000320.000100", thread_ts=connect.ROOT_TS,
                                          user="U0PARTNER2"))
    pump(aws)

    assert items_with("Sanborn", conversation["conversation_id"])
    assert updates(slack) == []
    assert [post["text"] for post in connect.posts_in(slack, connect.PARTNER_CHANNEL)] == [CONFIRMATION]
    connect.slack_in(connect.partner_says("Still there?", ts="1700000330.000100", thread_ts=connect.ROOT_TS))
    pump(aws)
    assert len(slack.roots()) == 0  # the asker's thread still leads to their conversation
