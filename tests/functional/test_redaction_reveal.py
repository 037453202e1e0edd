"""Redaction before Slack and Reveal, in process: signed Twilio and Slack webhooks through the
real handlers, moto, the dispatcher driven by pump, and the Slack stand-in whose calls are
asserted. What Slack is sent carries masks, never the patron's identifiers; Reveal shows the
original to the librarian who pressed it, and only to them, and records the reveal."""
from __future__ import annotations

import json
import os
import time
import urllib.parse

import pytest

from tests.conftest import STAFF_CHANNEL, close_value, fixture, invoke, log_to_captured_stdout, pump, slack_event
from tests.functional.test_relay import calls_named, staff_reply, strings, text_in

PATRON = "+15557654321"
FIRST = ("Hi, renew my books? Card 21234000567890, call me at (555) 987-6543 or jane.doe@example.com. "
         "Looking for QA76.73 .P98 L83 2013, ISBN 978-1-4028-9462-6, by 2024-03-05 10:30.")
FIRST_SHOWN = ("Hi, renew my books? Card [library card], call me at [phone] or [email]. "
               "Looking for QA76.73 .P98 L83 2013, ISBN 978-1-4028-9462-6, by 2024-03-05 10:30.")
LATER = "Also the $12.50 fine: pay with 4111 1111 1111 1111?"
LATER_SHOWN = "Also the $12.50 fine: pay with [card number]?"
# Each identifier as typed and as digits only: neither may reach Slack (outside a reveal) or the logs.
SECRETS = ["21234000567890", "(555) 987-6543", "5559876543", "987-6543", "jane.doe@example.com",
           "4111 1111 1111 1111", "4111111111111111"]


# --- helpers ---------------------------------------------------------------------------

def blocks_of(call: dict) -> list[dict]:
    blocks = call.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def sections(call: dict) -> list[str]:
    return [block["text"]["text"] for block in blocks_of(call) if block["type"] == "section"]


def action_ids(call: dict) -> list[str]:
    return [element["action_id"] for block in blocks_of(call) if block["type"] == "actions"
            for element in block["elements"]]


def reveal_value(call: dict) -> str:
    [value] = [element["value"] for block in blocks_of(call) if block["type"] == "actions"
               for element in block["elements"] if element["action_id"] == "reveal_original"]
    return value


def press_reveal(post: dict, *, user: str = "U0AMANDA", thread_ts: str | None = None,
                 action_ts: str | None = None, value: str | None = None) -> dict:
    """A signed block_actions payload: `user` pressed Reveal on `post` (a thread post when
    thread_ts is given, as Slack sends it)."""
    payload = fixture("slack_block_actions_close.json")
    payload["user"]["id"] = user
    payload["container"]["message_ts"] = post["answered_ts"]
    payload["message"] = {"type": "message", "ts": post["answered_ts"], "text": post["text"],
                          "blocks": blocks_of(post), "user": "U0REFDESK", "bot_id": "B0REFDESK1"}
    if thread_ts:
        payload["container"]["thread_ts"] = payload["message"]["thread_ts"] = thread_ts
    payload["actions"] = [{"action_id": "reveal_original", "block_id": "reveal", "type": "button",
                           "text": {"type": "plain_text", "text": "Reveal"},
                           "value": value or reveal_value(post), "action_ts": action_ts or f"{time.time():.6f}"}]
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    response = invoke("slack_interactions", slack_event("/slack/interactions", body,
                                                        "application/x-www-form-urlencoded"))
    assert response["statusCode"] == 200, response
    return response


def reveals_recorded(conversation_id: str) -> list[dict]:
    from refdesk import store

    return store.reveals.list_for(conversation_id)


def table_items() -> list[dict]:
    import boto3

    return boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"]).scan()["Items"]


def sent_to_slack_except_ephemerals(slack) -> str:
    return "\n".join(text for method, params in slack.calls if method != "chat.postEphemeral"
                     for text in strings(params))


