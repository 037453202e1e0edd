"""Closed means closed, and the librarian knows (issue 16, item 5): a librarian's reply after the
close reopens the conversation where the patron can still get it (SMS, Slack Connect, a web chat
whose window still reads it), or gets ❌ and a note saying why; never ✅ for a reply nobody sees."""
from __future__ import annotations

import json
import os
import time

import boto3

from tests.conftest import TEXT_DELIVERED, close_value, pump
from tests.functional import test_relay as sms
from tests.functional import test_webchat as web

PATRON_NUMBER = sms.PATRON


def conversation_item(conversation_id: str) -> dict:
    return boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"]).get_item(
        Key={"pk": f"CONV#{conversation_id}", "sk": "META"}, ConsistentRead=True)["Item"]


def reactions_on(slack, ts: str) -> set[str]:
    return {call["name"] for call in sms.calls_named(slack, "reactions.add") if call["timestamp"] == ts}


def thread_posts(slack, root_ts: str) -> list[str]:
    return [post["text"] for post in slack.posts() if post.get("thread_ts") == root_ts]


def closed_sms_conversation(aws, slack, twilio) -> dict:
    conversation = sms.open_conversation(aws, slack)
    sms.staff_reply(conversation["root_ts"], "We have it on the shelf.", ts=f"{time.time():.6f}")
    pump(aws)
    sms.press_close(conversation["conversation_id"])
    pump(aws)
    twilio.forget_sent()
    slack.forget_calls()
    return conversation


# --- SMS ---------------------------------------------------------------------------------

def test_a_reply_after_an_sms_close_reopens_it_and_the_patrons_next_text_joins_it(aws, slack, twilio):
    conversation = closed_sms_conversation(aws, slack, twilio)
    reply_ts = f"{time.time():.6f}"

    sms.staff_reply(conversation["root_ts"], "One more thing: it is due back in 3 weeks.", ts=reply_ts,
                    user="U0BEN")
    pump(aws)

    assert [sent["body"] for sent in twilio.sent] == ["Ben (library): One more thing: it is due back in 3 weeks."]
    assert reactions_on(slack, reply_ts) == set(TEXT_DELIVERED)
    item = conversation_item(conversation["conversation_id"])
    assert item["status"] == "open" and item["claimed_by"] == "U0BEN" and "closed_at" not in item
    [update] = sms.calls_named(slack, "chat.update")  # the card: open again, Ben's, with Close
    assert update["ts"] == conversation["root_ts"] and "Closed by" not in json.dumps(update["blocks"])
    assert close_value(update) == conversation["conversation_id"]
    assert [text for text in thread_posts(slack, conversation["root_ts"]) if "reopened" in text] == [
        ":leftwards_arrow_with_hook: <@U0BEN> reopened this conversation with a reply."]

    sms.text_in("Thanks! Can I renew it online?")
    pump(aws)

    assert len(slack.roots()) == 0  # no new card: the text joined the reopened conversation's thread
    assert any("renew it online" in text for text in thread_posts(slack, conversation["root_ts"]))


def test_a_reopened_conversation_closes_again_without_a_second_closing_line(aws, slack, twilio):
    conversation = closed_sms_conversation(aws, slack, twilio)
    sms.staff_reply(conversation["root_ts"], "Also: renewals are online.", ts=f"{time.time():.6f}")
    pump(aws)
    twilio.forget_sent()

    sms.press_close(conversation["conversation_id"], action_ts="1700000300.000001")
    pump(aws)

    item = conversation_item(conversation["conversation_id"])
    assert item["status"] == "closed" and "close_finished_at" in item
    assert twilio.sent == []  # the closing line was sent at the first close
    assert sms.text_in("A brand new question")["statusCode"] == 200
    pump(aws)
    assert close_value(slack.roots()[-1]) != conversation["conversation_id"]


