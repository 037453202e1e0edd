"""The report's charts as SVG, written directly (no chart library: the function stays small; see
tests/build's size test): volume by channel per day, the busiest hours of the week as a heatmap,
and the READ distribution. Each is one self-contained <svg> for the HTML report to inline: no
script, no external font or link; role="img" named by its <title> and described by its <desc>
(the figures in words); every bar or cell carries its count as data-value and a <title> tooltip.
Every text from the figures is XML-escaped. Only the reporting function imports this module."""
from __future__ import annotations

import math
import re
from datetime import date
from xml.sax.saxutils import escape

from refdesk import channels, reports

# ColorBrewer Dark2 but its grey (in the order that kept each channel its colour), taken in turn by the
# desk's channels in channels.CHANNELS' order; any other channel is grey.
PALETTE = ("#1b9e77", "#7570b3", "#d95f02", "#e7298a", "#66a61e", "#e6ab02", "#a6761d")
COLOURS = dict(zip(channels.CHANNELS, PALETTE))
OTHER_COLOUR = "#666666"
READ_COLOUR = "#377eb8"
INK, MUTED, GRID, AXIS = "#222222", "#444444", "#dddddd", "#666666"  # text 16:1 and 9.7:1 on white
FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"  # the reader's own fonts, nothing fetched
# ColorBrewer YlOrRd (9 classes), 0 to the busiest hour, as the matplotlib heatmap had it.
HEAT = ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026", "#800026")
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(text) -> str:
    """Text or an attribute value, XML-escaped (quotes too); characters XML cannot hold dropped."""
    return escape(_NOT_XML.sub("", str(text)), {'"': "&quot;", "'": "&apos;"})


def _n(value: float) -> str:
    return f"{round(value, 1):g}"


def _plural(count: int, word: str = "conversation") -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _day(day: date, year: bool = False) -> str:
    return f"{day.day} {day:%b %Y}" if year else f"{day.day} {day:%b}"


def _svg(name: str, width: int, height: int, title: str, desc: str, body: list[str]) -> str:
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-labelledby="{name}-title" aria-describedby="{name}-desc" '
        f'class="chart" data-chart="{name}" font-family="{FONT}" font-size="12" fill="{INK}">',
        f'<title id="{name}-title">{_x(title)}</title>',
        f'<desc id="{name}-desc">{_x(desc)}</desc>',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="16" y="24" font-size="16" font-weight="bold">{_x(title)}</text>',
        *body, "</svg>"])


def _text(x: float, y: float, text, *, anchor: str = "middle", size: int | None = None, fill: str = MUTED,
          extra: str = "") -> str:
    attributes = f' font-size="{size}"' if size else ""
    return (f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" fill="{fill}"{attributes}{extra}>'
            f"{_x(text)}</text>")


def _ticks(top: int) -> list[int]:
    """Whole-number ticks from 0 to at least `top`, about five, in steps of 1, 2 or 5 times 10^k."""
    if top <= 0:
        return [0, 1]
    raw = top / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = max(1, int(next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)))
    return list(range(0, math.ceil(top / step) * step + 1, step))


def _y_axis(ticks: list[int], left: float, right: float, top: float, bottom: float, label: str) -> list[str]:
    """Grid lines, tick labels and the axis title; returns the markup."""
    out = []
    for tick in ticks:
        y = bottom - (bottom - top) * tick / ticks[-1]
        out.append(f'<line x1="{_n(left)}" x2="{_n(right)}" y1="{_n(y)}" y2="{_n(y)}" stroke="{GRID}"/>')
        out.append(_text(left - 6, y + 4, tick, anchor="end"))
    middle = (top + bottom) / 2
    out.append(_text(16, middle, label, extra=f' transform="rotate(-90 16 {_n(middle)})"'))
    out.append(f'<line x1="{_n(left)}" x2="{_n(right)}" y1="{_n(bottom)}" y2="{_n(bottom)}" stroke="{AXIS}"/>')
    return out


def _channels(of: reports.Figures) -> list[str]:
    """The channels drawn: the desk's own always, any other only when it has conversations."""
    return [channel for channel, counts in of.daily.items() if any(counts) or channel in channels.CHANNELS]


# --- conversations per day, stacked by channel ---------------------------------------------

