"""Slack Connect as a patron channel, in process: the Slack events handler fed the fixtures of
record (events/slack_connect_*.json, events/slack_outsider_in_staff_thread.json), moto for
DynamoDB and SQS, the Slack stand-in behind the real WebClient, and the dispatcher driven with
conftest.pump as Lambda's SQS integration would drive it."""
from __future__ import annotations

import copy
import json
import time

import pytest

from tests.conftest import (STAFF_CHANNEL, close_value, fixture, invoke, log_to_captured_stdout, pump, slack_event,
                            twilio_event)

PARTNER_CHANNEL = "C0PARTNER1"
ROOT_TS = "1700000300.000100"
LABEL = "Slack Connect · T0PARTNER ···NER1"
QUESTION_SHOWN = ("Hello from Riverside University! Are the 1911 Sanborn maps of Springfield digitised &amp; "
                  "online? Our students need them for HIST 210 (https://riverside.example.edu/hist210) :pray:")


# --- helpers ---------------------------------------------------------------------------

def slack_in(payload: dict) -> dict:
    response = invoke("slack_events", slack_event("/slack/events", json.dumps(payload)))
    assert response["statusCode"] == 200, response
    return response


def partner_says(text: str | None = None, *, ts: str = ROOT_TS, thread_ts: str | None = None,
                 event_id: str | None = None, user: str = "U0PARTNER1", **event) -> dict:
    """A partner's message in the shared channel (the fixture of record, re-pointed)."""
    payload = fixture("slack_connect_thread_reply.json" if thread_ts else "slack_connect_message.json")
    payload["event"].update(ts=ts, event_ts=ts, user=user, **event)
    if thread_ts:
        payload["event"]["thread_ts"] = thread_ts
    if text is not None:
        payload["event"]["text"] = text
    payload["event_id"] = event_id or f"Ev{ts.replace('.', '')[-11:]}"
    return payload


def staff_reply(thread_ts: str, text: str, *, ts: str = "1700000400.000200", user: str = "U0AMANDA",
                event_id: str | None = None) -> dict:
    payload = fixture("slack_message_reply.json")
    payload["event"].update(thread_ts=thread_ts, text=text, ts=ts, event_ts=ts, user=user)
    payload["event_id"] = event_id or f"Ev{ts.replace('.', '')[-11:]}"
    return slack_in(payload)


def open_partner_conversation(aws, slack) -> dict:
    """The partner asked at the top level of the shared channel; its card is in the staff channel."""
    slack_in(fixture("slack_connect_message.json"))
    pump(aws)
    [root] = [post for post in slack.roots() if post["channel"] == STAFF_CHANNEL]
    return {"root": root, "thread": root["answered_ts"], "conversation_id": close_value(root)}


def calls_named(slack, method: str) -> list[dict]:
    return [params for name, params in slack.calls if name == method]


def reactions(slack) -> list[tuple[str, str, str]]:
    return [(params["channel"], params["timestamp"], params["name"]) for params in calls_named(slack, "reactions.add")]


def posts_in(slack, channel: str, thread_ts: str | None = None) -> list[dict]:
    return [post for post in slack.posts() if post["channel"] == channel
            and (thread_ts is None or post.get("thread_ts") == thread_ts)]


def section_texts(post: dict) -> list[str]:
    blocks = post.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return [block["text"]["text"] for block in blocks if block.get("type") == "section"]


def table_items() -> list[dict]:
    from refdesk import clients

    return clients.get("table").scan()["Items"]


def aws_calls() -> list[str]:
    from refdesk import clients

    calls: list[str] = []
    record = lambda model, **kwargs: calls.append(model.name)  # noqa: E731
    clients.get("table").meta.client.meta.events.register("before-call", record)
    clients.get("sqs").meta.events.register("before-call", record)
    return calls


def press_close(conversation: dict) -> None:
    import urllib.parse

    payload = fixture("slack_block_actions_close.json")
    payload["actions"][0]["value"] = conversation["conversation_id"]
    payload["container"]["message_ts"] = conversation["thread"]
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    response = invoke("slack_interactions", slack_event("/slack/interactions", body,
                                                        "application/x-www-form-urlencoded"))
    assert response["statusCode"] == 200, response


