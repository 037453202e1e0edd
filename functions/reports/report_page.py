"""The HTML report behind a signed link: the key figures and the charts as inline SVG
(report_charts). One self-contained page: no script, no image, no third-party resource (its
Content-Security-Policy says so)."""
from __future__ import annotations

from html import escape

from refdesk import channels, reports
from refdesk.store import stats

# Styles only inline, nothing else at all (the charts are inline SVG markup, not images).
HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "cache-control": "private, no-store",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-robots-tag": "noindex, nofollow",
}
CONTENT_TYPE = "text/html; charset=utf-8"


def _rows(pairs) -> str:
    return "".join(f"<tr><th scope=row>{escape(str(name))}</th><td>{escape(str(value))}</td></tr>"
                   for name, value in pairs)


def html(of: reports.Figures, svgs: dict[str, str], name=lambda user: user) -> str:
    """`svgs`: report_charts.charts(of), each inlined as it is (its texts are escaped there);
    `name`: how a librarian (a Slack user id) is shown."""
    title = f"Reference desk statistics, {of.period.label}"
    librarians = "".join(
        f"<tr><th scope=row>{escape(name(user))}</th><td>{mine.answered}</td>"
        f"<td>{escape(reports.duration_text(mine.median_first))}</td><td>{mine.transfers_in}</td>"
        f"<td>{mine.transfers_out}</td></tr>" for user, mine in of.staff.items())
    comments = "".join(f"<li><b>{comment.rating}★</b> {escape(f'{comment.day:%-d %b}')}: {escape(comment.text)}</li>"
                       for comment in of.comments) or "<li>No comments in this period.</li>"
    figures = "\n".join(f"<li>{escape(line)}</li>" for line in reports.summary_lines(of))
    charts = "\n".join(f"<figure>{svg}</figure>" for svg in svgs.values())
    by_channel = "".join(f"<tr><th scope=row>{escape(channels.traits(name).display_name)}</th><td>{count}</td></tr>"
                         for name, count in of.by_channel.items())
    read = "".join(f"<tr><th scope=row>{level} ({escape(reports.READ_NAMES[level])})</th><td>{count}</td></tr>"
                   for level, count in of.read.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{escape(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}}
svg{{display:block;max-width:100%;height:auto;border:1px solid #ddd}} figure{{margin:1.5rem 0}}
table{{border-collapse:collapse;margin:1rem 0}} th,td{{padding:.2rem .8rem;border-bottom:1px solid #eee;text-align:left}}
</style></head>
<body><h1>{escape(title)}</h1>
<p>Period: {escape(of.period.name)}. Counts only: no messages and no patron identities are kept for reports.</p>
<ul>
{figures}
</ul>
{charts}
<h2>By channel</h2><table>{by_channel}</table>
<h2>Outcomes</h2><table>{_rows(of.outcomes.items())}</table>
<h2>By librarian</h2><table><tr><th scope=col>Librarian</th><th scope=col>Answered</th>
<th scope=col>Median first response</th><th scope=col>Transfers in</th><th scope=col>Transfers out</th></tr>
{librarians}</table>
<h2>READ scale</h2><table>{read}</table>
<h2>Topics</h2><table>{_rows((reports.topic_label(topic), count) for topic, count in of.topics.items())}</table>
<h2>Ratings</h2><table>{_rows((f"{rating}★", of.ratings.get(rating, 0)) for rating in reversed(stats.RATINGS))}</table>
<h2>Patrons' comments</h2><ul>{comments}</ul>
</body></html>
"""
