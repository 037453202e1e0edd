"""Issue 17, item 6: a patron's delete also removes their conversation's kept transcript (every
version of it), and the bot's posts of librarians' replies in a Slack Connect partner's shared
thread, each reply's edit a job of its own."""
from __future__ import annotations

import json

from refdesk.erasure import REMOVED
from tests.conftest import pump
from tests.functional import test_slack_connect_relay as connect
from tests.functional.test_erasure import text_delete
from tests.functional.test_relay import open_conversation, press_close, staff_reply
from tests.functional.test_transcripts import keep  # noqa: F401 - the fixture


def versions(local_aws, bucket: str) -> list[dict]:
    listed = local_aws.client("s3").list_object_versions(Bucket=bucket)
    return [*listed.get("Versions", ()), *listed.get("DeleteMarkers", ())]


def test_a_delete_removes_the_conversations_transcript_every_version(aws, slack, twilio, keep, local_aws):  # noqa: F811
    from tests.functional.test_assessment import click

    conversation = open_conversation(aws, slack, "Hi, I'm Priya. Do you have The Power Broker?")
    press_close(conversation["conversation_id"])
    pump(aws)
    cid = conversation["conversation_id"]
    click({"action_id": "read_level_2", "type": "button", "value": f"{cid}:2"}, conversation["root_ts"])
    pump(aws)  # READ recorded: the transcript rewritten (in AWS its first version is kept a day)
    assert versions(local_aws, keep)

    text_delete()
    pump(aws)

    assert versions(local_aws, keep) == []


def test_a_delete_with_transcripts_off_reads_no_transcript_only_lists_the_conversations_files(aws, slack, twilio,
                                                                                                local_aws):
    from refdesk import clients

    calls = []
    clients.get("s3").meta.events.register("before-call", lambda model, **kwargs: calls.append(model.name))
    open_conversation(aws, slack)
    text_delete()
    pump(aws)

    assert calls == ["ListObjectsV2", "ListObjectsV2"]  # its uploads and its librarians' files: none


def test_a_partners_delete_edits_the_librarians_replies_in_the_shared_thread(aws, slack):
    conversation = connect.open_partner_conversation(aws, slack)
    slack.stand_in.record_human(connect.PARTNER_CHANNEL, "U0PARTNER1", "Are the Sanborn maps online?", None,
                                ts=connect.ROOT_TS)
    connect.staff_reply(conversation["thread"], "Yes, both are online.")
    connect.staff_reply(conversation["thread"], "note: they asked last year too", ts="1700000410.000200")
    connect.staff_reply(conversation["thread"], "The 1925 one too.", ts="1700000420.000300")
    pump(aws)
    replies = [post["answered_ts"] for post in connect.posts_in(slack, connect.PARTNER_CHANNEL, connect.ROOT_TS)]
    assert len(replies) == 2
    slack.forget_calls()

    connect.slack_in(connect.partner_says("delete", ts="1700000500.000100", thread_ts=connect.ROOT_TS))
    pump(aws)

    edited = {params["ts"]: params for params in connect.calls_named(slack, "chat.update")
              if params["channel"] == connect.PARTNER_CHANNEL}
    assert sorted(edited) == sorted(replies)
    for params in edited.values():
        assert params["text"] == REMOVED and "online" not in json.dumps(params)
    shared = [message["text"] for message in slack.stand_in.messages() if message["channel"] == connect.PARTNER_CHANNEL
              and message["ts"] in replies]
    assert shared == [REMOVED, REMOVED]


def test_a_shared_reply_whose_edit_fails_is_tried_again_on_its_own(aws, slack):
    conversation = connect.open_partner_conversation(aws, slack)
    slack.stand_in.record_human(connect.PARTNER_CHANNEL, "U0PARTNER1", "Are the Sanborn maps online?", None,
                                ts=connect.ROOT_TS)
    connect.staff_reply(conversation["thread"], "Yes, both are online.")
    pump(aws)
    [reply] = [post["answered_ts"] for post in connect.posts_in(slack, connect.PARTNER_CHANNEL, connect.ROOT_TS)]
    slack.fail("conversations.replies", status=500)  # the shared thread cannot be read at first

    connect.slack_in(connect.partner_says("delete", ts="1700000500.000100", thread_ts=connect.ROOT_TS))
    pump(aws)

    [message] = [message for message in slack.stand_in.messages() if message["ts"] == reply]
    assert message["text"] == REMOVED


def test_an_sms_patrons_delete_queues_no_shared_thread_edit(aws, slack, twilio):
    conversation = open_conversation(aws, slack)
    staff_reply(conversation["root_ts"], "It's on the shelf!")
    pump(aws)
    slack.forget_calls()

    text_delete()
    pump(aws)

    assert "conversations.replies" not in slack.methods()
