"""Unit tests, no AWS: the library's opening hours (refdesk.schedule.Schedule) across time zones,
daylight-saving changes, ranges ending at 24:00 and holidays; and the LibraryH3lp-compatible
presence bodies (refdesk.presence.libraryh3lp_body) for queue and host names that need escaping."""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from refdesk.presence import libraryh3lp_body
from refdesk.schedule import Schedule

NY = ZoneInfo("America/New_York")
UTC = timezone.utc
WEEKDAYS = {day: "09:00-17:00" for day in ("mon", "tue", "wed", "thu", "fri")}
EVERY_DAY = {day: "09:00-17:00" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
ROUND_THE_CLOCK = {day: "00:00-24:00" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def schedule(hours: dict, holidays: tuple[str, ...] = (), tz: str = "America/New_York") -> Schedule:
    return Schedule(hours, frozenset(holidays), ZoneInfo(tz))


def at(*args, tz=NY) -> datetime:
    """A wall-clock time in a zone (the library's by default)."""
    return datetime(*args, tzinfo=tz)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def same_instant(a: datetime | None, b: datetime) -> bool:
    return a is not None and a.tzinfo is not None and a.astimezone(UTC) == b.astimezone(UTC)


# --- is_open ---------------------------------------------------------------------------

@pytest.mark.parametrize("now, expected", [
    (at(2024, 6, 17, 9, 0), True),  # Monday: opening minute is open
    (at(2024, 6, 17, 8, 59, 59), False),
    (at(2024, 6, 17, 16, 59, 59), True),
    (at(2024, 6, 17, 17, 0), False),  # closing minute is closed
    (at(2024, 6, 15, 12, 0), False),  # Saturday: no hours
    (at(2024, 6, 16, 12, 0), False),  # Sunday
])
def test_is_open_within_the_days_range_start_inclusive_end_exclusive(now, expected):
    assert schedule(WEEKDAYS).is_open(now) is expected


@pytest.mark.parametrize("instant, expected", [
    (utc(2024, 6, 17, 13, 0), True),  # 09:00 EDT
    (utc(2024, 6, 17, 12, 59), False),
    (utc(2024, 6, 17, 20, 59), True),  # 16:59 EDT
    (utc(2024, 6, 17, 21, 0), False),
    (utc(2024, 6, 18, 0, 30), False),  # Tuesday in UTC, still Monday evening in New York
])
@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "America/Los_Angeles", "Asia/Tokyo",
                                  "Australia/Sydney", "Asia/Kolkata", "Etc/GMT+12", "Pacific/Kiritimati"])
def test_the_same_instant_gives_the_same_answer_whatever_zone_it_is_expressed_in(instant, expected, zone):
    assert schedule(WEEKDAYS).is_open(instant.astimezone(ZoneInfo(zone))) is expected


def test_a_monday_morning_in_tokyo_is_still_sunday_evening_at_the_library():
    tokyo_monday = at(2024, 6, 17, 8, 0, tz=ZoneInfo("Asia/Tokyo"))  # Sunday 19:00 in New York

    assert schedule(WEEKDAYS).is_open(tokyo_monday) is False
    assert schedule({"sun": "18:00-20:00"}).is_open(tokyo_monday) is True


@pytest.mark.parametrize("tz, instant, expected", [
    ("Europe/London", utc(2024, 1, 15, 9, 0), True),  # 09:00 GMT
    ("Europe/London", utc(2024, 6, 17, 8, 0), True),  # 09:00 BST
    ("Europe/London", utc(2024, 6, 17, 16, 0), False),  # 17:00 BST
    ("Australia/Sydney", utc(2024, 6, 16, 23, 0), True),  # Monday 09:00 AEST
    ("Australia/Sydney", utc(2024, 1, 14, 22, 0), True),  # Monday 09:00 AEDT (southern summer)
    ("Australia/Sydney", utc(2024, 1, 14, 23, 0), True),
    ("Australia/Sydney", utc(2024, 1, 14, 21, 59), False),
])
def test_a_library_in_another_zone_opens_by_its_own_clock(tz, instant, expected):
    assert schedule(WEEKDAYS, tz=tz).is_open(instant) is expected