def partner_edit(subtype: str, *, ts: str = ROOT_TS, thread_ts: str | None = None, text: str = "",
                 event_id: str = "Ev0PARTNEREDIT") -> dict:
    payload = fixture("slack_connect_message.json")
    original = payload.pop("event")
    original.update(ts=ts, event_ts=ts)
    if thread_ts:
        original["thread_ts"] = thread_ts
    payload["event_id"] = event_id
    event = {"type": "message", "subtype": subtype, "hidden": True, "channel": PARTNER_CHANNEL,
             "previous_message": original, "ts": "1700000500.000000", "event_ts": "1700000500.000000",
             "channel_type": "channel"}
    if subtype == "message_changed":
        event["message"] = {**original, "text": text, "edited": {"user": original["user"], "ts": "1700000500.000000"}}
    else:
        event["deleted_ts"] = ts
    payload["event"] = event
    return payload


# --- a partner's question opens a conversation --------------------------------------------

def test_a_partners_top_level_message_opens_a_conversation_in_the_staff_channel(aws, slack):
    conversation = open_partner_conversation(aws, slack)

    root = conversation["root"]
    texts = section_texts(root)
    assert texts[0] == f"*{LABEL}*"
    assert texts[1] == QUESTION_SHOWN
    assert root["text"].startswith(f"{LABEL}: Hello from Riverside University!")
    assert posts_in(slack, PARTNER_CHANNEL) == []  # nothing said in the shared channel yet


def test_the_webhook_makes_two_aws_calls_and_no_slack_call(aws, slack):
    calls = aws_calls()

    slack_in(fixture("slack_connect_message.json"))

    assert calls == ["UpdateItem", "SendMessage"]  # claim + enqueue, as for SMS
    assert slack.calls == []


def test_a_later_message_in_its_thread_joins_the_conversation(aws, slack):
    conversation = open_partner_conversation(aws, slack)

    slack_in(fixture("slack_connect_thread_reply.json"))
    pump(aws)

    assert len(slack.roots()) == 1
    [later] = posts_in(slack, STAFF_CHANNEL, conversation["thread"])
    assert section_texts(later) == ["Also: the 1925 edition, if you have it. Thanks!"]


def test_a_new_top_level_message_opens_a_new_conversation(aws, slack):
    open_partner_conversation(aws, slack)

    slack_in(partner_says("Different question: do you hold the Springfield Ledger on microfilm?",
                          ts="1700000600.000100"))
    pump(aws)

    assert len([post for post in slack.roots() if post["channel"] == STAFF_CHANNEL]) == 2


def test_slacks_retry_of_the_same_event_opens_one_conversation(aws, slack):
    slack_in(fixture("slack_connect_message.json"))
    slack_in(fixture("slack_connect_message.json"))  # the same event_id and ts: Slack retried
    slack_in(partner_says(event_id="Ev0OTHEREVENT1"))  # the same message under another event id
    pump(aws)

    assert len(slack.roots()) == 1
    assert posts_in(slack, STAFF_CHANNEL, slack.roots()[0]["answered_ts"]) == []


def test_a_partners_files_are_mentioned_to_staff(aws, slack):
    conversation = open_partner_conversation(aws, slack)

    slack_in(partner_says("Here is the citation", ts="1700000360.000500", thread_ts=ROOT_TS, subtype="file_share",
                          files=[{"id": "F0CITE", "name": "citation.pdf",
                                  "url_private": "https://files.slack.com/files-pri/T0PARTNER-F0CITE/citation.pdf"}]))
    pump(aws)

    [later] = posts_in(slack, STAFF_CHANNEL, conversation["thread"])
    assert section_texts(later) == ["Here is the citation\n[shared 1 file(s) in the shared channel, not shown here]"]
    assert "files.slack.com" not in json.dumps(table_items(), default=str)


# --- staff answer in the staff thread; the partner reads it in the shared thread ------------------

