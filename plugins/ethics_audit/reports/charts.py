"""Small inline-SVG charts for the reports: trends with intervals and thresholds, status strips, bars.

Hand-written SVG keeps a report self-contained (no script, no network request), crisp when
printed and a few kilobytes per chart. Severity is always shown three ways: colour, marker
shape and words in the tooltip or legend, so the charts read in greyscale and for
colour-blind readers. Every piece of text goes through ``escape``: labels come from specs and
data (model names, category values) and must never become markup. Each chart's root element
carries ``data-chart="<kind>"`` so tests (and screenshots) can find it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from markupsafe import Markup, escape

from ethics_audit.reports.present import number, severity

# Okabe-Ito based: distinguishable for colour-blind readers; critical dark, warn light.
COLOURS = {
    "critical": "#b3261e",
    "warn": "#e69f00",
    "ok": "#2b7a4b",
    "insufficient_data": "#9e9e9e",
    "error": "#6a3d9a",
    "none": "#ffffff",
    "series": "#1f4e79",
    "band": "#9ecae1",
    "grid": "#e3e6ea",
    "axis": "#5f6b76",
    "text": "#26323d",
}
CELL_FILL = {
    "critical": "#b3261e",
    "warn": "#f3c14b",
    "ok": "#d7ebdd",
    "insufficient_data": "#eeeeee",
    "error": "#6a3d9a",
    "none": "#ffffff",
}
CELL_TEXT = {"critical": "#ffffff", "error": "#ffffff"}
ZONE_FILL = {"warn": "#fdf3dc", "critical": "#f8e1df"}
FONT = "font-family=\"'Segoe UI', 'DejaVu Sans', Arial, sans-serif\""


@dataclass(frozen=True)
class TrendPoint:
    """One window's value on a trend chart; ``value`` None is a gap (no data)."""

    start: datetime
    end: datetime
    value: float | None
    low: float | None = None
    high: float | None = None
    severity: str = "ok"
    note: str = ""


@dataclass(frozen=True)
class ThresholdLines:
    warn: Any = None  # a number, or (low, high) for direction "outside"
    critical: Any = None
    direction: str = "above"

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ThresholdLines | None:
        if not data or (data.get("warn") is None and data.get("critical") is None):
            return None
        banded = isinstance(data.get("warn") or data.get("critical"), list | tuple)
        return cls(data.get("warn"), data.get("critical"), "outside" if banded else data.get("direction") or "above")

    def levels(self) -> list[tuple[str, float]]:
        out = []
        for name in ("warn", "critical"):
            bound = getattr(self, name)
            if bound is None:
                continue
            if isinstance(bound, list | tuple):
                out += [(name, float(bound[0])), (name, float(bound[1]))]
            else:
                out.append((name, float(bound)))
        return out


@dataclass
class _Frame:
    """Plot area and scales shared by the chart kinds."""

    width: int
    height: int
    left: int = 56
    right: int = 84
    top: int = 14
    bottom: int = 30
    x0: float = 0.0
    x1: float = 1.0
    y0: float = 0.0
    y1: float = 1.0
    parts: list[str] = field(default_factory=list)

    def x(self, value: float) -> float:
        span = (self.x1 - self.x0) or 1.0
        return self.left + (value - self.x0) / span * (self.width - self.left - self.right)

    def y(self, value: float) -> float:
        span = (self.y1 - self.y0) or 1.0
        return self.top + (1 - (value - self.y0) / span) * (self.height - self.top - self.bottom)

    @property
    def plot_right(self) -> float:
        return self.width - self.right

    @property
    def plot_bottom(self) -> float:
        return self.height - self.bottom


def _ts(value: datetime) -> float:
    return value.timestamp()


def _svg(kind: str, width: int, height: int, parts: list[str], label: str) -> Markup:
    body = "".join(parts)
    return Markup(
        f'<svg class="chart" data-chart="{kind}" role="img" aria-label="{escape(label)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" preserveAspectRatio="xMidYMid meet" '
        f'xmlns="http://www.w3.org/2000/svg" {FONT}><title>{escape(label)}</title>{body}</svg>'
    )


