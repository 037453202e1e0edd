"""Presence: GET /presence, the LibraryH3lp-compatible /presence/jid/{queue}/{host}/{format}
answers, GET /widget.js, and librarians going on and off duty with the signed `/refdesk` slash
command (functions/slack_commands). Opening hours come from OPENING_HOURS / HOLIDAYS /
LIBRARY_TIMEZONE; `clock` (autouse) fixes what RefDesk thinks the time is, for the schedule's
`now` and the duty roster's expiry check alike. Slack signatures are made and checked at the
real time."""
from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import PUBLIC_BASE_URL, ROOT, NoRoute, fixture, http_event, invoke, slack_event

NY = ZoneInfo("America/New_York")
FORM = "application/x-www-form-urlencoded"
WEEKDAYS_AND_SATURDAY = {"mon": "09:00-17:00", "tue": "09:00-17:00", "wed": "09:00-17:00", "thu": "09:00-17:00",
                         "fri": "09:00-17:00", "sat": "10:00-14:00"}  # closed on Sundays
WIDGET = ROOT / "functions" / "presence" / "static" / "widget.js"


# --- helpers ---------------------------------------------------------------------------

def set_hours(monkeypatch, hours: dict | None = None, holidays: str | None = None) -> None:
    from refdesk.settings import get_settings

    if hours is not None:
        monkeypatch.setenv("OPENING_HOURS", json.dumps(hours))
    if holidays is not None:
        monkeypatch.setenv("HOLIDAYS", holidays)
    get_settings.cache_clear()


class Clock:
    """What RefDesk takes to be the current time, for the schedule and for duty expiry. It starts
    at noon on a Monday, so no test depends on the hour it runs at (an "on" at 23:59 would end at
    midnight)."""

    def __init__(self, monkeypatch):
        from refdesk import presence, roster
        from refdesk.store import duty

        self.current = datetime(2024, 6, 17, 12, 0, tzinfo=NY)
        clock = self

        class FixedDateTime(datetime):
            @classmethod
            def now(cls, tz=None):
                return clock.current.astimezone(tz) if tz else clock.current.astimezone(NY).replace(tzinfo=None)

        monkeypatch.setattr(presence, "datetime", FixedDateTime)
        monkeypatch.setattr(roster, "datetime", FixedDateTime)
        monkeypatch.setattr(duty, "time", SimpleNamespace(time=lambda: clock.current.timestamp()))

    def set(self, *args) -> None:
        """clock.set(2024, 6, 14, 16, 0): a wall-clock time in the library's time zone."""
        self.current = datetime(*args, tzinfo=NY)


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    return Clock(monkeypatch)


def command_form(text: str = "on", **overrides) -> dict:
    form = fixture("slack_command_on.json")
    form["text"] = text
    form.update(overrides)
    return form


def refdesk(text: str = "on", *, user_id: str = "U0AMANDA", user_name: str = "amanda.reyes", **signing) -> dict:
    """`/refdesk <text>` typed in Slack: the form Slack posts, signed with the signing secret."""
    body = urllib.parse.urlencode(command_form(text, user_id=user_id, user_name=user_name))
    return invoke("slack_commands", slack_event("/slack/commands", body, FORM, **signing))


def refdesk_ok(text: str = "on", **kwargs) -> str:
    response = refdesk(text, **kwargs)
    assert response["statusCode"] == 200, response
    assert response["headers"]["content-type"].startswith("application/json")
    answer = json.loads(response["body"])
    assert answer["response_type"] == "ephemeral"  # only the librarian sees it
    return answer["text"]


def get(path: str, query: str = "") -> dict:
    try:
        event = http_event("GET", path, query=query, headers={"Accept": "*/*", "User-Agent": "Mozilla/5.0"})
    except NoRoute as refused:  # an empty path segment: API Gateway answers without calling the function
        return refused.response
    return invoke("presence", event)


def presence() -> dict:
    """The desk's status; the contact fields the widget also reads are tested in test_contact_card.py."""
    response = get("/presence")
    assert response["statusCode"] == 200, response
    assert response["headers"]["content-type"].startswith("application/json")
    answer = json.loads(response["body"])
    answer.pop("contact", None)
    answer.pop("widget", None)
    return answer


def lh3(queue: str = "ask-us", host: str = "chat.libraryh3lp.com", fmt: str = "text", query: str = "") -> dict:
    return get(f"/presence/jid/{queue}/{host}/{fmt}", query)


def header(response: dict, name: str) -> str | None:
    return {key.lower(): value for key, value in (response.get("headers") or {}).items()}.get(name)