def test_round_trip_partner_to_staff_card_to_a_reply_in_the_shared_thread(aws, slack):
    conversation = open_partner_conversation(aws, slack)

    staff_reply(conversation["thread"], "Yes! Both editions are digitised :tada: see <https://maps.example.org|the "
                                        "map portal> &amp; ask <@U0BEN> for prints")
    pump(aws)

    [answer] = posts_in(slack, PARTNER_CHANNEL)
    assert answer["thread_ts"] == ROOT_TS
    assert answer["text"] == ("Amanda (library): Yes! Both editions are digitised 🎉 see the map portal "
                              "(https://maps.example.org) &amp; ask Ben for prints")
    assert reactions(slack) == [(STAFF_CHANNEL, "1700000400.000200", "white_check_mark")]
    assert "chat.postEphemeral" not in slack.methods()


def test_the_partners_follow_up_and_a_second_answer_stay_in_the_same_two_threads(aws, slack):
    conversation = open_partner_conversation(aws, slack)
    staff_reply(conversation["thread"], "Yes, both are online.")
    pump(aws)

    slack_in(fixture("slack_connect_thread_reply.json"))
    pump(aws)
    staff_reply(conversation["thread"], "The 1925 one too.", ts="1700000420.000300")
    pump(aws)

    assert [post["text"] for post in posts_in(slack, PARTNER_CHANNEL, ROOT_TS)] == [
        "Amanda (library): Yes, both are online.", "Amanda (library): The 1925 one too."]
    assert len(slack.roots()) == 1


def test_a_reply_cannot_ping_the_shared_channel(aws, slack):
    conversation = open_partner_conversation(aws, slack)

    staff_reply(conversation["thread"], "Thanks <!channel> &lt;3 &amp; more")
    pump(aws)

    [answer] = posts_in(slack, PARTNER_CHANNEL)
    assert answer["text"] == "Amanda (library): Thanks @channel &lt;3 &amp; more"
    assert "<!channel>" not in answer["text"]


def test_a_note_stays_in_the_staff_thread(aws, slack):
    conversation = open_partner_conversation(aws, slack)

    staff_reply(conversation["thread"], "note: Riverside has a reciprocal agreement")
    pump(aws)

    assert posts_in(slack, PARTNER_CHANNEL) == []
    assert reactions(slack) == [(STAFF_CHANNEL, "1700000400.000200", "lock")]


def test_the_bots_own_posts_in_the_shared_channel_are_never_relayed(aws, slack):
    conversation = open_partner_conversation(aws, slack)
    staff_reply(conversation["thread"], "Yes, both are online.", ts=f"{time.time():.6f}")  # on time: no late note
    pump(aws)
    [answer] = posts_in(slack, PARTNER_CHANNEL)
    echo = fixture("slack_bot_echo.json")
    echo["event"].update(channel=PARTNER_CHANNEL, thread_ts=ROOT_TS, ts=answer["answered_ts"],
                         event_ts=answer["answered_ts"], text=answer["text"])
    echo["is_ext_shared_channel"] = True
    before = len(slack.calls)

    slack_in(echo)
    pump(aws)

    assert slack.calls[before:] == []
    assert len(posts_in(slack, STAFF_CHANNEL, conversation["thread"])) == 0


def test_a_permanent_slack_error_gets_a_cross_and_a_note_and_is_not_retried(aws, slack):
    conversation = open_partner_conversation(aws, slack)
    slack.fail("chat.postMessage", error="not_in_channel")  # the bot was removed from the shared channel

    staff_reply(conversation["thread"], "Yes, both are online.")
    responses = pump(aws)

    assert "retry" not in responses
    assert posts_in(slack, PARTNER_CHANNEL) == []
    assert reactions(slack) == [(STAFF_CHANNEL, "1700000400.000200", "x")]
    [warning] = posts_in(slack, STAFF_CHANNEL, conversation["thread"])
    assert ":warning:" in warning["text"] and "not_in_channel" in warning["text"]
    assert "invite it again" in warning["text"]


