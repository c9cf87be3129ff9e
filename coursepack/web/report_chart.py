"""The report page's chart of completions over time, as inline SVG built on the server.

No JavaScript and no chart library: stacked columns, one colour per version,
with axes, gridlines, a legend and a tooltip (``<title>``) on every segment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from html import escape

from django.utils.safestring import SafeString, mark_safe

from coursepack.reports.selectors import CompletionsOverTime

__all__ = ["completions_chart"]

# Okabe-Ito: told apart by people with any common colour-vision deficiency.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000")
OTHER_COLOUR = "#9AA5B1"
MAX_SERIES = len(PALETTE)
#: The versions the chart draws on their own when it cannot draw them all (the rest are
#: "Other versions"): the page asks the selector for these only.
SHOWN_VERSIONS = MAX_SERIES - 1

WIDTH = 880
PLOT_HEIGHT = 240
LEFT, RIGHT, TOP = 52, 16, 14
X_AXIS_SPACE = 42
LEGEND_ROW = 22
FONT = 12
# Rough width of a character at FONT px, for laying out the legend.
CHAR_WIDTH = 6.8
MAX_X_LABELS = 10


@dataclass(frozen=True)
class _Series:
    label: str
    colour: str
    counts: tuple[int, ...]


def _series(over_time: CompletionsOverTime) -> list[_Series]:
    """The biggest versions each get a colour; the rest are added up as "Other versions"."""
    ranked = sorted(over_time.series, key=lambda s: -s.total)
    shown = ranked if len(ranked) <= MAX_SERIES else ranked[: MAX_SERIES - 1]
    order = {s.version_id: i for i, s in enumerate(over_time.series)}
    shown = sorted(shown, key=lambda s: order[s.version_id])
    result = [
        _Series(label=s.label, colour=PALETTE[i], counts=s.counts) for i, s in enumerate(shown)
    ]
    shown_ids = {s.version_id for s in shown}
    rest = [s for s in over_time.series if s.version_id not in shown_ids]
    # The versions the selector already added up (``over_time.other``) join the rest.
    columns = [s.counts for s in rest]
    if over_time.other is not None:
        columns.append(over_time.other)
    if columns:
        counts = tuple(sum(column) for column in zip(*columns, strict=True))
        others = len(rest) + over_time.other_versions
        result.append(
            _Series(label=f"Other versions ({others})", colour=OTHER_COLOUR, counts=counts)
        )
    return result


def _nice_step(top: int, ticks: int = 5) -> int:
    """A step of 1, 2 or 5 times a power of ten giving at most ``ticks`` gridlines."""
    raw = max(1.0, top / ticks)
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= raw:
            return int(factor * magnitude)
    return int(10 * magnitude)


def _period_labels(periods: tuple[date, ...], bucket: str) -> list[str]:
    """Each period's label ("2024", "Jan 2024", "Jan 8"); a month's name (``%b``) read
    once per chart (``strftime`` is ~5 µs a call; a year's weeks are 52 calls)."""
    if bucket == "year":
        return [str(day.year) for day in periods]
    months: dict[int, str] = {}
    labels: list[str] = []
    for day in periods:
        name = months.get(day.month)
        if name is None:
            name = months[day.month] = day.strftime("%b")
        labels.append(f"{name} {day.year}" if bucket == "month" else f"{name} {day.day}")
    return labels


_PERIOD_NAMES = {"day": "day", "week": "week", "month": "month", "year": "year"}


def _legend(series: list[_Series], y: float) -> tuple[list[str], float]:
    """Lay the legend out in rows below the plot; return its SVG and its height."""
    parts: list[str] = []
    x, row = float(LEFT), 0
    for s in series:
        width = 14 + 6 + len(s.label) * CHAR_WIDTH + 24
        if x + width > WIDTH - RIGHT and x > LEFT:
            x, row = float(LEFT), row + 1
        top = y + row * LEGEND_ROW
        parts.append(
            f'<g class="legend-item"><rect x="{x:.1f}" y="{top:.1f}" width="14" height="14" '
            f'rx="2" fill="{s.colour}"/><text x="{x + 20:.1f}" y="{top + 11.5:.1f}">'
            f"{escape(s.label)}</text></g>"
        )
        x += width
    return parts, (row + 1) * LEGEND_ROW


def completions_chart(over_time: CompletionsOverTime) -> SafeString:
    """Return the chart as an ``<svg>`` element, or "" when there is nothing to draw."""
    if not over_time.periods or not over_time.series:
        return SafeString("")
    series = _series(over_time)
    totals = over_time.totals()
    periods = over_time.periods
    step = _nice_step(max(totals))
    top = max(step, math.ceil(max(totals) / step) * step)
    plot_width = WIDTH - LEFT - RIGHT
    slot = plot_width / len(periods)
    bar = max(1.0, min(slot * 0.72, 48.0))
    base = TOP + PLOT_HEIGHT

    def y_of(value: float) -> float:
        return base - value / top * PLOT_HEIGHT

    parts: list[str] = []
    # Gridlines and the y axis's labels.
    for value in range(0, top + 1, step):
        y = y_of(value)
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"/>'
            f'<text class="y-label" x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{value}</text>'
        )
    period_name = _PERIOD_NAMES[over_time.bucket]
    parts.append(
        f'<text class="axis-title" transform="translate(14 {TOP + PLOT_HEIGHT / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle">Completions per {period_name}</text>'
    )
    # The columns: one stacked segment per version. Each period's label and each
    # version's are escaped once, for every segment and the x axis.
    labels = [escape(label) for label in _period_labels(periods, over_time.bucket)]
    names = [escape(s.label) for s in series]
    for i, label in enumerate(labels):
        x = LEFT + i * slot + (slot - bar) / 2
        stacked = 0
        when = f"week of {label}" if over_time.bucket == "week" else label
        for s, name in zip(series, names, strict=True):
            n = s.counts[i]
            if n == 0:
                continue
            y_top = y_of(stacked + n)
            height = y_of(stacked) - y_top
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y_top:.1f}" width="{bar:.1f}" '
                f'height="{height:.1f}" fill="{s.colour}"><title>{name}: {n} '
                f"completion{'s' if n != 1 else ''}, {when}</title></rect>"
            )
            stacked += n
    # The axes, and the x axis's labels thinned to stay readable.
    parts.append(
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}"/>'
        f'<line class="axis" x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}"/>'
    )
    every = math.ceil(len(periods) / MAX_X_LABELS)
    for i in range(0, len(periods), every):
        x = LEFT + (i + 0.5) * slot
        parts.append(
            f'<line class="tick" x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 5}"/>'
            f'<text class="x-label" x="{x:.1f}" y="{base + 19}" text-anchor="middle">'
            f"{labels[i]}</text>"
        )
    legend, legend_height = _legend(series, base + X_AXIS_SPACE)
    parts.extend(legend)
    height = base + X_AXIS_SPACE + legend_height

    first = periods[0].isoformat()
    description = (
        f"Completions per {period_name} from {first}, stacked by version: "
        + "; ".join(f"{s.label} {sum(s.counts)}" for s in series)
        + "."
    )
    svg = (
        f'<svg class="chart" role="img" aria-labelledby="chart-title chart-desc" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" width="100%" font-size="{FONT}" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="chart-title">Completions over time per version</title>'
        f'<desc id="chart-desc">{escape(description)}</desc>' + "".join(parts) + "</svg>"
    )
    # Safe: every text in it went through escape() (html.escape).
    return mark_safe(svg)
