"""Findings for incident tests, built the way the check families build them, and a way to record
them as one audit window of a spec (``Store.begin_run`` + ``recording.record_window``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ethics_audit.evaluate import judge_all
from ethics_audit.recording import record_window
from ethics_audit.results import MetricResult, Status, Threshold
from helpers import WINDOW_START

DP = Threshold(warn=0.1, critical=0.2)
RATIO = Threshold(warn=0.8, critical=0.6, direction="below")


def fairness(dp: float | None = 0.05, ratio: float = 0.95, *, intersection: float | None = None) -> list[MetricResult]:
    """A gender gap: parity difference and ratio for gender, optionally an intersection's difference."""
    results = [
        MetricResult("fairness", "selection_rate", 0.3, slice={"gender": "f"}, n=500),
        MetricResult(
            "fairness",
            "demographic_parity_difference",
            dp,
            slice={"attribute": "gender"},
            ci_low=None if dp is None else dp - 0.02,
            ci_high=None if dp is None else dp + 0.02,
            n=1000,
            threshold=DP,
            status=Status.COMPUTED if dp is not None else Status.INSUFFICIENT_DATA,
            details={} if dp is not None else {"reason": "fewer than 30 rows in a group"},
        ),
        MetricResult(
            "fairness", "demographic_parity_ratio", ratio, slice={"attribute": "gender"}, n=1000, threshold=RATIO
        ),
    ]
    if intersection is not None:
        results.append(
            MetricResult(
                "fairness",
                "demographic_parity_difference",
                intersection,
                slice={"attribute": "gender×age_band"},
                n=900,
                threshold=DP,
            )
        )
    return results


def pii(email_share: float = 0.0) -> list[MetricResult]:
    return [
        MetricResult(
            "privacy",
            "email_share",
            email_share,
            slice={"column": "post_text"},
            n=1000,
            threshold=Threshold(0.0, 0.001),
        )
    ]


def consent(after_withdrawal: float = 0.0) -> list[MetricResult]:
    return [
        MetricResult(
            "privacy", "predictions_after_withdrawal", after_withdrawal, n=1000, threshold=Threshold(None, 0.0)
        )
    ]


def drift(share: float = 0.1) -> list[MetricResult]:
    return [MetricResult("drift", "drift_share", share, n=1000, threshold=Threshold(0.25, 0.5))]


def failed(check: str, message: str = "column 'gender' is missing") -> list[MetricResult]:
    return [MetricResult(check, "check_error", None, status=Status.ERROR, details={"error": message})]


def week_start(week: int) -> Any:
    return WINDOW_START + timedelta(weeks=week)


def record(store: Any, spec: Any, week: int, results: list[MetricResult]) -> dict[str, Any]:
    """Record ``results`` as window ``week`` (0 = WINDOW_START) and, as the runner does after the
    commit, render the run report its notifications link; returns the incident changes."""
    from ethics_audit.runner import publish_report

    start = week_start(week)
    run_id = store.begin_run(spec, start, start + timedelta(weeks=1))
    changes = record_window(
        store,
        run_id,
        spec,
        judge_all(results),
        status="succeeded",
        rows=1000,
        reference_rows=None,
        timings={},
        summary={},
    )
    publish_report(store, run_id, spec.id)
    return changes


def write_scores(folder: Any, scores: list[float], week: int = 0) -> None:
    """One week of predictions (hourly rows with these scores) as parquet, for runner tests."""
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    start = week_start(week)
    pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(len(scores))],
            "ts": pd.date_range(start, periods=len(scores), freq="1h", tz="UTC"),
            "score": scores,
        }
    ).to_parquet(folder / f"{start:%Y%m%d}.parquet")
