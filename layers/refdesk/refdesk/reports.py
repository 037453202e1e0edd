"""Reports from the daily aggregates (`store.stats`): the figures of a period, the Slack answer to
`/refdesk stats`, the monthly CSV, and the signed, expiring link to the HTML report. Counters
only: no message, address or patron hash is read here. The monthly export also writes the
month's reveals (refdesk.reveal_audit: staff ids and conversation and message ids).

The charts are drawn by the reporting function (functions/reports: SVG written directly), so
that the webhook functions sharing this layer never load their code.

  request(word, user, api_url)  the slash command's side: one SendMessage to the reports queue
  period(word, today)           7d, 30d, 90d (ending today) or term (since the term began)
  figures(period)               one Query (store.stats.days) -> Figures
  summary_blocks(figures, url)  the key figures as Slack blocks, with the report link
  monthly_csv(days, start, end) one row per day of the month and a total row
  export_month(of)              that CSV and the month's reveals CSV to the reports bucket
  sign(period) / open_link(token)  HMAC-SHA256 with the report-link-key secret; 403 when bad"""
from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import json
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from refdesk import channels, clients
from refdesk.errors import Forbidden
from refdesk.settings import get_settings
from refdesk.store import stats

PERIODS = {"7d": 7, "30d": 30, "90d": 90}
DEFAULT_PERIOD = "30d"
PERIOD_WORDS = (*PERIODS, "term")
MAX_RANGE_DAYS = 400  # a signed report link names at most this many days
STAFF_SHOWN = 10  # librarians listed in Slack; the HTML report lists all
# A report link opens for a week; it names a period, never a person.
LINK_SECONDS = 7 * 24 * 3600
MAX_TOKEN_LENGTH = 400
READ_NAMES = {1: "directional", 2: "brief", 3: "some effort", 4: "considerable effort", 5: "extensive",
              6: "in-depth research"}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WORKING_ON_IT = "Working on it… the figures and a link to the charts will appear in <#{channel}> in a few seconds."


@dataclass(frozen=True)
class Period:
    name: str  # 7d, 30d, 90d, term, or a month (2026-01)
    start: date
    end: date  # included

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=offset) for offset in range((self.end - self.start).days + 1)]

    @property
    def label(self) -> str:
        return f"{self.start:%-d %b %Y} – {self.end:%-d %b %Y}"


@dataclass(frozen=True)
class Figures:
    """A period's figures, summed over its days (a day without an item counts zeros)."""

    period: Period
    by_channel: dict[str, int]
    daily: dict[str, list[int]]  # channel -> conversations on each of period.days
    new_patrons: int = 0
    repeat_patrons: int = 0
    wait_count: int = 0
    wait_mean_seconds: float | None = None
    wait_histogram: dict[str, int] = field(default_factory=dict)
    duration_mean_seconds: float | None = None
    read: dict[int, int] = field(default_factory=dict)  # every level 1-6
    ratings: dict[int, int] = field(default_factory=dict)  # every rating 1-5
    rating_mean: float | None = None
    hour_of_week: list[int] = field(default_factory=list)  # 168 counts, Monday 00h first
    topics: dict[str, int] = field(default_factory=dict)  # topic label -> conversations, most first
    outcomes: dict[str, int] = field(default_factory=dict)  # every one of stats.OUTCOMES
    kinds: dict[str, int] = field(default_factory=dict)  # live, follow_up
    waits: dict[str, list[int]] = field(default_factory=dict)  # every one of stats.WAIT_KINDS, sorted
    staff: dict[str, "StaffFigures"] = field(default_factory=dict)  # Slack user id -> figures, busiest first
    comments: list[stats.Comment] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.by_channel.values())

    @property
    def rated(self) -> int:
        return sum(self.ratings.values())

    @property
    def read_total(self) -> int:
        return sum(self.read.values())


