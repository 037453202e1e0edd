"""De-identified transcripts (refdesk.transcripts): written to S3 once per closed conversation when
KeepTranscripts is on, never when off; no phone number, e-mail address, card number, patron name,
hash or conversation id in the object or its key."""
from __future__ import annotations

import json
import re

import pytest

from tests.conftest import fixture, pump
from tests.functional.test_relay import PATRON, open_conversation, press_close, staff_reply

QUESTION = ("Hi, this is Jane Rivers. Can you renew my books? Card 21234567890123, call me at (555) 867-5309 "
            "or jane.rivers@example.com. Paid with 4111 1111 1111 1111.")


@pytest.fixture
def keep(local_aws, monkeypatch):
    from refdesk import clients
    from refdesk.settings import get_settings

    monkeypatch.setenv("KEEP_TRANSCRIPTS", "true")
    monkeypatch.setenv("TRANSCRIPT_BUCKET", local_aws.refs["TranscriptBucket"])
    get_settings.cache_clear()
    clients.reset()
    return local_aws.refs["TranscriptBucket"]


def objects(local_aws) -> dict[str, dict]:
    s3 = local_aws.client("s3")
    bucket = local_aws.refs["TranscriptBucket"]
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {key: json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in keys}


def test_a_closed_conversation_leaves_one_de_identified_transcript(aws, slack, twilio, keep, local_aws):
    conversation = open_conversation(aws, slack, QUESTION)
    staff_reply(conversation["root_ts"], "Done, Jane! I renewed both. We'll text (555) 867-5309 if a hold comes in.",
                ts="1700000100.000100")
    staff_reply(conversation["root_ts"], "note: patron is Jane Rivers from the book club", ts="1700000101.000100")
    pump(aws)
    press_close(conversation["conversation_id"])
    pump(aws)

    [(key, transcript)] = objects(local_aws).items()

    assert re.fullmatch(r"transcripts/\d{4}/\d{2}/\d{2}/[0-9a-f]{32}\.json", key)
    text = json.dumps(transcript)
    for identifier in ("867-5309", "8675309", "jane.rivers@example.com", "21234567890123", "4111 1111",
                       PATRON, PATRON[2:], conversation["conversation_id"], "book club"):
        assert identifier not in text, identifier
    assert transcript["channel"] == "sms"
    assert [line["from"] for line in transcript["messages"]] == ["Patron", "Amanda"]  # no note, no name
    assert "[phone]" in transcript["messages"][0]["text"] and "[email]" in transcript["messages"][0]["text"]
    assert "renew my books" in transcript["messages"][0]["text"]
    assert all(line["at"] for line in transcript["messages"])
    assert transcript["opened_at"] and transcript["closed_at"] and transcript["first_reply_at"]
    from refdesk import store

    patron_id = store.conversations.get(conversation["conversation_id"]).patron_id
    assert patron_id not in text and patron_id not in key


def test_a_retried_close_and_a_later_read_rewrite_the_same_single_transcript(aws, slack, twilio, keep, local_aws):
    from tests.functional.test_assessment import click

    conversation = open_conversation(aws, slack)
    twilio.fail(500, count=1)  # the closing line fails after the transcript was written: the job is retried
    press_close(conversation["conversation_id"])
    pump(aws)
    assert len(objects(local_aws)) == 1

    cid = conversation["conversation_id"]
    click({"action_id": "read_level_4", "type": "button", "value": f"{cid}:4"}, conversation["root_ts"])
    pump(aws)
    [transcript] = objects(local_aws).values()
    assert transcript["read_level"] == 4


def test_no_transcript_is_written_when_they_are_off(aws, slack, twilio, local_aws):
    from refdesk.settings import get_settings

    assert get_settings().keep_transcripts is False  # KeepTranscripts defaults to "false"
    conversation = open_conversation(aws, slack, fixture("sms_inbound.json")["Body"])
    press_close(conversation["conversation_id"])
    pump(aws)
    assert objects(local_aws) == {}
    assert any(call for call in slack.calls if call[0] == "chat.update")  # the close itself ran