def _text(
    x: float, y: float, text: str, *, size: int = 11, anchor: str = "start", fill: str = "", weight: str = ""
) -> str:
    colour = fill or COLOURS["axis"]
    bold = f' font-weight="{weight}"' if weight else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{colour}"{bold}>'
        f"{escape(text)}</text>"
    )


def marker(x: float, y: float, sev: str, *, size: float = 5.0, tooltip: str = "") -> str:
    """Circle for ok, diamond for warn, triangle for critical, square for error, ring for too little data."""
    colour = COLOURS.get(sev, COLOURS["series"])
    title = f"<title>{escape(tooltip)}</title>" if tooltip else ""
    s = size
    if sev == "critical":
        shape = (
            f'<path d="M{x:.1f},{y - s * 1.25:.1f} L{x + s * 1.15:.1f},{y + s * 0.85:.1f} '
            f'L{x - s * 1.15:.1f},{y + s * 0.85:.1f} Z" fill="{colour}" stroke="#ffffff" stroke-width="1"/>'
        )
    elif sev == "warn":
        shape = (
            f'<path d="M{x:.1f},{y - s * 1.2:.1f} L{x + s * 1.2:.1f},{y:.1f} L{x:.1f},{y + s * 1.2:.1f} '
            f'L{x - s * 1.2:.1f},{y:.1f} Z" fill="{colour}" stroke="#5c3d00" stroke-width="1"/>'
        )
    elif sev == "error":
        shape = f'<rect x="{x - s:.1f}" y="{y - s:.1f}" width="{2 * s:.1f}" height="{2 * s:.1f}" fill="{colour}"/>'
    elif sev == "insufficient_data":
        shape = (
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{s * 0.8:.1f}" fill="#ffffff" stroke="{colour}" stroke-width="1.5"/>'
        )
    else:
        shape = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{s * 0.8:.1f}" fill="{COLOURS["series"]}"/>'
    return f'<g class="marker marker-{escape(sev)}">{title}{shape}</g>'


def _nice_range(values: list[float], *, floor_zero: bool) -> tuple[float, float]:
    low, high = min(values), max(values)
    if floor_zero and low >= 0:
        low = 0.0
    if high - low < 1e-12:
        pad = abs(high) * 0.5 or 1.0
        return low - (0 if floor_zero and low == 0 else pad), high + pad
    pad = (high - low) * 0.12
    return (low if floor_zero and low == 0 else low - pad), high + pad


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    import math

    span = high - low
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), default=raw)
    first = math.ceil(low / step) * step
    out = []
    value = first
    while value <= high + step * 1e-9:
        out.append(round(value, 12))
        value += step
    return out


def _month_ticks(start: datetime, end: datetime) -> list[datetime]:
    ticks = []
    cursor = datetime(start.year, start.month, 1, tzinfo=start.tzinfo)
    if cursor < start:
        cursor = datetime(cursor.year + (cursor.month == 12), cursor.month % 12 + 1, 1, tzinfo=start.tzinfo)
    while cursor <= end:
        ticks.append(cursor)
        cursor = datetime(cursor.year + (cursor.month == 12), cursor.month % 12 + 1, 1, tzinfo=start.tzinfo)
    return ticks


