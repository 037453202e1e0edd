"""Nothing doubled by SMS, in process: the webhooks, moto, the dispatcher driven with conftest.pump,
and the Twilio stand-in behind the real twilio Client. A text Twilio accepted though its answer was
lost (the stand-in sends it, then answers an error: a "commit" fault) is found in Twilio's Messages
list on the retry instead of being sent again; a first attempt never looks. And the stand-in's
Messages list answers as Twilio's does: filters, newest first, pages."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from refdesk import clients
from refdesk.channels import sms
from tests.conftest import LIBRARY_NUMBER, TEXT_DELIVERED, pump
from tests.functional.test_email_followups import follow_up, reactions_on
from tests.functional.test_email_followups import reply as reply_in_thread
from tests.functional.test_slack_no_duplicates import PATRON, failed_jobs, open_conversation, staff_reply

ANSWER = "Yes, two copies at Main."
TEXTED = f"Amanda (library): {ANSWER}"


def reply(aws, root_ts: str, text: str = ANSWER) -> tuple[str, list[dict]]:
    """A librarian's reply in the thread, run by the dispatcher: (its ts, the batch responses)."""
    ts = f"{time.time():.6f}"
    staff_reply(root_ts, text, ts)
    return ts, pump(aws)


def texts(twilio) -> list[str]:
    return [sent["body"] for sent in twilio.sent]


def test_a_text_whose_answer_was_lost_is_found_on_the_retry_and_sent_once(aws, slack, twilio):
    root_ts = open_conversation(aws, slack)
    twilio.fail(500, commit=True)

    ts, responses = reply(aws, root_ts)

    assert failed_jobs(responses) == 1  # the first attempt saw the error
    assert texts(twilio) == [TEXTED]
    assert twilio.attempts() == 1  # the retry found it and sent nothing
    [lookup] = twilio.stand_in.list_requests()
    # No DateSent filter: it would hide a text still queued (no date sent yet)
    assert (lookup["To"], lookup["From"]) == (PATRON, LIBRARY_NUMBER) and "DateSent>" not in lookup
    assert reactions_on(slack, ts) == TEXT_DELIVERED


def test_a_multi_part_reply_resumes_at_the_part_whose_answer_was_lost(aws, slack, twilio):
    long_answer = " ".join(f"Shelf {n} holds the large-print mysteries." for n in range(90))
    parts = sms.CHANNEL.compose("Amanda", long_answer)
    assert len(parts) == 3
    root_ts = open_conversation(aws, slack)
    twilio.fail(500, commit=True, after=1)  # the second part is sent, its answer lost

    ts, responses = reply(aws, root_ts, long_answer)

    assert failed_jobs(responses) == 1
    assert texts(twilio) == parts  # each part once, in order
    assert twilio.attempts() == 3
    assert reactions_on(slack, ts) == TEXT_DELIVERED


def test_a_retry_after_twilio_refused_the_text_finds_nothing_and_sends_it(aws, slack, twilio):
    root_ts = open_conversation(aws, slack)
    twilio.fail(503)

    ts, responses = reply(aws, root_ts)

    assert failed_jobs(responses) == 1
    assert texts(twilio) == [TEXTED]
    assert twilio.attempts() == 2
    assert len(twilio.stand_in.list_requests()) == 1
    assert reactions_on(slack, ts) == TEXT_DELIVERED


def test_a_first_attempt_sends_without_looking(aws, slack, twilio):
    root_ts = open_conversation(aws, slack)

    ts, responses = reply(aws, root_ts)

    assert failed_jobs(responses) == 0
    assert texts(twilio) == [TEXTED]
    assert twilio.stand_in.list_requests() == []


def test_a_web_follow_ups_text_whose_answer_was_lost_is_sent_once(aws, slack, twilio):
    _, thread_ts = follow_up(aws, slack, "+1 555 123 4567")
    twilio.fail(500, commit=True)

    ts = reply_in_thread(aws, thread_ts, ANSWER)

    assert texts(twilio) == [TEXTED]
    assert twilio.attempts() == 1
    assert reactions_on(slack, ts) == TEXT_DELIVERED


# --- the stand-in's Messages list -----------------------------------------------------------

def test_the_stand_ins_messages_list_filters_by_to_from_and_day_newest_first_a_page_at_a_time(aws, twilio):
    for n in range(5):
        sms.CHANNEL.send(PATRON, f"Text {n}")
    sms.CHANNEL.send("+15557654321", "To someone else")
    twilio.stand_in.report_statuses(lambda *report: None)  # sent, then delivered: each has its date sent
    messages = clients.get("twilio").messages
    today = datetime.now(timezone.utc).date()

    listed = messages.list(to=PATRON, from_=LIBRARY_NUMBER, date_sent_after=today.isoformat(), page_size=2)

    assert [text.body for text in listed] == [f"Text {n}" for n in (4, 3, 2, 1, 0)]
    assert all(text.status == "delivered" and text.date_sent >= text.date_created for text in listed)
    pages = twilio.stand_in.list_requests()
    assert [page.get("Page", "0") for page in pages] == ["0", "1", "2"]
    assert all(page["PageToken"].startswith("PASM") and page["To"] == PATRON for page in pages[1:])
    assert messages.list(to=PATRON, date_sent_after=(today + timedelta(days=1)).isoformat()) == []
    assert len(messages.list(to=PATRON, date_sent_after=f"{today.isoformat()}T23:59:59Z")) == 5  # whole days
    assert [text.body for text in messages.list(from_=LIBRARY_NUMBER, limit=1)] == ["To someone else"]
    assert messages.list(from_="+15550000000") == []


def test_a_text_still_queued_has_no_date_sent_and_is_listed_only_without_a_date_filter(aws, twilio):
    receipt = sms.CHANNEL.send(PATRON, "Still queued")
    messages = clients.get("twilio").messages
    today = datetime.now(timezone.utc).date().isoformat()

    [queued] = messages.list(to=PATRON)

    assert (queued.sid, queued.status, queued.date_sent) == (receipt.provider_id, "queued", None)
    assert messages.list(to=PATRON, date_sent_after=today) == []
