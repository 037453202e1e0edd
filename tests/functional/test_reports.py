"""Reports (functions/reports, refdesk.reports): `/refdesk stats` answered at once and then in the
staff channel with figures computed by hand from a fixture of daily aggregates written through
the store API (no file uploaded: the charts are the report's), the signed HTML report (200) with
its inline SVG charts parsed and holding the same figures, tampered or expired links (403), and
the monthly CSV in S3 (moto)."""
from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import time
import urllib.parse
import xml.etree.ElementTree as ET
from datetime import date, timedelta


from local.servers import FORM
from tests.conftest import PUBLIC_BASE_URL, STAFF_CHANNEL, http_event, invoke, slack_event, template


def conversation(cid: str, channel: str, day: date, *, repeat: bool = False, wait: int | None = None,
                 duration: int | None = None, how: int = 0, read: int | None = None, rating: int | None = None,
                 by: str = "U0AMANDA", comment: str = ""):
    """One conversation's contribution to `day`, as refdesk.assessment writes it (store API only):
    answered by `by` after `wait` seconds (in opening hours), else unanswered."""
    from refdesk.models import InboundMessage
    from refdesk.store import conversations, sessions, stats

    conversations.ensure(cid, InboundMessage(channel=channel, message_id=f"m-{cid}", session_id=f"s-{cid}",
                                             patron_id=f"p-{cid}", label="Patron", text="hello"))
    counts = {f"conv#{channel}": 1, "patrons#repeat" if repeat else "patrons#new": 1, f"how#{how}": 1,
              f"outcome#{'unanswered' if wait is None else 'answered'}": 1, "kind#live": 1}
    samples = {}
    if wait is not None:
        counts.update({"wait#sum": wait, "wait#n": 1, f"wait#{stats.wait_bucket(wait)}": 1,
                       f"staff#{by}#answered": 1})
        samples = {"waits#in_hours": wait, f"staff#{by}#first": wait}
    if duration is not None:
        counts.update({"duration#sum": duration, "duration#n": 1})
    assert stats.count_conversation(cid, day, counts, samples)
    if read is not None:
        assert stats.record_read(cid, day, read)
    if rating is not None:
        conversations.close(cid, "U0AMANDA", sessions.Release.FORGET)  # no session item here
        assert stats.record_rating(cid, day, rating, comment, keep_days=30)


def recent_fixture() -> date:
    """Four conversations in the last 30 days and one 40 days ago. By hand, for 30d:
    conversations 4 (SMS 2, web 1, Slack Connect 1), 3 answered and 1 not; patrons 3 new, 1
    repeat (25%); waits 30, 120, 400 s: average 550/3 = 183.3 s = 3 min 3 s, median the 2nd of 3 =
    2 min, p90 the 3rd = 6 min 40 s; Amanda answered 2 (median first response 30 s, the 1st of
    2), Jo 1 (6 min 40 s); durations 300+600+900+60 = 1860/4 = 465 s = 7 min 45 s; READ 2:1,
    3:2; ratings 5, 4, 3 = 4.00 from 3, one comment; busiest hours Mon 10h (2) and Tue 10h (hour
    of week 34) (2)."""
    from refdesk import reports

    today = reports.today()
    one, two, forty = today - timedelta(days=1), today - timedelta(days=2), today - timedelta(days=40)
    conversation("c1", "sms", one, wait=30, duration=300, how=10, read=2, rating=5,
                 comment="Very helpful <b>thanks</b>")
    conversation("c2", "sms", one, repeat=True, wait=120, duration=600, how=10, read=3, rating=4)
    conversation("c3", "web", two, wait=400, duration=900, how=34, read=3, rating=3, by="U0JO")
    conversation("c4", "slack_connect", two, duration=60, how=34)
    conversation("c5", "web", forty, wait=1000, duration=100, how=50, read=6)
    return today


def command(text: str, user: str = "U0AMANDA") -> dict:
    body = urllib.parse.urlencode({"command": "/refdesk", "text": text, "user_id": user, "user_name": "amanda",
                                   "channel_id": STAFF_CHANNEL, "team_id": "T0LIBRARY"})
    return slack_event("/slack/commands", body, FORM)


def report_requests(aws) -> list[dict]:
    """The requests /refdesk asked the reports function for (its asynchronous invocations, recorded)."""
    return [json.loads(event["report_request"]) for event in aws["lambda"].asynchronous("ReportsFunction")]


def run_report_requests(aws) -> list[dict]:
    """What Lambda does with the reports function's asynchronous invocations: each request, once."""
    results = [invoke("reports", event) for event in aws["lambda"].asynchronous("ReportsFunction")]
    aws["lambda"].forget()
    return results


