"""The desk's own CloudWatch metrics (Powertools EMF lines, refdesk.observability): conversations
opened on every channel, replies handed to patrons and those that could not be, and the first
response time, measured once per conversation when its first staff reply is relayed."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import pump
from tests.functional import test_slack_connect_relay as connect
from tests.functional import test_webchat as web
from tests.functional.test_relay import PATRON, open_conversation, staff_reply, text_in


def emitted(out: str) -> list[dict]:
    """Each EMF line printed: {metric name: [values], "dimensions": {name: value}}."""
    lines = []
    for line in out.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        emf = json.loads(line)
        [directive] = emf["_aws"]["CloudWatchMetrics"]
        values = {metric["Name"]: emf[metric["Name"]] for metric in directive["Metrics"]}
        lines.append({name: value if isinstance(value, list) else [value] for name, value in values.items()}
                     | {"dimensions": {name: emf[name] for dimensions in directive["Dimensions"] for name in dimensions}})
    return lines


def values_of(out: str, name: str) -> list[float]:
    return [value for line in emitted(out) for value in line.get(name, [])]


def reply(conversation: dict, text: str, ts: str) -> None:
    staff_reply(conversation["root_ts"], text, ts=ts, event_id=f"Ev{ts.replace('.', '')}")


def started_ago(conversation_id: str, seconds: int) -> None:
    """The conversation as if its first message had been stored `seconds` ago."""
    from refdesk import clients
    from refdesk.store import keys

    then = (datetime.now(timezone.utc) - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    clients.get("table").update_item(Key=keys.conversation(conversation_id), UpdateExpression="SET created_at = :t",
                                     ExpressionAttributeValues={":t": then})


def test_the_first_staff_reply_measures_the_first_response_time_once(aws, slack, twilio, capsys):
    conversation = open_conversation(aws, slack)
    started_ago(conversation["conversation_id"], 95)
    capsys.readouterr()

    reply(conversation, "We have it at Main.", "1700000500.000100")
    pump(aws)
    reply(conversation, "Also at Eastside.", "1700000501.000100")
    pump(aws)

    [waited] = values_of(capsys.readouterr().out, "FirstResponseTime")  # the second reply is not measured
    assert 95 <= waited < 95 + 60


def test_a_note_is_no_response_and_a_retried_first_reply_is_measured_once(aws, slack, twilio, capsys):
    conversation = open_conversation(aws, slack)
    twilio.fail(503)  # the first reply's first attempt fails after it was recorded as the first reply
    capsys.readouterr()

    reply(conversation, "note: checking the stacks", "1700000600.000100")
    reply(conversation, "Found it!", "1700000601.000100")
    pump(aws)

    out = capsys.readouterr().out
    assert len(values_of(out, "FirstResponseTime")) == 1
    assert [sent["body"] for sent in twilio.sent] and values_of(out, "MessagesRelayed") == [1.0]


def test_replies_handed_to_the_patron_and_those_refused_are_counted(aws, slack, twilio, capsys):
    conversation = open_conversation(aws, slack)
    capsys.readouterr()

    reply(conversation, "It is in.", "1700000700.000100")
    pump(aws)
    twilio.opt_out(PATRON)
    reply(conversation, "Still there?", "1700000701.000100")
    pump(aws)

    out = capsys.readouterr().out
    assert values_of(out, "MessagesRelayed") == [1.0]
    assert values_of(out, "DeliveryFailures") == [1.0]


@pytest.mark.parametrize("channel", ["sms", "web", "slack_connect"])
def test_each_channel_counts_the_conversations_it_opens_once(aws, slack, twilio, capsys, channel):
    capsys.readouterr()

    if channel == "sms":
        first, second = text_in("Hello?"), text_in("Anyone there?")
    elif channel == "web":
        session = web.create_session()
        first, second = web.send(session, "Hello?"), web.send(session, "Anyone there?")
    else:
        first = connect.slack_in(connect.partner_says("Hello?"))
        second = connect.slack_in(connect.partner_says("Anyone there?", ts="1700000300.000200",
                                                       thread_ts=connect.ROOT_TS))

    assert first["statusCode"] in (200, 201) and second["statusCode"] in (200, 201)
    [opened] = [line for line in emitted(capsys.readouterr().out) if "ConversationOpened" in line]
    assert opened["ConversationOpened"] == [1.0] and opened["dimensions"]["channel"] == channel
