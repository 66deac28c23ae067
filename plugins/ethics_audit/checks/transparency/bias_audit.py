"""Counts per category for a bias-audit table (NYC Local Law 144): who was selected, who scored high.

For every group of each sensitive attribute and intersection, including groups of unknown
category (a missing value) and groups of any size (the law wants them all, with those under 2%
flagged), it records how many rows had a decision and how many were selected (a decision other
than ``adverse_decision``), and, when the model has a score, how many scored above the window's
median score (the law's "scoring rate" for models that only score). These are plain counts
without thresholds: ``ethics-audit export --format ll144`` sums them over a quarter and derives
the rates and impact ratios from the results store alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ethics_audit.checks.transparency.groups import WHERE, Results, cell_table, encode, tables_of_cells
from ethics_audit.errors import DataError

if TYPE_CHECKING:
    from ethics_audit.checks.fairness.inputs import Groups
    from ethics_audit.data import AuditData
    from ethics_audit.results import MetricResult
    from ethics_audit.spec import TransparencyConfig


def run(config: TransparencyConfig, data: AuditData) -> list[MetricResult]:
    columns = data.columns
    frame = data.current
    if columns.prediction is None and columns.score is None:
        return []
    attributes, groups = encode(config, data)
    parts = []
    if columns.prediction is not None:
        if columns.prediction not in frame.columns:
            raise DataError(f"{WHERE}: columns.prediction names {columns.prediction!r}, which is not a column")
        decision = frame[columns.prediction]
        selected = (decision.notna() & (decision != config.adverse_decision)).to_numpy()
        parts.append(("selected_count", np.where(decision.notna().to_numpy(), selected, -1)))
    if columns.score is not None and columns.score in frame.columns:
        score = frame[columns.score].to_numpy(dtype=np.float64, na_value=np.nan)
        present = ~np.isnan(score)
        if present.any():
            median = float(np.median(score[present]))
            parts.append(("above_median_score_count", np.where(present, score > median, -1)))
    counted = [(metric, cell_table(groups, category.astype(np.int64), 2)) for metric, category in parts]
    return report(config, attributes, groups, counted)


def report(
    config: TransparencyConfig, attributes: list[str], groups: Groups, parts: list[tuple[str, np.ndarray]]
) -> list[MetricResult]:
    """Per metric, its (cells, 2) table of rows (not counted, counted): every group's count and rows."""
    results = Results(config)
    for metric, table in parts:
        for gt in tables_of_cells(attributes, groups, table, config, resample=False):
            for g, slice_ in enumerate(gt.slices):
                results.add(metric, int(gt.table[g, 1]), slice_, n=int(gt.table[g].sum()))
    return results.out