@dataclass(frozen=True)
class StaffFigures:
    """One librarian's figures over a period."""

    answered: int = 0  # conversations in which they sent the patron a reply
    first_waits: list[int] = field(default_factory=list)  # where theirs was the first response, sorted
    transfers_in: int = 0
    transfers_out: int = 0

    @property
    def median_first(self) -> int | None:
        return percentile(self.first_waits, 50)


def percentile(ordered: list[int], share: int) -> int | None:
    """The nearest-rank percentile of sorted values: the smallest value with at least `share`%
    of the values at or below it (the median of 4 is the 2nd, its p90 the 4th)."""
    if not ordered:
        return None
    return ordered[max(0, -(-share * len(ordered) // 100) - 1)]


# --- periods ------------------------------------------------------------------------------

def today() -> date:
    return datetime.now(ZoneInfo(get_settings().library_timezone)).date()


def term_start(day: date, term_starts: tuple[str, ...]) -> date:
    """The latest term start (MM-DD) on or before `day`; a bad entry is ignored."""
    starts = []
    for text in term_starts:
        try:
            month, dom = (int(part) for part in text.split("-"))
            starts += [date(day.year, month, dom), date(day.year - 1, month, dom)]
        except ValueError:
            continue
    return max((start for start in starts if start <= day), default=date(day.year, 1, 1))


def period(word: str, on: date | None = None) -> Period:
    """7d, 30d, 90d: that many days ending `on` (today); term: since the current term began;
    "YYYY-MM-DD YYYY-MM-DD": those days, both included (at most MAX_RANGE_DAYS, not after `on`).
    Raises ValueError for anything else, saying why."""
    on = on or today()
    word = " ".join((word or DEFAULT_PERIOD).strip().lower().split())
    if word in PERIODS:
        return Period(word, on - timedelta(days=PERIODS[word] - 1), on)
    if word == "term":
        return Period(word, term_start(on, get_settings().term_starts), on)
    dates = word.replace(" to ", " ").split()
    if len(dates) != 2:
        raise ValueError(f"unknown period {word!r}")
    try:
        start, end = (date.fromisoformat(text) for text in dates)
    except ValueError:
        raise ValueError("dates are written YYYY-MM-DD, e.g. 2026-09-01 2026-12-31") from None
    if end < start:
        raise ValueError("the first date must not be after the second")
    if end > on:
        raise ValueError("the period must end today or earlier")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise ValueError(f"a period is at most {MAX_RANGE_DAYS} days")
    return Period(f"{start.isoformat()} to {end.isoformat()}", start, end)


def previous_month(on: date | None = None) -> Period:
    first_of_this = (on or today()).replace(day=1)
    last = first_of_this - timedelta(days=1)
    return Period(f"{last:%Y-%m}", last.replace(day=1), last)


def month(text: str) -> Period:
    """A month given as YYYY-MM (a backfill of the monthly CSV). Raises ValueError."""
    start = datetime.strptime(text, "%Y-%m").date()
    following = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return Period(f"{start:%Y-%m}", start, following - timedelta(days=1))


# --- figures --------------------------------------------------------------------------------

def figures(of: Period) -> Figures:
    """Two Queries: the period's days and its patrons' comments."""
    return summarize(stats.days(of.start, of.end), of, stats.comments(of.start, of.end))


def summarize(days: list[stats.DailyStats], of: Period, comments: list[stats.Comment] = ()) -> Figures:
    # The desk's channels first, in their order (the columns, the legend), then any other counted.
    names = [*channels.CHANNELS, *sorted({name for day in days for name in day.conversations} - set(channels.CHANNELS))]
    index = {day: position for position, day in enumerate(of.days)}
    daily = {channel: [0] * len(index) for channel in names}
    by_channel = dict.fromkeys(names, 0)
    histogram = {label: 0 for label, _ in stats.WAIT_BUCKETS}
    read = {level: 0 for level in stats.READ_LEVELS}
    ratings = {rating: 0 for rating in stats.RATINGS}
    hours = [0] * 168
    topics: dict[str, int] = {}
    outcomes = dict.fromkeys(stats.OUTCOMES, 0)
    kinds = {"live": 0, "follow_up": 0}
    waits: dict[str, list[int]] = {kind: [] for kind in stats.WAIT_KINDS}
    staff: dict[str, dict] = {}
    wait_sum = wait_count = duration_sum = duration_count = new = repeat = 0
    for day in days:
        if day.day not in index:
            continue
        for group, counted in ((outcomes, day.outcomes), (kinds, day.kinds)):
            for name, count in counted.items():
                group[name] = group.get(name, 0) + count
        for kind, values in day.waits.items():
            waits.setdefault(kind, []).extend(values)
        for user, figures_of_day in day.staff.items():
            mine = staff.setdefault(user, {"answered": 0, "first_waits": [], "transfers_in": 0, "transfers_out": 0})
            mine["answered"] += figures_of_day.answered
            mine["first_waits"] += figures_of_day.first
            mine["transfers_in"] += figures_of_day.transfers_in
            mine["transfers_out"] += figures_of_day.transfers_out
        for channel, count in day.conversations.items():
            by_channel[channel] += count
            daily[channel][index[day.day]] += count
        new += day.new_patrons
        repeat += day.repeat_patrons
        wait_sum += day.wait_seconds_sum
        wait_count += day.wait_count
        duration_sum += day.duration_seconds_sum
        duration_count += day.duration_count
        for label, count in day.wait_histogram.items():
            histogram[label] = histogram.get(label, 0) + count
        for level, count in day.read.items():
            read[level] = read.get(level, 0) + count
        for rating, count in day.ratings.items():
            ratings[rating] = ratings.get(rating, 0) + count
        for hour, count in day.hour_of_week.items():
            if 0 <= hour < 168:
                hours[hour] += count
        for topic, count in day.topics.items():
            topics[topic] = topics.get(topic, 0) + count
    rated = sum(ratings.values())
    return Figures(
        period=of, by_channel=by_channel, daily=daily, new_patrons=new, repeat_patrons=repeat,
        wait_count=wait_count, wait_mean_seconds=wait_sum / wait_count if wait_count else None,
        wait_histogram=histogram,
        duration_mean_seconds=duration_sum / duration_count if duration_count else None,
        read=read, ratings=ratings,
        rating_mean=sum(rating * count for rating, count in ratings.items()) / rated if rated else None,
        hour_of_week=hours, topics=dict(sorted(topics.items(), key=lambda item: (-item[1], item[0]))),
        outcomes=outcomes, kinds=kinds, waits={kind: sorted(values) for kind, values in waits.items()},
        staff={user: StaffFigures(mine["answered"], sorted(mine["first_waits"]), mine["transfers_in"],
                                  mine["transfers_out"])
               for user, mine in sorted(staff.items(), key=lambda item: (-item[1]["answered"], item[0]))},
        comments=list(comments))


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def busiest_hours(of: Figures, count: int = 3) -> list[str]:
    ranked = sorted((-value, hour) for hour, value in enumerate(of.hour_of_week) if value)[:count]
    return [f"{WEEKDAYS[hour // 24]} {hour % 24:02d}:00 ({-value})" for value, hour in ranked]


def waits_text(ordered: list[int]) -> str:
    if not ordered:
        return "none answered"
    return (f"median {duration_text(percentile(ordered, 50))}, 90% within {duration_text(percentile(ordered, 90))} "
            f"({len(ordered)} answered)")


def topic_label(topic_id: str) -> str:
    from refdesk import deskconfig

    topic = deskconfig.get().topic(topic_id)
    return topic.label if topic else topic_id


def summary_lines(of: Figures) -> list[str]:
    """The key figures, one per line (Slack mrkdwn, also the HTML report's list)."""
    by_channel = ", ".join(f"{channels.traits(name).display_name} {count}" for name, count in of.by_channel.items())
    patrons = of.new_patrons + of.repeat_patrons
    repeat_share = f" ({round(100 * of.repeat_patrons / patrons)}% repeat)" if patrons else ""
    read = " · ".join(f"{level}: {count}" for level, count in of.read.items())
    ratings = " · ".join(f"{rating}★ {of.ratings.get(rating, 0)}" for rating in reversed(stats.RATINGS))
    rating = (f"{ratings} (average {of.rating_mean:.2f} from {of.rated}); {len(of.comments)} "
              f"comment{'s' if len(of.comments) != 1 else ''}" if of.rating_mean is not None else "no ratings yet")
    topics = ", ".join(f"{topic_label(topic)} {count}" for topic, count in of.topics.items()) or "none recorded"
    outcomes = of.outcomes or {}
    lines = [
        f"Conversations: {of.total} ({by_channel}); live {of.kinds.get('live', 0)}, "
        f"follow-ups {of.kinds.get('follow_up', 0)}",
        f"Answered {outcomes.get('answered', 0)}, unanswered {outcomes.get('unanswered', 0)}, "
        f"abandoned {outcomes.get('abandoned', 0)} (the patron left before an answer)",
        f"Patrons: {of.new_patrons} new, {of.repeat_patrons} repeat{repeat_share}",
        f"First response, live chats in opening hours: {waits_text(of.waits.get('in_hours', []))}",
        f"First response, live chats begun after hours: {waits_text(of.waits.get('after_hours', []))}",
        f"First response, follow-ups: {waits_text(of.waits.get('follow_up', []))}",
        f"Average wait to a first response: {duration_text(of.wait_mean_seconds)} ({of.wait_count} answered)",
        f"Average duration: {duration_text(of.duration_mean_seconds)}",
        f"READ scale ({of.read_total} rated): {read}",
        f"Ratings: {rating}",
        f"Topics: {topics}",
    ]
    busiest = busiest_hours(of)
    if busiest:
        lines.append("Busiest hours: " + ", ".join(busiest))
    return lines


def staff_lines(of: Figures, name=lambda user: f"<@{user}>") -> list[str]:
    """One line per librarian, busiest first; `name` shows a Slack user id (a mention in Slack)."""
    return [f"{name(user)}: answered {mine.answered}, median first response {duration_text(mine.median_first)}, "
            f"transfers in {mine.transfers_in} / out {mine.transfers_out}" for user, mine in of.staff.items()]


def summary_blocks(of: Figures, link: str) -> tuple[str, list[dict]]:
    """The Slack answer: (fallback text, blocks)."""
    title = f"Reference desk statistics, {of.period.label} ({of.period.name})"
    body = "\n".join(f"• {line}" for line in summary_lines(of))
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
              {"type": "section", "text": {"type": "mrkdwn", "text": body[:3000]}}]
    librarians = staff_lines(of)
    if librarians:
        shown = librarians[:STAFF_SHOWN] + ([f"…and {len(librarians) - STAFF_SHOWN} more in the full report"]
                                            if len(librarians) > STAFF_SHOWN else [])
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": (
            "*By librarian*\n" + "\n".join(f"• {line}" for line in shown))[:3000]}})
    if link:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": (
            f"<{link}|Open the full report> (charts and comments; the link works for {LINK_SECONDS // 86400} days)")}})
    return f"{title}\n{body}", blocks


