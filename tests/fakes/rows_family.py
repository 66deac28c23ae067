"""A check family that reads the window only through ``engine.rows_of`` (``READS_ROWS``)."""

from __future__ import annotations

from typing import Any

from ethics_audit import engine
from ethics_audit.results import MetricResult, Threshold

READS_ROWS = True
SEEN: list[Any] = []


def run(config: Any, data: Any) -> list[MetricResult]:
    SEEN.append(data.current)  # the test checks that nothing loaded the frame for this family
    rows = engine.rows_of(data, "current")
    column = data.spec.columns.score
    mean = float(rows.execute(rows.table[column].mean()))
    family = type(config).__name__.removesuffix("Config").lower()
    return [MetricResult(family, "mean_score", mean, n=rows.count(), threshold=Threshold(warn=0.5, critical=0.8))]
