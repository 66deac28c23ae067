"""Issue 14, part 5: error rates and their gaps estimated from calibrated scores while labels are
late; refused where a group's scores are not calibrated; backtested once labels arrive; on the demo
the estimates of the unlabelled weeks hold the realised gaps the revealed labels give."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ethics_audit import demo
from ethics_audit.checks import fairness
from ethics_audit.evaluate import judge_all
from ethics_audit.results import Severity, slice_key
from helpers import WINDOW_START, make_data, make_spec

REPO = Path(__file__).resolve().parents[2]


def _frame(n: int, seed: int, *, shift_x: float = 0.0, labelled: bool = True) -> pd.DataFrame:
    """Calibrated scores (labels drawn from them); group x's labels are drawn from score + shift_x."""
    rng = np.random.default_rng(seed)
    gender = rng.choice(["f", "m", "x"], n, p=[0.45, 0.45, 0.1])
    score = rng.beta(2, 5, n)
    truth = np.clip(score + np.where(gender == "x", shift_x, 0.0), 0, 1)
    frame = pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(n)],
            "ts": pd.Timestamp(WINDOW_START),
            "gender": gender,
            "score": np.round(score, 4),
            "pred": (score >= 0.35).astype(int),
            "label": (rng.random(n) < truth).astype(float),
        }
    )
    if not labelled:
        frame["label"] = np.nan
    return frame


def _spec():
    return make_spec(
        {
            "columns": {"prediction": "pred", "label": "label", "score": "score", "sensitive": ["gender"]},
            "checks": {"fairness": {"bootstrap": {"resamples": 200, "seed": 3}}},
        }
    )


def _run(window: pd.DataFrame, reference: pd.DataFrame) -> dict:
    spec = _spec()
    results = fairness.run(spec.checks.fairness, make_data(spec, window, reference=reference))
    return {(r.metric, slice_key(r.slice)): f for r, f in zip(results, judge_all(results), strict=True)}


def _get(found: dict, metric: str, **slice_):
    return found[(metric, slice_key(slice_))]


def test_estimates_follow_the_expected_confusion_counts():
    window = _frame(6000, 1, labelled=False)
    found = _run(window, _frame(8000, 2))
    f = window[window["gender"] == "f"]
    expected_tpr = (f["score"] * f["pred"]).sum() / f["score"].sum()
    expected_fpr = ((1 - f["score"]) * f["pred"]).sum() / (1 - f["score"]).sum()
    tpr = _get(found, "estimated_true_positive_rate", gender="f").result
    assert tpr.value == pytest.approx(expected_tpr, abs=1e-9) and tpr.ci_low < tpr.value < tpr.ci_high
    assert _get(found, "estimated_false_positive_rate", gender="f").result.value == pytest.approx(expected_fpr)
    precision = (f["score"] * f["pred"]).sum() / f["pred"].sum()
    assert _get(found, "estimated_precision", gender="f").result.value == pytest.approx(precision)
    eod = _get(found, "estimated_equalized_odds_difference", attribute="gender")
    assert eod.result.value is not None and eod.result.details["estimate"] is True
    # estimates never stand in for the realised metric, which waits for its labels
    assert _get(found, "equalized_odds_difference", attribute="gender").severity is Severity.INSUFFICIENT_DATA
    # and every group's calibration on the reference is on record
    assert _get(found, "score_calibration_error", gender="x").result.details["calibrated"] is True


def test_an_uncalibrated_group_is_refused_with_the_reason():
    reference = _frame(8000, 2, shift_x=0.25)  # x's scores understate its positives badly
    found = _run(_frame(6000, 1, labelled=False), reference)
    calibration = _get(found, "score_calibration_error", gender="x").result
    assert calibration.value > 0.05 and calibration.details["calibrated"] is False
    x = _get(found, "estimated_true_positive_rate", gender="x")
    assert x.severity is Severity.INSUFFICIENT_DATA and "not calibrated" in x.reason
    assert _get(found, "estimated_true_positive_rate", gender="f").result.value is not None
    for metric in ("estimated_equalized_odds_difference", "estimated_equal_opportunity_difference"):
        gap = _get(found, metric, attribute="gender")
        assert gap.severity is Severity.INSUFFICIENT_DATA
        assert "not estimated: x: the scores are not calibrated" in gap.reason and "calibration error" in gap.reason


