"""Unit tests, no AWS: the Slack Connect adapter (refdesk.channels.slack_connect) - which events
are a partner's, what they parse to, how replies are composed and sent - and which job the
Slack listeners (refdesk.slack.events) make of shared-channel events."""
from __future__ import annotations

import copy
import subprocess
import sys

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from refdesk import channels, clients
from refdesk.channels import slack_connect
from refdesk.errors import BadRequest, DeliveryFailed, RetryLater
from refdesk.models import PatronEditJob, StaffEditJob, StaffReplyJob, job_from_body
from refdesk.slack import api as staff
from refdesk.slack.events import router
from tests.conftest import ROOT, STAFF_CHANNEL, fixture

PARTNER_CHANNEL = "C0PARTNER1"
ROOT_TS = "1700000300.000100"


def partner_message() -> dict:
    return fixture("slack_connect_message.json")


def partner_reply() -> dict:
    return fixture("slack_connect_thread_reply.json")


def outsider() -> dict:
    return fixture("slack_outsider_in_staff_thread.json")


@pytest.fixture
def accepted(monkeypatch) -> list:
    """Messages the listeners handed to conversations.accept (nothing is claimed or queued)."""
    seen = []
    monkeypatch.setattr("refdesk.conversations.accept", lambda message, **_: seen.append(message) or True)
    return seen


# --- which events are a partner's --------------------------------------------------------

def test_the_fixture_of_record_is_a_partners_message():
    envelope = partner_message()
    assert slack_connect.from_partner(envelope["event"], envelope)


def test_the_librarys_team_is_the_setting_not_the_envelopes_team_id(monkeypatch):
    """In a channel another organisation created, the envelope's team_id is theirs: which team is
    the library's is SlackTeamId's to say (refdesk.staff), never the payload's."""
    envelope = partner_message()
    assert envelope["team_id"] == "T0PARTNER"
    assert slack_connect.from_partner(envelope["event"], envelope)
    use_library_team(monkeypatch, "T0PARTNER")
    assert not slack_connect.from_partner(envelope["event"], envelope)


def use_library_team(monkeypatch, teams: str) -> None:
    from refdesk.settings import get_settings

    monkeypatch.setenv("SLACK_TEAM_ID", teams)
    get_settings.cache_clear()


@pytest.mark.parametrize("change, why", [
    (lambda e: e.update(is_ext_shared_channel=False), "not an externally shared channel"),
    (lambda e: e.pop("is_ext_shared_channel"), "no is_ext_shared_channel at all"),
    (lambda e: e["event"].update(channel=STAFF_CHANNEL), "the staff channel is never a patron channel"),
    (lambda e: e["event"].update(user_team="T0LIBRARY", source_team="T0LIBRARY", team="T0LIBRARY"),
     "a member of the library's own team"),
    (lambda e: [e["event"].pop(name) for name in ("user_team", "source_team", "team")], "the event cannot tell"),
    (lambda e: e["event"].update(bot_id="B0PARTNERBOT"), "a bot"),
    (lambda e: e["event"].update(user="U0REFDESK"), "the library's own bot user"),
    (lambda e: e["event"].pop("user"), "no user"),
])
def test_not_a_partners_message(change, why):
    envelope = partner_message()
    change(envelope)
    assert not slack_connect.from_partner(envelope["event"], envelope), why


def test_a_member_of_the_librarys_enterprise_grid_org_is_not_an_outsider(monkeypatch):
    use_library_team(monkeypatch, "T0LIBRARY,E0LIBRARYORG")
    envelope = partner_message()
    envelope["event"].update(user_team="E0LIBRARYORG", source_team="E0LIBRARYORG", team="E0LIBRARYORG")
    assert not slack_connect.is_outsider(envelope["event"])
    assert not slack_connect.from_partner(envelope["event"], envelope)


# --- parse --------------------------------------------------------------------------------

def test_a_top_level_message_is_anchored_on_its_own_thread():
    message = slack_connect.CHANNEL.parse(partner_message()["event"])

    assert message.channel == "slack_connect"
    assert message.session_id == f"slack-{PARTNER_CHANNEL}-{ROOT_TS}"
    assert message.message_id == f"{PARTNER_CHANNEL}-{ROOT_TS}"
    assert message.reply_address == f"{PARTNER_CHANNEL}/{ROOT_TS}"
    assert message.label == "Slack Connect · T0PARTNER ···NER1"


