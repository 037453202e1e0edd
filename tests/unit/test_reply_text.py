"""What the patron reads: a librarian's Slack text made plain (emoji, mentions, channels, links,
escapes), notes recognised in every Slack formatting, the Slack events that carry replies
(thread_broadcast, file_share), per-channel closing lines, and Twilio's OptOutType keywords."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from refdesk.channels import sms
from refdesk.errors import BadRequest
from refdesk.models import StaffReplyJob, job_from_body
from refdesk.settings import CLOSING_TEXTS, Settings
from refdesk.slack import text as texts
from refdesk.slack.events import router
from tests.conftest import ROOT, fixture

PEOPLE = {"U0AMANDA": "Amanda", "U0BEN": "Ben", "U024BE7LH": "Carla"}


def patron_reads(slack_text: str) -> str:
    return texts.plain_text(slack_text, name_of=PEOPLE.__getitem__)


# --- the table: real Slack message texts -> what the patron reads ----------------------------

@pytest.mark.parametrize("slack_text, reads", [
    # emoji: Slack's names, including those that differ from the library's, and skin tones
    ("Happy to help :slightly_smiling_face:", "Happy to help 🙂"),
    ("Found it :+1: :thumbsup: :-1:", "Found it 👍 👍 👎"),
    (":white_check_mark: renewed until the 14th", "✅ renewed until the 14th"),
    (":wave::skin-tone-3: welcome back", "👋🏼 welcome back"),
    ("Thanks! :pray::skin-tone-6:", "Thanks! 🙏🏿"),
    (":+1::skin-tone-2:", "👍🏻"),
    (":female-technologist::skin-tone-4: IT will call", "👩🏽\u200d💻 IT will call"),
    (":books::book::open_book: :tada: :heart: :calendar: :email:", "📚📖📖 🎉 ❤️ 📆 ✉️"),
    (":simple_smile: :the_horns: :spock-hand: :smiling_face_with_3_hearts:", "🙂 🤘 🖖 🥰"),
    (":flag-us: :flag-mx: :flag-england:", "🇺🇸 🇲🇽 🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"),
    (":man-woman-girl-boy: story time is Saturday", "👨\u200d👩\u200d👧\u200d👦 story time is Saturday"),
    (":face_palm: sorry, wrong link", "🤦 sorry, wrong link"),
    (":large_green_circle: open now", "🟢 open now"),
    # unknown (custom) codes and things that only look like codes stay as they are
    (":partyparrot: :library-cat::skin-tone-2:", ":partyparrot: :library-cat::skin-tone-2:"),
    ("open 9:30:00 to 5:00, ratio 1:2:3", "open 9:30:00 to 5:00, ratio 1:2:3"),
    ("Re:Fwd: your :question:", "Re:Fwd: your ❓"),
    # code stays as typed, as Slack shows it
    ("type `:smile:` to get :smile:", "type `:smile:` to get 😄"),
    ("```:book: shelf A```", "```:book: shelf A```"),
    # people by first name, however Slack wrote the mention
    ("<@U0BEN> will call you back today", "Ben will call you back today"),
    ("Ask <@U0AMANDA> or <@U024BE7LH|carla> at the desk", "Ask Amanda or Carla at the desk"),
    # channels, special mentions, user groups, dates
    ("See <#C0STAFF01|ref-desk> for hours", "See #ref-desk for hours"),
    ("Posted in <#C0PRIVATE1>", "Posted in #channel"),
    ("<!here> <!channel> <!everyone>", "@here @channel @everyone"),
    ("<!here|@here> please", "@here please"),
    ("<!subteam^S0ILL|@ill-team> can order it", "@ill-team can order it"),
    ("Due <!date^1700000000^{date_short}|Nov 14, 2023>", "Due Nov 14, 2023"),
    # links, e-mail and phone
    ("<https://catalog.example.org/record/123|the catalog record>",
     "the catalog record (https://catalog.example.org/record/123)"),
    ("<https://library.example.org/hours>", "https://library.example.org/hours"),
    ("<https://x.org/?a=1&amp;b=2|Tom &amp; Jerry :tv:>", "Tom & Jerry 📺 (https://x.org/?a=1&b=2)"),
    ("<https://x.org/a:b:c|https://x.org/a:b:c>", "https://x.org/a:b:c"),  # no emoji inside a URL
    ("<mailto:ref@library.example.org|ref@library.example.org>", "ref@library.example.org"),
    ("<tel:+15558675309|call the desk>", "call the desk (+15558675309)"),
    # escapes, undone exactly once
    ("Tom &amp; Jerry &lt;3 &gt;", "Tom & Jerry <3 >"),
    ("&amp;lt; is how you write &lt;", "&lt; is how you write <"),
    # all at once, as Slack sends a real reply
    ("Hi! <@U0BEN> pulled it :books: — pick up at <https://library.example.org/main|Main> by "
     "<!date^1700000000^{date_short}|Nov 14> &amp; bring your card :ok_hand::skin-tone-5:",
     "Hi! Ben pulled it 📚 — pick up at Main (https://library.example.org/main) by Nov 14 & bring your card 👌🏾"),
])
def test_a_slack_reply_reads_like_a_person_wrote_it(slack_text, reads):
    assert patron_reads(slack_text) == reads


def test_without_a_name_lookup_a_mention_still_never_shows_an_id():
    assert texts.plain_text("<@U0BEN> and <@U024BE7LH|carla>") == "someone and carla"


@pytest.mark.parametrize("slack_text", [
    "see <https://a.example/x|A> and <https://b.example/y> or <#C0STAFF01|desk> <@U0BEN> <!here>",
    ":wave: <!subteam^S1|@team> <!date^1^{date}|today> <mailto:a@b.org>",
])
def test_no_slack_markup_is_left(slack_text):
    out = patron_reads(slack_text)
    assert "<" not in out and ">" not in out and "|" not in out and "U0BEN" not in out


def test_emoji_are_converted_by_the_library_and_lazily():
    """The emoji library is only imported by the dispatcher's first conversion: the webhook
    modules never load it."""
    code = ("import sys\n"
            "import refdesk.slack.text, refdesk.slack.events, refdesk.slack.router, refdesk.slack.api\n"
            "import refdesk.channels.sms, refdesk.channels.web, refdesk.conversations, refdesk.relay\n"
            "assert 'emoji' not in sys.modules, 'emoji imported by a webhook module'\n"
            "print(refdesk.slack.text.plain_text(':wave:'))\n"
            "assert 'emoji' in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": f"{ROOT / 'layers' / 'refdesk'}", "PATH": "/usr/bin:/bin",
                               "POWERTOOLS_SERVICE_NAME": "refdesk", "AWS_DEFAULT_REGION": "us-east-1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "👋"


def test_the_emoji_library_is_pinned_in_the_layer():
    requirements = (ROOT / "layers" / "refdesk" / "requirements.txt").read_text().split()
    assert any(line.startswith("emoji==") for line in requirements)


# --- notes -------------------------------------------------------------------------------

@pytest.mark.parametrize("slack_text", [
    "note: she called yesterday too", "Note: check ILL first", "  NOTE: renewals blocked",
    "*note:* patron has a fine", "*note*: patron has a fine", "_note:_ ask Ben", "`note:` ask Ben",
    "~note:~ old", "*_note:_* both", "note : spaced", "Note:no space",
])
def test_every_formatting_of_the_note_prefix_stays_internal(slack_text):
    assert texts.is_internal(patron_reads(slack_text))


@pytest.mark.parametrize("slack_text", [
    "Noted: I'll put it on hold", "notes: are on the second floor", "A note: we close at 5",
    "Please note: we close at 5", "*Hours:* 9 to 5", ":memo: note: not at the start",
])
def test_a_reply_that_only_mentions_a_note_is_sent(slack_text):
    assert not texts.is_internal(patron_reads(slack_text))


# --- the events that carry replies ---------------------------------------------------------

def test_a_thread_broadcast_is_a_reply_like_any_other():
    payload = fixture("slack_thread_broadcast.json")
    job = router.job_for_event(payload)
    assert isinstance(job, StaffReplyJob)
    event = payload["event"]
    assert (job.user, job.text, job.ts, job.thread_ts, job.file_ids) == (
        event["user"], event["text"], event["ts"], event["thread_ts"], ())
    assert job.idempotency_key == payload["event_id"]


def test_a_top_level_broadcast_like_message_is_not_a_reply():
    payload = fixture("slack_thread_broadcast.json")
    payload["event"]["thread_ts"] = payload["event"]["ts"]
    assert router.job_for_event(payload) is None


def test_a_file_share_in_a_thread_carries_its_text_and_its_files_ids():
    payload = fixture("slack_file_share.json")
    job = router.job_for_event(payload)
    assert isinstance(job, StaffReplyJob)
    assert job.text == payload["event"]["text"]
    assert job.file_ids == tuple(shared["id"] for shared in payload["event"]["files"]) != ()
    assert job_from_body(job.to_body()) == job  # crosses the queue intact


def test_a_file_share_without_text_is_still_a_job():
    payload = fixture("slack_file_share.json")
    del payload["event"]["text"]
    job = router.job_for_event(payload)
    assert (job.text, len(job.file_ids)) == ("", 1)


def test_a_file_share_outside_a_thread_is_not_a_reply():
    payload = fixture("slack_file_share.json")
    del payload["event"]["thread_ts"]
    assert router.job_for_event(payload) is None


@pytest.mark.parametrize("change", [{"files": "F0FLOORMAP1"}, {"files": None}, {"user": None}, {"text": 7}])
def test_a_malformed_file_share_is_a_bad_request(change):
    payload = fixture("slack_file_share.json")
    payload["event"].update(change)
    with pytest.raises(BadRequest):
        router.job_for_event(payload)


def test_a_staff_reply_job_queued_before_files_were_copied_still_runs_without_them():
    body = json.loads(router.job_for_event(fixture("slack_message_reply.json")).to_body())
    del body["file_ids"]
    body["files"] = 1  # how an older version counted them
    assert job_from_body(json.dumps(body)).file_ids == ()


def test_only_files_with_an_id_slack_could_have_made_are_kept():
    payload = fixture("slack_file_share.json")
    payload["event"]["files"] = [{"id": "F0GOOD1"}, {"id": "../x"}, {"name": "no id"}] + [{"id": f"F{n}"} for n in range(12)]
    assert router.job_for_event(payload).file_ids == ("F0GOOD1", *(f"F{n}" for n in range(9)))


# --- closing lines, per channel ---------------------------------------------------------------

def test_each_channel_has_its_own_closing_line_and_the_web_one_never_says_text_us():
    settings = Settings.from_env({})
    assert settings.closing_text("sms") == CLOSING_TEXTS["sms"]
    assert "text us" in settings.closing_text("sms").lower()
    assert settings.closing_text("web") == CLOSING_TEXTS["web"]
    assert "text" not in settings.closing_text("web").lower()
    assert "text" not in settings.closing_text("a-future-channel").lower()


def test_closing_text_overrides_only_the_sms_line():
    settings = Settings.from_env({"CLOSING_TEXT": "Closed. Text 555-0100 any time."})
    assert settings.closing_text("sms") == "Closed. Text 555-0100 any time."
    assert settings.closing_text("web") == CLOSING_TEXTS["web"]
    web = Settings.from_env({"CLOSING_TEXT": "Text us!", "WEB_CLOSING_TEXT": "Chat ended. Thanks!"})
    assert (web.closing_text("sms"), web.closing_text("web")) == ("Text us!", "Chat ended. Thanks!")


def test_an_empty_override_keeps_the_default():
    settings = Settings.from_env({"CLOSING_TEXT": " ", "WEB_CLOSING_TEXT": ""})
    assert settings.closing_text("sms") == CLOSING_TEXTS["sms"]
    assert settings.closing_text("web") == CLOSING_TEXTS["web"]


# --- Twilio's Advanced Opt-Out ----------------------------------------------------------------

@pytest.mark.parametrize("body", ["HELP", "info", "Ayuda", "What are your hours?"])
def test_a_help_request_only_joins_an_open_conversation_noted_and_costs_nothing_to_parse(body):
    """HELP needs no table call to parse (no `aws` fixture here: a call would fail)."""
    form = {**fixture("sms_inbound.json"), "Body": body, "OptOutType": "HELP"}
    message = sms.CHANNEL.parse(form)
    assert message.joins_only and message.text == f"{body}\n{sms.KEYWORD_NOTES['HELP']}"


def test_without_opt_out_type_a_question_is_still_a_question():
    form = {**fixture("sms_inbound.json"), "OptOutType": ""}
    assert sms.CHANNEL.parse(form) is not None


def test_an_opt_out_request_is_still_checked_for_a_real_sender():
    form = {**fixture("sms_inbound.json"), "Body": "STOP", "OptOutType": "STOP", "From": "not-a-number"}
    with pytest.raises(BadRequest):
        sms.CHANNEL.parse(form)
