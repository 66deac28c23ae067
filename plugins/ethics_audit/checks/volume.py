"""The row count of a window that has no rows: a silent prediction log is itself a finding.

Great Expectations is not started for an empty window; the same two quality metrics its suite
reports for a window with rows are computed here, pure: ``row_count`` against ``min_rows``
(critical below it; the default ``min_rows`` of 1 makes every empty window critical, an explicit
0 accepts empty windows) and
``row_count_drop`` against the median of the last windows (1.0 when they had rows). They carry
the same names and thresholds as the suite's, so an empty window and a collapsed one open the
same incident.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING

from ethics_audit.results import MetricResult, Status, Threshold

if TYPE_CHECKING:
    from ethics_audit.data import AuditData
    from ethics_audit.spec import QualityConfig

EMPTY_REASON = "the window has no rows"


def empty_window(config: QualityConfig | None, data: AuditData) -> list[MetricResult]:
    """The quality results of a window without rows (``config`` None: the quality defaults)."""
    from ethics_audit.spec import QualityConfig

    config = config or QualityConfig()
    results = [
        MetricResult(
            "quality",
            "row_count",
            0,
            n=0,
            threshold=Threshold(critical=float(config.min_rows), direction="below"),
            details={"expected": {"min_value": config.min_rows}, "reason": EMPTY_REASON},
        )
    ]
    history = data.row_count_history[-config.row_count_history_windows :]
    if history and statistics.median(history) > 0:
        median = float(statistics.median(history))
        results.append(
            MetricResult(
                "quality",
                "row_count_drop",
                1.0,
                n=0,
                threshold=config.thresholds.get("row_count_drop"),
                details={"median_of_history": median, "history": history, "reason": EMPTY_REASON},
            )
        )
    else:
        reason = "no earlier windows with rows yet" if not history else "the earlier windows had no rows"
        results.append(
            MetricResult(
                "quality",
                "row_count_drop",
                None,
                n=0,
                status=Status.INSUFFICIENT_DATA,
                details={"reason": reason, "history": history},
            )
        )
    return results
