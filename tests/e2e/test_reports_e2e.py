"""`/refdesk stats` over the local stack (`python -m local.devstack`): the control API's slash
command is answered at once, the local pump feeds the reports queue to ReportsFunction, and the
figures appear in the staff channel with the report link; the link opens the HTML report and its
three SVG charts through the gateway, and a tampered one gets 403."""
from __future__ import annotations

import re
import urllib.parse


def test_stats_command_posts_figures_and_the_link_opens_the_charts(stack):
    answer = stack.post_json("/_local/api/slack/command", {"text": "stats 7d", "user": "U0AMANDA"})
    assert answer["status"] == 200 and answer["body"]["text"].startswith("Working on it")

    def posted():
        messages = stack.get_json("/_local/api/slack/messages")["messages"]
        figures = [m for m in messages if "Reference desk statistics" in str(m.get("text")) and "(7d)" in m["text"]]
        return figures[-1] if figures else None

    figures = stack.wait_until(posted, timeout=60, message="the stats answer")
    assert not figures["thread_ts"]  # in the channel itself

    [link] = re.findall(r"<(http://127\.0\.0\.1:\d+/reports/[^|>]+)\|", str(figures["blocks"]))
    path = urllib.parse.urlsplit(link).path
    page = stack.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.count('<svg') == 3 and page.text.count('role="img"') == 3
    assert stack.get(path[:-3] + "abc").status_code == 403