@pytest.mark.parametrize("instant, expected", [
    # Spring forward, Sunday 10 March 2024 (02:00 EST -> 03:00 EDT)
    (utc(2024, 3, 9, 14, 0), True),  # Saturday 09:00 EST
    (utc(2024, 3, 9, 13, 59), False),
    (utc(2024, 3, 10, 13, 0), True),  # Sunday 09:00 EDT, the first morning of summer time
    (utc(2024, 3, 10, 12, 59), False),
    (utc(2024, 3, 10, 20, 59), True),  # 16:59 EDT
    (utc(2024, 3, 10, 21, 0), False),
    (utc(2024, 3, 11, 13, 0), True),
    # Fall back, Sunday 3 November 2024 (02:00 EDT -> 01:00 EST)
    (utc(2024, 11, 2, 13, 0), True),  # Saturday 09:00 EDT
    (utc(2024, 11, 3, 13, 30), False),  # Sunday 08:30 EST
    (utc(2024, 11, 3, 14, 0), True),  # 09:00 EST
    (utc(2024, 11, 3, 21, 59), True),  # 16:59 EST
    (utc(2024, 11, 3, 22, 0), False),
])
def test_opening_follows_the_wall_clock_across_daylight_saving_changes(instant, expected):
    assert schedule(EVERY_DAY).is_open(instant) is expected


@pytest.mark.parametrize("hours, now, expected", [
    ({"fri": "18:00-24:00"}, at(2024, 6, 14, 23, 59, 59), True),
    ({"fri": "18:00-24:00"}, at(2024, 6, 15, 0, 0), False),  # Saturday has no hours
    ({"fri": "18:00-24:00"}, at(2024, 6, 14, 17, 59), False),
    ({"fri": "18:00-24:00", "sat": "00:00-02:00"}, at(2024, 6, 15, 0, 0), True),
    ({"fri": "18:00-24:00", "sat": "00:00-02:00"}, at(2024, 6, 15, 1, 59), True),
    ({"fri": "18:00-24:00", "sat": "00:00-02:00"}, at(2024, 6, 15, 2, 0), False),
    ({"sat": "00:00-24:00"}, at(2024, 6, 15, 0, 0), True),
    ({"sat": "00:00-24:00"}, at(2024, 6, 14, 23, 59, 59), False),
])
def test_a_range_can_end_at_24_00(hours, now, expected):
    assert schedule(hours).is_open(now) is expected


@pytest.mark.parametrize("instant, expected", [
    (utc(2024, 3, 10, 5, 0), True),  # Sunday 00:00 EST
    (utc(2024, 3, 10, 7, 30), True),  # 03:30 EDT, just after the skipped hour
    (utc(2024, 3, 11, 3, 59, 59), True),  # Sunday 23:59:59 EDT: a 23-hour day, still open
    (utc(2024, 3, 11, 4, 0), False),  # Monday 00:00 EDT
    (utc(2024, 11, 3, 5, 30), True),  # 01:30 EDT
    (utc(2024, 11, 3, 6, 30), True),  # 01:30 EST, the repeated hour
    (utc(2024, 11, 4, 4, 59, 59), True),  # Sunday 23:59:59 EST: a 25-hour day, still open
    (utc(2024, 11, 4, 5, 0), False),  # Monday 00:00 EST
])
def test_a_whole_day_ending_at_24_00_lasts_23_or_25_hours_on_changeover_days(instant, expected):
    assert schedule({"sun": "00:00-24:00"}).is_open(instant) is expected


def test_a_holiday_is_closed_all_day_and_only_that_day():
    hours = schedule(EVERY_DAY, ("2024-12-25",))

    assert hours.is_open(at(2024, 12, 25, 12, 0)) is False
    assert hours.is_open(at(2024, 12, 24, 12, 0)) is True
    assert hours.is_open(at(2024, 12, 26, 9, 0)) is True


def test_a_holiday_is_a_date_at_the_library_not_in_utc():
    hours = schedule(ROUND_THE_CLOCK, ("2024-12-25",))

    assert hours.is_open(utc(2024, 12, 25, 2, 0)) is True  # Christmas Eve 21:00 in New York
    assert hours.is_open(utc(2024, 12, 25, 5, 0)) is False  # Christmas Day 00:00
    assert hours.is_open(utc(2024, 12, 26, 4, 59)) is False  # Christmas Day 23:59
    assert hours.is_open(utc(2024, 12, 26, 5, 0)) is True


def test_a_holiday_does_not_cut_short_the_previous_evening_ending_at_24_00():
    hours = schedule({"tue": "18:00-24:00", "wed": "09:00-17:00"}, ("2024-12-25",))

    assert hours.is_open(at(2024, 12, 24, 23, 30)) is True
    assert hours.is_open(at(2024, 12, 25, 10, 0)) is False


def test_several_ranges_in_a_day_leave_the_gap_closed():
    hours = schedule({"mon": "09:00-12:00, 13:00-17:00"})

    assert [hours.is_open(at(2024, 6, 17, h, m)) for h, m in ((11, 59), (12, 0), (12, 59), (13, 0))] == [
        True, False, False, True]


