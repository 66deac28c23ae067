"""The fairness remedy section: explained or not (on the demo and on constructed strata), who
carries the gap, and threshold options that are what Fairlearn's ThresholdOptimizer does when applied."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ethics_audit import demo
from ethics_audit.evaluate import judge_all
from ethics_audit.remedies import fairness as fairness_remedy
from ethics_audit.remedies import thresholds
from helpers import make_data, make_spec

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("remedy-demo")
    demo.generate(home / "demo", weeks=12, rows_per_week=8000)
    return home


def demo_week(home: Path, week: int, monkeypatch: pytest.MonkeyPatch):
    from ethics_audit.sources import load_window
    from ethics_audit.spec import load_spec

    monkeypatch.setenv("ETHICS_AUDIT_HOME", str(home))
    spec = load_spec(REPO / demo.DEMO_SPEC)
    return spec, load_window(spec, *demo.week_window(week))


def fairness_findings(spec, data):
    from ethics_audit.checks import fairness

    return judge_all(fairness.run(spec.checks.fairness, data))


def test_week_4_gap_is_not_explained_by_the_job_category_and_women_carry_it(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, data = demo_week(demo_home, 4, monkeypatch)
    section = fairness_remedy.section(spec.checks.fairness, data, fairness_findings(spec, data))
    gap = section.facts["explained"]
    assert section.facts["verdict"] == "persists"
    assert gap["attribute"] == "gender" and gap["disadvantaged"] == "f" and gap["advantaged"] == "m"
    assert "NOT explained by job_category" in section.headline
    # the gap is there in every job category, and the weighted conditional gap keeps nearly all of it
    strata = {s["stratum"]: s for s in gap["strata"]}
    assert set(strata) == set(demo.JOB_CATEGORIES)
    assert all(s["gap_ci"][0] > 0.05 for s in strata.values())
    assert gap["conditional_gap_ci"][0] > 0.1 and abs(gap["explained_share"]) < 0.2
    # computed by hand from the window: the within-category gap m - f, weighted by rows of m and f
    frame = data.current[data.current["gender"].isin(["f", "m"])]
    rates = frame.groupby(["job_category", "gender"])["shown"].agg(["mean", "size"]).unstack()
    weights = rates["size"].sum(axis=1) / rates["size"].to_numpy().sum()
    expected = float((weights * (rates["mean"]["m"] - rates["mean"]["f"])).sum())
    assert gap["conditional_gap"] == pytest.approx(expected, abs=1e-12)
    # who carries it: women carry the whole gender shortfall; the intersections named are women's
    carriers = {c["attribute"]: c["groups"] for c in section.facts["carriers"]}
    assert carriers["gender"][0]["group"] == "f" and carriers["gender"][0]["share"] == pytest.approx(1.0)
    assert all("gender=f" in g["group"] for g in carriers["age_band+gender"])
    assert any("Carried by gender groups: f" in d for d in section.drivers)


def test_newcombe_and_wilson_intervals_equal_statsmodels() -> None:
    from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

    for k1, n1, k2, n2 in ((30, 100, 12, 90), (5, 40, 0, 35), (400, 1000, 380, 1000)):
        d, low, high = fairness_remedy.newcombe(k1, n1, k2, n2, 1.959963984540054)
        ref = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", compare="diff")
        assert d == pytest.approx(k1 / n1 - k2 / n2) and (low, high) == pytest.approx(ref, abs=1e-9)
        assert fairness_remedy.wilson(k1, n1, 1.959963984540054) == pytest.approx(
            proportion_confint(k1, n1, method="wilson"), abs=1e-9
        )


def _strata_window(rates: dict[tuple[str, str], tuple[int, float]], seed: int = 0) -> pd.DataFrame:
    """Rows per (stratum, gender) with the given count and selection rate, exactly."""
    rng = np.random.default_rng(seed)
    parts = []
    for (stratum, gender), (n, rate) in rates.items():
        shown = np.zeros(n, dtype=int)
        shown[: round(n * rate)] = 1
        parts.append(pd.DataFrame({"stratum": stratum, "gender": gender, "shown": rng.permutation(shown)}))
    frame = pd.concat(parts, ignore_index=True)
    frame["user_id"] = [f"u{i}" for i in range(len(frame))]
    frame["ts"] = pd.Timestamp("2026-07-07", tz="UTC")
    return frame


def _section(frame: pd.DataFrame):
    spec = make_spec(
        {
            "columns": {"prediction": "shown", "sensitive": ["gender"]},
            "checks": {"fairness": {"legitimate_factors": ["stratum"], "bootstrap": {"resamples": 50}}},
        }
    )
    data = make_data(spec, frame)
    findings = fairness_findings(spec, data)
    return fairness_remedy.section(spec.checks.fairness, data, findings)


def test_a_gap_from_composition_alone_is_called_a_composition_effect() -> None:
    # women apply mostly where few are selected; within each stratum both are selected alike
    frame = _strata_window(
        {("a", "f"): (900, 0.1), ("a", "m"): (100, 0.1), ("b", "f"): (100, 0.5), ("b", "m"): (900, 0.5)}
    )
    section = _section(frame)
    gap = section.facts["explained"]
    assert gap["gap"] == pytest.approx(0.46 - 0.14)  # m 0.46, f 0.14 overall
    assert section.facts["verdict"] == "composition" and gap["conditional_gap"] == pytest.approx(0.0)
    assert "explained by stratum" in section.headline


def test_a_gap_that_reverses_within_strata_is_simpsons_paradox() -> None:
    frame = _strata_window(
        {("a", "f"): (900, 0.15), ("a", "m"): (100, 0.05), ("b", "f"): (100, 0.6), ("b", "m"): (900, 0.5)}
    )
    section = _section(frame)
    assert section.facts["verdict"] == "reversed" and "Simpson" in section.headline


def _labelled_window(n: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    gender = rng.choice(["f", "m", "x"], n, p=[0.45, 0.45, 0.1])
    score = np.round(rng.beta(2, 3, n), 4)
    clicked = (rng.random(n) < score).astype(int)
    threshold = np.where(gender == "f", 0.55, 0.42)
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(n)],
            "ts": pd.Timestamp("2026-07-07", tz="UTC"),
            "gender": gender,
            "stratum": rng.choice(["a", "b"], n),
            "score": score,
            "shown": (score >= threshold).astype(int),
            "clicked": clicked,
        }
    )


def _labelled_spec():
    return make_spec(
        {
            "columns": {"prediction": "shown", "score": "score", "label": "clicked", "sensitive": ["gender"]},
            "checks": {"fairness": {"legitimate_factors": ["stratum"], "bootstrap": {"resamples": 50}}},
        }
    )


@pytest.mark.parametrize("rows", [8_000, 60_000])  # all rows fitted; a stratified sample of FIT_ROWS
def test_threshold_options_predict_what_fairlearn_threshold_optimizer_yields_when_applied(
    rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference
    from fairlearn.postprocessing import ThresholdOptimizer

    from ethics_audit.checks.fairness.inputs import prepare

    monkeypatch.setattr(fairness_remedy, "FIT_ROWS", 20_000)
    frame = _labelled_window(rows)
    spec = _labelled_spec()
    data = make_data(spec, frame)
    findings = fairness_findings(spec, data)
    agg = fairness_remedy.gather(spec.checks.fairness, data, prepare(spec.checks.fairness, data), findings)
    inputs = agg.options
    assert inputs is not None and inputs.labelled
    # every labelled row, or a stratified sample of about FIT_ROWS keeping each (group, label) share
    assert abs(len(inputs.sample_bin) - min(rows, 20_000)) <= 6
    if rows > 20_000:
        sampled = pd.Series(inputs.sample_group * 2 + inputs.sample_label).value_counts(normalize=True).sort_index()
        full = pd.Series(frame["gender"].map({g: i for i, g in enumerate(inputs.groups)}) * 2 + frame["clicked"])
        assert sampled.to_numpy() == pytest.approx(full.value_counts(normalize=True).sort_index().to_numpy(), abs=1e-3)
    section = fairness_remedy.build(agg)
    found = {o["constraint"]: o["predicted"] for o in section.facts["options"]["options"]}
    assert set(found) == set(thresholds.CONSTRAINTS)

    y, groups = frame["clicked"].to_numpy(), frame["gender"].to_numpy()
    binned = inputs.edges[thresholds.bin_of(frame["score"].to_numpy(), inputs.edges)].reshape(-1, 1)
    for constraint, predicted in found.items():
        optimizer = thresholds.fit(inputs, constraint)
        # exactly: Fairlearn's own expected decisions on every labelled row
        pmf = optimizer._pmf_predict(binned, sensitive_features=groups)[:, 1]
        for i, g in enumerate(inputs.groups):
            own = groups == g
            assert predicted["selection_rate"][i] == pytest.approx(pmf[own].mean(), abs=1e-9)
            assert predicted["true_positive_rate"][i] == pytest.approx(pmf[own & (y == 1)].mean(), abs=1e-9)
        # and its randomised decisions, as they would be applied, reach the predicted disparities
        applied = optimizer.predict(binned, sensitive_features=groups, random_state=0)
        tolerance = 4 / np.sqrt(rows * 0.1)
        assert demographic_parity_difference(y, applied, sensitive_features=groups) == pytest.approx(
            predicted["demographic_parity_difference"], abs=tolerance
        )
        assert equalized_odds_difference(y, applied, sensitive_features=groups) == pytest.approx(
            predicted["equalized_odds_difference"], abs=tolerance
        )
    # the option is close to Fairlearn fitted on every raw score, no sample, no bins
    full = ThresholdOptimizer(
        estimator=thresholds.score_estimator(),
        constraints="demographic_parity",
        prefit=True,
        predict_method="predict",
    ).fit(frame[["score"]].to_numpy(), y, sensitive_features=groups)
    unbinned = full._pmf_predict(frame[["score"]].to_numpy(), sensitive_features=groups)[:, 1]
    assert found["demographic_parity"]["overall"]["selection_rate"] == pytest.approx(unbinned.mean(), abs=0.02)
    assert found["demographic_parity"]["demographic_parity_difference"] < 0.01
    assert any(f.startswith("Option, equalized odds") for f in section.fixes)
    assert "nothing is applied" in " ".join(section.notes)


def test_without_labels_only_the_demographic_parity_option_and_it_says_so() -> None:
    frame = _labelled_window(6000)
    frame["clicked"] = np.nan
    spec = _labelled_spec()
    data = make_data(spec, frame)
    section = fairness_remedy.section(spec.checks.fairness, data, fairness_findings(spec, data))
    found = section.facts["options"]
    assert found["labelled"] is False and [o["constraint"] for o in found["options"]] == ["demographic_parity"]
    option = found["options"][0]["predicted"]
    overall = frame["shown"].mean()
    assert all(abs(r - overall) < 0.01 for r in option["selection_rate"])
    assert option["demographic_parity_difference"] < 0.01
    assert any("only the demographic-parity option" in n for n in section.notes)