# --- the monthly CSV ---------------------------------------------------------------------------

CSV_FIXED = (["date", *[f"conversations_{name}" for name in channels.CHANNELS], "conversations_total", "new_patrons",
              "repeat_patrons", "wait_answered", "wait_seconds_total", "wait_seconds_mean",
              *[f"wait_{label}" for label, _ in stats.WAIT_BUCKETS], "duration_count", "duration_seconds_total",
              "duration_seconds_mean", *[f"read_{level}" for level in stats.READ_LEVELS],
              *[f"rating_{rating}" for rating in stats.RATINGS], "rating_mean",
              *[f"outcome_{outcome}" for outcome in stats.OUTCOMES], "live", "follow_ups",
              *[f"first_response_{kind}_{figure}" for kind in stats.WAIT_KINDS for figure in ("median", "p90")]])


def monthly_csv(days: list[stats.DailyStats], of: Period) -> str:
    """One row per day of the period (zeros where nothing was counted), then a `total` row.
    Columns: CSV_FIXED, any other channel, topic_{id}, and how_{0-167} (hour of week, Monday 00h = 0)."""
    by_day = {day.day: day for day in days if of.start <= day.day <= of.end}
    extra_channels = sorted({name for day in by_day.values() for name in day.conversations} - set(channels.CHANNELS))
    topics = sorted({topic for day in by_day.values() for topic in day.topics})
    header = [*CSV_FIXED, *[f"conversations_{name}" for name in extra_channels],
              *[f"topic_{topic}" for topic in topics], *[f"how_{hour}" for hour in range(168)]]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for day in of.days:
        writer.writerow(_csv_row(day.isoformat(), [by_day[day]] if day in by_day else [], extra_channels, topics))
    writer.writerow(_csv_row("total", list(by_day.values()), extra_channels, topics))
    return out.getvalue()