def test_no_hours_at_all_is_never_open():
    hours = schedule({})

    assert not any(hours.is_open(at(2024, 6, 10) + timedelta(hours=n)) for n in range(0, 24 * 7, 5))


# --- next_opening ----------------------------------------------------------------------

@pytest.mark.parametrize("now, expected", [
    (at(2024, 6, 14, 17, 0), at(2024, 6, 17, 9, 0)),  # Friday closing -> Monday
    (at(2024, 6, 15, 11, 0), at(2024, 6, 17, 9, 0)),  # Saturday
    (at(2024, 6, 16, 23, 59), at(2024, 6, 17, 9, 0)),  # Sunday night
    (at(2024, 6, 17, 6, 0), at(2024, 6, 17, 9, 0)),  # Monday before opening
    (at(2024, 6, 17, 8, 59, 59), at(2024, 6, 17, 9, 0)),
])
def test_next_opening_over_a_weekend(now, expected):
    opening = schedule(WEEKDAYS).next_opening(now)

    assert same_instant(opening, expected)


def test_next_opening_over_a_holiday_weekend():
    hours = schedule(WEEKDAYS, ("2024-05-27",))  # Memorial Day, a Monday

    opening = hours.next_opening(at(2024, 5, 24, 17, 30))

    assert same_instant(opening, at(2024, 5, 28, 9, 0))


def test_next_opening_skips_consecutive_holidays():
    hours = schedule(WEEKDAYS, ("2024-12-24", "2024-12-25", "2024-12-26"))

    assert same_instant(hours.next_opening(at(2024, 12, 23, 18, 0)), at(2024, 12, 27, 9, 0))


def test_next_opening_across_the_spring_forward_weekend_is_the_right_instant():
    opening = schedule(WEEKDAYS).next_opening(utc(2024, 3, 8, 23, 0))  # Friday 18:00 EST

    assert same_instant(opening, utc(2024, 3, 11, 13, 0))  # Monday 09:00 EDT
    assert opening.isoformat() == "2024-03-11T09:00:00-04:00"


def test_next_opening_across_the_fall_back_weekend_is_the_right_instant():
    opening = schedule(WEEKDAYS).next_opening(utc(2024, 11, 1, 22, 0))  # Friday 18:00 EDT

    assert same_instant(opening, utc(2024, 11, 4, 14, 0))  # Monday 09:00 EST
    assert opening.isoformat() == "2024-11-04T09:00:00-05:00"


def test_next_opening_is_the_same_whatever_zone_now_is_given_in():
    hours = schedule(WEEKDAYS)
    instant = utc(2024, 6, 15, 3, 0)  # Friday 23:00 in New York

    answers = {hours.next_opening(instant.astimezone(ZoneInfo(zone))).astimezone(UTC)
               for zone in ("UTC", "Asia/Tokyo", "America/Los_Angeles", "Pacific/Kiritimati", "Etc/GMT+12")}

    assert answers == {utc(2024, 6, 17, 13, 0)}


def test_next_opening_in_the_gap_between_two_ranges_is_the_afternoon():
    hours = schedule({"mon": "09:00-12:00,13:00-17:00"})

    assert same_instant(hours.next_opening(at(2024, 6, 17, 12, 30)), at(2024, 6, 17, 13, 0))


def test_next_opening_after_a_range_ending_at_24_00():
    hours = schedule({"fri": "18:00-24:00", "sun": "12:00-16:00"})

    assert same_instant(hours.next_opening(at(2024, 6, 15, 0, 0)), at(2024, 6, 16, 12, 0))


def test_next_opening_is_none_while_open():
    assert schedule(WEEKDAYS).next_opening(at(2024, 6, 17, 10, 0)) is None


def test_next_opening_is_none_when_the_desk_never_opens():
    assert schedule({}).next_opening(at(2024, 6, 17, 10, 0)) is None


# --- closing_time ----------------------------------------------------------------------

def test_closing_time_is_the_end_of_the_current_range():
    hours = schedule(WEEKDAYS)

    assert same_instant(hours.closing_time(at(2024, 6, 17, 9, 0)), at(2024, 6, 17, 17, 0))
    assert same_instant(hours.closing_time(utc(2024, 6, 17, 20, 59)), at(2024, 6, 17, 17, 0))


def test_closing_time_is_none_when_closed():
    hours = schedule(WEEKDAYS)

    assert hours.closing_time(at(2024, 6, 17, 17, 0)) is None
    assert hours.closing_time(at(2024, 6, 15, 12, 0)) is None