SVG = "{http://www.w3.org/2000/svg}"
SVG_NAMESPACE = ' xmlns="http://www.w3.org/2000/svg"'  # a name, not a resource: nothing is fetched


def inline_charts(html: str) -> dict[str, ET.Element]:
    """The report's inline <svg> charts by name, each parsed as XML (well-formed or the test fails)."""
    charts = {}
    for markup in re.findall(r"<svg\b.*?</svg>", html, flags=re.DOTALL):
        root = ET.fromstring(markup)
        charts[root.get("data-chart")] = root
    return charts


def data_values(root: ET.Element, **attributes) -> dict[str, int]:
    """The chart's data-value by the first data-* attribute named (its day, weekday+hour or level)."""
    found = {}
    for shape in root.iter(f"{SVG}rect"):
        if shape.get("data-value") is None:
            continue
        if all(shape.get(f"data-{key}") == value for key, value in attributes.items()):
            key = (shape.get("data-day") or shape.get("data-level")
                   or f"{shape.get('data-weekday')} {shape.get('data-hour')}")
            found[key] = found.get(key, 0) + int(shape.get("data-value"))
    return found


def test_stats_command_answers_at_once_and_queues_the_work(aws, slack):
    started = time.monotonic()
    answer = invoke("slack_commands", command("stats 7d"))
    elapsed = time.monotonic() - started
    assert answer["statusCode"] == 200
    body = json.loads(answer["body"])
    assert body["response_type"] == "ephemeral" and body["text"].startswith("Working on it")
    assert elapsed < 1.5, elapsed
    assert slack.calls == []  # no figures yet: the reports function does that
    assert report_requests(aws) == [{"kind": "stats", "period": "7d", "user_id": "U0AMANDA",
                                     "api_url": PUBLIC_BASE_URL}]


def test_an_unknown_period_is_explained_and_nothing_is_queued(aws, slack):
    answer = json.loads(invoke("slack_commands", command("stats fortnight"))["body"])["text"]
    assert "7d, 30d, 90d, term" in answer and "2026-09-01 2026-12-31" in answer
    answer = json.loads(invoke("slack_commands", command("stats 2026-03-10 2026-03-01"))["body"])["text"]
    assert "must not be after the second" in answer
    assert report_requests(aws) == []


def test_stats_for_any_date_range(aws, slack):
    today = recent_fixture()
    one, forty = (today - timedelta(days=1)).isoformat(), (today - timedelta(days=40)).isoformat()
    invoke("slack_commands", command(f"stats {forty}  {one}"))
    assert report_requests(aws)[0]["period"] == f"{forty} {one}"
    assert run_report_requests(aws) == [{"posted": 1, "failed": 0}]
    [post] = slack.posts()
    assert f"({forty} to {one})" in post["text"]
    assert "Conversations: 5 (SMS 2, Web chat 2, Slack Connect 1)" in post["text"]  # the 40-day-old one too

    slack.forget_calls()
    invoke("slack_commands", command(f"stats {one} {one}"))
    run_report_requests(aws)
    [post] = slack.posts()
    assert "Conversations: 2 (SMS 2, Web chat 0, Slack Connect 0)" in post["text"]


