"""The trend chart: one measure per window over a period, its interval as a band, thresholds as zones and lines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from markupsafe import Markup

from ethics_audit.reports.charts import svg
from ethics_audit.reports.present import number, severity


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


def trend_chart(
    points: list[TrendPoint],
    *,
    period: tuple[datetime, datetime],
    label: str,
    metric: str = "",
    thresholds: svg.ThresholdLines | None = None,
    width: int = 520,
    height: int = 210,
) -> Markup:
    """Values per window over a period, with the interval as a band and the thresholds as zones and lines.

    The x axis is time, so a missed window is a visible gap; a window with too little data is a
    ring on the axis, never a made-up value.
    """
    f = svg.Frame(width, height, x0=svg.timestamp(period[0]), x1=svg.timestamp(period[1]))
    values = [v for p in points for v in (p.value, p.low, p.high) if v is not None]
    levels = thresholds.levels() if thresholds else []
    values += [v for _, v in levels]
    if not values:
        values = [0.0, 1.0]
    f.y0, f.y1 = svg.nice_range(values, floor_zero=min(values) >= 0)
    parts = f.parts
    _zones(f, thresholds)
    for tick in svg.ticks(f.y0, f.y1):
        y = f.y(tick)
        parts.append(
            f'<line x1="{f.left}" x2="{f.plot_right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{svg.COLOURS["grid"]}"/>'
        )
        parts.append(svg.text(f.left - 6, y + 4, number(tick, metric), anchor="end", size=10))
    for month in svg.month_ticks(period[0], period[1]):
        x = f.x(svg.timestamp(month))
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{f.top}" y2="{f.plot_bottom}" stroke="{svg.COLOURS["grid"]}" '
            'stroke-dasharray="2,3"/>'
        )
        if month < period[1]:
            parts.append(svg.text(x + 4, f.plot_bottom + 16, f"{month:%b}", size=10))
    parts.append(
        f'<line x1="{f.left}" x2="{f.plot_right}" y1="{f.plot_bottom}" y2="{f.plot_bottom}" stroke="{svg.COLOURS["axis"]}"/>'
    )
    _threshold_lines(f, thresholds, metric)
    segments = _segments(points)
    for segment in segments:
        banded = [p for p in segment if p.low is not None and p.high is not None]
        if len(banded) >= 2:
            top = " ".join(f"{f.x(_mid(p)):.1f},{f.y(p.high):.1f}" for p in banded)  # type: ignore[arg-type]
            bottom = " ".join(f"{f.x(_mid(p)):.1f},{f.y(p.low):.1f}" for p in reversed(banded))  # type: ignore[arg-type]
            parts.append(f'<polygon class="band" points="{top} {bottom}" fill="{svg.COLOURS["band"]}" opacity="0.55"/>')
        for p in banded:
            x = f.x(_mid(p))
            parts.append(
                f'<line class="whisker" x1="{x:.1f}" x2="{x:.1f}" y1="{f.y(p.low):.1f}" y2="{f.y(p.high):.1f}" '  # type: ignore[arg-type]
                f'stroke="{svg.COLOURS["series"]}" stroke-width="1" opacity="0.6"/>'
            )
        if len(segment) >= 2:
            path = " ".join(f"{f.x(_mid(p)):.1f},{f.y(p.value):.1f}" for p in segment)  # type: ignore[arg-type]
            parts.append(
                f'<polyline class="series" points="{path}" fill="none" stroke="{svg.COLOURS["series"]}" stroke-width="2"/>'
            )
    for p in points:
        x = f.x(_mid(p))
        tip = _tooltip(p, metric)
        if p.value is None:
            parts.append(svg.marker(x, f.plot_bottom - 6, "insufficient_data", tooltip=tip))
        else:
            parts.append(svg.marker(x, f.y(p.value), p.severity, tooltip=tip))
    if not points:
        parts.append(svg.text(width / 2, height / 2, "no windows audited", anchor="middle", size=12))
    return svg.root("trend", width, height, parts, label)


def _mid(p: TrendPoint) -> float:
    return (svg.timestamp(p.start) + svg.timestamp(p.end)) / 2


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


def _zones(f: svg.Frame, thresholds: svg.ThresholdLines | None) -> None:
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
                f'height="{f.y(low) - f.y(high):.1f}" fill="{svg.ZONE_FILL[level]}"/>'
            )


def _threshold_lines(f: svg.Frame, thresholds: svg.ThresholdLines | None, metric: str) -> None:
    if thresholds is None:
        return
    styles = {
        "warn": ("6,4", svg.COLOURS["warn"], "warning"),
        "critical": ("10,3,2,3", svg.COLOURS["critical"], "critical"),
    }
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
            svg.text(f.plot_right + 5, y + 4, f"{word} {number(value, metric)}", size=10, fill=colour, weight="600")
        )
