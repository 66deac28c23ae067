"""Thresholds -> severities, intervals and significance; windows and durations."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ethics_audit.evaluate import judge, worst
from ethics_audit.results import MetricResult, Severity, Status, Threshold
from ethics_audit.windows import iter_windows, parse_duration, parse_quarter

UTC = timezone.utc


def result(value, threshold, ci=(None, None), status=Status.COMPUTED) -> MetricResult:
    return MetricResult("c", "m", value, ci_low=ci[0], ci_high=ci[1], threshold=threshold, status=status)


@pytest.mark.parametrize(
    ("value", "threshold", "expected"),
    [
        (0.05, Threshold(warn=0.1, critical=0.2), Severity.OK),
        (0.1, Threshold(warn=0.1, critical=0.2), Severity.OK),  # a breach is strictly beyond the bound
        (0.15, Threshold(warn=0.1, critical=0.2), Severity.WARN),
        (0.25, Threshold(warn=0.1, critical=0.2), Severity.CRITICAL),
        (0.7, Threshold(warn=0.8, critical=0.6, direction="below"), Severity.WARN),
        (0.5, Threshold(warn=0.8, critical=0.6, direction="below"), Severity.CRITICAL),
        (1.3, Threshold(warn=(0.8, 1.25), critical=(0.6, 1.67), direction="outside"), Severity.WARN),
        (0.55, Threshold(warn=(0.8, 1.25), critical=(0.6, 1.67), direction="outside"), Severity.CRITICAL),
        (1.0, Threshold(warn=(0.8, 1.25), critical=(0.6, 1.67), direction="outside"), Severity.OK),
        (1.0, Threshold(critical=0.0), Severity.CRITICAL),  # "any card number is critical"
        (0.0, Threshold(critical=0.0), Severity.OK),
        (5.0, None, Severity.OK),
    ],
)
def test_point_values(value, threshold, expected) -> None:
    assert judge(result(value, threshold)).severity is expected


def test_significance_needs_the_whole_interval_beyond_the_bound() -> None:
    t = Threshold(warn=0.1, critical=0.2, require_significance=True)
    assert judge(result(0.15, t, ci=(0.05, 0.25))).severity is Severity.OK
    assert "not significantly" in judge(result(0.15, t, ci=(0.05, 0.25))).reason
    assert judge(result(0.15, t, ci=(0.11, 0.19))).severity is Severity.WARN
    assert judge(result(0.3, t, ci=(0.21, 0.4))).severity is Severity.CRITICAL
    assert judge(result(0.3, t, ci=(0.15, 0.4))).severity is Severity.WARN
    no_interval = judge(result(0.15, t))
    assert no_interval.severity is Severity.WARN and "no interval computed" in no_interval.reason
    below = Threshold(warn=0.8, direction="below", require_significance=True)
    assert judge(result(0.7, below, ci=(0.6, 0.85))).severity is Severity.OK
    assert judge(result(0.7, below, ci=(0.6, 0.79))).severity is Severity.WARN


def test_status_wins_over_value() -> None:
    insufficient = result(0.9, Threshold(warn=0.1), status=Status.INSUFFICIENT_DATA)
    assert judge(insufficient).severity is Severity.INSUFFICIENT_DATA
    error = MetricResult("c", "check_error", None, status=Status.ERROR, details={"error": "boom"})
    finding = judge(error)
    assert finding.severity is Severity.ERROR and finding.reason == "boom"


def test_worst_orders_critical_first() -> None:
    findings = [judge(result(0.15, Threshold(warn=0.1))), judge(result(0.0, None))]
    assert worst(findings) is Severity.WARN
    assert worst([]) is Severity.OK


def test_threshold_round_trips_and_rejects_mixed_shapes() -> None:
    t = Threshold(warn=(0.8, 1.25), critical=(0.6, 1.6), direction="outside", require_significance=True)
    assert Threshold.from_dict(t.to_dict()) == t
    with pytest.raises(ValueError):
        Threshold(warn=0.8, direction="outside")
    with pytest.raises(ValueError):
        Threshold(warn=(0.8, 1.2), direction="above")


def test_metric_result_cleans_numbers_and_round_trips() -> None:
    import numpy as np

    r = MetricResult("c", "m", np.float64("nan"), ci_low=np.float32(0.5), n=np.int64(3), slice={"b": 1, "a": 2})
    assert r.value is None and isinstance(r.ci_low, float) and r.n == 3
    assert r.slice_key == '{"a":2,"b":1}'
    assert MetricResult.from_dict(r.to_dict()) == r


def test_durations_windows_and_quarters() -> None:
    assert parse_duration("P2W") == timedelta(weeks=2)
    assert parse_duration("90m") == timedelta(minutes=90)
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")
    start = datetime(2026, 7, 6, tzinfo=UTC)
    windows = list(iter_windows(start, start + timedelta(days=20), timedelta(days=7)))
    assert windows == [(start, start + timedelta(days=7)), (start + timedelta(days=7), start + timedelta(days=14))]
    assert parse_quarter("2026Q3") == (datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC))
    assert parse_quarter("2026q4") == (datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="2026Q3"):
        parse_quarter("Q3")