def trend_chart(
    points: list[TrendPoint],
    *,
    period: tuple[datetime, datetime],
    label: str,
    metric: str = "",
    thresholds: ThresholdLines | None = None,
    width: int = 520,
    height: int = 210,
) -> Markup:
    """Values per window over a period, with the interval as a band and the thresholds as zones and lines.

    The x axis is time, so a missed window is a visible gap; a window with too little data is a
    ring on the axis, never a made-up value.
    """
    f = _Frame(width, height, x0=_ts(period[0]), x1=_ts(period[1]))
    values = [v for p in points for v in (p.value, p.low, p.high) if v is not None]
    levels = thresholds.levels() if thresholds else []
    values += [v for _, v in levels]
    if not values:
        values = [0.0, 1.0]
    f.y0, f.y1 = _nice_range(values, floor_zero=min(values) >= 0)
    parts = f.parts
    _zones(f, thresholds)
    for tick in _ticks(f.y0, f.y1):
        y = f.y(tick)
        parts.append(f'<line x1="{f.left}" x2="{f.plot_right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{COLOURS["grid"]}"/>')
        parts.append(_text(f.left - 6, y + 4, number(tick, metric), anchor="end", size=10))
    for month in _month_ticks(period[0], period[1]):
        x = f.x(_ts(month))
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{f.top}" y2="{f.plot_bottom}" stroke="{COLOURS["grid"]}" '
            'stroke-dasharray="2,3"/>'
        )
        if month < period[1]:
            parts.append(_text(x + 4, f.plot_bottom + 16, f"{month:%b}", size=10))
    parts.append(
        f'<line x1="{f.left}" x2="{f.plot_right}" y1="{f.plot_bottom}" y2="{f.plot_bottom}" stroke="{COLOURS["axis"]}"/>'
    )
    _threshold_lines(f, thresholds, metric)
    segments = _segments(points)
    for segment in segments:
        banded = [p for p in segment if p.low is not None and p.high is not None]
        if len(banded) >= 2:
            top = " ".join(f"{f.x(_mid(p)):.1f},{f.y(p.high):.1f}" for p in banded)  # type: ignore[arg-type]
            bottom = " ".join(f"{f.x(_mid(p)):.1f},{f.y(p.low):.1f}" for p in reversed(banded))  # type: ignore[arg-type]
            parts.append(f'<polygon class="band" points="{top} {bottom}" fill="{COLOURS["band"]}" opacity="0.55"/>')
        for p in banded:
            x = f.x(_mid(p))
            parts.append(
                f'<line class="whisker" x1="{x:.1f}" x2="{x:.1f}" y1="{f.y(p.low):.1f}" y2="{f.y(p.high):.1f}" '  # type: ignore[arg-type]
                f'stroke="{COLOURS["series"]}" stroke-width="1" opacity="0.6"/>'
            )
        if len(segment) >= 2:
            path = " ".join(f"{f.x(_mid(p)):.1f},{f.y(p.value):.1f}" for p in segment)  # type: ignore[arg-type]
            parts.append(
                f'<polyline class="series" points="{path}" fill="none" stroke="{COLOURS["series"]}" stroke-width="2"/>'
            )
    for p in points:
        x = f.x(_mid(p))
        tip = _tooltip(p, metric)
        if p.value is None:
            parts.append(marker(x, f.plot_bottom - 6, "insufficient_data", tooltip=tip))
        else:
            parts.append(marker(x, f.y(p.value), p.severity, tooltip=tip))
    if not points:
        parts.append(_text(width / 2, height / 2, "no windows audited", anchor="middle", size=12))
    return _svg("trend", width, height, parts, label)


def _mid(p: TrendPoint) -> float:
    return (_ts(p.start) + _ts(p.end)) / 2


def _tooltip(p: TrendPoint, metric: str) -> str:
    when = f"{p.start:%d %b}–{p.end:%d %b}"
    if p.value is None:
        return f"{when}: {p.note or 'too little data'}"
    ci = f" (interval {number(p.low, metric)}–{number(p.high, metric)})" if p.low is not None else ""
    return f"{when}: {number(p.value, metric)}{ci}, {severity(p.severity).word}"


def _segments(points: list[TrendPoint]) -> list[list[TrendPoint]]:
    """Runs of consecutive windows with values: a gap or a missing window breaks the line."""
    segments: list[list[TrendPoint]] = []
    current: list[TrendPoint] = []
    for p in points:
        contiguous = current and p.start - current[-1].end <= timedelta(seconds=1)
        if p.value is None or (current and not contiguous):
            if current:
                segments.append(current)
            current = []
        if p.value is not None:
            current.append(p)
    if current:
        segments.append(current)
    return segments


