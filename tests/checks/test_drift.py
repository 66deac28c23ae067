"""Behaviour of the drift family: injected shifts are flagged exactly, identical data is clean,
missing or small references are insufficient_data, bad specs and data are clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ethics_audit.checks import CHECKS, drift
from ethics_audit.errors import DataError, SpecError
from ethics_audit.evaluate import judge
from ethics_audit.results import Severity, Status
from helpers import make_data, make_spec

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

FEATURES = ["age", "income", "visits", "device", "plan"]


def window(n: int, seed: int, *, shift: float = 0.0, new_category: float = 0.0) -> pd.DataFrame:
    """``shift``: mean shift of ``income`` in standard deviations; ``new_category``: share of
    ``device`` values replaced by a category the reference never had."""
    rng = np.random.default_rng(seed)
    device = rng.choice(["ios", "android", "web"], n, p=[0.4, 0.45, 0.15]).astype(object)
    device[rng.random(n) < new_category] = "smart_tv"
    score = rng.beta(2, 5, n)
    return pd.DataFrame(
        {
            "user_id": np.arange(n),
            "ts": pd.Timestamp("2026-07-06", tz="UTC") + pd.to_timedelta(rng.integers(0, 7 * 86400, n), unit="s"),
            "age": rng.integers(18, 80, n),
            "income": rng.normal(50_000 + shift * 12_000, 12_000, n),
            "visits": rng.poisson(3, n),
            "device": device,
            "plan": rng.choice(["free", "pro"], n, p=[0.8, 0.2]),
            "score": score,
            "shown": (score > 0.4).astype(int),
            "clicked": (rng.random(n) < score).astype(float),
        }
    )


def spec(**drift_config):
    return make_spec(
        {
            "reference": {"previous_windows": 4},
            "columns": {"features": FEATURES, "score": "score", "prediction": "shown", "label": "clicked"},
            "checks": {"drift": drift_config},
        }
    )


def run(current: pd.DataFrame, reference: pd.DataFrame | None, **drift_config):
    s = spec(**drift_config)
    return drift.run(s.checks.drift, make_data(s, current, reference))


def by_column(results):
    return {r.slice["column"]: r for r in results if r.metric == "column_drift"}


def breaches(results) -> dict[str, Severity]:
    return {r.slice.get("column", "*"): f.severity for r in results if (f := judge(r)).severity.is_breach}


def test_registered_in_order() -> None:
    assert list(CHECKS)[:2] == ["quality", "drift"]
    assert CHECKS["drift"] == "ethics_audit.checks.drift"
    assert set(drift.METHODS) == {"column_drift", "drift_share"}


def shifted(reference: pd.DataFrame, *, shift: float, new_category: float, seed: int) -> pd.DataFrame:
    """The reference's rows reshuffled, with ``income`` moved by ``shift`` standard deviations and
    a share ``new_category`` of ``device`` replaced by a category the reference never had."""
    rng = np.random.default_rng(seed)
    current = reference.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    current["income"] = current["income"] + shift * reference["income"].std()
    current.loc[rng.random(len(current)) < new_category, "device"] = "smart_tv"
    return current


@pytest.mark.parametrize("n_ref", [600, 5000], ids=["ks-chisquare", "wasserstein-jensenshannon"])
def test_flags_exactly_the_shifted_columns(n_ref: int) -> None:
    reference = window(n_ref, seed=1)
    results = run(shifted(reference, shift=0.5, new_category=0.1, seed=2), reference)
    assert breaches(results) == {"income": Severity.WARN, "device": Severity.WARN}
    columns = by_column(results)
    assert [c for c, r in columns.items() if r.details["drifted"]] == ["income", "device"]
    share = results[-1]
    assert share.metric == "drift_share"
    assert share.value == pytest.approx(2 / 8)
    assert share.n == 8
    assert share.details["drifted_columns"] == ["income", "device"]
    expected = {600: ("ks", "chisquare"), 5000: ("wasserstein", "jensenshannon")}[n_ref]
    assert (columns["income"].details["method"], columns["device"].details["method"]) == expected
    if n_ref == 5000:
        assert columns["income"].value == pytest.approx(0.5, rel=0.02)  # the normed Wasserstein distance


def test_independent_samples_of_one_distribution_flag_nothing_with_distances() -> None:
    """Above 1,000 reference rows Evidently's defaults are distances, robust to sampling noise:
    two samples of the same distribution are clean, an injected shift in a fresh sample is not."""
    reference = window(5000, seed=1)
    assert breaches(run(window(5000, seed=2), reference)) == {}
    results = run(window(5000, seed=3, shift=0.5, new_category=0.1), reference)
    assert breaches(results) == {"income": Severity.WARN, "device": Severity.WARN}


def test_identical_data_flags_nothing_and_scores_are_exact() -> None:
    reference = window(3000, seed=3)
    results = run(reference.copy(), reference)
    assert breaches(results) == {}
    columns = by_column(results)
    assert len(columns) == 8
    for name, result in columns.items():
        assert result.details["drifted"] is False
        # identical samples: distance 0, or (for the categorical 0/1 "shown") Jensen-Shannon 0
        assert result.value == pytest.approx(0.0, abs=1e-12), name
    assert results[-1].value == 0.0
    small = run(reference.iloc[:500].copy(), reference.iloc[:500])
    assert all(r.value == pytest.approx(1.0) for r in by_column(small).values())  # p-values of 1


def test_output_columns_use_output_severity() -> None:
    reference = window(3000, seed=4)
    current = reference.copy()
    current["score"] = np.clip(current["score"] + 0.2, 0, 1)
    assert breaches(run(current, reference)) == {"score": Severity.CRITICAL}
    assert breaches(run(current, reference, output_severity="warn")) == {"score": Severity.WARN}
    current["income"] = current["income"] * 2
    assert breaches(run(current, reference, column_severity="critical", output_severity="warn")) == {
        "score": Severity.WARN,
        "income": Severity.CRITICAL,
    }


def test_drift_share_threshold() -> None:
    reference = window(3000, seed=5)
    current = reference.copy()
    for column in ("age", "income", "visits"):
        current[column] = current[column] * 3
    results = run(current, reference)
    share = results[-1]
    assert share.value == pytest.approx(3 / 8)
    assert judge(share).severity is Severity.WARN  # 0.375 > 0.25
    results = run(current, reference, thresholds={"drift_share": {"warn": 0.5, "critical": 0.9}})
    assert judge(results[-1]).severity is Severity.OK


def test_spec_method_per_type_and_column_and_threshold_precedence() -> None:
    reference, current = window(3000, seed=6), window(3000, seed=7, shift=0.05)
    results = by_column(
        run(
            current,
            reference,
            stattest={"stattest": "psi", "threshold": 0.2},
            per_type={"numerical": {"stattest": "ks"}},
            per_column={"income": {"stattest": "t_test", "threshold": 0.01}, "plan": {"threshold": 0.3}},
        )
    )
    assert (results["income"].details["method"], results["income"].details["threshold"]) == ("t_test", 0.01)
    assert (results["age"].details["method"], results["age"].details["threshold"]) == ("ks", 0.2)
    assert (results["device"].details["method"], results["device"].details["threshold"]) == ("psi", 0.2)
    assert (results["plan"].details["method"], results["plan"].details["threshold"]) == ("psi", 0.3)
    assert all(r.details["chosen_by"] == "spec" for r in results.values())


def test_column_types_override_inference() -> None:
    reference, current = window(3000, seed=8), window(3000, seed=9)
    results = by_column(run(current, reference, column_types={"visits": "categorical", "shown": "numerical"}))
    assert results["visits"].details["column_type"] == "categorical"
    assert results["visits"].details["method"] == "jensenshannon"
    assert results["shown"].details["column_type"] == "numerical"


def test_no_reference_is_insufficient_never_a_pass() -> None:
    results = run(window(500, seed=1), None)
    assert {r.status for r in results} == {Status.INSUFFICIENT_DATA}
    assert {judge(r).severity for r in results} == {Severity.INSUFFICIENT_DATA}
    assert len(results) == 9  # eight columns and the share
    assert "no reference data" in results[-1].details["reason"]


def test_empty_reference_without_columns_is_insufficient() -> None:
    results = run(window(500, seed=1), pd.DataFrame())
    assert {r.status for r in results} == {Status.INSUFFICIENT_DATA}


def test_too_small_reference_is_insufficient() -> None:
    results = run(window(500, seed=1), window(20, seed=2))
    assert {r.status for r in results} == {Status.INSUFFICIENT_DATA}
    assert "fewer than min_reference_rows=30" in results[-1].details["reason"]
    results = run(window(500, seed=1), window(20, seed=2), min_reference_rows=10)
    assert {r.status for r in results} == {Status.COMPUTED}


def test_unlabelled_window_and_partly_labelled_reference() -> None:
    reference = window(3000, seed=10)
    reference.loc[reference.index[:2000], "clicked"] = np.nan  # late labels: partly labelled
    current = window(3000, seed=11)
    current["clicked"] = np.nan
    results = run(current, reference)
    columns = by_column(results)
    assert columns["clicked"].status is Status.INSUFFICIENT_DATA
    assert "0 usable values in the window" in columns["clicked"].details["reason"]
    assert results[-1].n == 7 and results[-1].details["insufficient_columns"] == ["clicked"]
    current["clicked"] = (np.random.default_rng(0).random(3000) < 0.3).astype(float)
    columns = by_column(run(current, reference))
    assert columns["clicked"].status is Status.COMPUTED
    assert columns["clicked"].details["reference_n"] == 1000


def test_label_absent_from_reference_is_insufficient_but_a_feature_is_an_error() -> None:
    reference, current = window(3000, seed=12), window(3000, seed=13)
    results = by_column(run(current, reference.drop(columns="clicked")))
    assert results["clicked"].status is Status.INSUFFICIENT_DATA
    with pytest.raises(DataError, match=r"\['plan'\] are in the window but not in the reference"):
        run(current, reference.drop(columns="plan"))


def test_clear_errors() -> None:
    reference, current = window(3000, seed=14), window(3000, seed=15)
    with pytest.raises(DataError, match=r"checks.drift: \['plan'\] not among the window's columns"):
        run(current.drop(columns="plan"), reference)
    texty = current.assign(plan=[f"note {i}" for i in range(len(current))])
    with pytest.raises(DataError, match=r"column 'plan' holds free text.*checks.drift.column_types.plan"):
        run(texty, reference)
    with pytest.raises(DataError, match=r"checks.drift.per_column.income: Evidently's 'chisquare' does not apply"):
        run(current, reference, per_column={"income": {"stattest": "chisquare"}})
    with pytest.raises(DataError, match="treated as numerical but holds non-numbers"):
        run(current, reference, column_types={"plan": "numerical"})


def test_spec_rejects_methods_that_cannot_apply() -> None:
    with pytest.raises(SpecError, match=r"per_type.numerical.stattest: 'chisquare' does not apply to numerical"):
        spec(per_type={"numerical": {"stattest": "chisquare"}})
    with pytest.raises(SpecError, match=r"per_column.device.stattest: 'ks' does not apply to categorical"):
        spec(column_types={"device": "categorical"}, per_column={"device": {"stattest": "ks"}})
    with pytest.raises(SpecError, match="free-text columns"):
        spec(stattest={"stattest": "abs_text_content_drift"})
    with pytest.raises(SpecError, match="stattest"):
        spec(stattest={"stattest": "no_such_test"})


def test_threads_do_not_change_results(monkeypatch: pytest.MonkeyPatch) -> None:
    reference, current = window(5000, seed=16), window(5000, seed=17, shift=0.2, new_category=0.05)
    threaded = run(current, reference)
    monkeypatch.setattr(drift, "_threads", lambda: 1)
    assert run(current, reference) == threaded


def test_details_are_small_and_json_safe() -> None:
    import json

    results = run(window(3000, seed=18, shift=1.0), window(3000, seed=19))
    for result in results:
        text = json.dumps(result.to_dict())
        assert len(text) < 1200
    income = by_column(results)["income"]
    assert income.details["drifted_when"] == "score >= 0.1"
    assert income.threshold is not None and income.threshold.direction == "above"
    assert income.n == 3000 and income.details["reference_n"] == 3000


def test_html_report_is_a_sampled_artifact() -> None:
    s = spec(html_report={"enabled": True, "sample_size": 300})
    data = make_data(s, window(2000, seed=20, shift=0.5), window(2500, seed=21))
    results = drift.run(s.checks.drift, data)
    [artifact] = data.artifacts
    assert (artifact.kind, artifact.name) == ("evidently_drift_html", "drift.html")
    assert artifact.details == {"sampled": True, "current_rows": 300, "reference_rows": 300}
    assert "Sampled report." in artifact.content and "300 of the window's 2,000 rows" in artifact.content
    assert "income" in artifact.content
    assert by_column(results)["income"].details["drifted"] is True  # the full-data result is unaffected
    data = make_data(spec(), window(2000, seed=20), window(2500, seed=21))
    drift.run(data.spec.checks.drift, data)
    assert data.artifacts == []  # off by default
