"""The quarterly report's trend charts: each headline measure per window over the quarter.

Per model: the fairness headline gaps per attribute set, the drift share, the transparency
trends (``reports.transparency``), each with its interval as a band and its warning and
critical levels drawn; and the privacy findings per window as stacked bars.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ethics_audit.reports import charts, transparency
from ethics_audit.reports.present import measure_text

if TYPE_CHECKING:
    from ethics_audit.reports.model import WindowView

# The headline metrics charted per model: small, explicit lists (everything else is in the tables).
FAIRNESS_HEADLINES = ("demographic_parity_difference", "equalized_odds_difference")
DRIFT_HEADLINES = ("drift_share",)


def _trend(windows: list[WindowView], check: str, metric: str, slice_: dict[str, Any]) -> list[charts.TrendPoint]:
    points = []
    for w in windows:
        if not w.audited:
            continue
        match = next(
            (
                f
                for f in w.findings
                if f.result.check == check and f.result.metric == metric and f.result.slice == slice_
            ),
            None,
        )
        if match is None:
            continue
        r = match.result
        note = match.reason if match.severity.value in ("insufficient_data", "error") else ""
        points.append(charts.TrendPoint(w.start, w.end, r.value, r.ci_low, r.ci_high, match.severity.value, note))
    return points


def _threshold_of(windows: list[WindowView], check: str, metric: str, slice_: dict[str, Any]) -> dict[str, Any] | None:
    """The newest threshold recorded for the metric in the quarter (what the reader should compare with)."""
    for w in reversed(windows):
        for f in w.findings:
            r = f.result
            if r.check == check and r.metric == metric and r.slice == slice_ and r.threshold:
                return r.threshold.to_dict()
    return None


def _slices_of(
    windows: list[WindowView], check: str, metric: str, *, keys: set[str] | None = None
) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for w in windows:
        for f in w.findings:
            r = f.result
            if r.check == check and r.metric == metric and (keys is None or set(r.slice) == keys):
                seen.setdefault(r.slice_key, r.slice)
    return [seen[k] for k in sorted(seen, key=lambda k: (len(seen[k].get("attribute", "")), k))]


# what each trend chart's note says, per family
_TREND_NOTES = {
    "fairness": "Gap between the groups with the highest and lowest rate; the band is its 95% interval.",
    "drift": "Share of the audited columns whose distribution moved away from the reference.",
}


def _trend_chart(
    windows: list[WindowView], period: tuple[datetime, datetime], family: str, metric: str, slice_: dict[str, Any]
) -> dict[str, Any] | None:
    """One metric's trend over the quarter with its thresholds; None when it was never measured."""
    points = _trend(windows, family, metric, slice_)
    if not any(p.value is not None for p in points):
        return None
    threshold = _threshold_of(windows, family, metric, slice_)
    title = measure_text(metric, slice_)
    return {
        "family": family,
        "title": title,
        "note": transparency.NOTES.get(metric) or _TREND_NOTES[family],
        "threshold": threshold,
        "metric": metric,
        "svg": charts.trend_chart(
            points, period=period, label=title, metric=metric, thresholds=charts.ThresholdLines.from_dict(threshold)
        ),
    }


def trend_charts(
    windows: list[WindowView], period: tuple[datetime, datetime], unit: str = "week"
) -> list[dict[str, Any]]:
    wanted = [
        ("fairness", metric, slice_)
        for metric in FAIRNESS_HEADLINES
        for slice_ in _slices_of(windows, "fairness", metric, keys={"attribute"})
    ] + [("drift", metric, slice_) for metric in DRIFT_HEADLINES for slice_ in _slices_of(windows, "drift", metric)]
    wanted += transparency.headlines(_slices_of, windows)
    out = [chart for f, m, sl in wanted if (chart := _trend_chart(windows, period, f, m, sl)) is not None]
    privacy = [(w.start, w.end, _counts(w, "privacy")) for w in windows if w.audited]
    if any(f.result.check == "privacy" for w in windows for f in w.findings):
        out.append(
            {
                "family": "privacy",
                "title": f"Privacy findings per {unit}",
                "note": "Number of privacy checks (personal data in the logs, consent, retention, re-identification) "
                "that crossed their warning or critical level.",
                "threshold": None,
                "metric": "",
                "svg": charts.count_bars(privacy, period=period, label=f"Privacy findings per {unit}"),
            }
        )
    return out


def _counts(window: WindowView, family: str) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for f in window.findings:
        if f.result.check == family:
            counts[f.severity.value] += 1
    return dict(counts)