def test_a_reply_after_the_patron_started_a_newer_conversation_is_sent_and_the_old_one_stays_closed(
        aws, slack, twilio):
    conversation = closed_sms_conversation(aws, slack, twilio)
    sms.text_in("A new question: do you have study rooms?")
    pump(aws)
    newer = close_value(slack.roots()[-1])
    twilio.forget_sent()
    reply_ts = f"{time.time():.6f}"

    sms.staff_reply(conversation["root_ts"], "Late answer to your first question.", ts=reply_ts)
    pump(aws)

    assert [sent["body"] for sent in twilio.sent] == ["Amanda (library): Late answer to your first question."]
    assert conversation_item(conversation["conversation_id"])["status"] == "closed"
    assert conversation_item(newer)["status"] == "open"
    [told] = [call for call in sms.calls_named(slack, "chat.postEphemeral") if "stays closed" in call["text"]]
    assert told["user"] == "U0AMANDA" and told["thread_ts"] == conversation["root_ts"]


def test_a_reopen_whose_card_update_failed_brings_every_view_up_to_date_on_the_replys_retry(aws, slack, twilio):
    conversation = closed_sms_conversation(aws, slack, twilio)
    slack.fail("chat.update", status=500)  # once: after the reopen's write and its thread line
    reply_ts = f"{time.time():.6f}"

    sms.staff_reply(conversation["root_ts"], "Reopening with news.", ts=reply_ts)
    outcomes = pump(aws)

    assert "retry" in outcomes
    *_, update = sms.calls_named(slack, "chat.update")
    assert close_value(update) == conversation["conversation_id"]  # open again: Close is back
    assert [sent["body"] for sent in twilio.sent] == ["Amanda (library): Reopening with news."]
    assert len([text for text in thread_posts(slack, conversation["root_ts"]) if "reopened" in text]) == 1
    assert reactions_on(slack, reply_ts) == set(TEXT_DELIVERED)


def test_a_reply_while_the_close_is_still_running_waits_for_it(aws, slack, twilio):
    conversation = sms.open_conversation(aws, slack)
    slack.fail("chat.update", status=500)  # the close stops after its write, before finishing
    sms.press_close(conversation["conversation_id"])
    reply_ts = f"{time.time():.6f}"
    sms.staff_reply(conversation["root_ts"], "Wait, one more thing.", ts=reply_ts)

    pump(aws)

    item = conversation_item(conversation["conversation_id"])
    assert item["status"] == "open" and item["reopen_ts"] == reply_ts  # closed, then reopened: not closed again
    assert [sent["body"] for sent in twilio.sent][-1] == "Amanda (library): Wait, one more thing."


# --- web chat ----------------------------------------------------------------------------

def test_a_reply_after_a_web_close_reopens_the_chat_its_window_still_reads(aws, slack):
    session, root = web.open_chat(aws, slack)
    web.press_close(close_value(root))
    pump(aws)
    closed = web.poll(session)
    assert closed["status"] == "closed"
    reply_ts = "1800000099.000100"

    web.staff_reply(root, "Oh, and the annex opens at noon.", ts=reply_ts)
    pump(aws)

    reloaded = web.poll(session, closed["cursor"])  # what the widget reads on a reload
    assert reloaded["status"] == "open"
    assert [(m["from"], m["text"]) for m in reloaded["messages"]] == [("librarian", "Oh, and the annex opens at noon.")]
    assert reactions_on(slack, reply_ts) == {"white_check_mark"}
    assert web.send(session, "Great, thanks!")["statusCode"] == 201  # the chat goes on
    pump(aws)
    assert any("Great, thanks!" in text for text in thread_posts(slack, root["answered_ts"]))


def test_a_reply_after_the_web_chats_session_is_over_gets_a_cross_and_a_note_not_a_tick(aws, slack):
    session, root = web.open_chat(aws, slack)
    web.press_close(close_value(root))
    pump(aws)
    boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"]).update_item(  # its token's lifetime is over
        Key={"pk": f"SESSION#{session['session_id']}", "sk": "META"}, UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": int(time.time()) - 1})
    reply_ts = "1800000099.000200"

    web.staff_reply(root, "Oh, and the annex opens at noon.", ts=reply_ts)
    pump(aws)

    assert reactions_on(slack, reply_ts) == {"x"}
    notes = [text for text in thread_posts(slack, root["answered_ts"]) if "Not delivered" in text]
    assert len(notes) == 1 and "the chat had ended" in notes[0]
    assert conversation_item(close_value(root))["status"] == "closed"
    assert not any(call for call in sms.calls_named(slack, "chat.postEphemeral") if "stays closed" in call["text"])
