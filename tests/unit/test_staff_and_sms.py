"""Unit tests, no AWS: how patron text is shown to staff (refdesk.slack.text, .cards, .api), the
SMS adapter (refdesk.channels.sms) and what Slack sends us that becomes a job (refdesk.slack's
router, events and interactions)."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import fixture
from refdesk.channels import sms
from refdesk.errors import BadRequest, DeliveryFailed
from refdesk.models import CloseJob, Conversation, ReplyTo, StaffEditJob, StaffReplyJob, thread_group
from refdesk.slack import api as staff
from refdesk.slack import cards, interactions
from refdesk.slack import text as texts
from refdesk.slack.events import router

ENTITY_SAFE = re.compile(r"^(?:[^&<>]|&amp;|&lt;|&gt;)*$")  # escaped mrkdwn: no raw control characters


def conversation(**extra) -> Conversation:
    return Conversation(**{"conversation_id": "c0190f3a2b4c5d6e7f8091a2b3c4d", "label": "SMS ···4567",
                           "channel": "sms", "patron_id": "p", "anchor": "sms-p", **extra})


# --- text.escape / escaped_chunks ----------------------------------------------------------

@pytest.mark.parametrize("raw, escaped", [
    ("<!channel> and <@U123> & co", "&lt;!channel&gt; and &lt;@U123&gt; &amp; co"),
    ("a < b > c & d", "a &lt; b &gt; c &amp; d"),
    ("&amp; already", "&amp;amp; already"),  # the patron literally typed "&amp;"
    ("*bold* _it_ `code` \"q\" 'a' ~s~", "*bold* _it_ `code` \"q\" 'a' ~s~"),  # nothing else touched
    ("", ""),
])
def test_escape_replaces_only_the_three_control_characters(raw, escaped):
    assert texts.escape(raw) == escaped


TEXTS = [
    "&" * 7000,
    "<" * 3001,
    "a" * 2998 + "&b",
    "a" * 2999 + "<" + "b" * 10,
    ("fish & chips <3 " * 400).strip(),
    " ".join(["&&&"] * 2000),
    "x" * 9000,
    "word " * 1500,
]


@pytest.mark.parametrize("text", TEXTS, ids=lambda text: f"{text[:6]!r}..{len(text)}")
@pytest.mark.parametrize("limit", [3000, 300, 7])
def test_escaped_chunks_fit_the_limit_and_never_cut_an_entity(text, limit):
    chunks = texts.escaped_chunks(text, limit)

    assert chunks
    assert all(0 < len(chunk) <= limit for chunk in chunks)
    assert all(ENTITY_SAFE.match(chunk) for chunk in chunks), [c[-6:] for c in chunks if not ENTITY_SAFE.match(c)]
    assert "".join(chunks) == texts.escape(text)


def test_escaped_chunks_split_between_words():
    text = " ".join(f"word{i}" for i in range(2000))
    chunks = texts.escaped_chunks(text, 3000)

    assert len(chunks) > 1
    for left, right in zip(chunks, chunks[1:]):
        assert left[-1].isspace() or right[0].isspace(), (left[-10:], right[:10])


def test_escaped_chunks_of_short_and_empty_text():
    assert texts.escaped_chunks("hi & bye") == ["hi &amp; bye"]
    assert texts.escaped_chunks("") == [""]


# --- cards.root_card ---------------------------------------------------------------------

def all_sections(blocks):
    return [block["text"]["text"] for block in blocks if block["type"] == "section"]


@pytest.mark.parametrize("question", ["&& <> " * 30_000, " ".join(["word"] * 40_000), "&" * 7000, "short question"],
                         ids=["entities", "words", "one-long-word", "short"])
def test_root_card_respects_slack_limits_and_keeps_all_the_text(question):
    text, blocks, overflow = cards.root_card(conversation(), question)

    assert len(blocks) <= cards.BLOCK_LIMIT
    assert all(len(batch) <= cards.BLOCK_LIMIT for batch in overflow)
    for block in [*blocks, *(b for batch in overflow for b in batch)]:
        if block["type"] == "section":
            assert 0 < len(block["text"]["text"]) <= texts.SECTION_LIMIT
            assert ENTITY_SAFE.match(block["text"]["text"].replace("*", ""))
    assert blocks[-1]["type"] == "actions"
    [button] = [element for element in blocks[-1]["elements"] if element["action_id"] == "close_conversation"]
    assert button["value"] == conversation().conversation_id
    assert sum(block["type"] == "actions" for block in blocks) == 1
    shown = all_sections(blocks)[1:] + [t for batch in overflow for t in all_sections(batch)]
    assert "".join(shown) == texts.escape(question)
    assert len(text) <= 40_000
    assert ENTITY_SAFE.match(text)


def test_root_card_heading_shows_the_masked_label_and_escapes_it():
    _, blocks, _ = cards.root_card(conversation(label="Web <b>&"), "question")
    assert blocks[0]["text"]["text"] == "*Web &lt;b&gt;&amp;*"

    _, blocks, _ = cards.root_card(conversation(), "question")
    assert "SMS ···4567" in blocks[0]["text"]["text"]


def test_root_card_of_an_sms_conversation_never_shows_the_phone_number():
    text, blocks, overflow = cards.root_card(conversation(), "question", ReplyTo(address="+15551234567"))
    assert "5551234567" not in repr((text, blocks, overflow))


def test_root_card_of_a_follow_up_shows_who_to_reply_to_escaped():
    _, blocks, _ = cards.root_card(conversation(follow_up=True, label="Web"), "question",
                                   ReplyTo(address="kim@example.org", name="Kim <K&R>"))
    heading = blocks[0]["text"]["text"]
    assert "follow-up requested" in heading
    assert "Kim &lt;K&amp;R&gt;" in heading and "[email]" in heading
    assert "kim@example.org" not in heading  # masked like any address in patron text


def test_closed_card_drops_the_button_and_credits_the_librarian():
    _, blocks, _ = cards.root_card(conversation(), "question")
    closed = cards.closed_card(blocks, "U0AMANDA")

    assert all(block["type"] != "actions" for block in closed)
    assert closed[:-1] == [block for block in blocks if block["type"] != "actions" and block.get("block_id") != "state"]
    assert closed[-1]["type"] == "context"
    assert "Closed by <@U0AMANDA>" in closed[-1]["elements"][0]["text"]


def test_a_thread_post_fallback_text_never_cuts_an_escape_sequence(slack):
    staff.post_patron_text("C0STAFF01", "1700000001.000000", "SMS ···4567", "a" * 297 + " & the rest")

    [post] = slack.posts()
    assert ENTITY_SAFE.match(post["text"]), post["text"][-8:]


def test_a_long_thread_post_is_split_into_messages_of_at_most_50_blocks(slack):
    text = "& <> " * 40_000
    first = staff.post_patron_text("C0STAFF01", "1700000001.000000", "SMS ···4567", text)

    posts = slack.posts()
    assert len(posts) > 1
    assert first == posts[0]["answered_ts"]
    assert all(post["thread_ts"] == "1700000001.000000" for post in posts)
    assert all(len(post["blocks"]) <= 50 for post in posts)
    assert all(len(t) <= 3000 for post in posts for t in all_sections(post["blocks"]))
    assert "".join(t for post in posts for t in all_sections(post["blocks"])) == texts.escape(text)


# --- text.plain_text ----------------------------------------------------------------------

@pytest.mark.parametrize("slack_text, plain", [
    ("Tom &amp; Jerry &lt;3 &gt;", "Tom & Jerry <3 >"),
    ("&amp;lt; is how you write &lt;", "&lt; is how you write <"),  # unescaped once, not twice
    ("<https://x.org|label>", "label (https://x.org)"),
    ("<https://x.org>", "https://x.org"),
    ("<https://x.org|https://x.org>", "https://x.org"),
    ("<mailto:ref@library.example.org|ref@library.example.org>", "ref@library.example.org"),
    ("<https://x.org/?a=1&amp;b=2|A &amp; B>", "A & B (https://x.org/?a=1&b=2)"),
    ("no markup at all", "no markup at all"),
])
def test_plain_text_undoes_slack_markup(slack_text, plain):
    assert texts.plain_text(slack_text) == plain


def test_plain_text_never_leaves_slack_link_syntax():
    out = texts.plain_text("see <https://a.example/x|A> and <https://b.example/y> or <#C0STAFF01|desk>")
    assert "<" not in out and ">" not in out and "|" not in out


# --- channels.sms --------------------------------------------------------------------------

def test_parse_inbound_reads_the_twilio_fixture():
    form = fixture("sms_inbound.json")
    inbound = sms.CHANNEL.parse(form)

    assert inbound.message_id == form["MessageSid"]
    assert inbound.reply_address == "+15551234567"
    assert inbound.text == form["Body"]
    assert inbound.label == "SMS ···4567"
    assert inbound.channel == "sms" and inbound.session_id == f"sms-{inbound.patron_id}"
    assert "5551234567" not in inbound.patron_id


def test_parse_inbound_ignores_unknown_parameters():
    form = {**fixture("sms_inbound.json"), "MessagingServiceSid": "MG" + "1" * 32, "BrandNewField": ""}
    assert sms.CHANNEL.parse(form).reply_address == "+15551234567"


def test_parse_inbound_mms_without_text_gets_a_note():
    form = {**fixture("sms_inbound.json"), "Body": "", "NumMedia": "2", "MessageSid": "MM" + "a" * 32}
    inbound = sms.CHANNEL.parse(form)
    assert "2 picture" in inbound.text


def test_parse_inbound_mms_with_text_keeps_the_text_and_adds_the_note():
    form = {**fixture("sms_inbound.json"), "Body": "Is this book yours?", "NumMedia": "1"}
    lines = sms.CHANNEL.parse(form).text.split("\n")
    assert lines[0] == "Is this book yours?"
    assert "1 picture" in lines[1]


@pytest.mark.parametrize("changes", [
    {"MessageSid": None}, {"MessageSid": ""}, {"MessageSid": "SM123"}, {"MessageSid": "XX" + "a" * 32},
    {"MessageSid": "SM" + "g" * 32},
    {"From": None}, {"From": ""}, {"From": "5551234567"}, {"From": "+0551234567"}, {"From": "+1 555 123 4567"},
    {"NumMedia": "one"},
    {"Body": None}, {"Body": ""}, {"Body": "   "},
])
def test_parse_inbound_refuses_what_it_cannot_use(changes):
    form = fixture("sms_inbound.json")
    for name, value in changes.items():
        if value is None:
            form.pop(name)
        else:
            form[name] = value
    with pytest.raises(BadRequest):
        sms.CHANNEL.parse(form)


@pytest.mark.parametrize("body", ["STOP", "stop", "  Stop \n", "HELP", "unsubscribe", "START", "Yes", "End",
                                  "STOP please", "stopwatch"])
def test_without_opt_out_type_every_text_is_the_patrons(body):
    form = {**fixture("sms_inbound.json"), "Body": body}
    message = sms.CHANNEL.parse(form)
    assert message.text == body and not message.joins_only


def test_twiml_escapes_the_message():
    document = sms.twiml("Q&A <today> at 3")
    assert "Q&amp;A &lt;today&gt; at 3" in document
    root = ET.fromstring(document)
    assert root.tag == "Response"
    assert root.find("Message").text == "Q&A <today> at 3"


def test_empty_twiml_has_no_message():
    root = ET.fromstring(sms.twiml())
    assert root.tag == "Response" and list(root) == []


def test_split_keeps_short_text_whole():
    assert sms.split("hello") == ["hello"]
    assert sms.split("x" * 1600) == ["x" * 1600]


def test_split_cuts_at_spaces_and_keeps_every_word():
    text = " ".join(f"word{i}" for i in range(1200))
    parts = sms.split(text)

    assert len(parts) > 1
    assert all(0 < len(part) <= 1600 for part in parts)
    assert " ".join(parts).split() == text.split()
    assert all(not part.startswith(" ") and not part.endswith(" ") for part in parts)
    for part in parts:
        assert all(re.fullmatch(r"word\d+", word) for word in part.split())


def test_split_hard_cuts_a_word_too_long_for_one_sms():
    parts = sms.split("y" * 4000)
    assert [len(part) for part in parts] == [1600, 1600, 800]


def test_split_cuts_at_newlines_too():
    urls = [f"https://catalog.example.org/record/{i:06d}?view=full" for i in range(60)]
    parts = sms.split("Here are some sources:\n" + "\n".join(urls))

    assert all(len(part) <= 1600 for part in parts)
    words = [word for part in parts for word in part.split()]
    assert words == ["Here", "are", "some", "sources:", *urls]


def test_compose_formats_a_librarian_reply_and_splits_it(monkeypatch):
    parts = sms.CHANNEL.compose("Amanda", "See you {soon} & bring ID " * 100)
    assert parts[0].startswith("Amanda (library): See you {soon} & bring ID")
    assert all(len(part) <= 1600 for part in parts)
    assert sms.CHANNEL.compose("", "This conversation is closed.") == ["This conversation is closed."]


def test_send_uses_the_library_number(aws, twilio):
    sms.CHANNEL.send("+15551234567", "hello")
    assert twilio.sent == [{"to": "+15551234567", "from_": "+15005550006", "body": "hello"}]


@pytest.mark.parametrize("code", sorted(sms.PERMANENT_ERRORS))
def test_send_turns_permanent_twilio_errors_into_delivery_failed(aws, twilio, code):
    twilio.fail(400, code=code, message="no")
    with pytest.raises(DeliveryFailed) as failure:
        sms.CHANNEL.send("+15551234567", "hello")
    assert failure.value.code == str(code)
    assert "5551234567" not in failure.value.message


@pytest.mark.parametrize("code", [20500, 20429, 20003])
def test_send_lets_transient_twilio_errors_through_for_a_retry(aws, twilio, code):
    from twilio.base.exceptions import TwilioRestException

    twilio.fail(500, code=code, message="boom")
    with pytest.raises(TwilioRestException):
        sms.CHANNEL.send("+15551234567", "hello")


# --- router.job_for_event ---------------------------------------------------------------

def test_a_human_thread_reply_becomes_a_staff_reply_job():
    payload = fixture("slack_message_reply.json")
    job = router.job_for_event(payload)

    assert job == StaffReplyJob(event_id=payload["event_id"], channel="C0STAFF01", user="U0AMANDA",
                                text=payload["event"]["text"], ts="1700000100.000200", thread_ts="1700000001.000000",
                                actor_team="T0LIBRARY")
    assert job.group == "thread:C0STAFF01:1700000001.000000"
    assert job.idempotency_key == payload["event_id"]


def mutated(name: str, **event_changes) -> dict:
    payload = fixture(name)
    for key, value in event_changes.items():
        if value is None:
            payload["event"].pop(key, None)
        else:
            payload["event"][key] = value
    return payload


@pytest.mark.parametrize("payload", [
    fixture("slack_bot_echo.json"),
    mutated("slack_bot_echo.json", subtype="bot_message", user=None),
    mutated("slack_message_reply.json", subtype="bot_message"),
    mutated("slack_message_reply.json", subtype="channel_join"),
    mutated("slack_message_reply.json", thread_ts=None),  # a new top-level message, not a reply
    mutated("slack_message_reply.json", thread_ts="1700000100.000200"),  # the thread's parent itself
    fixture("slack_app_mention.json"),
    mutated("slack_message_reply.json", type="reaction_added"),
], ids=["bot-echo", "bot_message", "bot_message-subtype", "channel_join", "top-level", "parent",
        "app_mention", "other-type"])
def test_events_that_are_not_librarian_replies_make_no_job(payload):
    assert router.job_for_event(payload) is None


def test_message_changed_in_a_thread_becomes_an_edit_job():
    payload = fixture("slack_message_changed.json")
    job = router.job_for_event(payload)
    assert job == StaffEditJob(event_id=payload["event_id"], subtype="message_changed", channel="C0STAFF01",
                               user="U0AMANDA", thread_ts="1700000001.000000")
    assert job.group == "thread:C0STAFF01:1700000001.000000"


def test_message_deleted_in_a_thread_becomes_an_edit_job():
    job = router.job_for_event(fixture("slack_message_deleted.json"))
    assert isinstance(job, StaffEditJob)
    assert job.subtype == "message_deleted"
    assert job.user == "U0AMANDA"
    assert job.thread_ts == "1700000001.000000"
    assert not hasattr(job, "text")


@pytest.mark.parametrize("change", ["root", "bot", "top-level"])
def test_edits_outside_a_thread_or_by_a_bot_make_no_job(change):
    payload = fixture("slack_message_changed.json")
    for key in ("message", "previous_message"):
        message = payload["event"][key]
        if change == "root":  # Slack updates the parent (reply_count) whenever someone replies
            message["thread_ts"] = message["ts"]
        elif change == "bot":  # RefDesk's own chat.update of the card
            message["bot_id"] = "B0REFDESK1"
        else:
            message.pop("thread_ts")
    assert router.job_for_event(payload) is None


@pytest.mark.parametrize("broken", [
    {"event_id": None}, {"event": None}, {"event": "message"},
])
def test_an_event_callback_without_event_or_event_id_is_a_bad_request(broken):
    payload = fixture("slack_message_reply.json")
    for key, value in broken.items():
        if value is None:
            payload.pop(key)
        else:
            payload[key] = value
    with pytest.raises(BadRequest):
        router.job_for_event(payload)


@pytest.mark.parametrize("field", ["user", "text", "ts"])
def test_a_thread_reply_missing_a_field_is_a_bad_request(field):
    with pytest.raises(BadRequest):
        router.job_for_event(mutated("slack_message_reply.json", **{field: None}))


# --- router.job_for_interaction / interactions.parse_payload -------------------------------------

def test_the_close_button_becomes_a_close_job():
    job = router.job_for_interaction(fixture("slack_block_actions_close.json"))

    assert isinstance(job, CloseJob)
    assert (job.conversation_id, job.user, job.channel) == ("CONVERSATION_ID", "U0AMANDA", "C0STAFF01")
    # The thread's group, shared with its replies, so a reply sent just before Close goes first.
    assert job.group == thread_group("C0STAFF01", fixture("slack_block_actions_close.json")["container"]["message_ts"])
    assert job.idempotency_key == "CONVERSATION_ID:1700000200.123456"


def test_two_presses_have_different_idempotency_keys():
    first = fixture("slack_block_actions_close.json")
    second = fixture("slack_block_actions_close.json")
    second["actions"][0]["action_ts"] = "1700000290.000001"
    assert router.job_for_interaction(first).idempotency_key != router.job_for_interaction(second).idempotency_key


def test_the_channel_falls_back_to_the_container():
    payload = fixture("slack_block_actions_close.json")
    del payload["channel"]
    assert router.job_for_interaction(payload).channel == "C0STAFF01"


@pytest.mark.parametrize("change", ["type", "action_id", "value", "no-actions"])
def test_other_interactions_make_no_job(change):
    payload = fixture("slack_block_actions_close.json")
    if change == "type":
        payload["type"] = "view_submission"
    elif change == "action_id":
        payload["actions"][0]["action_id"] = "not_a_refdesk_action"
    elif change == "value":
        payload["actions"][0]["value"] = ""
    else:
        payload["actions"] = []
    assert router.job_for_interaction(payload) is None


def test_parse_interaction_reads_the_payload_field():
    import json

    payload = fixture("slack_block_actions_close.json")
    assert interactions.parse_payload({"payload": json.dumps(payload)}) == payload


@pytest.mark.parametrize("form", [{}, {"payload": ""}, {"payload": "{nope"}, {"payload": "[1, 2]"},
                                  {"payload": "\"text\""}])
def test_parse_interaction_refuses_a_missing_or_broken_payload(form):
    with pytest.raises(BadRequest):
        interactions.parse_payload(form)