def open_conversation(aws, slack) -> tuple[dict, dict]:
    """A patron texts FIRST, then LATER: (the card, the thread post)."""
    assert text_in(FIRST, From=PATRON)["statusCode"] == 200
    pump(aws)
    [card] = slack.roots()
    assert text_in(LATER, From=PATRON)["statusCode"] == 200
    pump(aws)
    [post] = [post for post in slack.posts() if post.get("thread_ts") == card["answered_ts"]]
    return card, post


# --- what Slack shows ------------------------------------------------------------------

def test_card_and_thread_post_show_masks_and_look_alikes_never_the_originals(aws, slack, twilio):
    card, post = open_conversation(aws, slack)

    assert FIRST_SHOWN in sections(card)
    assert card["text"].endswith(f": {FIRST_SHOWN}")  # the fallback text too
    assert action_ids(card)[-1] == "reveal_original" and reveal_value(card) == close_value(card)
    assert sections(post) == [LATER_SHOWN] and post["text"].endswith(LATER_SHOWN)
    assert action_ids(post) == ["reveal_original"]
    shown = sent_to_slack_except_ephemerals(slack)
    for secret in SECRETS:
        assert secret not in shown
    # The look-alikes librarians need came through.
    for kept in ("QA76.73 .P98 L83 2013", "978-1-4028-9462-6", "2024-03-05", "10:30", "$12.50"):
        assert kept in shown
    # The stored messages keep what the patron wrote.
    texts = {item.get("text") for item in table_items()}
    assert FIRST in texts and LATER in texts


def test_messages_without_identifiers_get_no_reveal_button(aws, slack, twilio):
    assert text_in("Do you have QA76.73 .P98 L83 2013 (ISBN 9781402894626)?", From=PATRON)["statusCode"] == 200
    pump(aws)
    [card] = slack.roots()
    assert "reveal_original" not in action_ids(card)
    assert text_in("Room B-204 at 10:30 on 3/5/2024 for HIST 210?", From=PATRON)["statusCode"] == 200
    pump(aws)
    [post] = [post for post in slack.posts() if post.get("thread_ts")]
    assert sections(post) == ["Room B-204 at 10:30 on 3/5/2024 for HIST 210?"]
    assert action_ids(post) == []


def test_the_card_stays_redacted_with_reveal_when_it_is_rebuilt(aws, slack, twilio):
    """Claim rebuilds the card (chat.update): still masked, Reveal still there."""
    card, _ = open_conversation(aws, slack)
    payload = fixture("slack_block_actions_close.json")
    payload["container"]["message_ts"] = payload["message"]["ts"] = card["answered_ts"]
    payload["actions"] = [{"action_id": "claim_conversation", "type": "button", "value": close_value(card),
                           "block_id": "conversation", "action_ts": f"{time.time():.6f}"}]
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    assert invoke("slack_interactions", slack_event("/slack/interactions", body,
                                                    "application/x-www-form-urlencoded"))["statusCode"] == 200
    pump(aws)
    [update] = [call for call in calls_named(slack, "chat.update") if call["ts"] == card["answered_ts"]]
    assert FIRST_SHOWN in sections(update) and "reveal_original" in action_ids(update)
    for secret in SECRETS:
        assert secret not in sent_to_slack_except_ephemerals(slack)


# --- Reveal ------------------------------------------------------------------------------

def test_reveal_on_the_card_shows_the_original_to_the_presser_only_and_records_it(aws, slack, twilio):
    card, _ = open_conversation(aws, slack)
    posts_before = len(slack.posts())

    press_reveal(card, user="U0BEN")
    assert calls_named(slack, "chat.postEphemeral") == []  # the webhook only enqueued
    pump(aws)

    [ephemeral] = calls_named(slack, "chat.postEphemeral")
    assert ephemeral["user"] == "U0BEN" and ephemeral["channel"] == STAFF_CHANNEL
    assert ephemeral["thread_ts"] == card["answered_ts"]
    assert FIRST.replace("&", "&amp;") in ephemeral["text"]
    assert len(slack.posts()) == posts_before  # nothing posted for the channel to see
    [record] = reveals_recorded(close_value(card))
    assert record["user"] == "U0BEN" and record["revealed_at"]
    [item] = [item for item in table_items() if item["pk"].startswith("REVEAL#")]
    assert int(item["expires_at"]) > time.time() and "text" not in item