def test_a_reply_in_its_thread_joins_the_same_session():
    first = slack_connect.CHANNEL.parse(partner_message()["event"])
    later = slack_connect.CHANNEL.parse(partner_reply()["event"])

    assert later.session_id == first.session_id
    assert later.reply_address == first.reply_address
    assert later.message_id != first.message_id


def test_a_new_top_level_message_opens_a_new_session():
    event = partner_message()["event"]
    event.update(ts="1700000900.000100", event_ts="1700000900.000100")

    assert slack_connect.CHANNEL.parse(event).session_id == f"slack-{PARTNER_CHANNEL}-1700000900.000100"


def test_staff_see_neither_the_partners_name_nor_their_e_mail():
    event = partner_message()["event"]
    event["user_profile"]["email"] = "jordan.lee@riverside.example.edu"
    message = slack_connect.CHANNEL.parse(event)

    shown = f"{message.label} {message.text} {message.patron_id} {message.session_id} {message.patron_name}"
    for private in ("Jordan", "Lee", "jordan", "@riverside"):
        assert private not in shown


def test_the_text_reads_as_the_partner_wrote_it_and_keeps_shortcodes_for_slack():
    message = slack_connect.CHANNEL.parse(partner_message()["event"])

    assert message.text == ("Hello from Riverside University! Are the 1911 Sanborn maps of Springfield digitised & "
                            "online? Our students need them for HIST 210 (https://riverside.example.edu/hist210) :pray:")


def test_the_same_person_in_the_same_team_is_one_patron_and_ids_do_not_collide_across_teams():
    first = slack_connect.CHANNEL.parse(partner_message()["event"])
    again = slack_connect.CHANNEL.parse(partner_reply()["event"])
    elsewhere = partner_message()["event"] | {"user_team": "T0OTHERORG", "source_team": "T0OTHERORG",
                                                "team": "T0OTHERORG"}

    assert first.patron_id == again.patron_id
    assert slack_connect.CHANNEL.parse(elsewhere).patron_id != first.patron_id


def test_files_are_mentioned_and_never_linked():
    event = partner_message()["event"] | {"subtype": "file_share", "text": "",
                                          "files": [{"id": "F0MAP", "url_private": "https://files.slack.com/x.png"}]}
    message = slack_connect.CHANNEL.parse(event)

    assert message.text == "[shared 1 file(s) in the shared channel, not shown here]"
    assert "files.slack.com" not in message.text


def test_an_empty_message_is_nothing_to_show():
    assert slack_connect.CHANNEL.parse(partner_message()["event"] | {"text": "   "}) is None


@pytest.mark.parametrize("change", [
    {"channel": "not-a-channel"}, {"channel": ""}, {"ts": "yesterday"}, {"thread_ts": "x"}, {"user": 7},
    {"text": ["a list"]}, {"files": "F0MAP"},
])
def test_a_malformed_event_is_a_bad_request(change):
    with pytest.raises(BadRequest):
        slack_connect.CHANNEL.parse(partner_message()["event"] | change)


def test_reading_a_partners_text_never_imports_the_emoji_library():
    """The webhook parses: it must not pay for the emoji library."""
    code = ("import json, sys\n"
            "from refdesk.channels import slack_connect\n"
            f"event = json.load(open({str(ROOT / 'events' / 'slack_connect_message.json')!r}))['event']\n"
            "print(slack_connect.readable(event['text']))\n"
            "assert 'emoji' not in sys.modules, 'emoji imported by the webhook side'\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": f"{ROOT / 'layers' / 'refdesk'}", "PATH": "/usr/bin:/bin",
                               "POWERTOOLS_SERVICE_NAME": "refdesk", "AWS_DEFAULT_REGION": "us-east-1"})
    assert done.returncode == 0, done.stderr
    assert ":pray:" in done.stdout


# --- claim ---------------------------------------------------------------------------------

