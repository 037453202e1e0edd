"""The report's charts (functions/reports/report_charts.py): SVG written directly, no chart
library. Each chart is well-formed XML, names itself for assistive technology (role="img", a
<title> and a <desc> it is labelled and described by), fetches nothing and runs nothing, escapes
whatever text comes from the data, and carries the figures it draws (data-value on every bar or
cell, the same numbers as labels)."""
from __future__ import annotations

import importlib.util
import re
import xml.etree.ElementTree as ET
from datetime import date

import pytest

from tests.conftest import ROOT

SVG = "{http://www.w3.org/2000/svg}"
NAMESPACE = 'xmlns="http://www.w3.org/2000/svg"'  # a name, never fetched


@pytest.fixture(scope="module")
def charts():
    spec = importlib.util.spec_from_file_location("report_charts_under_test",
                                                  ROOT / "functions" / "reports" / "report_charts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def figures(days, start=date(2026, 3, 4), end=date(2026, 3, 10), name="7d"):
    from refdesk import reports

    return reports.summarize(days, reports.Period(name, start, end))


def fixture():
    """5 Mar: SMS 3, web 1 (READ 2 once, 3 twice; Wed 09h 3, Mon 10h 1); 9 Mar: Slack Connect 2."""
    from refdesk.store.stats import DailyStats

    return figures([DailyStats(day=date(2026, 3, 5), conversations={"sms": 3, "web": 1}, read={2: 1, 3: 2},
                               hour_of_week={57: 3, 10: 1}),
                    DailyStats(day=date(2026, 3, 9), conversations={"slack_connect": 2}, hour_of_week={10: 1})])


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def values(root: ET.Element, **attributes) -> list[int]:
    """data-value of the shapes whose data-* attributes match."""
    return [int(shape.get("data-value")) for shape in root.iter(f"{SVG}rect") if shape.get("data-value") is not None
            and all(shape.get(f"data-{key}") == str(value) for key, value in attributes.items())]


def test_every_chart_is_well_formed_self_contained_and_named_for_screen_readers(charts):
    drawn = charts.charts(fixture())
    assert list(drawn) == ["volume", "hours", "read"]
    for name, svg in drawn.items():
        root = parse(svg)
        assert root.get("role") == "img"
        title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
        assert title is not None and title.text and desc is not None and len(desc.text) > 40
        assert root.get("aria-labelledby") == title.get("id") == f"{name}-title"
        assert root.get("aria-describedby") == desc.get("id") == f"{name}-desc"
        assert root.get("viewBox") and int(root.get("width")) >= 600
        # Nothing runs and nothing is fetched: no script, no link, no foreign content, no web font.
        tags = {element.tag.removeprefix(SVG) for element in root.iter()}
        assert tags <= {"svg", "title", "desc", "rect", "line", "text", "g"}, tags
        assert not re.search(r"(?i)script|href|url\(|@import|https?:|\bon[a-z]+=", svg.replace(NAMESPACE, ""))
        # Text is dark enough: only the palette's dark greys, or white (on the darkest heatmap cells).
        assert {text.get("fill") for text in root.iter(f"{SVG}text")} <= {charts.INK, charts.MUTED, "#ffffff", None}


def test_the_volume_chart_stacks_each_days_channels_and_labels_totals(charts):
    root = parse(charts.volume_svg(fixture()))
    assert values(root, day="2026-03-05", channel="sms") == [3]
    assert values(root, day="2026-03-05", channel="web") == [1]
    assert values(root, day="2026-03-09", channel="slack_connect") == [2]
    assert sum(values(root)) == 6  # no bar for a zero
    totals = {text.get("data-day"): text.text for text in root.iter(f"{SVG}text") if text.get("data-total")}
    assert totals == {"2026-03-05": "4", "2026-03-09": "2"}
    texts = [text.text for text in root.iter(f"{SVG}text")]
    assert {"SMS (3)", "Web chat (1)", "Slack Connect (2)"} <= set(texts)  # the legend, with the totals
    assert "conversations" in texts and "4 Mar" in texts and "10 Mar" in texts  # axis title, first and last day
    # The 4 above the 5 Mar bar reaches its top: the web segment sits on the SMS one.
    sms, web = [next(shape for shape in root.iter(f"{SVG}rect") if shape.get("data-day") == "2026-03-05"
                     and shape.get("data-channel") == channel) for channel in ("sms", "web")]
    assert float(web.get("y")) + float(web.get("height")) == pytest.approx(float(sms.get("y")))
    assert float(sms.get("height")) == pytest.approx(3 * float(web.get("height")))
    assert "6 conversations (SMS 3, Web chat 1, Slack Connect 2)" in root.find(f"{SVG}desc").text


def test_the_hours_heatmap_has_every_hour_of_the_week_with_its_count(charts):
    root = parse(charts.heatmap_svg(fixture()))
    cells = [shape for shape in root.iter(f"{SVG}rect") if shape.get("data-hour") is not None]
    assert len(cells) == 168
    assert values(root, weekday="Wed", hour=9) == [3] and values(root, weekday="Mon", hour=10) == [2]
    assert sum(values(root)) == 5
    darkest = next(cell for cell in cells if cell.get("data-value") == "3")
    assert darkest.get("fill") == charts.HEAT[-1] and cells[0].get("fill") == charts.HEAT[0]
    assert darkest.find(f"{SVG}title").text == "Wed 09:00–10:00: 3 conversations"
    texts = [text.text for text in root.iter(f"{SVG}text")]
    assert texts.count("3") >= 2 and "Mon" in texts and "23" in texts  # the cell's label and the legend's peak
    assert "Busiest: Wed 09:00 (3), Mon 10:00 (2)." in root.find(f"{SVG}desc").text


def test_the_read_chart_has_a_bar_and_a_label_per_level(charts):
    root = parse(charts.read_svg(fixture()))
    assert values(root, level=2) == [1] and values(root, level=3) == [2] and values(root, level=1) == []
    labels = {text.get("data-level"): text.text for text in root.iter(f"{SVG}text") if text.get("data-label")}
    assert labels == {"1": "0", "2": "1", "3": "2", "4": "0", "5": "0", "6": "0"}
    assert root.find(f"{SVG}title").text == "READ scale (3 conversations rated)"
    assert "directional" in [text.text for text in root.iter(f"{SVG}text")]


def test_text_from_the_data_is_escaped(charts):
    from refdesk.store.stats import DailyStats

    odd = '<script>alert("x")</script> & \'co\'\x07'
    svg = charts.volume_svg(figures([DailyStats(day=date(2026, 3, 5), conversations={odd: 2})]))
    assert "<script>" not in svg and "\x07" not in svg
    root = parse(svg)
    assert '<script>alert("x")</script> & \'co\' (2)' in [text.text for text in root.iter(f"{SVG}text")]
    assert values(root, channel='<script>alert("x")</script> & \'co\'') == [2]


def test_an_empty_or_long_period_still_draws_clear_charts(charts):
    empty = figures([])
    for svg in charts.charts(empty).values():
        parse(svg)
    assert "No conversations in this period" in charts.volume_svg(empty)
    from refdesk.store.stats import DailyStats

    long = figures([DailyStats(day=date(2025, 12, 30), conversations={"web": 40})], start=date(2025, 3, 1),
                   end=date(2026, 3, 10), name="term")
    root = parse(charts.volume_svg(long))
    dates = [text.text for text in root.iter(f"{SVG}text") if text.get("transform", "").startswith("rotate(-30")]
    assert 8 <= len(dates) <= 25  # a label every 4 weeks
    assert [label for label in dates if " 20" in label] == ["1 Mar 2025", "3 Jan 2026"]  # the year as it changes
    assert "from 1 Mar 2025 to 10 Mar 2026:" in root.find(f"{SVG}desc").text
    ticks = [text.text for text in root.iter(f"{SVG}text") if text.get("text-anchor") == "end"
             and not text.get("transform")]  # the y axis's
    assert ticks == ["0", "10", "20", "30", "40"]


def test_ticks_are_whole_numbers_in_round_steps(charts):
    assert charts._ticks(0) == [0, 1]
    assert charts._ticks(2) == [0, 1, 2]
    assert charts._ticks(7) == [0, 2, 4, 6, 8]
    assert charts._ticks(40) == [0, 10, 20, 30, 40]
    assert charts._ticks(130) == [0, 50, 100, 150]