def _zones(f: _Frame, thresholds: ThresholdLines | None) -> None:
    """Tint the warn and critical regions so a point's meaning shows without reading the axis."""
    if thresholds is None:
        return
    for level in ("warn", "critical"):
        bound = getattr(thresholds, level)
        if bound is None:
            continue
        spans: list[tuple[float, float]] = []
        if thresholds.direction == "above":
            spans.append((float(bound), f.y1))
        elif thresholds.direction == "below":
            spans.append((f.y0, float(bound)))
        else:
            spans += [(f.y0, float(bound[0])), (float(bound[1]), f.y1)]
        for low, high in spans:
            low, high = max(low, f.y0), min(high, f.y1)
            if high <= low:
                continue
            f.parts.append(
                f'<rect class="zone zone-{level}" x="{f.left}" y="{f.y(high):.1f}" width="{f.plot_right - f.left:.1f}" '
                f'height="{f.y(low) - f.y(high):.1f}" fill="{ZONE_FILL[level]}"/>'
            )


def _threshold_lines(f: _Frame, thresholds: ThresholdLines | None, metric: str) -> None:
    if thresholds is None:
        return
    styles = {"warn": ("6,4", COLOURS["warn"], "warning"), "critical": ("10,3,2,3", COLOURS["critical"], "critical")}
    for level, value in thresholds.levels():
        if not f.y0 <= value <= f.y1:
            continue
        dash, colour, word = styles[level]
        y = f.y(value)
        f.parts.append(
            f'<line class="threshold threshold-{level}" x1="{f.left}" x2="{f.plot_right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{colour}" stroke-width="1.6" stroke-dasharray="{dash}"/>'
        )
        f.parts.append(
            _text(f.plot_right + 5, y + 4, f"{word} {number(value, metric)}", size=10, fill=colour, weight="600")
        )


def status_strip(
    rows: list[tuple[str, list[tuple[str, str]]]], *, columns: list[str], label: str, cell: int = 26
) -> Markup:
    """A grid of windows (columns) by check family (rows), each cell coloured and marked by severity.

    ``rows``: ``(row label, [(severity, tooltip) per column])``.
    """
    left = 150
    width = left + cell * max(len(columns), 1) + 10
    height = 24 + cell * len(rows) + 6
    parts = []
    for i, text in enumerate(columns):
        parts.append(_text(left + i * cell + cell / 2, 16, text, size=9, anchor="middle"))
    for r, (row_label, cells) in enumerate(rows):
        y = 24 + r * cell
        parts.append(_text(left - 8, y + cell / 2 + 4, row_label, size=11, anchor="end", fill=COLOURS["text"]))
        for c, (sev, tooltip) in enumerate(cells):
            x = left + c * cell
            fill = CELL_FILL.get(sev, "#ffffff")
            dash = ' stroke-dasharray="3,2"' if sev == "none" else ""
            parts.append(
                f'<g class="cell cell-{escape(sev)}"><title>{escape(tooltip)}</title>'
                f'<rect x="{x + 1}" y="{y + 1}" width="{cell - 2}" height="{cell - 2}" rx="3" fill="{fill}" '
                f'stroke="#b8c0c8"{dash}/>'
                + _text(
                    x + cell / 2,
                    y + cell / 2 + 4,
                    severity(sev).symbol,
                    size=11,
                    anchor="middle",
                    fill=CELL_TEXT.get(sev, COLOURS["text"]),
                )
                + "</g>"
            )
    return _svg("status", width, height, parts, label)