def test_stats_figures_in_the_staff_channel_and_the_reports_charts_match_the_hand_computed_fixture(aws, slack):
    today = recent_fixture()
    invoke("slack_commands", command("stats"))  # 30d by default
    assert run_report_requests(aws) == [{"posted": 1, "failed": 0}]

    [post] = slack.posts()
    assert post["channel"] == STAFF_CHANNEL
    text = post["text"]
    assert "(30d)" in text
    assert "Conversations: 4 (SMS 2, Web chat 1, Slack Connect 1); live 4, follow-ups 0" in text
    assert "Answered 3, unanswered 1, abandoned 0" in text
    assert "Patrons: 3 new, 1 repeat (25% repeat)" in text
    assert "First response, live chats in opening hours: median 2 min, 90% within 6 min 40 s (3 answered)" in text
    assert "First response, live chats begun after hours: none answered" in text
    assert "Average wait to a first response: 3 min 3 s (3 answered)" in text
    assert "Average duration: 7 min 45 s" in text
    assert "READ scale (3 rated): 1: 0 · 2: 1 · 3: 2 · 4: 0 · 5: 0 · 6: 0" in text
    assert "Ratings: 5★ 1 · 4★ 1 · 3★ 1 · 2★ 0 · 1★ 0 (average 4.00 from 3); 1 comment" in text
    assert "Topics: none recorded" in text
    assert "Busiest hours: Mon 10:00 (2), Tue 10:00 (2)" in text
    blocks = json.dumps(post["blocks"], ensure_ascii=False)
    assert "Asked by <@U0AMANDA>" in blocks
    assert "<@U0AMANDA>: answered 2, median first response 30 s, transfers in 0 / out 0" in blocks
    assert "<@U0JO>: answered 1, median first response 6 min 40 s" in blocks
    [link] = re.findall(r"<(https://refdesk\.example\.org/reports/[^|>]+)\|Open the full report>", blocks)

    # No picture in Slack (it shows no SVG inline): the charts are in the linked report.
    assert "files.completeUploadExternal" not in slack.methods()
    assert not [message for message in slack.stand_in.messages() if message.get("files")]

    # 90d also counts the conversation 40 days ago.
    slack.forget_calls()
    invoke("slack_commands", command("stats 90d"))
    run_report_requests(aws)
    [post] = slack.posts()
    assert "Conversations: 5 (SMS 2, Web chat 2, Slack Connect 1)" in post["text"]
    assert "READ scale (4 rated): 1: 0 · 2: 1 · 3: 2 · 4: 0 · 5: 0 · 6: 1" in post["text"]

    # The signed link opens the HTML report: the same figures, and three inline SVG charts.
    page = invoke("reports", http_event("GET", urllib.parse.urlsplit(link).path))
    assert page["statusCode"] == 200, page
    assert page["headers"]["content-type"].startswith("text/html")
    csp = page["headers"]["content-security-policy"]
    assert "default-src 'none'" in csp and "img-src" not in csp  # no image at all, not even data: URIs
    html = page["body"]
    assert "Conversations: 4 (SMS 2, Web chat 1, Slack Connect 1)" in html
    assert "<li><b>5★</b>" in html and "Very helpful &lt;b&gt;thanks&lt;/b&gt;" in html  # comments, as text
    assert re.search(r"<tr><th scope=row>[^<]+</th><td>2</td><td>30 s</td><td>0</td><td>0</td></tr>", html)
    bare = html.replace(SVG_NAMESPACE, "")
    assert "<script" not in html.lower() and "http://" not in bare and "https://" not in bare
    assert "<img" not in html and "data:" not in html
    charts = inline_charts(html)
    assert list(charts) == ["volume", "hours", "read"]
    for name, root in charts.items():  # named for screen readers by its <title>, described by its <desc>
        title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
        assert root.get("role") == "img" and title is not None and title.text
        assert root.get("aria-labelledby") == title.get("id") and root.get("aria-describedby") == desc.get("id")
    one, two = (today - timedelta(days=1)).isoformat(), (today - timedelta(days=2)).isoformat()
    assert data_values(charts["volume"], channel="sms") == {one: 2}
    assert data_values(charts["volume"], channel="web") == {two: 1}
    assert data_values(charts["volume"], channel="slack_connect") == {two: 1}
    assert "4 conversations (SMS 2, Web chat 1, Slack Connect 1)" in charts["volume"].find(f"{SVG}desc").text
    assert {key: value for key, value in data_values(charts["hours"]).items() if value} == {"Mon 10": 2, "Tue 10": 2}
    assert "Busiest: Mon 10:00 (2), Tue 10:00 (2)." in charts["hours"].find(f"{SVG}desc").text
    assert data_values(charts["read"]) == {"2": 1, "3": 2}
    read_labels = {text.get("data-level"): text.text for text in charts["read"].iter(f"{SVG}text")
                   if text.get("data-label")}
    assert read_labels == {"1": "0", "2": "1", "3": "2", "4": "0", "5": "0", "6": "0"}
    assert charts["read"].find(f"{SVG}title").text == "READ scale (3 conversations rated)"


def test_a_tampered_expired_or_junk_link_gets_403_never_500(aws, slack):
    from refdesk import reports

    of = reports.period("30d")
    token = reports.sign(of)
    assert invoke("reports", http_event("GET", f"/reports/{token}"))["statusCode"] == 200
    payload, signature = token.split(".")
    # The payload changed to a longer period, its signature kept.
    longer = base64.urlsafe_b64encode(json.dumps(
        {"p": "90d", "s": (of.start - timedelta(days=60)).isoformat(), "e": of.end.isoformat(),
         "x": int(time.time()) + 3600}, separators=(",", ":")).encode()).rstrip(b"=").decode()
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    expired = reports.sign(of, now=time.time() - reports.LINK_SECONDS - 1)
    for bad in (f"{longer}.{signature}", f"{payload}.{flipped}", expired, "junk", f"{payload}.", ".", "a.b.c",
                "%C3%A9t%C3%A9.x", token + "x"):
        answer = invoke("reports", http_event("GET", f"/reports/{bad}"))
        assert answer["statusCode"] == 403, (bad, answer)
    # Signed with another key: refused too.
    os.environ["REPORT_LINK_KEY"] = "another-key"
    from refdesk.settings import get_settings

    get_settings.cache_clear()
    other = reports.sign(of)
    os.environ["REPORT_LINK_KEY"] = "test-report-link-key"
    assert invoke("reports", http_event("GET", f"/reports/{other}"))["statusCode"] == 403