def _csv_row(name: str, days: list[stats.DailyStats], extra_channels: list[str], topics: list[str]) -> list:
    def total(pick) -> int:
        return sum(pick(day) for day in days)

    def mean(amount: int, count: int) -> str:
        return f"{amount / count:.1f}" if count else ""

    conversations = {channel: total(lambda day, c=channel: day.conversations.get(c, 0))
                     for channel in (*channels.CHANNELS, *extra_channels)}
    wait_sum, wait_n = total(lambda day: day.wait_seconds_sum), total(lambda day: day.wait_count)
    duration_sum, duration_n = total(lambda day: day.duration_seconds_sum), total(lambda day: day.duration_count)
    ratings = {rating: total(lambda day, r=rating: day.ratings.get(r, 0)) for rating in stats.RATINGS}
    rated = sum(ratings.values())
    return [name, *[conversations[channel] for channel in channels.CHANNELS], sum(conversations.values()),
            total(lambda day: day.new_patrons), total(lambda day: day.repeat_patrons),
            wait_n, wait_sum, mean(wait_sum, wait_n),
            *[total(lambda day, b=label: day.wait_histogram.get(b, 0)) for label, _ in stats.WAIT_BUCKETS],
            duration_n, duration_sum, mean(duration_sum, duration_n),
            *[total(lambda day, level=level: day.read.get(level, 0)) for level in stats.READ_LEVELS],
            *ratings.values(), f"{sum(r * n for r, n in ratings.items()) / rated:.2f}" if rated else "",
            *[total(lambda day, o=outcome: day.outcomes.get(o, 0)) for outcome in stats.OUTCOMES],
            total(lambda day: day.kinds.get("live", 0)), total(lambda day: day.kinds.get("follow_up", 0)),
            *[_blank_if_none(percentile(sorted(wait for day in days for wait in day.waits.get(kind, [])), share))
              for kind in stats.WAIT_KINDS for share in (50, 90)],
            *[conversations[channel] for channel in extra_channels],
            *[total(lambda day, t=topic: day.topics.get(t, 0)) for topic in topics],
            *[total(lambda day, h=hour: day.hour_of_week.get(h, 0)) for hour in range(168)]]