def volume_svg(of: reports.Figures) -> str:
    width, height, left, right, top, bottom = 900, 360, 64, 884, 72, 290
    days = of.period.days
    drawn = _channels(of)
    totals = [sum(of.daily[channel][index] for channel in drawn) for index in range(len(days))]
    ticks = _ticks(max(totals, default=0))
    scale = (bottom - top) / ticks[-1]
    slot = (right - left) / max(len(days), 1)
    names = {channel: channels.traits(channel).display_name for channel in drawn}
    body = _y_axis(ticks, left, right, top, bottom, "conversations")
    x = 16.0
    for channel in drawn:  # the legend, in stacking order (bottom first)
        label = f"{names[channel]} ({of.by_channel.get(channel, 0)})"
        body.append(f'<rect x="{_n(x)}" y="38" width="12" height="12" fill="{COLOURS.get(channel, OTHER_COLOUR)}"/>')
        body.append(_text(x + 17, 48, label, anchor="start", fill=INK))
        x += 17 + 7.2 * len(label) + 20
    for index, day in enumerate(days):
        bar_x, bar_width, base = left + slot * (index + 0.1), max(slot * 0.8, 1), float(bottom)
        for channel in drawn:
            count = of.daily[channel][index]
            if not count:
                continue
            base -= count * scale
            body.append(
                f'<rect x="{_n(bar_x)}" y="{_n(base)}" width="{_n(bar_width)}" height="{_n(count * scale)}" '
                f'fill="{COLOURS.get(channel, OTHER_COLOUR)}" data-day="{day.isoformat()}" '
                f'data-channel="{_x(channel)}" data-value="{count}">'
                f"<title>{_x(f'{_day(day)}: {names[channel]} {count}')}</title></rect>")
        if totals[index] and slot >= 22:
            body.append(_text(left + slot * (index + 0.5), base - 4, totals[index], size=11, fill=INK,
                              extra=f' data-day="{day.isoformat()}" data-total="{totals[index]}"'))
    step = next(step for step in (1, 2, 7, 14, 28, 56, 112) if step * slot >= 36 or step == 112)
    shown_year = None if of.period.start.year != of.period.end.year else of.period.start.year
    for index in range(0, len(days), step):
        centre = left + slot * (index + 0.5)
        body.append(f'<line x1="{_n(centre)}" x2="{_n(centre)}" y1="{bottom}" y2="{bottom + 4}" stroke="{AXIS}"/>')
        label = _day(days[index], year=days[index].year != shown_year)  # the year when it starts or changes
        shown_year = days[index].year
        body.append(_text(centre + 4, bottom + 16, label, anchor="end",
                          extra=f' transform="rotate(-30 {_n(centre + 4)} {bottom + 16})"'))
    if not of.total:
        body.append(_text((left + right) / 2, (top + bottom) / 2, "No conversations in this period", size=14))
    busiest = max(range(len(days)), key=lambda index: totals[index], default=None)
    by_channel = ", ".join(f"{names[channel]} {of.by_channel.get(channel, 0)}" for channel in drawn)
    start, end = of.period.start, of.period.end
    desc = (f"Stacked bars, one per day from {_day(start, start.year != end.year)} to {_day(end, True)}: "
            f"{_plural(of.total)} ({by_channel}).")
    if busiest is not None and totals[busiest]:
        desc += f" Busiest day: {_day(days[busiest])} ({totals[busiest]})."
    return _svg("volume", width, height, "Conversations by channel, per day", desc, body)


# --- the busiest hours of the week ---------------------------------------------------------

def _heat(value: int, peak: int) -> str:
    return HEAT[0] if peak <= 0 else HEAT[round(value / peak * (len(HEAT) - 1))]


def _luminance(colour: str) -> float:
    """WCAG relative luminance of #rrggbb."""
    red, green, blue = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (red, green, blue)]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _on(background: str) -> str:
    """Dark or white text, whichever contrasts more with the background."""
    shade = _luminance(background)
    return INK if (shade + 0.05) / (_luminance(INK) + 0.05) >= 1.05 / (shade + 0.05) else "#ffffff"