def test_reveal_on_a_thread_post_shows_that_message(aws, slack, twilio):
    card, post = open_conversation(aws, slack)

    press_reveal(post, thread_ts=card["answered_ts"])
    pump(aws)

    [ephemeral] = calls_named(slack, "chat.postEphemeral")
    assert ephemeral["user"] == "U0AMANDA" and LATER in ephemeral["text"] and FIRST not in ephemeral["text"]
    [record] = reveals_recorded(close_value(card))
    assert record["user"] == "U0AMANDA"
    first_id, later_id = (item["message_id"] for item in sorted(
        (item for item in table_items() if item["sk"].startswith("MSG#")), key=lambda item: item["sk"]))
    assert record["message_id"] == later_id != first_id


def test_reveal_is_idempotent_on_retries_and_each_press_is_recorded(aws, slack, twilio):
    card, _ = open_conversation(aws, slack)

    press_reveal(card, action_ts="1700000100.000001")
    press_reveal(card, action_ts="1700000100.000001")  # Slack retried the same press
    pump(aws)
    assert len(calls_named(slack, "chat.postEphemeral")) == 1
    assert len(reveals_recorded(close_value(card))) == 1

    # The dispatcher running the same job again (a batch retried) records nothing more.
    from refdesk import reveal
    from refdesk.models import RevealJob

    job = RevealJob(conversation_id=close_value(card), user="U0AMANDA", channel=STAFF_CHANNEL,
                    root_ts=card["answered_ts"], message_ts=card["answered_ts"], action_ts="1700000100.000001")
    reveal.reveal(job)
    assert len(reveals_recorded(close_value(card))) == 1

    press_reveal(card, action_ts="1700000200.000002")  # a second press is a second reveal
    pump(aws)
    assert len(reveals_recorded(close_value(card))) == 2


def test_reveal_with_a_value_from_another_thread_shows_nothing(aws, slack, twilio):
    card, post = open_conversation(aws, slack)
    press_reveal(post, thread_ts=card["answered_ts"], value="c0000000000000000000000000000")
    pump(aws)
    [ephemeral] = calls_named(slack, "chat.postEphemeral")
    assert "no longer kept" in ephemeral["text"] and LATER not in ephemeral["text"]
    assert reveals_recorded(close_value(card)) == []


@pytest.mark.parametrize("broken", [{"value": ""}, {"value": "not a conversation!"}])
def test_malformed_reveal_presses_are_refused(aws, slack, twilio, broken):
    payload = fixture("slack_block_actions_close.json")
    payload["actions"] = [{"action_id": "reveal_original", "type": "button", "action_ts": "1.2", **broken}]
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    response = invoke("slack_interactions", slack_event("/slack/interactions", body,
                                                        "application/x-www-form-urlencoded"))
    assert response["statusCode"] == 400


# --- the logs ----------------------------------------------------------------------------

def test_the_logs_never_hold_the_identifiers_or_the_text(aws, slack, twilio, capfd, monkeypatch):
    log_to_captured_stdout(monkeypatch)
    card, post = open_conversation(aws, slack)
    staff_reply(card["answered_ts"], "Renewed. See you at 10:30!")
    press_reveal(card)
    press_reveal(post, thread_ts=card["answered_ts"])
    pump(aws)
    assert len(calls_named(slack, "chat.postEphemeral")) == 2

    logs = capfd.readouterr().out
    assert "patron message revealed" in logs  # the scan read the dispatcher's logs
    for secret in [*SECRETS, PATRON, PATRON[2:], "renew my books", "pay with"]:
        assert secret not in logs