def _blank_if_none(value) -> str | int:
    return "" if value is None else value


def csv_key(of: Period) -> str:
    return f"stats/{of.start:%Y}/refdesk-stats-{of.start:%Y-%m}.csv"


def export_month(of: Period) -> dict:
    """The month's CSV of daily aggregates to the reports bucket (its reveals: refdesk.reveal_audit)."""
    key = csv_key(of)
    body = monthly_csv(stats.days(of.start, of.end), of).encode()
    put_csv(key, body)
    return {"key": key, "bytes": len(body)}


def put_csv(key: str, body: bytes) -> None:
    """One CSV into the reports bucket: one PutObject, the same key again on a retry."""
    clients.get("s3").put_object(Bucket=get_settings().reports_bucket, Key=key, Body=body,
                                 ContentType="text/csv; charset=utf-8", ServerSideEncryption="AES256")


# --- signed links -----------------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(payload: str) -> bytes:
    key = get_settings().secret("report_link_key").encode()
    return hmac.new(key, b"refdesk-report:" + payload.encode("ascii"), hashlib.sha256).digest()


def sign(of: Period, now: float | None = None) -> str:
    """A token naming the period and when it expires, and its HMAC."""
    expires = int((now if now is not None else time.time()) + LINK_SECONDS)
    payload = _b64(json.dumps({"p": of.name, "s": of.start.isoformat(), "e": of.end.isoformat(), "x": expires},
                              separators=(",", ":")).encode())
    return f"{payload}.{_b64(_mac(payload))}"


