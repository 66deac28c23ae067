"""The pieces every report chart is drawn with: colours, the plot frame and its scales, text, markers, ticks.

Severity is always shown three ways: colour, marker shape and words, so the charts read in
greyscale and for colour-blind readers. Every piece of text goes through ``escape``: labels
come from specs and data (model names, category values) and must never become markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape

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
class Frame:
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


def timestamp(value: datetime) -> float:
    return value.timestamp()


def root(kind: str, width: int, height: int, parts: list[str], label: str) -> Markup:
    body = "".join(parts)
    return Markup(
        f'<svg class="chart" data-chart="{kind}" role="img" aria-label="{escape(label)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" preserveAspectRatio="xMidYMid meet" '
        f'xmlns="http://www.w3.org/2000/svg" {FONT}><title>{escape(label)}</title>{body}</svg>'
    )


def text(
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


def nice_range(values: list[float], *, floor_zero: bool) -> tuple[float, float]:
    low, high = min(values), max(values)
    if floor_zero and low >= 0:
        low = 0.0
    if high - low < 1e-12:
        pad = abs(high) * 0.5 or 1.0
        return low - (0 if floor_zero and low == 0 else pad), high + pad
    pad = (high - low) * 0.12
    return (low if floor_zero and low == 0 else low - pad), high + pad


def ticks(low: float, high: float, count: int = 4) -> list[float]:
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


def month_ticks(start: datetime, end: datetime) -> list[datetime]:
    months = []
    cursor = datetime(start.year, start.month, 1, tzinfo=start.tzinfo)
    if cursor < start:
        cursor = datetime(cursor.year + (cursor.month == 12), cursor.month % 12 + 1, 1, tzinfo=start.tzinfo)
    while cursor <= end:
        months.append(cursor)
        cursor = datetime(cursor.year + (cursor.month == 12), cursor.month % 12 + 1, 1, tzinfo=start.tzinfo)
    return months