def test_closing_time_of_a_morning_range_is_noon():
    hours = schedule({"mon": "09:00-12:00,13:00-17:00"})

    assert same_instant(hours.closing_time(at(2024, 6, 17, 10, 0)), at(2024, 6, 17, 12, 0))
    assert same_instant(hours.closing_time(at(2024, 6, 17, 13, 0)), at(2024, 6, 17, 17, 0))


def test_closing_time_of_a_range_ending_at_24_00_is_the_next_midnight():
    hours = schedule({"fri": "18:00-24:00"})

    assert same_instant(hours.closing_time(at(2024, 6, 14, 20, 0)), at(2024, 6, 15, 0, 0))


def test_closing_time_on_the_23_hour_day_is_the_right_instant():
    closing = schedule({"sun": "00:00-24:00"}).closing_time(utc(2024, 3, 10, 12, 0))

    assert same_instant(closing, utc(2024, 3, 11, 4, 0))  # Monday 00:00 EDT
    assert closing.isoformat() == "2024-03-11T00:00:00-04:00"


@pytest.mark.parametrize("hours, now, expected", [
    ({"fri": "18:00-24:00", "sat": "00:00-02:00"}, at(2024, 6, 14, 23, 0), at(2024, 6, 15, 2, 0)),
    ({"mon": "09:00-12:00,12:00-17:00"}, at(2024, 6, 17, 11, 0), at(2024, 6, 17, 17, 0)),
])
def test_closing_time_runs_through_ranges_that_meet(hours, now, expected):
    assert same_instant(schedule(hours).closing_time(now), expected)


# --- LibraryH3lp bodies ----------------------------------------------------------------

ODD_NAMES = [
    'say "hi"',
    "it's",
    "Tom & Jerry",
    "<script>alert(1)</script>",
    "</SCRIPT><!-- x -->",
    "a]]>b",
    "bibliothèque-générale",
    "日本語の図書館",
    "new\nline\ttab",
    "sep\u2028arators\u2029",
    "back\\slash",
    "&amp;already",
]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_xml_escapes_odd_queue_and_host_names(name):
    content_type, body = libraryh3lp_body("xml", name, "chat." + name, True)

    assert "xml" in content_type
    root = ET.fromstring(body)
    assert root.tag == "presence"
    assert root.attrib == {"user": name, "server": "chat." + name}
    assert [child.attrib["show"] for child in root] == ["available"]


def js_strings(body: str) -> dict[str, str]:
    values = {}
    for variable in ("jabber_user", "jabber_server"):
        match = re.search(rf"^var {variable}=(.*);$", body, re.MULTILINE)
        assert match, body
        values[variable] = json.loads(match.group(1))  # a JSON string literal is a JS string literal
    return values


@pytest.mark.parametrize("name", ODD_NAMES)
def test_js_escapes_odd_queue_and_host_names(name):
    content_type, body = libraryh3lp_body("js", name, "chat." + name, False)

    assert "javascript" in content_type
    assert js_strings(body) == {"jabber_user": name, "jabber_server": "chat." + name}
    assert "</" not in body and "<!--" not in body  # cannot end an inline <script> early
    assert "\u2028" not in body and "\u2029" not in body  # line terminators in older engines
    assert len([line for line in body.splitlines() if line.startswith("var ")]) == 3
    assert re.search(r"^var jabber_resources=\[\{$", body, re.MULTILINE) and "show: 'unavailable'" in body


@pytest.mark.parametrize("available, expected", [(True, "available"), (False, "unavailable")])
def test_text_is_just_the_word_whatever_the_names(available, expected):
    content_type, body = libraryh3lp_body("text", "<b>odd</b>", "chat.x", available)

    assert content_type.startswith("text/plain")
    assert body == expected


@pytest.mark.parametrize("fmt", ["image", "json", "", "TEXT", "js "])
def test_unknown_formats_have_no_body(fmt):
    assert libraryh3lp_body(fmt, "ask-us", "chat.libraryh3lp.com", True) is None


def test_a_range_past_midnight_runs_into_the_next_day():
    late_desk = schedule({"fri": "22:00-02:00"})

    assert late_desk.is_open(at(2026, 11, 27, 23, 30))
    assert late_desk.is_open(at(2026, 11, 28, 1, 59))
    assert not late_desk.is_open(at(2026, 11, 28, 2, 0))
    assert same_instant(late_desk.closing_time(at(2026, 11, 27, 23, 0)), at(2026, 11, 28, 2, 0))