def test_a_passing_slack_error_is_retried_and_then_delivered_once(aws, slack):
    conversation = open_partner_conversation(aws, slack)
    slack.fail("chat.postMessage", status=500)

    staff_reply(conversation["thread"], "Yes, both are online.")
    pump(aws)

    assert [post["text"] for post in posts_in(slack, PARTNER_CHANNEL)] == ["Amanda (library): Yes, both are online."]
    assert reactions(slack) == [(STAFF_CHANNEL, "1700000400.000200", "white_check_mark")]


def test_a_reply_whose_answer_was_lost_is_found_in_the_shared_thread_and_not_posted_again(aws, slack):
    conversation = open_partner_conversation(aws, slack)
    slack.fail("chat.postMessage", status=500, commit=True)  # posted, but the answer never came back

    staff_reply(conversation["thread"], "Yes, both are online.")
    pump(aws)

    shared = [message for message in slack.stand_in.messages()
              if message["channel"] == PARTNER_CHANNEL and message["thread_ts"] == ROOT_TS]
    assert [message["text"] for message in shared] == ["Amanda (library): Yes, both are online."]
    assert reactions(slack) == [(STAFF_CHANNEL, "1700000400.000200", "white_check_mark")]


def test_close_says_so_in_the_shared_thread_and_the_next_message_there_opens_a_new_conversation(aws, slack):
    from refdesk.settings import CLOSING_TEXTS

    conversation = open_partner_conversation(aws, slack)

    press_close(conversation)
    pump(aws)
    closing, *rest = [post["text"] for post in posts_in(slack, PARTNER_CHANNEL, ROOT_TS)]
    assert closing == CLOSING_TEXTS["slack_connect"]
    assert [text.startswith("How did we do?") for text in rest] == [True]  # the optional rating (assessment)
    assert "text us" not in CLOSING_TEXTS["slack_connect"].lower()

    slack_in(fixture("slack_connect_thread_reply.json"))
    pump(aws)
    assert len([post for post in slack.roots() if post["channel"] == STAFF_CHANNEL]) == 2


# --- only the library's own team answers patrons ----------------------------------------------------

def open_sms_conversation(aws, slack) -> str:
    params = fixture("sms_inbound.json")
    response = invoke("sms_inbound", twilio_event(params))
    assert response["statusCode"] == 200
    pump(aws)
    return slack.roots()[-1]["answered_ts"]


def test_an_outside_members_reply_in_a_staff_thread_is_never_sent_to_the_patron(aws, slack, twilio):
    thread = open_sms_conversation(aws, slack)
    payload = fixture("slack_outsider_in_staff_thread.json")
    payload["event"]["thread_ts"] = thread

    slack_in(payload)
    pump(aws)

    assert twilio.sent == []
    assert reactions(slack) == [(STAFF_CHANNEL, payload["event"]["ts"], "lock")]
    stored = json.dumps(table_items(), default=str)
    assert "out on loan" not in stored and "Tom" not in stored


@pytest.mark.parametrize("shared", [True, False])
def test_an_outsider_the_event_does_not_show_is_caught(aws, slack, twilio, shared):
    """Without a team in the event: in a shared channel the edge cannot verify the author, so the
    reply is not staff's; outside one, users.info's team_id decides (fails closed either way)."""
    thread = open_sms_conversation(aws, slack)
    payload = fixture("slack_outsider_in_staff_thread.json")
    payload["event"]["thread_ts"] = thread
    payload["is_ext_shared_channel"] = shared
    for name in ("user_team", "source_team", "team"):
        payload["event"].pop(name)

    slack_in(payload)
    pump(aws)

    assert twilio.sent == []
    asked = any(method == "users.info" and params["user"] == "U0PARTNER2" for method, params in slack.calls)
    assert asked is not shared
    assert reactions(slack) == [(STAFF_CHANNEL, payload["event"]["ts"], "lock")]


def test_an_outsiders_reply_in_a_slack_connect_conversation_is_not_relayed_either(aws, slack):
    conversation = open_partner_conversation(aws, slack)
    payload = fixture("slack_outsider_in_staff_thread.json")
    payload["event"]["thread_ts"] = conversation["thread"]

    slack_in(payload)
    pump(aws)

    assert posts_in(slack, PARTNER_CHANNEL) == []