def test_no_reference_no_estimate():
    spec = _spec()
    results = fairness.run(spec.checks.fairness, make_data(spec, _frame(3000, 1, labelled=False)))
    gap = next(r for r in results if r.metric == "estimated_equalized_odds_difference")
    assert gap.value is None and "no reference" in gap.details["reason"]


def test_a_breach_on_an_estimate_only_warns():
    window = _frame(6000, 1, labelled=False)
    window.loc[window["gender"] == "x", "pred"] = 1  # x is shown everything: a large error-rate gap
    found = _run(window, _frame(8000, 2))
    eod = _get(found, "estimated_equalized_odds_difference", attribute="gender")
    assert eod.result.value > 0.2 and eod.result.ci_low > 0.2  # beyond the realised metric's critical level
    assert eod.severity is Severity.WARN and eod.result.threshold.critical is None


def test_a_labelled_window_backtests_the_estimate():
    found = _run(_frame(6000, 1), _frame(8000, 2))
    error = _get(found, "estimate_error", attribute="gender", estimated="equalized_odds_difference").result
    realised = _get(found, "equalized_odds_difference", attribute="gender").result.value
    assert error.details["realised"] == realised
    assert error.value == pytest.approx(realised - error.details["estimated"])
    assert error.details["within_interval"] is True
    assert not [k for k in found if k[0].startswith("estimated_")]  # no estimates beside realised values


def test_estimates_never_page():
    from ethics_audit.lifecycle.alerts import estimates_only

    assert estimates_only({"incidents": [{"metric": "estimated_equalized_odds_difference"}]})
    assert not estimates_only({"incidents": [{"metric": "estimated_equalized_odds_difference"}, {"metric": "x"}]})
    assert not estimates_only({"incidents": []})


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("estimate_demo")
    demo.generate(home / "demo", weeks=12)
    return home


def _week(home: Path, week: int, monkeypatch: pytest.MonkeyPatch) -> dict:
    from ethics_audit.sources import load_window
    from ethics_audit.spec import load_spec

    monkeypatch.setenv("ETHICS_AUDIT_HOME", str(home))
    spec = load_spec(REPO / demo.DEMO_SPEC)
    start, end = demo.week_window(week)
    results = fairness.run(spec.checks.fairness, load_window(spec, start, end, now=end + pd.Timedelta(days=1)))
    return {(r.metric, slice_key(r.slice)): r for r in results}


def test_on_the_demo_the_estimates_hold_the_gaps_the_revealed_labels_give(demo_home: Path, monkeypatch) -> None:
    gaps = ("equalized_odds_difference", "equal_opportunity_difference", "equalized_odds_ratio")
    before = {week: _week(demo_home, week, monkeypatch) for week in (11, 12)}
    demo.generate(demo_home / "demo", weeks=12, late_labels=False)  # the late clicks arrive
    after = {week: _week(demo_home, week, monkeypatch) for week in (11, 12)}
    checked = 0
    for week in (11, 12):
        for attribute in ("gender", "age_band"):
            for gap in gaps:
                key = slice_key({"attribute": attribute})
                estimate = before[week][("estimated_" + gap, key)]
                realised = after[week][(gap, key)]
                assert estimate.ci_low <= realised.value <= estimate.ci_high, (week, attribute, gap)
                error = after[week][("estimate_error", slice_key({"attribute": attribute, "estimated": gap}))]
                if week == 12:  # no label had arrived: the backtest reproduces the estimate that was given
                    assert error.details["estimated"] == pytest.approx(estimate.value)
                assert error.details["within_interval"]
                checked += 1
    assert checked == 12
    # week 12 had no labels at all: its realised gaps were unknown, its estimates were not
    assert before[12][("equalized_odds_difference", slice_key({"attribute": "gender"}))].value is None