def heatmap_svg(of: reports.Figures) -> str:
    width, height, left, right, top, bottom = 900, 330, 56, 884, 64, 288
    hours = (list(of.hour_of_week) + [0] * 168)[:168]
    peak = max(hours)
    cell_width, cell_height = (right - left) / 24, (bottom - top) / 7
    body, labels = ['<g stroke="#ffffff">'], []
    for weekday, name in enumerate(reports.WEEKDAYS):
        y = top + weekday * cell_height
        labels.append(_text(left - 8, y + cell_height / 2 + 4, name, anchor="end"))
        for hour in range(24):
            value, x = hours[weekday * 24 + hour], left + hour * cell_width
            fill = _heat(value, peak)
            body.append(
                f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(cell_width)}" height="{_n(cell_height)}" fill="{fill}" '
                f'data-weekday="{name}" data-hour="{hour}" data-value="{value}">'
                f"<title>{_x(f'{name} {hour:02d}:00–{(hour + 1) % 24:02d}:00: {_plural(value)}')}</title></rect>")
            if value:
                labels.append(_text(x + cell_width / 2, y + cell_height / 2 + 4, value, size=11, fill=_on(fill)))
    body += ["</g>", *labels]
    for hour in range(24):
        body.append(_text(left + (hour + 0.5) * cell_width, bottom + 14, f"{hour:02d}"))
    body.append(_text((left + right) / 2, bottom + 34, "hour of the day (library time)"))
    legend_x = right - 32 - len(HEAT) * 16  # room for the peak's label on its right
    body.append(_text(legend_x - 6, 36, "0", anchor="end"))
    for index, colour in enumerate(HEAT):
        body.append(f'<rect x="{legend_x + index * 16}" y="26" width="16" height="12" fill="{colour}" '
                    f'stroke="{GRID}"/>')
    body.append(_text(legend_x + len(HEAT) * 16 + 6, 36, peak, anchor="start"))
    body.append(_text(legend_x - 22, 36, "conversations:", anchor="end"))
    busiest = reports.busiest_hours(of, 5)
    desc = ("A grid of the 7 days of the week by the 24 hours of the day; each cell holds the conversations "
            "opened in that hour over the period, darker for more. "
            + (f"Busiest: {', '.join(busiest)}." if busiest else "No conversations in this period."))
    return _svg("hours", width, height, "Busiest hours (conversations opened, library time)", desc, body)


# --- the READ scale ------------------------------------------------------------------------

def _two_lines(name: str) -> list[str]:
    return name.split(" ", 1) if len(name) > 12 and " " in name else [name]


def read_svg(of: reports.Figures) -> str:
    width, height, left, right, top, bottom = 640, 360, 56, 624, 56, 276
    levels = list(of.read)
    ticks = _ticks(max(of.read.values(), default=0))
    scale = (bottom - top) / ticks[-1]
    slot = (right - left) / max(len(levels), 1)
    body = _y_axis(ticks, left, right, top, bottom, "conversations")
    for index, level in enumerate(levels):
        count, centre = of.read[level], left + slot * (index + 0.5)
        name = reports.READ_NAMES.get(level, "")
        if count:
            body.append(
                f'<rect x="{_n(centre - slot * 0.3)}" y="{_n(bottom - count * scale)}" width="{_n(slot * 0.6)}" '
                f'height="{_n(count * scale)}" fill="{READ_COLOUR}" data-level="{level}" data-value="{count}">'
                f"<title>{_x(f'READ {level} ({name}): {count}')}</title></rect>")
        body.append(_text(centre, bottom - count * scale - 5, count, fill=INK,
                          extra=f' data-level="{level}" data-label="{count}"'))
        body.append(_text(centre, bottom + 18, level, fill=INK, extra=' font-weight="bold"'))
        for line, part in enumerate(_two_lines(name)):
            body.append(_text(centre, bottom + 33 + 14 * line, part, size=11))
    body.append(_text((left + right) / 2, bottom + 76, "READ level: 1 directional … 6 in-depth research"))
    title = f"READ scale ({_plural(of.read_total)} rated)"
    desc = "Bars, one per READ level: " + "; ".join(
        f"{level} {reports.READ_NAMES.get(level, '')}: {count}" for level, count in of.read.items()) + "."
    return _svg("read", width, height, title, desc, body)


def charts(of: reports.Figures) -> dict[str, str]:
    """The three charts, one SVG document each, for the HTML report to inline."""
    return {"volume": volume_svg(of), "hours": heatmap_svg(of), "read": read_svg(of)}
