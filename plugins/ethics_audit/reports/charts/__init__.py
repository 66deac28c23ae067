"""Small inline-SVG charts for the reports: trends with intervals and thresholds, status strips, bars.

Hand-written SVG keeps a report self-contained (no script, no network request), crisp when
printed and a few kilobytes per chart. Severity is always shown three ways: colour, marker
shape and words in the tooltip or legend, so the charts read in greyscale and for
colour-blind readers. Every piece of text goes through ``escape``: labels come from specs and
data (model names, category values) and must never become markup. Each chart's root element
carries ``data-chart="<kind>"`` so tests (and screenshots) can find it.

The pieces: ``svg`` (colours, frame, text, markers, ticks), ``trend`` (the trend chart) and
``plots`` (status strip, count bars, interval plot).
"""

from __future__ import annotations

from ethics_audit.reports.charts.plots import count_bars, interval_plot, status_strip
from ethics_audit.reports.charts.svg import CELL_FILL, CELL_TEXT, COLOURS, ZONE_FILL, ThresholdLines, marker
from ethics_audit.reports.charts.trend import TrendPoint, trend_chart

__all__ = [
    "CELL_FILL",
    "CELL_TEXT",
    "COLOURS",
    "ZONE_FILL",
    "ThresholdLines",
    "TrendPoint",
    "count_bars",
    "interval_plot",
    "marker",
    "status_strip",
    "trend_chart",
]
