"""The wait estimate (refdesk.wait_estimate, issue 19 item 5): a patron told their place in line is
also told roughly how long, from the median first response of live chats begun in opening hours
at that time of day over the last four weeks; with too little history, nothing is said."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.functional.test_claim_transfer import PATRONS, SECOND, sms_card, texts_to


def seed(waits: list[int], *, hour: int, days_ago: int = 1) -> None:
    """Conversations counted `days_ago` days back with these first responses, begun at `hour`."""
    from refdesk import store
    from refdesk.models import InboundMessage
    from refdesk.reports import today

    for index, wait in enumerate(waits):
        conversation_id = f"past-{hour}-{days_ago}-{index}"
        store.conversations.ensure(conversation_id, InboundMessage(
            channel="sms", message_id=f"m-{conversation_id}", session_id=f"s-{conversation_id}", patron_id="p",
            label="x", text="a question"))
        assert store.stats.count_conversation(conversation_id, today() - timedelta(days=days_ago), {"conv#sms": 1},
                                              {f"hour_waits#{hour}": wait, "waits#in_hours": wait})


def library_now() -> datetime:
    from refdesk.settings import get_settings

    return datetime.now(ZoneInfo(get_settings().library_timezone))


@pytest.mark.parametrize("seconds, words", [(30, "about a minute"), (89, "about a minute"), (91, "about 2 minutes"),
                                            (260, "about 4 minutes"), (14 * 60, "about 15 minutes"),
                                            (50 * 60, "about 50 minutes"), (70 * 60, "about an hour"),
                                            (150 * 60, "about 2 hours")])
def test_the_wait_is_said_in_round_words(seconds, words):
    from refdesk import wait_estimate

    assert wait_estimate.in_words(seconds) == words


def test_the_estimate_is_the_median_of_this_time_of_day_over_four_weeks(aws):
    from refdesk import wait_estimate

    now = library_now()
    seed([60, 120, 180, 240], hour=now.hour)
    seed([300, 360, 420], hour=(now.hour + 1) % 24, days_ago=27)
    seed([480, 540, 600], hour=(now.hour - 1) % 24, days_ago=3)
    seed([6000] * 20, hour=(now.hour + 5) % 24)  # another time of day
    seed([6000] * 20, hour=now.hour, days_ago=40)  # too long ago
    assert wait_estimate.median_wait(now) == 330  # the median of the 10 in the window, 300 and 360

    assert wait_estimate.median_wait(now + timedelta(hours=12)) is None  # no history then


def test_with_fewer_than_ten_waits_nothing_is_said(aws):
    from refdesk import wait_estimate

    seed([100] * (wait_estimate.MIN_SAMPLES - 1), hour=library_now().hour)
    assert wait_estimate.median_wait() is None and wait_estimate.sentence() == ""


def test_the_place_in_line_says_how_long_at_this_time_of_day(aws, slack, twilio):
    seed([240] * 12, hour=library_now().hour)
    sms_card(aws, slack, PATRONS[0])
    sms_card(aws, slack, PATRONS[1])
    assert texts_to(twilio, PATRONS[1]) == [f"{SECOND} At this time of day a librarian usually answers in about 4 "
                                            "minutes."]


def test_an_answered_chat_in_opening_hours_adds_its_wait_to_its_hour(aws):
    from refdesk import assessment, store
    from refdesk.models import Author, Conversation, Message

    started = datetime(2026, 3, 2, 15, 0, tzinfo=ZoneInfo("UTC"))  # 10:00 in New York
    conversation = Conversation(conversation_id="cH", patron_id="p", channel="sms", anchor="a", label="x",
                                created_at=started.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    answer = Message(message_id="slack-1", at=(started + timedelta(seconds=75)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                     author=Author.LIBRARIAN, author_user="U0AMANDA", text="yes")
    counts, samples = assessment.counts(conversation, [answer], repeat=False, patron_gone=False)
    assert samples["hour_waits#10"] == 75 and samples["waits#in_hours"] == 75
    after_hours = assessment.counts(Conversation(**{**conversation.__dict__, "after_hours": "again"}), [answer],
                                    repeat=False, patron_gone=False)[1]
    assert not [name for name in after_hours if name.startswith(store.stats.HOUR_WAITS_PREFIX)]
