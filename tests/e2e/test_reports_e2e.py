"""`/refdesk stats` over the local stack (`python -m local.devstack`): the control API's slash
command is answered at once, the local pump feeds the reports queue to ReportsFunction, and the
figures and the chart appear in the staff channel (the chart served by the Slack stand-in as a
PNG); the report link opens the HTML report through the gateway, and a tampered one gets 403."""
from __future__ import annotations

import re
import urllib.parse

import requests


def test_stats_command_posts_figures_and_chart_and_the_link_opens(stack):
    answer = stack.post_json("/_local/api/slack/command", {"text": "stats 7d", "user": "U0AMANDA"})
    assert answer["status"] == 200 and answer["body"]["text"].startswith("Working on it")

    def posted():
        messages = stack.get_json("/_local/api/slack/messages")["messages"]
        figures = [m for m in messages if "Reference desk statistics" in str(m.get("text")) and "(7d)" in m["text"]]
        charts = [m for m in messages if any(f.get("name", "").startswith("refdesk-stats-7d") for f in m.get("files") or [])]
        return (figures[-1], charts[-1]) if figures and charts else None

    figures, chart = stack.wait_until(posted, timeout=60, message="the stats answer and its chart")
    assert not figures["thread_ts"] and not chart["thread_ts"]  # in the channel itself
    [file] = chart["files"]
    picture = requests.get(file["url_private"], timeout=30, proxies={"http": "", "https": ""})
    assert picture.status_code == 200 and picture.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(picture.content) > 20_000

    [link] = re.findall(r"<(http://127\.0\.0\.1:\d+/reports/[^|>]+)\|", str(figures["blocks"]))
    path = urllib.parse.urlsplit(link).path
    page = stack.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.count('src="data:image/png;base64,') == 3
    assert stack.get(path[:-3] + "abc").status_code == 403
