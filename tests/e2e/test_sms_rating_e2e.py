"""Issue 17, item 5, over the shared local stack: a librarian closes an SMS conversation, the
closing line that reaches the phone says how to rate, the patron texts "5" and is thanked at once;
nothing new reaches the staff channel, and the rating is in the daily figures."""
from __future__ import annotations

import json
import uuid

import boto3
from boto3.dynamodb.conditions import Key

from refdesk.assessment import THANKS
from refdesk.channels.contract import REPLY_RATING_HINT
from refdesk.store.stats import DAY_PREFIX, STATS_PK, DailyStats
from tests.e2e.test_claim_transfer_e2e import texts_to
from tests.e2e.test_sms_keywords_e2e import staff_messages, twiml_message


def stats_items(stack, prefix: str) -> list[dict]:
    """The stack's statistics items whose sort key starts with `prefix` (days, comments)."""
    config = stack.config
    table = boto3.resource("dynamodb", endpoint_url=config["aws_endpoint_url"], region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing").Table(config["table_name"])
    return table.query(KeyConditionExpression=Key("pk").eq(STATS_PK) & Key("sk").begins_with(prefix))["Items"]


def fives(stack) -> int:
    """How many 5s the daily figures hold, every day summed (as store.stats.days reads them)."""
    return sum(DailyStats.from_item(item).ratings.get(5, 0) for item in stats_items(stack, DAY_PREFIX))


def test_an_sms_patron_rates_by_answering_the_closing_line(stack):
    number = "+1555" + str(uuid.uuid4().int)[:7]
    question = f"Do you have the 1911 Sanborn maps? {uuid.uuid4().hex[:8]}"
    assert stack.text_in(number, question).status_code == 200
    card = stack.wait_until(lambda: next((m for m in staff_messages(stack) if not m["thread_ts"]
                                          and question in json.dumps(m["blocks"])), None), message="the card")
    stack.post_json("/_local/api/slack/click", {"ts": card["ts"], "action_id": "close_conversation"})

    closing = stack.wait_until(lambda: next((text for text in texts_to(stack, number) if REPLY_RATING_HINT in text),
                                            None), message="the closing line on the phone")
    assert closing.endswith(f" {REPLY_RATING_HINT}") and len(closing) <= 160
    rated_before, staff_before = fives(stack), len(staff_messages(stack))
    texts_before = texts_to(stack, number)

    thanks = twiml_message(stack.text_in(number, "5"))

    assert thanks == THANKS
    stack.wait_until(lambda: fives(stack) == rated_before + 1, message="the rating in the daily figures")
    assert len(staff_messages(stack)) == staff_before  # no card, no thread post: staff never see it
    assert texts_to(stack, number) == texts_before  # the thanks was the webhook's answer, nothing else sent