def test_claim_is_one_session_claim_that_may_open_a_conversation(monkeypatch):
    calls = []
    monkeypatch.setattr("refdesk.store.sessions.claim", lambda *args, **kwargs: calls.append((args, kwargs)) or
                        ("c1", True))
    message = slack_connect.CHANNEL.parse(partner_message()["event"])

    assert slack_connect.CHANNEL.claim(message) == ("c1", True)
    [(args, kwargs)] = calls
    assert args == (message.session_id, message.message_id)
    assert kwargs["new_conversation_id"].startswith("c")


def test_the_channel_is_registered_and_forgets_its_session_on_close():
    from refdesk.store.sessions import Release

    assert channels.get("slack_connect") is slack_connect.CHANNEL
    assert slack_connect.CHANNEL.release is Release.FORGET


# --- compose and send ----------------------------------------------------------------------

def test_a_reply_is_credited_like_an_sms_and_escaped_for_slack():
    assert slack_connect.CHANNEL.compose("Amanda", "Yes <3 - Main & Eastside, see #desk @here") == [
        "Amanda (library): Yes &lt;3 - Main &amp; Eastside, see #desk @here"]
    assert slack_connect.CHANNEL.compose("", "This conversation is closed.") == ["This conversation is closed."]


def test_a_long_reply_is_split_into_parts_slack_shows_whole():
    parts = slack_connect.CHANNEL.compose("Amanda", "word & " * 2000)

    assert len(parts) > 1
    assert all(0 < len(part) <= slack_connect.MAX_PART for part in parts)
    assert parts[0].startswith("Amanda (library): word &amp; word")


class FakeSlack:
    def __init__(self, error: str = "", status: int = 200):
        self.error, self.status, self.posts = error, status, []

    def chat_postMessage(self, **kwargs):
        if self.error:
            raise SlackApiError(self.error, SlackResponse(client=None, http_verb="POST", api_url="chat.postMessage",
                                                          req_args={}, data={"ok": False, "error": self.error},
                                                          headers={}, status_code=self.status))
        self.posts.append(kwargs)
        return {"ok": True, "ts": "1700000400.000100"}


def test_send_posts_into_the_shared_thread():
    fake = FakeSlack()
    clients.use("slack", fake)

    slack_connect.CHANNEL.send(f"{PARTNER_CHANNEL}/{ROOT_TS}", "Amanda (library): Yes")

    [post] = fake.posts
    assert (post["channel"], post["thread_ts"], post["text"]) == (PARTNER_CHANNEL, ROOT_TS, "Amanda (library): Yes")
    assert post["unfurl_links"] is False


@pytest.mark.parametrize("error", ["not_in_channel", "channel_not_found", "is_archived", "team_access_not_granted"])
def test_a_permanent_slack_error_is_a_delivery_failure(error):
    clients.use("slack", FakeSlack(error))

    with pytest.raises(DeliveryFailed) as failed:
        slack_connect.CHANNEL.send(f"{PARTNER_CHANNEL}/{ROOT_TS}", "hello")
    assert failed.value.code == error and error in failed.value.message


@pytest.mark.parametrize("error, status", [("internal_error", 200), ("fatal_error", 500)])
def test_other_slack_errors_are_retried(error, status):
    clients.use("slack", FakeSlack(error, status))

    with pytest.raises(SlackApiError):
        slack_connect.CHANNEL.send(f"{PARTNER_CHANNEL}/{ROOT_TS}", "hello")


def test_a_rate_limited_send_is_retried_after_the_pause_slack_asks_for():
    clients.use("slack", FakeSlack("ratelimited", 429))

    with pytest.raises(RetryLater):
        slack_connect.CHANNEL.send(f"{PARTNER_CHANNEL}/{ROOT_TS}", "hello")


@pytest.mark.parametrize("address", ["", "+15551234567", "C0PARTNER1", "C0PARTNER1/", "someone@example.org"])
def test_an_address_that_is_not_a_shared_thread_fails_for_good(address):
    clients.use("slack", FakeSlack())
    with pytest.raises(DeliveryFailed):
        slack_connect.CHANNEL.send(address, "hello")


# --- the listeners ---------------------------------------------------------------------------

def test_a_partners_message_is_accepted_as_a_patrons_and_makes_no_job_of_its_own(accepted):
    assert router.job_for_event(partner_message()) is None
    assert router.job_for_event(partner_reply()) is None

    first, later = accepted
    assert (first.channel, later.session_id) == ("slack_connect", first.session_id)


