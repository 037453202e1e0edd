"""Issue 17, item 5: a Slack Connect partner's wait is timed from when they sent the message, the
event's own ts, not from when the dispatcher stored it: the message's time (and the conversation's
start) is its ts as an ISO UTC time, never later than now; a ts more than 10 minutes old is not
believed (a replay, a clock gone wrong) and the message is timed from its arrival.

Fed the fixture of record events/slack_connect_message.json, its ts moved near now."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from refdesk.channels import slack_connect
from tests.conftest import pump
from tests.functional.test_slack_connect_relay import partner_says, slack_in

ISO = "%Y-%m-%dT%H:%M:%S.%fZ"


def iso_of(ts: str) -> str:
    return datetime.fromtimestamp(float(ts), timezone.utc).strftime(ISO)


def parse(iso: str) -> datetime:
    return datetime.strptime(iso, ISO).replace(tzinfo=timezone.utc)


def stored_times(slack) -> tuple[str, str]:
    """(the conversation's start, its first message's time) as the dispatcher stored them."""
    from refdesk import store
    from tests.conftest import close_value

    [card] = slack.roots()
    conversation = store.conversations.get(close_value(card))
    [message] = store.messages.list_after(conversation.conversation_id)
    return conversation.created_at, message.at


def ts_ago(seconds: float) -> str:
    return f"{time.time() - seconds:.6f}"


@pytest.mark.parametrize("ago", [1, 90, 9 * 60])
def test_a_partner_message_is_timed_from_its_own_ts(aws, slack, ago):
    ts = ts_ago(ago)

    slack_in(partner_says(ts=ts))
    pump(aws)

    assert stored_times(slack) == (iso_of(ts), iso_of(ts))


@pytest.mark.parametrize("ago", [-300, 11 * 60, 3 * 3600])
def test_a_ts_from_the_future_or_over_ten_minutes_old_is_timed_from_its_arrival(aws, slack, ago):
    before = datetime.now(timezone.utc)

    slack_in(partner_says(ts=ts_ago(ago)))
    after = datetime.now(timezone.utc)
    pump(aws)

    created, sent = stored_times(slack)
    assert created == sent and before <= parse(sent) <= after


def test_the_send_time_is_in_the_stores_format_and_bounded_by_now():
    now = datetime.now(timezone.utc)
    recent = f"{(now - timedelta(minutes=2)).timestamp():.6f}"

    assert slack_connect.sent_at({"ts": recent}) == iso_of(recent)
    assert parse(slack_connect.sent_at({"ts": "1700000300.000100"})) >= now  # the fixture's 2023 ts