def test_a_failed_report_tells_the_librarian_and_is_not_retried(aws, slack):
    invoke("slack_commands", command("stats 7d"))
    slack.fail("chat.postMessage", error="channel_not_found")
    assert run_report_requests(aws) == [{"posted": 0, "failed": 1}]
    assert "chat.postEphemeral" in slack.methods()


def test_monthly_csv_lands_in_s3_with_the_hand_computed_rows(aws, slack):
    """January 2026: 5 Jan two SMS conversations (new, wait 60 s = 1-5 min bucket, READ 1,
    rated 2; repeat, wait 90 s, READ 1), 31 Jan one web conversation (new, wait 3 s, duration
    40 s, hour of week 167); 1 Feb is another month and left out."""
    import boto3

    conversation("j1", "sms", date(2026, 1, 5), wait=60, duration=200, how=0, read=1, rating=2)
    conversation("j2", "sms", date(2026, 1, 5), repeat=True, wait=90, how=0, read=1)
    conversation("j3", "web", date(2026, 1, 31), wait=3, duration=40, how=167)
    conversation("f1", "web", date(2026, 2, 1), wait=5)

    result = invoke("reports", {"month": "2026-01"})  # a backfill, invoked by hand
    assert result["key"] == "stats/2026/refdesk-stats-2026-01.csv"
    s3 = boto3.client("s3")
    obj = s3.get_object(Bucket=os.environ["REPORTS_BUCKET"], Key=result["key"])
    assert obj["ContentType"].startswith("text/csv") and obj["ServerSideEncryption"] == "AES256"
    rows = list(csv.DictReader(io.StringIO(obj["Body"].read().decode())))
    assert [row["date"] for row in rows] == [f"2026-01-{day:02d}" for day in range(1, 32)] + ["total"]
    by_date = {row["date"]: row for row in rows}
    jan5, jan31, total, jan6 = by_date["2026-01-05"], by_date["2026-01-31"], by_date["total"], by_date["2026-01-06"]
    assert (jan5["conversations_sms"], jan5["conversations_web"], jan5["conversations_total"]) == ("2", "0", "2")
    assert (jan5["new_patrons"], jan5["repeat_patrons"]) == ("1", "1")
    assert (jan5["wait_answered"], jan5["wait_seconds_total"], jan5["wait_seconds_mean"]) == ("2", "150", "75.0")
    assert (jan5["wait_1_5m"], jan5["wait_under_1m"]) == ("2", "0")
    assert (jan5["duration_count"], jan5["duration_seconds_mean"]) == ("1", "200.0")
    assert (jan5["read_1"], jan5["rating_2"], jan5["rating_mean"], jan5["how_0"]) == ("2", "1", "2.00", "2")
    assert (jan5["outcome_answered"], jan5["outcome_abandoned"], jan5["live"], jan5["follow_ups"]) == ("2", "0", "2", "0")
    assert (jan5["first_response_in_hours_median"], jan5["first_response_in_hours_p90"]) == ("60", "90")
    assert jan5["first_response_follow_up_median"] == ""
    assert (jan31["conversations_web"], jan31["wait_under_1m"], jan31["how_167"]) == ("1", "1", "1")
    assert set(jan6.values()) <= {"2026-01-06", "0", ""}
    assert (total["conversations_total"], total["new_patrons"], total["repeat_patrons"]) == ("3", "2", "1")
    assert (total["wait_answered"], total["wait_seconds_total"], total["wait_seconds_mean"]) == ("3", "153", "51.0")
    assert (total["duration_seconds_total"], total["duration_seconds_mean"]) == ("240", "120.0")
    assert (total["how_0"], total["how_167"], total["read_1"], total["rating_mean"]) == ("2", "1", "2", "2.00")
    assert (total["first_response_in_hours_median"], total["first_response_in_hours_p90"]) == ("60", "90")  # 3, 60, 90


def test_the_monthly_schedule_exports_last_month(aws, slack):
    from local.timer import scheduled_event
    from refdesk import reports

    [trigger] = [schedule for function in template().functions() if function.code_dir.name == "reports"
                 for schedule in function.schedules]
    assert trigger.expression == "cron(0 6 1 * ? *)"
    result = invoke("reports", scheduled_event("ReportsFunction", trigger))
    assert result["key"] == reports.csv_key(reports.previous_month())
    import boto3

    body = boto3.client("s3").get_object(Bucket=os.environ["REPORTS_BUCKET"], Key=result["key"])["Body"].read()
    assert body.decode().count("\n") == (reports.previous_month().end.day + 2)  # header, days, total