@pytest.mark.parametrize("subtype", ["thread_broadcast", "file_share"])
def test_a_partners_broadcast_or_file_is_a_patron_message_too(accepted, subtype):
    envelope = partner_reply()
    envelope["event"]["subtype"] = subtype
    if subtype == "file_share":
        envelope["event"]["files"] = [{"id": "F0MAP"}]

    assert router.job_for_event(envelope) is None
    [message] = accepted
    assert message.session_id == f"slack-{PARTNER_CHANNEL}-{ROOT_TS}"


def test_the_bots_own_post_in_the_shared_channel_comes_back_and_is_ignored(accepted):
    echo = fixture("slack_bot_echo.json")
    echo["event"].update(channel=PARTNER_CHANNEL, thread_ts=ROOT_TS, text="Amanda (library): Yes")
    echo["is_ext_shared_channel"] = True

    assert router.job_for_event(echo) is None
    assert accepted == []


def test_a_library_members_message_in_the_shared_channel_is_not_a_patrons(accepted):
    envelope = partner_reply()
    envelope["event"].update(user="U0AMANDA", user_team="T0LIBRARY", source_team="T0LIBRARY", team="T0LIBRARY")

    job = router.job_for_event(envelope)

    assert accepted == []
    assert isinstance(job, StaffReplyJob) and job.actor_team == "T0LIBRARY"  # the relay finds no staff thread


def test_an_outsider_in_a_staff_thread_is_unverified_and_never_accepted_as_a_patron(accepted):
    job = router.job_for_event(outsider())

    assert accepted == []
    assert isinstance(job, StaffReplyJob)
    assert (job.channel, job.thread_ts, job.actor_team) == (STAFF_CHANNEL, "1700000001.000000", "")
    assert job_from_body(job.to_body()) == job


def test_a_librarians_reply_carries_the_verified_team():
    job = router.job_for_event(fixture("slack_message_reply.json"))
    assert isinstance(job, StaffReplyJob) and job.actor_team == "T0LIBRARY"


@pytest.mark.parametrize("change, why", [
    (lambda e: [e["event"].pop(name) for name in ("team",)] and e.update(is_ext_shared_channel=True),
     "a shared channel, and the message names no team"),
    (lambda e: e["event"].pop("team") and e.pop("is_ext_shared_channel"), "nothing says whether the channel is shared"),
    (lambda e: e["event"].update(user_team="T0PARTNER"), "one of the teams it names is another's"),
])
def test_a_reply_whose_team_cannot_be_told_is_not_staffs(change, why):
    envelope = fixture("slack_message_reply.json")
    change(envelope)
    job = router.job_for_event(envelope)
    assert isinstance(job, StaffReplyJob) and job.actor_team == "", why


def test_a_reply_that_names_no_team_outside_a_shared_channel_is_of_the_workspace_it_was_delivered_to():
    envelope = fixture("slack_message_reply.json")
    del envelope["event"]["team"]
    assert router.job_for_event(envelope).actor_team == "T0LIBRARY"


def test_a_staff_reply_job_queued_by_an_older_version_still_loads_and_is_not_trusted():
    body = StaffReplyJob(event_id="Ev1", channel=STAFF_CHANNEL, thread_ts="1.1", user="U0AMANDA", text="hi",
                         ts="1.2").to_body().replace(', "actor_team": ""', ', "outsider": false')
    assert "actor_team" not in body
    assert job_from_body(body).actor_team == ""


def partner_edit(subtype: str) -> dict:
    envelope = copy.deepcopy(partner_message())
    original = envelope.pop("event")
    envelope["event_id"] = "Ev0PARTNEREDIT"
    if subtype == "message_changed":
        envelope["event"] = {"type": "message", "subtype": subtype, "hidden": True, "channel": PARTNER_CHANNEL,
                             "message": {**original, "text": "Are the 1911 *and 1925* Sanborn maps online?",
                                         "edited": {"user": original["user"], "ts": "1700000320.000000"}},
                             "previous_message": original, "ts": "1700000320.000000",
                             "event_ts": "1700000320.000000", "channel_type": "channel"}
    else:
        envelope["event"] = {"type": "message", "subtype": subtype, "hidden": True, "channel": PARTNER_CHANNEL,
                             "deleted_ts": original["ts"], "previous_message": original, "ts": "1700000330.000000",
                             "event_ts": "1700000330.000000", "channel_type": "channel"}
    return envelope