def test_a_librarians_reply_after_an_outsiders_still_goes(aws, slack, twilio):
    thread = open_sms_conversation(aws, slack)
    payload = fixture("slack_outsider_in_staff_thread.json")
    payload["event"]["thread_ts"] = thread
    slack_in(payload)

    staff_reply(thread, "It's on the shelf at Main.")
    pump(aws)

    assert [sent["body"] for sent in twilio.sent] == ["Amanda (library): It's on the shelf at Main."]


# --- the partner edits or deletes -----------------------------------------------------------------

def test_a_partners_edit_is_shown_in_the_staff_thread(aws, slack):
    conversation = open_partner_conversation(aws, slack)

    slack_in(partner_edit("message_changed", text="Are the 1911 *and 1925* maps online? &lt;urgent&gt;"))
    pump(aws)

    [note] = posts_in(slack, STAFF_CHANNEL, conversation["thread"])
    assert note["text"].startswith(":pencil2: The patron edited a message in the shared channel: <http")
    assert "1925" not in note["text"]  # the new text stays in Slack: the queue never carried it
    assert ("chat.getPermalink", {"channel": PARTNER_CHANNEL, "message_ts": ROOT_TS}) in [
        (method, {k: v for k, v in kwargs.items() if k in ("channel", "message_ts")}) for method, kwargs in slack.calls]
    assert posts_in(slack, PARTNER_CHANNEL) == []


def test_a_partners_deletion_is_told_to_staff(aws, slack):
    conversation = open_partner_conversation(aws, slack)
    slack_in(fixture("slack_connect_thread_reply.json"))
    pump(aws)

    slack_in(partner_edit("message_deleted", ts="1700000360.000200", thread_ts=ROOT_TS))
    pump(aws)

    notes = posts_in(slack, STAFF_CHANNEL, conversation["thread"])
    assert len(notes) == 2 and ":wastebasket:" in notes[-1]["text"]


def test_edits_after_close_and_of_messages_never_received_are_left_alone(aws, slack):
    conversation = open_partner_conversation(aws, slack)
    press_close(conversation)
    pump(aws)
    before = len(slack.calls)

    slack_in(partner_edit("message_changed", text="changed after close"))
    slack_in(partner_edit("message_changed", ts="1600000000.000100", text="never received",
                          event_id="Ev0PARTNEREDIT2"))
    responses = pump(aws)

    assert "retry" not in responses
    assert slack.calls[before:] == []


# --- privacy ----------------------------------------------------------------------------------------

def test_logs_and_staff_never_see_the_partners_name_or_text(aws, slack, capfd, monkeypatch):
    log_to_captured_stdout(monkeypatch)
    capfd.readouterr()

    conversation = open_partner_conversation(aws, slack)
    slack_in(fixture("slack_connect_thread_reply.json"))
    staff_reply(conversation["thread"], "Yes, the Sanborn atlas is online.")
    payload = copy.deepcopy(fixture("slack_outsider_in_staff_thread.json"))
    payload["event"]["thread_ts"] = conversation["thread"]
    slack_in(payload)
    pump(aws)
    out = capfd.readouterr()
    logs = out.out + out.err

    assert "patron message accepted" in logs and "reply handed over" in logs  # the logs were captured
    for private in ("Jordan", "Lee", "jordan.lee", "Sanborn", "1925 edition", "Tom", "out on loan"):
        assert private not in logs, private
    staff_side = json.dumps([params for _, params in slack.calls if params.get("channel") == STAFF_CHANNEL])
    assert "Jordan" not in staff_side and "jordan.lee" not in staff_side


@pytest.mark.parametrize("broken", [
    lambda e: e["event"].update(thread_ts="yesterday"),
    lambda e: e["event"].update(channel="#riverside"),
    lambda e: e["event"].update(text=["not", "text"]),
])
def test_a_malformed_partner_event_is_a_400_not_a_500(aws, slack, broken):
    payload = fixture("slack_connect_message.json")
    broken(payload)

    response = invoke("slack_events", slack_event("/slack/events", json.dumps(payload)))

    assert response["statusCode"] == 400