def run_js(source: str) -> str:
    node = shutil.which("node") or shutil.which("nodejs")
    assert node, "these tests run the script in Node.js: install it (apt-get install nodejs; .ci/run does)"
    result = subprocess.run([node, "-e", source], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def evaluate_presence_js(body: str) -> dict:
    """What a page that loads the js answer with a <script> tag sees."""
    out = run_js(body + "\nconsole.log(JSON.stringify({user: jabber_user, server: jabber_server, "
                        "resources: jabber_resources}));")
    return json.loads(out)


# --- GET /presence and /refdesk on|off -------------------------------------------------

def test_with_nobody_on_duty_the_desk_is_unavailable_though_open(aws):
    answer = presence()

    assert answer == {"status": "unavailable", "librarians_on_duty": 0, "open_now": True, "next_open": None,
                      "opens": None}


def max_age(response: dict) -> int:
    directives = dict(part.strip().partition("=")[::2] for part in header(response, "cache-control").split(","))
    assert "public" in directives and "s-maxage" not in directives  # browsers and CloudFront alike
    return int(directives["max-age"])


def test_presence_answers_are_cacheable_for_a_short_time(aws):
    assert 0 < max_age(get("/presence")) <= 60  # template.yaml's PresenceCachePolicy MaxTTL


@pytest.mark.parametrize("path", ["/presence/jid/ask/chat.libraryh3lp.com/nope", "/presence/jid/ask/example.org/js"])
def test_a_not_found_is_cached_no_longer_than_presence(aws, path):
    response = get(path)

    assert response["statusCode"] == 404
    assert 0 < max_age(response) <= 60


def test_refdesk_on_makes_the_desk_available_and_off_makes_it_unavailable(aws):
    said = refdesk_ok("on")
    assert "on duty" in said.lower()
    assert presence() == {"status": "available", "librarians_on_duty": 1, "open_now": True, "next_open": None,
                          "opens": None}

    said = refdesk_ok("off")

    assert "off duty" in said.lower()
    assert presence() == {"status": "unavailable", "librarians_on_duty": 0, "open_now": True, "next_open": None,
                          "opens": None}


def test_the_recorded_slash_command_turns_duty_on(aws):
    body = urllib.parse.urlencode(fixture("slack_command_on.json"))

    response = invoke("slack_commands", slack_event("/slack/commands", body, FORM))

    assert response["statusCode"] == 200
    assert presence()["status"] == "available"


def test_the_desk_stays_available_while_any_librarian_is_on_duty(aws):
    refdesk_ok("on", user_id="U0AMANDA", user_name="amanda.reyes")
    refdesk_ok("on", user_id="U0BEN", user_name="ben.okafor")
    refdesk_ok("on", user_id="U0BEN", user_name="ben.okafor")  # twice counts once
    assert presence()["librarians_on_duty"] == 2

    refdesk_ok("off", user_id="U0AMANDA", user_name="amanda.reyes")

    assert presence() == {"status": "available", "librarians_on_duty": 1, "open_now": True, "next_open": None,
                          "opens": None}
    refdesk_ok("off", user_id="U0BEN", user_name="ben.okafor")
    assert presence()["status"] == "unavailable"


def test_off_without_being_on_changes_nothing(aws):
    refdesk_ok("on", user_id="U0BEN", user_name="ben.okafor")

    said = refdesk_ok("off", user_id="U0AMANDA")

    assert "weren't on duty" in said or "were not on duty" in said
    assert presence()["librarians_on_duty"] == 1


def test_status_says_what_patrons_see(aws):
    assert "unavailable" in refdesk_ok("status")
    refdesk_ok("on")

    said = refdesk_ok("status")

    assert "available" in said and "unavailable" not in said
    assert "1" in said


@pytest.mark.parametrize("text", ["", "help", "dance"])
def test_anything_else_answers_the_help_and_changes_nothing(aws, text):
    said = refdesk_ok(text)

    assert "/refdesk on" in said and "/refdesk off" in said
    assert presence()["status"] == "unavailable"


def test_the_command_word_is_case_and_space_insensitive(aws):
    refdesk_ok("  ON ")

    assert presence()["status"] == "available"


@pytest.mark.parametrize("how", ["unsigned", "wrong secret", "stale", "tampered", "malformed timestamp"])
def test_a_command_not_signed_by_slack_is_403_and_changes_nothing(aws, how):
    body = urllib.parse.urlencode(command_form("on"))
    if how == "unsigned":
        event = http_event("POST", "/slack/commands", body, {"Content-Type": FORM})
    elif how == "wrong secret":
        event = slack_event("/slack/commands", body, FORM, secret="not-the-signing-secret")
    elif how == "stale":  # a replay of a request signed ten minutes ago
        event = slack_event("/slack/commands", body, FORM, timestamp=int(time.time()) - 600)
    elif how == "tampered":  # signed for `/refdesk status` by someone else, body swapped to `on`
        event = slack_event("/slack/commands", urllib.parse.urlencode(command_form("status")), FORM)
        event = http_event("POST", "/slack/commands", body, {"Content-Type": FORM, **{
            "X-Slack-Request-Timestamp": event["headers"]["x-slack-request-timestamp"],
            "X-Slack-Signature": event["headers"]["x-slack-signature"]}})
    else:
        event = slack_event("/slack/commands", body, FORM)
        event["headers"]["x-slack-request-timestamp"] = "yesterday"

    response = invoke("slack_commands", event)

    assert response["statusCode"] == 403
    assert json.loads(response["body"])["error"]["code"] == "forbidden"
    assert presence()["status"] == "unavailable"


# --- opening hours ---------------------------------------------------------------------

def test_outside_opening_hours_the_desk_is_unavailable_even_with_a_librarian_on_duty(aws, clock, monkeypatch):
    set_hours(monkeypatch, WEEKDAYS_AND_SATURDAY, "2024-07-04")
    clock.set(2024, 7, 3, 10, 0)  # a Wednesday morning
    refdesk_ok("on")
    assert presence()["status"] == "available"

    set_hours(monkeypatch, holidays="2024-07-03,2024-07-04")  # a snow day: the library closes today

    answer = presence()
    assert answer["status"] == "unavailable"
    assert answer["open_now"] is False
    assert answer["next_open"] == "2024-07-05T09:00:00-04:00"  # Thursday is a holiday too
    assert lh3(fmt="text")["body"] == "unavailable"
    set_hours(monkeypatch, holidays="2024-07-04")  # the closure is called off: still on duty
    assert presence()["status"] == "available"


@pytest.mark.parametrize("now, next_open", [
    ((2024, 6, 14, 17, 0), "2024-06-15T10:00:00-04:00"),  # Friday at closing time -> Saturday
    ((2024, 6, 14, 8, 59), "2024-06-14T09:00:00-04:00"),  # Friday before opening -> that morning
    ((2024, 6, 15, 14, 0), "2024-06-17T09:00:00-04:00"),  # Saturday closing -> Monday (closed Sunday)
    ((2024, 6, 16, 12, 0), "2024-06-17T09:00:00-04:00"),  # Sunday
    ((2024, 7, 3, 18, 30), "2024-07-05T09:00:00-04:00"),  # Wednesday evening before the holiday
    ((2024, 12, 31, 23, 0), "2025-01-02T09:00:00-05:00"),  # New Year's Day closed; winter offset
    ((2024, 3, 9, 15, 0), "2024-03-11T09:00:00-04:00"),  # across the spring-forward weekend
])
def test_when_closed_next_open_is_the_next_opening_time(aws, clock, monkeypatch, now, next_open):
    set_hours(monkeypatch, WEEKDAYS_AND_SATURDAY, "2024-07-04,2025-01-01")
    clock.set(*now)

    answer = presence()

    assert answer["status"] == "unavailable"
    assert answer["open_now"] is False
    assert answer["next_open"] == next_open


def test_while_open_next_open_is_null(aws, clock, monkeypatch):
    set_hours(monkeypatch, WEEKDAYS_AND_SATURDAY)
    clock.set(2024, 6, 14, 16, 59)

    answer = presence()

    assert answer["open_now"] is True
    assert answer["next_open"] is None


def test_going_on_duty_while_closed_is_refused_with_the_opening_time(aws, clock, monkeypatch):
    set_hours(monkeypatch, WEEKDAYS_AND_SATURDAY)
    clock.set(2024, 6, 16, 12, 0)  # Sunday

    said = refdesk_ok("on")

    assert "closed" in said.lower()
    assert "Mon 17 Jun 09:00" in said
    clock.set(2024, 6, 17, 9, 30)  # it opens: nobody was put on duty on Sunday
    assert presence() == {"status": "unavailable", "librarians_on_duty": 0, "open_now": True, "next_open": None,
                          "opens": None}


def test_duty_ends_at_closing_time(aws, clock, monkeypatch):
    set_hours(monkeypatch, WEEKDAYS_AND_SATURDAY)
    clock.set(2024, 6, 14, 16, 0)

    said = refdesk_ok("on")

    assert "17:00" in said
    clock.set(2024, 6, 14, 16, 59)
    assert presence()["status"] == "available"
    clock.set(2024, 6, 15, 10, 30)  # open again on Saturday, but Friday's "on" is over
    assert presence() == {"status": "unavailable", "librarians_on_duty": 0, "open_now": True, "next_open": None,
                          "opens": None}


def test_a_forgotten_off_lasts_ten_hours_at_most(aws, clock):
    clock.set(2024, 6, 17, 1, 0)  # open round the clock (the default hours)

    said = refdesk_ok("on")

    assert "11:00" in said
    clock.set(2024, 6, 17, 10, 59)
    assert presence()["status"] == "available"
    clock.set(2024, 6, 17, 11, 1)
    assert presence()["status"] == "unavailable"


@pytest.mark.parametrize("hours", [
    None,  # round the clock (the default hours)
    {**WEEKDAYS_AND_SATURDAY, "mon": "09:00-24:00", "tue": "00:00-02:00,09:00-17:00"},  # open late
])
def test_duty_runs_on_past_midnight_while_the_desk_stays_open(aws, clock, monkeypatch, hours):
    if hours:
        set_hours(monkeypatch, hours)
    clock.set(2024, 6, 17, 23, 0)  # Monday night
    refdesk_ok("on")

    clock.set(2024, 6, 18, 0, 30)

    assert presence()["status"] == "available"


# --- LibraryH3lp-compatible presence ---------------------------------------------------

@pytest.mark.parametrize("host", ["chat.libraryh3lp.com", "chat.ca.libraryh3lp.com", "chat.refdesk.example.org"])
def test_text_says_available_or_unavailable(aws, host):
    before = lh3("ask-us", host, "text")
    refdesk_ok("on")
    after = lh3("ask-us", host, "text")

    for response in (before, after):
        assert response["statusCode"] == 200
        assert header(response, "content-type").startswith("text/plain")
    assert before["body"] == "unavailable"
    assert after["body"] == "available"


def test_xml_is_a_presence_element_with_an_available_resource_only_when_available(aws):
    before = lh3("mycc-support", "chat.libraryh3lp.com", "xml")
    refdesk_ok("on")
    after = lh3("mycc-support", "chat.libraryh3lp.com", "xml")

    for response in (before, after):
        assert response["statusCode"] == 200
        assert "xml" in header(response, "content-type")
    unavailable, available = ET.fromstring(before["body"]), ET.fromstring(after["body"])
    for root in (unavailable, available):
        assert root.tag == "presence"
        assert root.attrib["user"] == "mycc-support"
        assert root.attrib["server"] == "chat.libraryh3lp.com"
    assert unavailable.findall("resource") == []
    resources = available.findall("resource")
    assert len(resources) == 1
    assert resources[0].attrib["show"] == "available"
    assert resources[0].attrib.get("name")


def test_js_sets_jabber_resources_as_a_script_tag_would_see_it(aws):
    before = lh3("mycc-support", "chat.libraryh3lp.com", "js")
    refdesk_ok("on")
    after = lh3("mycc-support", "chat.libraryh3lp.com", "js")

    for response in (before, after):
        assert response["statusCode"] == 200
        assert "javascript" in header(response, "content-type")
        assert "var jabber_resources=" in response["body"]
    unavailable, available = evaluate_presence_js(before["body"]), evaluate_presence_js(after["body"])
    assert {key: unavailable[key] for key in ("user", "server")} == {"user": "mycc-support",
                                                                    "server": "chat.libraryh3lp.com"}
    # Snippets read jabber_resources[0].show, so "unavailable" is an entry, not an empty list.
    assert [resource["show"] for resource in unavailable["resources"]] == ["unavailable"]
    assert available["user"] == "mycc-support"
    assert [resource["show"] for resource in available["resources"]] == ["available"]


def test_the_libraryh3lp_answers_follow_opening_hours(aws, clock, monkeypatch):
    set_hours(monkeypatch, WEEKDAYS_AND_SATURDAY)
    clock.set(2024, 6, 14, 16, 0)
    refdesk_ok("on")
    assert lh3(fmt="text")["body"] == "available"

    set_hours(monkeypatch, holidays="2024-06-14")

    assert lh3(fmt="text")["body"] == "unavailable"
    assert ET.fromstring(lh3(fmt="xml")["body"]).findall("resource") == []
    assert "show:'unavailable'" in lh3(fmt="js")["body"].replace(" ", "")


def test_libraryh3lp_answers_can_be_read_from_any_site_and_cached_briefly(aws):
    response = lh3(fmt="js")

    assert header(response, "access-control-allow-origin") == "*"
    assert "max-age=" in (header(response, "cache-control") or "")


@pytest.mark.parametrize("fmt", ["json", "TEXT", "html", "xml.php", ""])  # "image" is one now
def test_an_unknown_format_is_404(aws, fmt):
    response = lh3("ask-us", "chat.libraryh3lp.com", fmt)

    assert response["statusCode"] == 404
    if fmt:  # with "" no route takes the path, and API Gateway answers itself
        assert json.loads(response["body"])["error"]["code"] == "not_found"


@pytest.mark.parametrize("host", ["refdesk.example.org", "xchat.example.org", "chat",
                                  "chat.<script>", "chat.libraryh3lp.com/js", ""])
def test_a_host_that_is_not_a_chat_host_is_404(aws, host):
    response = lh3("ask-us", host, "text")

    assert response["statusCode"] == 404


@pytest.mark.parametrize("queue", ["", "ask us", "ask<script>", "a'b", "x" * 101, "ask%2Fus"])
def test_a_queue_name_that_is_not_a_plain_name_is_404(aws, queue):
    response = lh3(queue, "chat.libraryh3lp.com", "js")

    assert response["statusCode"] == 404
    assert "<script>" not in response["body"]


@pytest.mark.parametrize("callback, define", [
    ("lh3UpdatePresence", "function lh3UpdatePresence() { seen = jabber_resources[0].show; }"),
    ("jQuery36001234567_1700000000000",  # what jQuery's $.ajax({dataType: 'jsonp', jsonp: 'cb'}) sends
     "var jQuery36001234567_1700000000000 = function () { seen = jabber_resources[0].show; };"),
    ("LH3.presence.update", "var LH3 = {presence: {update: function () { seen = jabber_resources[0].show; }}};"),
])
def test_js_with_a_callback_calls_it_after_setting_the_resources_like_libraryh3lp(aws, callback, define):
    """LibraryH3lp (like ejabberd's mod_webpresence it follows) answers /js?cb=fn with `...; fn();`
    and existing snippets rely on it: script.src = url + '?cb=lh3UpdatePresence', or jQuery's
    $.ajax({dataType: 'jsonp', jsonp: 'cb'})."""
    refdesk_ok("on")

    response = lh3("mycc-support", "chat.libraryh3lp.com", "js", query=urllib.parse.urlencode({"cb": callback}))

    assert response["statusCode"] == 200
    seen = run_js("var seen = null;\n" + define + "\n" + response["body"] + "\nconsole.log(JSON.stringify(seen));")
    assert json.loads(seen) == "available"


def test_js_without_a_callback_calls_nothing(aws):
    body = lh3("mycc-support", "chat.libraryh3lp.com", "js")["body"]

    assert [line.split("=")[0] for line in body.strip().splitlines() if not line.startswith((" ", "}"))] == [
        "var jabber_user", "var jabber_server", "var jabber_resources"]


@pytest.mark.parametrize("callback", ["alert(document.cookie)//", "x;alert(1)", "<script>", "a b"])
def test_a_callback_that_is_not_a_plain_name_is_never_written_into_the_script(aws, callback):
    response = lh3("mycc-support", "chat.libraryh3lp.com", "js", query=urllib.parse.urlencode({"cb": callback}))

    assert "alert" not in response["body"]
    assert "<script>" not in response["body"]
    assert callback not in response["body"]


# --- widget.js -------------------------------------------------------------------------

def test_the_widget_script_is_served_as_javascript(aws):
    response = get("/widget.js")

    assert response["statusCode"] == 200
    assert header(response, "content-type").startswith("application/javascript")
    assert response["body"] == Path(WIDGET).read_text(encoding="utf-8")


def test_the_widget_tag_a_library_pasted_gets_a_new_version_within_5_minutes(aws):
    response = get("/widget.js")

    assert 0 < max_age(response) <= 300
    assert "immutable" not in header(response, "cache-control")


def test_presence_names_the_widget_by_its_version_which_is_kept_for_a_year(aws):
    url = urllib.parse.urlsplit(json.loads(get("/presence")["body"])["widget"])

    response = get(url.path, url.query)

    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{PUBLIC_BASE_URL}/widget.js"
    assert response["body"] == Path(WIDGET).read_text(encoding="utf-8")
    assert max_age(response) == 365 * 24 * 3600
    assert "immutable" in header(response, "cache-control")


def test_an_older_versions_url_gets_the_current_widget_briefly(aws):
    response = get("/widget.js", "v=0123456789ab")

    assert response["body"] == Path(WIDGET).read_text(encoding="utf-8")
    assert max_age(response) <= 300 and "immutable" not in header(response, "cache-control")