@pytest.mark.parametrize("subtype", ["message_changed", "message_deleted"])
def test_a_partners_edit_or_deletion_is_told_to_staff(subtype):
    job = router.job_for_event(partner_edit(subtype))

    assert isinstance(job, PatronEditJob)
    assert (job.channel, job.session_id, job.message_id, job.subtype) == (
        "slack_connect", f"slack-{PARTNER_CHANNEL}-{ROOT_TS}", f"{PARTNER_CHANNEL}-{ROOT_TS}", subtype)
    assert (job.source_channel, job.source_ts) == (PARTNER_CHANNEL, ROOT_TS)
    assert "Sanborn" not in job.to_body()  # a reference to the message, never its text
    assert job_from_body(job.to_body()) == job


def test_a_link_preview_added_to_a_partners_message_is_no_edit():
    envelope = partner_edit("message_changed")
    envelope["event"]["message"].pop("edited")
    assert router.job_for_event(envelope) is None


def test_a_library_members_edit_in_a_staff_thread_is_still_a_staff_edit():
    assert isinstance(router.job_for_event(fixture("slack_message_changed.json")), StaffEditJob)


# --- who counts as staff (users.info, auth.test) --------------------------------------------------

class Directory:
    def __init__(self, users: dict, enterprise: str | None = None):
        self.users, self.enterprise, self.asked = users, enterprise, []

    def auth_test(self):
        return {"ok": True, "user_id": "U0REFDESK", "team_id": "T0LIBRARY", "enterprise_id": self.enterprise}

    def users_info(self, user):
        self.asked.append(user)
        if user not in self.users:
            raise SlackApiError("user_not_found", {"ok": False, "error": "user_not_found"})
        return {"ok": True, "user": self.users[user]}


@pytest.mark.parametrize("user, member", [
    ({"id": "U0AMANDA", "team_id": "T0LIBRARY", "profile": {"first_name": "Amanda"}}, True),
    ({"id": "U0TOM", "team_id": "T0PARTNER", "profile": {"first_name": "Tom"}}, False),
    ({"id": "U0TOM", "team_id": "T0PARTNER", "is_stranger": True}, False),
    ({"id": "U0TOM", "is_stranger": True}, False),
    ({"id": "U0GRID", "team_id": "T0BRANCH", "enterprise_user": {"enterprise_id": "E0LIBRARYORG"}}, True),
    ({"id": "U0GONE", "team_id": "T0LIBRARY", "deleted": True}, False),
])
def test_only_the_librarys_own_team_counts_as_staff(monkeypatch, user, member):
    use_library_team(monkeypatch, "T0LIBRARY,E0LIBRARYORG")
    clients.use("slack", Directory({user["id"]: user}, enterprise="E0LIBRARYORG"))

    assert staff.is_library_member(user["id"]) is member


@pytest.mark.parametrize("error", ["user_not_found", "user_not_visible"])
def test_who_slack_cannot_look_up_or_show_is_not_staff(error):
    class Hidden(Directory):
        def users_info(self, user):
            raise SlackApiError(error, {"ok": False, "error": error})

    clients.use("slack", Hidden({}))
    assert staff.is_library_member("U0NOTINDIRECTORY") is False
    assert staff.first_name("U0NOTINDIRECTORY") == "Librarian"


def test_nobody_is_staff_without_the_librarys_team_set(monkeypatch):
    use_library_team(monkeypatch, "")
    clients.use("slack", Directory({"U0AMANDA": {"id": "U0AMANDA", "team_id": "T0LIBRARY"}}))
    assert staff.is_library_member("U0AMANDA") is False
    assert router.job_for_event(fixture("slack_message_reply.json")).actor_team == ""


def test_users_info_and_auth_test_are_asked_once_per_person():
    directory = Directory({"U0AMANDA": {"id": "U0AMANDA", "team_id": "T0LIBRARY", "profile": {"first_name": "Amanda"}}})
    clients.use("slack", directory)

    assert staff.is_library_member("U0AMANDA") and staff.first_name("U0AMANDA") == "Amanda"
    assert staff.bot_user_id() == "U0REFDESK"
    assert directory.asked == ["U0AMANDA"]