def open_link(token: str, now: float | None = None) -> Period:
    """The period a token names. Raises Forbidden (403) for anything but an intact, unexpired token."""
    refused = Forbidden("this report link is not valid or has expired", code="bad_link")
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not token.isascii() or token.count(".") != 1:
        raise refused
    payload, signature = token.split(".")
    try:
        given = _unb64(signature)
        if not hmac.compare_digest(given, _mac(payload)):
            raise refused
        data = json.loads(_unb64(payload))
        of = Period(str(data["p"]), date.fromisoformat(data["s"]), date.fromisoformat(data["e"]))
        expires = int(data["x"])
    except (ValueError, KeyError, TypeError, AttributeError) as error:  # binascii.Error is a ValueError
        raise refused from error
    if expires < (now if now is not None else time.time()) or of.end < of.start or (of.end - of.start).days >= MAX_RANGE_DAYS:
        raise refused
    return of


def link(api_url: str, of: Period) -> str:
    return f"{api_url.rstrip('/')}/reports/{sign(of)}" if api_url else ""


# --- the request from Slack --------------------------------------------------------------------

@dataclass(frozen=True)
class ReportRequest:
    """What the slash command hands the reporting function (the reports queue's message body)."""

    period: str
    user_id: str
    api_url: str = ""  # where the report link points (the API's public URL)

    def to_body(self) -> str:
        return json.dumps({"kind": "stats", "period": self.period, "user_id": self.user_id, "api_url": self.api_url})

    @classmethod
    def from_body(cls, body: str) -> "ReportRequest":
        data = json.loads(body)
        return cls(period=str(data["period"]), user_id=str(data["user_id"]), api_url=str(data.get("api_url", "")))


# The field of the reports function's event that carries a request's body.
REQUEST_FIELD = "report_request"


def request(words: str, user_id: str, api_url: str = "") -> str:
    """`/refdesk stats [7d|30d|90d|term|<from> <to>]`: ask the reports function (one asynchronous
    invocation) and answer at once."""
    words = " ".join((words or DEFAULT_PERIOD).strip().lower().split())
    try:
        period(words)
    except ValueError as why:
        return (f"`/refdesk stats` takes one of {', '.join(PERIOD_WORDS)} (default {DEFAULT_PERIOD}), or two dates "
                f"such as `/refdesk stats 2026-09-01 2026-12-31`: {why}.")
    ask(ReportRequest(words, user_id, api_url).to_body())
    return WORKING_ON_IT.format(channel=get_settings().slack_staff_channel)


def ask(body: str) -> None:
    """Invoke the reports function asynchronously with a request (its JSON body) for it to answer
    in Slack. Nothing polls for requests, so an idle month costs nothing."""
    clients.get("lambda").invoke(FunctionName=get_settings().reports_function_arn, InvocationType="Event",
                                 Payload=json.dumps({REQUEST_FIELD: body}).encode())
