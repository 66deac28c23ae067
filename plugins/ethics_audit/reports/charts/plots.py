"""The other report charts: the status strip (windows by family), stacked count bars, interval plots."""

from __future__ import annotations

from datetime import datetime

from markupsafe import Markup, escape

from ethics_audit.reports.charts import svg
from ethics_audit.reports.present import number, severity


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
        parts.append(svg.text(left + i * cell + cell / 2, 16, text, size=9, anchor="middle"))
    for r, (row_label, cells) in enumerate(rows):
        y = 24 + r * cell
        parts.append(svg.text(left - 8, y + cell / 2 + 4, row_label, size=11, anchor="end", fill=svg.COLOURS["text"]))
        for c, (sev, tooltip) in enumerate(cells):
            x = left + c * cell
            fill = svg.CELL_FILL.get(sev, "#ffffff")
            dash = ' stroke-dasharray="3,2"' if sev == "none" else ""
            parts.append(
                f'<g class="cell cell-{escape(sev)}"><title>{escape(tooltip)}</title>'
                f'<rect x="{x + 1}" y="{y + 1}" width="{cell - 2}" height="{cell - 2}" rx="3" fill="{fill}" '
                f'stroke="#b8c0c8"{dash}/>'
                + svg.text(
                    x + cell / 2,
                    y + cell / 2 + 4,
                    severity(sev).symbol,
                    size=11,
                    anchor="middle",
                    fill=svg.CELL_TEXT.get(sev, svg.COLOURS["text"]),
                )
                + "</g>"
            )
    return svg.root("status", width, height, parts, label)


def count_bars(
    points: list[tuple[datetime, datetime, dict[str, int]]],
    *,
    period: tuple[datetime, datetime],
    label: str,
    width: int = 520,
    height: int = 170,
) -> Markup:
    """Stacked bars per window: how many critical and warning findings (e.g. privacy) it had."""
    f = svg.Frame(width, height, x0=svg.timestamp(period[0]), x1=svg.timestamp(period[1]))
    top = max([sum(c.get(k, 0) for k in ("critical", "warn")) for _, _, c in points] + [1])
    f.y0, f.y1 = 0.0, float(top) * 1.15
    parts = f.parts
    for tick in svg.ticks(0, f.y1, 3):
        if tick != int(tick):
            continue
        y = f.y(tick)
        parts.append(
            f'<line x1="{f.left}" x2="{f.plot_right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{svg.COLOURS["grid"]}"/>'
        )
        parts.append(svg.text(f.left - 6, y + 4, f"{tick:.0f}", anchor="end", size=10))
    for month in svg.month_ticks(period[0], period[1]):
        if month < period[1]:
            parts.append(svg.text(f.x(svg.timestamp(month)) + 4, f.plot_bottom + 16, f"{month:%b}", size=10))
    for start, end, counts in points:
        x0, x1 = f.x(svg.timestamp(start)) + 2, f.x(svg.timestamp(end)) - 2
        base = 0.0
        for level in ("critical", "warn"):
            n = counts.get(level, 0)
            if not n:
                continue
            stroke = ' stroke="#5c3d00" stroke-width="0.8"' if level == "warn" else ""
            parts.append(
                f'<rect class="bar bar-{level}" x="{x0:.1f}" y="{f.y(base + n):.1f}" width="{max(x1 - x0, 1):.1f}" '
                f'height="{f.y(base) - f.y(base + n):.1f}" fill="{svg.COLOURS[level]}"{stroke}>'
                f"<title>{escape(f'{start:%d %b}: {n} {severity(level).word.lower()}')}</title></rect>"
            )
            base += n
        if base == 0:
            parts.append(svg.marker((x0 + x1) / 2, f.plot_bottom - 5, "ok", size=3.5, tooltip=f"{start:%d %b}: none"))
    parts.append(
        f'<line x1="{f.left}" x2="{f.plot_right}" y1="{f.plot_bottom}" y2="{f.plot_bottom}" stroke="{svg.COLOURS["axis"]}"/>'
    )
    return svg.root("bars", width, height, parts, label)


def interval_plot(
    rows: list[tuple[str, float | None, float | None, float | None, str]],
    *,
    label: str,
    metric: str = "",
    thresholds: svg.ThresholdLines | None = None,
    width: int = 520,
) -> Markup:
    """One row per slice: the value as a svg.marker, its interval as a whisker, thresholds as lines.

    ``rows``: ``(label, value, low, high, severity)``.
    """
    row_h = 26
    height = 20 + row_h * max(len(rows), 1) + 26
    f = svg.Frame(width, height, left=140, right=56, top=14, bottom=26)
    values = [v for _, value, low, high, _ in rows for v in (value, low, high) if v is not None]
    values += [v for _, v in (thresholds.levels() if thresholds else [])]
    if not values:
        values = [0.0, 1.0]
    f.x0, f.x1 = svg.nice_range(values, floor_zero=min(values) >= 0)
    # the plot is horizontal: reuse y() for rows and x() for values
    parts = f.parts
    for tick in svg.ticks(f.x0, f.x1):
        x = f.x(tick)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{f.top}" y2="{f.plot_bottom}" stroke="{svg.COLOURS["grid"]}"/>'
        )
        parts.append(svg.text(x, f.plot_bottom + 16, number(tick, metric), anchor="middle", size=10))
    if thresholds:
        styles = {"warn": ("6,4", svg.COLOURS["warn"]), "critical": ("10,3,2,3", svg.COLOURS["critical"])}
        for level, value in thresholds.levels():
            dash, colour = styles[level]
            x = f.x(value)
            parts.append(
                f'<line class="threshold threshold-{level}" x1="{x:.1f}" x2="{x:.1f}" y1="{f.top}" y2="{f.plot_bottom}" '
                f'stroke="{colour}" stroke-width="1.6" stroke-dasharray="{dash}"/>'
            )
    for i, (text, value, low, high, sev) in enumerate(rows):
        y = f.top + 10 + i * row_h
        parts.append(svg.text(f.left - 8, y + 4, text, size=11, anchor="end", fill=svg.COLOURS["text"]))
        if low is not None and high is not None:
            parts.append(
                f'<line class="whisker" x1="{f.x(low):.1f}" x2="{f.x(high):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                f'stroke="{svg.COLOURS["series"]}" stroke-width="2" opacity="0.7"/>'
            )
        if value is None:
            parts.append(svg.text(f.left + 4, y + 4, "too little data", size=10))
        else:
            tip = f"{text}: {number(value, metric)}" + (
                f" ({number(low, metric)}–{number(high, metric)})" if low is not None else ""
            )
            parts.append(svg.marker(f.x(value), y, sev, tooltip=tip))
            parts.append(svg.text(f.plot_right + 6, y + 4, number(value, metric), size=10, fill=svg.COLOURS["text"]))
    return svg.root("intervals", width, height, parts, label)
