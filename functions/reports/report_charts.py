"""The report's charts as PNG bytes, drawn with matplotlib's Agg renderer (no pyplot, no GUI, no
global figure state): volume by channel over time, the busiest hours of the week as a heatmap,
and the READ distribution. Only the reporting function imports this module."""
from __future__ import annotations

import io
import os

# Lambda's home is read-only: matplotlib keeps its font cache in /tmp.
os.environ.setdefault("MPLCONFIGDIR", "/tmp/matplotlib")  # nosec B108 - a cache, Lambda's only writable place

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from refdesk import reports  # noqa: E402

COLOURS = {"sms": "#1b9e77", "web": "#7570b3", "slack_connect": "#d95f02"}
OTHER_COLOUR = "#666666"
DPI = 100


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI, facecolor="white")
    return out.getvalue()


def _volume(axes, of: reports.Figures) -> None:
    days = of.period.days
    bottom = [0] * len(days)
    for channel, counts in of.daily.items():
        if not any(counts) and channel not in reports.CHANNELS:
            continue
        axes.bar(days, counts, bottom=bottom, width=0.9, label=reports.CHANNEL_NAMES.get(channel, channel),
                 color=COLOURS.get(channel, OTHER_COLOUR))
        bottom = [below + count for below, count in zip(bottom, counts)]
    axes.set_title("Conversations by channel, per day")
    axes.set_ylabel("conversations")
    axes.legend(loc="upper left", fontsize="small", frameon=False)
    axes.yaxis.get_major_locator().set_params(integer=True)
    for label in axes.get_xticklabels():
        label.set_rotation(30)
        label.set_horizontalalignment("right")
    axes.margins(x=0.01)


def _heatmap(figure: Figure, axes, of: reports.Figures) -> None:
    grid = [of.hour_of_week[weekday * 24:(weekday + 1) * 24] for weekday in range(7)]
    image = axes.imshow(grid, aspect="auto", cmap="YlOrRd", interpolation="nearest", vmin=0)
    axes.set_title("Busiest hours (conversations opened, library time)")
    axes.set_yticks(range(7), reports.WEEKDAYS)
    axes.set_xticks(range(0, 24, 3), [f"{hour:02d}h" for hour in range(0, 24, 3)])
    figure.colorbar(image, ax=axes, fraction=0.03, pad=0.01)


def _read(axes, of: reports.Figures) -> None:
    levels = list(of.read)
    bars = axes.bar([str(level) for level in levels], [of.read[level] for level in levels], color="#377eb8")
    axes.bar_label(bars, padding=2, fontsize="small")
    axes.set_title(f"READ scale ({of.read_total} conversations rated)")
    axes.set_xlabel("1 directional … 6 in-depth research")
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.margins(y=0.15)


def volume_png(of: reports.Figures) -> bytes:
    figure = Figure(figsize=(9, 3.6), layout="constrained")
    _volume(figure.add_subplot(), of)
    return _png(figure)


def heatmap_png(of: reports.Figures) -> bytes:
    figure = Figure(figsize=(9, 3.2), layout="constrained")
    _heatmap(figure, figure.add_subplot(), of)
    return _png(figure)


def read_png(of: reports.Figures) -> bytes:
    figure = Figure(figsize=(6, 3.4), layout="constrained")
    _read(figure.add_subplot(), of)
    return _png(figure)


def charts(of: reports.Figures) -> dict[str, bytes]:
    """The three charts, one PNG each (the HTML report)."""
    return {"volume": volume_png(of), "hours": heatmap_png(of), "read": read_png(of)}


def overview_png(of: reports.Figures) -> bytes:
    """The three charts in one picture (the Slack answer)."""
    figure = Figure(figsize=(10, 10), layout="constrained")
    figure.suptitle(f"Reference desk, {of.period.label}: {of.total} conversations", fontsize="large")
    top, middle, bottom = figure.subplots(3, 1, height_ratios=[1.2, 1, 1])
    _volume(top, of)
    _heatmap(figure, middle, of)
    _read(bottom, of)
    return _png(figure)
