"""How good the fairness estimates were: the quarterly report's backtest of the estimator.

Every window whose labels were all in records ``estimate_error`` (realised gap minus the gap its
scores give without labels, and whether the realised gap fell inside the estimate's interval).
This module sums those per estimated metric for one audit's windows, and lists the windows
whose gaps are still only estimated (labels not in when the report was written).
"""

from __future__ import annotations

from statistics import median
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ethics_audit.reports.model import WindowView


def estimate_quality(windows: list[WindowView]) -> dict[str, Any] | None:
    """``{"rows": [{metric, windows, within, within_share, median_abs_error}], "pending": [...]}`` or None."""
    by_metric: dict[str, list[dict[str, Any]]] = {}
    pending = []
    for w in windows:
        for f in w.findings:
            r = f.result
            if r.check != "fairness":
                continue
            if r.metric == "estimate_error" and r.value is not None:
                by_metric.setdefault(str(r.slice.get("estimated")), []).append(r.details | {"error": r.value})
            elif r.metric.startswith("estimated_") and "attribute" in r.slice and r.value is not None:
                pending.append(
                    {"start": w.start, "end": w.end, "metric": r.metric, "slice": r.slice, "value": r.value,
                     "ci_low": r.ci_low, "ci_high": r.ci_high, "severity": f.severity.value}
                )  # fmt: skip
    if not by_metric and not pending:
        return None
    rows = []
    for metric, errors in sorted(by_metric.items()):
        within = sum(bool(e.get("within_interval")) for e in errors)
        rows.append(
            {
                "metric": metric,
                "windows": len(errors),
                "within": within,
                "within_share": within / len(errors),
                "median_abs_error": median(abs(e["error"]) for e in errors),
            }
        )
    return {"rows": rows, "pending": pending}
