"""A webhook retried or replayed after its conversation closed (Twilio's retry, a replayed
MessageSid, Slack's retries of a Slack Connect event) is a duplicate for at least a day: no
second conversation with the old question, no second acknowledgement. Closing keeps the session
with its messages' ids (store.sessions.release_step) and the claim's conditional write refuses
them, so the webhook still makes no more AWS calls than before."""
from __future__ import annotations

import time

from botocore.exceptions import ClientError

from tests.conftest import STAFF_CHANNEL, close_value, pump
from tests.functional import test_slack_connect_relay as connect
from tests.functional.test_relay import ACK, CLOSING, new_sid, press_close, queue_depth, text_in, twiml_message
from tests.functional.test_retention_and_job_bodies import session_item, sms_session
from tests.functional.test_slack_connect_relay import aws_calls

DAY = 24 * 3600


def text_opening(aws, slack, body: str) -> tuple[str, str]:
    """A text that opens a conversation: (its MessageSid, the conversation id)."""
    sid = new_sid()
    response = text_in(body, MessageSid=sid)
    assert twiml_message(response) == ACK
    pump(aws)
    [root] = [post for post in slack.roots() if body in str(post["blocks"])]
    return sid, close_value(root)


def close(aws, conversation_id: str) -> None:
    press_close(conversation_id)
    pump(aws)


def cards(slack) -> list[dict]:
    return [post for post in slack.roots() if post["channel"] == STAFF_CHANNEL]


def as_if_closed_ago(session_id: str, seconds: int) -> None:
    """The session item as it would read `seconds` after the close: every kept id and the item
    itself that much nearer to the end of their day (the table holds no other clock)."""
    from refdesk import clients

    item = session_item(session_id)
    clients.get("table").put_item(Item={**item, "expires_at": int(item["expires_at"]) - seconds,
                                        "closed_ids": {sid: int(until) - seconds
                                                       for sid, until in item["closed_ids"].items()}})


def test_twilios_retry_of_the_opening_text_after_close_is_answered_as_a_duplicate(aws, slack, twilio):
    sid, conversation_id = text_opening(aws, slack, "Do you have the new Ishiguro?")
    close(aws, conversation_id)
    twilio.forget_sent()
    calls = aws_calls()

    response = text_in("Do you have the new Ishiguro?", MessageSid=sid)

    assert response["statusCode"] == 200
    assert twiml_message(response) is None  # no second acknowledgement
    assert calls == ["UpdateItem"]  # the claim refused it; nothing queued
    assert queue_depth(aws) == 0
    pump(aws)
    assert len(cards(slack)) == 1
    assert twilio.sent == []


def test_a_replay_23_hours_after_close_is_still_a_duplicate(aws, slack, twilio):
    first, conversation_id = text_opening(aws, slack, "Is the study room free at 3?")
    second = new_sid()
    assert twiml_message(text_in("And at 4?", MessageSid=second)) is None
    pump(aws)
    close(aws, conversation_id)
    as_if_closed_ago(sms_session(), 23 * 3600)

    for sid, body in ((first, "Is the study room free at 3?"), (second, "And at 4?")):
        response = text_in(body, MessageSid=sid)
        assert response["statusCode"] == 200 and twiml_message(response) is None

    pump(aws)
    assert len(cards(slack)) == 1
    assert [sent["body"] for sent in twilio.sent] == [CLOSING]


def test_a_new_text_after_close_still_opens_a_new_conversation_which_a_replay_does_not_join(aws, slack, twilio):
    old, first_id = text_opening(aws, slack, "Where do I renew a book?")
    close(aws, first_id)
    assert twiml_message(text_in("Where do I renew a book?", MessageSid=old)) is None  # replayed

    calls = aws_calls()
    _, second_id = text_opening(aws, slack, "Different question: printing prices?")
    assert calls[:2] == ["UpdateItem", "SendMessage"]  # the acknowledgement path: still 2 AWS calls

    assert second_id != first_id
    assert twiml_message(text_in("Where do I renew a book?", MessageSid=old)) is None  # replayed again
    pump(aws)
    second_card = cards(slack)[-1]
    assert len(cards(slack)) == 2
    assert not [post for post in slack.posts() if post.get("thread_ts") == second_card["answered_ts"]
                and "renew" in str(post)]
    item = session_item(sms_session())
    assert item["conversation_id"] == second_id and old not in item["recent_ids"]


def test_a_closed_session_keeps_only_message_ids_for_a_day(aws, slack, twilio):
    sid, conversation_id = text_opening(aws, slack, "Can I bring my dog?")
    close(aws, conversation_id)
    closed_at = time.time()

    item = session_item(sms_session())

    assert "conversation_id" not in item and "recent_ids" not in item and "message_count" not in item
    assert not [name for name in item if name.startswith("pending:")]
    assert set(item["closed_ids"]) == {sid}
    assert closed_at + DAY - 60 < int(item["expires_at"]) <= closed_at + DAY
    assert int(item["closed_ids"][sid]) == int(item["expires_at"])


def test_ids_whose_day_is_over_are_dropped_at_the_next_close(aws, slack, twilio):
    old, first_id = text_opening(aws, slack, "First question of the week")
    close(aws, first_id)
    as_if_closed_ago(sms_session(), DAY + 60)

    new, second_id = text_opening(aws, slack, "Second question, two days later")
    close(aws, second_id)

    assert set(session_item(sms_session())["closed_ids"]) == {new}


def test_a_patron_who_keeps_coming_back_cannot_grow_the_session_without_end(aws, slack, twilio, monkeypatch):
    from refdesk.store import sessions

    monkeypatch.setattr(sessions, "MAX_RECOGNISED", 3)
    sids = []
    for question in ("One?", "Two?", "Three?"):
        sid, conversation_id = text_opening(aws, slack, question)
        sids.append(sid)
        sids.append(new_sid())
        assert text_in(f"{question} (more)", MessageSid=sids[-1])["statusCode"] == 200
        pump(aws)
        close(aws, conversation_id)

    kept = session_item(sms_session())["closed_ids"]

    assert set(sids[-2:]) <= set(kept) and len(kept) == 3  # the newest, the last conversation's first


def test_a_message_claimed_while_closing_makes_the_release_fail_so_the_close_is_retried(aws, slack, twilio):
    """The release writes the ids it read: a message claimed (and already stored) between that read
    and the write must not lose its id, so the write is conditional on the session's count."""
    from refdesk import store
    from refdesk.store import sessions, table

    sid, conversation_id = text_opening(aws, slack, "How late are you open?")
    step = sessions.release_step(sms_session(), conversation_id, sessions.Release.FORGET,
                                 table.now_iso())
    text_in("Tonight, I mean", MessageSid=new_sid())
    pump(aws)  # stored and unparked: nothing is parked any more
    assert not store.sessions.all_pending(sms_session())

    try:
        table.transact([step])
    except ClientError as error:
        assert table.failed_condition(error)
    else:
        raise AssertionError("the release overwrote a session that had taken a message since it was read")
    assert session_item(sms_session())["conversation_id"] == conversation_id


def test_slacks_retry_of_a_partners_message_after_close_opens_nothing(aws, slack):
    conversation = connect.open_partner_conversation(aws, slack)
    connect.press_close(conversation)
    pump(aws)
    slack.forget_calls()

    response = connect.slack_in(connect.partner_says())  # the question's event, delivered again

    assert response["statusCode"] == 200
    assert queue_depth(aws) == 0
    pump(aws)
    assert slack.posts() == []