def count_bars(
    points: list[tuple[datetime, datetime, dict[str, int]]],
    *,
    period: tuple[datetime, datetime],
    label: str,
    width: int = 520,
    height: int = 170,
) -> Markup:
    """Stacked bars per window: how many critical and warning findings (e.g. privacy) it had."""
    f = _Frame(width, height, x0=_ts(period[0]), x1=_ts(period[1]))
    top = max([sum(c.get(k, 0) for k in ("critical", "warn")) for _, _, c in points] + [1])
    f.y0, f.y1 = 0.0, float(top) * 1.15
    parts = f.parts
    for tick in _ticks(0, f.y1, 3):
        if tick != int(tick):
            continue
        y = f.y(tick)
        parts.append(f'<line x1="{f.left}" x2="{f.plot_right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{COLOURS["grid"]}"/>')
        parts.append(_text(f.left - 6, y + 4, f"{tick:.0f}", anchor="end", size=10))
    for month in _month_ticks(period[0], period[1]):
        if month < period[1]:
            parts.append(_text(f.x(_ts(month)) + 4, f.plot_bottom + 16, f"{month:%b}", size=10))
    for start, end, counts in points:
        x0, x1 = f.x(_ts(start)) + 2, f.x(_ts(end)) - 2
        base = 0.0
        for level in ("critical", "warn"):
            n = counts.get(level, 0)
            if not n:
                continue
            stroke = ' stroke="#5c3d00" stroke-width="0.8"' if level == "warn" else ""
            parts.append(
                f'<rect class="bar bar-{level}" x="{x0:.1f}" y="{f.y(base + n):.1f}" width="{max(x1 - x0, 1):.1f}" '
                f'height="{f.y(base) - f.y(base + n):.1f}" fill="{COLOURS[level]}"{stroke}>'
                f"<title>{escape(f'{start:%d %b}: {n} {severity(level).word.lower()}')}</title></rect>"
            )
            base += n
        if base == 0:
            parts.append(marker((x0 + x1) / 2, f.plot_bottom - 5, "ok", size=3.5, tooltip=f"{start:%d %b}: none"))
    parts.append(
        f'<line x1="{f.left}" x2="{f.plot_right}" y1="{f.plot_bottom}" y2="{f.plot_bottom}" stroke="{COLOURS["axis"]}"/>'
    )
    return _svg("bars", width, height, parts, label)


def interval_plot(
    rows: list[tuple[str, float | None, float | None, float | None, str]],
    *,
    label: str,
    metric: str = "",
    thresholds: ThresholdLines | None = None,
    width: int = 520,
) -> Markup:
    """One row per slice: the value as a marker, its interval as a whisker, thresholds as lines.

    ``rows``: ``(label, value, low, high, severity)``.
    """
    row_h = 26
    height = 20 + row_h * max(len(rows), 1) + 26
    f = _Frame(width, height, left=140, right=56, top=14, bottom=26)
    values = [v for _, value, low, high, _ in rows for v in (value, low, high) if v is not None]
    values += [v for _, v in (thresholds.levels() if thresholds else [])]
    if not values:
        values = [0.0, 1.0]
    f.x0, f.x1 = _nice_range(values, floor_zero=min(values) >= 0)
    # the plot is horizontal: reuse y() for rows and x() for values
    parts = f.parts
    for tick in _ticks(f.x0, f.x1):
        x = f.x(tick)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{f.top}" y2="{f.plot_bottom}" stroke="{COLOURS["grid"]}"/>')
        parts.append(_text(x, f.plot_bottom + 16, number(tick, metric), anchor="middle", size=10))
    if thresholds:
        styles = {"warn": ("6,4", COLOURS["warn"]), "critical": ("10,3,2,3", COLOURS["critical"])}
        for level, value in thresholds.levels():
            dash, colour = styles[level]
            x = f.x(value)
            parts.append(
                f'<line class="threshold threshold-{level}" x1="{x:.1f}" x2="{x:.1f}" y1="{f.top}" y2="{f.plot_bottom}" '
                f'stroke="{colour}" stroke-width="1.6" stroke-dasharray="{dash}"/>'
            )
    for i, (text, value, low, high, sev) in enumerate(rows):
        y = f.top + 10 + i * row_h
        parts.append(_text(f.left - 8, y + 4, text, size=11, anchor="end", fill=COLOURS["text"]))
        if low is not None and high is not None:
            parts.append(
                f'<line class="whisker" x1="{f.x(low):.1f}" x2="{f.x(high):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                f'stroke="{COLOURS["series"]}" stroke-width="2" opacity="0.7"/>'
            )
        if value is None:
            parts.append(_text(f.left + 4, y + 4, "too little data", size=10))
        else:
            tip = f"{text}: {number(value, metric)}" + (
                f" ({number(low, metric)}–{number(high, metric)})" if low is not None else ""
            )
            parts.append(marker(f.x(value), y, sev, tooltip=tip))
            parts.append(_text(f.plot_right + 6, y + 4, number(value, metric), size=10, fill=COLOURS["text"]))
    return _svg("intervals", width, height, parts, label)
