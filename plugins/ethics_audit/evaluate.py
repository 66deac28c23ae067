"""Thresholds -> findings: the one place where a number becomes ok, warn or critical.

A result that its check could not compute stays ``insufficient_data`` or ``error``, whatever
its value; a result without a threshold is informational and ``ok``. With
``require_significance`` the whole confidence interval must lie beyond the bound.
"""

from __future__ import annotations

from collections.abc import Iterable

from ethics_audit.results import Bound, Finding, MetricResult, Severity, Status, Threshold


def _beyond(low: float, high: float, bound: Bound, direction: str) -> bool:
    """Is the interval [low, high] wholly beyond ``bound``? (A point is low == high.)

    Comparisons are exact and strict: the drift family relies on that to reproduce Evidently's
    own verdicts to the last float (it nudges inclusive bounds by one ulp).
    """
    if bound is None:
        return False
    if direction == "above":
        return low > bound  # type: ignore[operator]
    if direction == "below":
        return high < bound  # type: ignore[operator]
    band_low, band_high = bound  # type: ignore[misc]
    return high < band_low or low > band_high


def _has_interval(result: MetricResult) -> bool:
    return result.ci_low is not None and result.ci_high is not None


def _interval(result: MetricResult, threshold: Threshold) -> tuple[float, float]:
    value = result.value
    assert value is not None
    if threshold.require_significance and _has_interval(result):
        return result.ci_low, result.ci_high  # type: ignore[return-value]
    return value, value


def judge(result: MetricResult) -> Finding:
    if result.status is Status.ERROR:
        return Finding(result, Severity.ERROR, result.details.get("error", "the check failed"))
    if result.status is Status.INSUFFICIENT_DATA:
        return Finding(result, Severity.INSUFFICIENT_DATA, result.details.get("reason", "not enough data"))
    threshold = result.threshold
    if threshold is None or result.value is None:
        return Finding(result, Severity.OK)
    low, high = _interval(result, threshold)
    for severity, bound in ((Severity.CRITICAL, threshold.critical), (Severity.WARN, threshold.warn)):
        if _beyond(low, high, bound, threshold.direction):
            return Finding(result, severity, _reason(result, bound, threshold))
    if threshold.require_significance and _beyond(result.value, result.value, threshold.warn, threshold.direction):
        return Finding(result, Severity.OK, "beyond the warn threshold, but not significantly")
    return Finding(result, Severity.OK)


def _reason(result: MetricResult, bound: Bound, threshold: Threshold) -> str:
    if isinstance(bound, tuple):
        where = f"outside [{bound[0]:g}, {bound[1]:g}]"
    else:
        where = f"{threshold.direction} {bound:g}"
    significance = ""
    if threshold.require_significance:
        significance = " (whole interval)" if _has_interval(result) else " (no interval computed: judged on the value)"
    return f"{result.value:.4g} is {where}{significance}"


def judge_all(results: Iterable[MetricResult]) -> list[Finding]:
    return [judge(r) for r in results]


def worst(findings: Iterable[Finding]) -> Severity:
    return max((f.severity for f in findings), key=lambda s: s.rank, default=Severity.OK)
