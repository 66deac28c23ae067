"""The public edition: OpenDP noise within the stated accuracy, small groups suppressed, the budget ledger."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from history import build_history

from ethics_audit.reports import build_quarterly_report
from ethics_audit.reports.dp import GroupTotal, group_totals, make_plan, release, spent
from ethics_audit.reports.model import WindowView
from ethics_audit.results import MetricResult
from ethics_audit.store import PrivacyBudgetExceeded

AFTER = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _label(total: GroupTotal) -> str:
    return ", ".join(f"{k} = {v}" for k, v in total.slice)


def test_group_totals_sum_the_quarter_from_stored_results(store) -> None:
    built = build_history(store, weeks=3)
    runs = store.history("ad-delivery")
    findings = store.findings_of_runs([r.run_id for r in runs])
    windows = [WindowView(r.window_start, r.window_end, r, findings[r.run_id]) for r in runs]
    totals = {t.key: t for t in group_totals(windows)}
    for key in ("gender=f", "age_band=25-34", "age_band=18-24|gender=m"):
        truth_n = sum(built.truth[(w, key.replace("|", ","))]["n"] for w in (1, 2, 3))
        truth_k = sum(built.truth[(w, key.replace("|", ","))]["positives"] for w in (1, 2, 3))
        assert (totals[key].n, totals[key].positives) == (truth_n, truth_k)
    # the small intersection has no stored rate: its count is known, its positives are not
    assert totals["age_band=55+|gender=x"].positives is None
    assert {t.attribute_set for t in totals.values()} == {"gender", "age_band", "age_band × gender"}


def _audited(findings: list) -> WindowView:
    """A window with these findings; group counts read only the findings (the run just marks it audited)."""
    start = datetime(2026, 7, 6, tzinfo=timezone.utc)
    return WindowView(start, start, SimpleNamespace(summary={}), findings)  # type: ignore[arg-type]


def test_positives_are_the_checks_exact_counts_not_rebuilt_from_rates() -> None:
    """A stored rate that is not exactly positives / rows (here rounded to 0.3 for 301 of 1001) must not
    change the count: the check's ``selected`` is summed, not ``round(rate x rows)`` (which gives 300)."""
    from ethics_audit.evaluate import judge_all

    f = {"gender": "f"}
    exact = [
        MetricResult("fairness", "count", 1001, f, n=1001),
        MetricResult("fairness", "selection_rate", 0.3, f, n=1001, details={"selected": 301}),
    ]
    # a window stored before the check recorded ``selected``: the rate is all it holds
    legacy = [
        MetricResult("fairness", "count", 999, f, n=999),
        MetricResult("fairness", "selection_rate", 0.3, f, n=999),
    ]
    [total] = group_totals([_audited(judge_all(exact))])
    assert (total.n, total.positives) == (1001, 301)
    [total] = group_totals([_audited(judge_all(exact)), _audited(judge_all(legacy))])
    assert (total.n, total.positives) == (1001 + 999, 301 + 300)


def test_group_totals_equal_the_counts_of_the_raw_rows() -> None:
    """From the rows through the real fairness check to the DP report's totals: each group's rows and
    positive decisions, per attribute set and intersection, are exactly what the data hold."""
    import pandas as pd

    from ethics_audit.checks import fairness
    from ethics_audit.evaluate import judge_all
    from helpers import WINDOW_START, make_data, make_spec

    rng = np.random.default_rng(11)
    rows = 3001
    frame = pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(rows)],
            "ts": pd.Timestamp(WINDOW_START),
            "pred": rng.binomial(1, 0.37, rows),
            "gender": rng.choice(["f", "m", "x"], rows, p=[0.49, 0.46, 0.05]),
            "age_band": rng.choice(["18-34", "35-54", "55+"], rows),
        }
    )
    spec = make_spec(
        {
            "columns": {"prediction": "pred", "sensitive": ["gender", "age_band"]},
            "checks": {"fairness": {"bootstrap": {"resamples": 0}, "intersections": [["gender", "age_band"]]}},
        }
    )
    results = fairness.run(spec.checks.fairness, make_data(spec, frame))
    totals = {t.key: t for t in group_totals([_audited(judge_all(results))])}
    for columns in (["gender"], ["age_band"], ["age_band", "gender"]):
        for values, group in frame.groupby(columns):
            key = "|".join(f"{c}={v}" for c, v in zip(columns, values, strict=True))
            assert (totals[key].n, totals[key].positives) == (len(group), int(group["pred"].sum())), key


def test_noisy_numbers_fall_within_the_stated_accuracy() -> None:
    """Repeated releases: counts inside their 95% accuracy about 95% of the time, rates at least 95%.

    The group sizes come from a fixed seed; OpenDP's noise comes from its own secure sampler, which
    cannot be seeded on purpose, so the bounds leave 6 standard deviations of slack (a false failure
    is rarer than 1 in 10^8).
    """
    rng = np.random.default_rng(20260701)
    sizes = rng.integers(400, 6000, size=24)
    totals = [
        GroupTotal((("region", f"r{i:02d}"),), int(n), int(rng.binomial(int(n), rng.uniform(0.1, 0.6))))
        for i, n in enumerate(sizes)
    ]
    plan = make_plan(totals, 0.2, delta=1e-7, min_count=50, contributions=1)
    assert spent(plan)[0] == pytest.approx(0.2, rel=1e-9) and spent(plan)[1] <= 1e-7
    repeats, count_hits, rate_hits, released = 300, 0, 0, 0
    for _ in range(repeats):
        by_label = {g.label: g for g in release(totals, plan).groups}
        for total in totals:
            g = by_label[_label(total)]  # every group is far above the threshold: always published
            released += 1
            count_hits += abs(g.count - total.n) < g.count_accuracy
            rate_hits += abs(g.rate - total.positives / total.n) < g.rate_accuracy
    assert released == repeats * len(totals)
    sd = (0.05 * 0.95 / released) ** 0.5
    assert 0.95 - 6 * sd <= count_hits / released <= 0.95 + 6 * sd
    assert rate_hits / released >= 0.95 - 6 * sd
    # and the noise is real: releases differ
    assert len({release(totals, plan).groups[0].count for _ in range(20)}) > 1


def test_small_groups_are_not_published() -> None:
    totals = [GroupTotal((("g", "big"),), 50_000, 15_000), GroupTotal((("g", "tiny"),), 12, 3)]
    plan = make_plan(totals, 1.0, delta=1e-7, min_count=50, contributions=1)
    assert plan.threshold >= 50
    for _ in range(200):
        labels = [g.label for g in release(totals, plan).groups]
        assert labels == ["g = big"]


def test_contributions_per_person_scale_the_noise() -> None:
    totals = [GroupTotal((("a", "x"),), 1000, 100), GroupTotal((("b", "y"),), 1000, 100)]
    one = make_plan(totals, 1.0, delta=1e-7, min_count=50, contributions=1)
    five = make_plan(totals, 1.0, delta=1e-7, min_count=50, contributions=5)
    assert one.attribute_sets == 2
    assert five.count_scale == pytest.approx(5 * one.count_scale, rel=1e-6)
    assert five.count_accuracy > 4 * one.count_accuracy


def test_budget_ledger_refuses_overspending(store, tmp_path: Path) -> None:
    build_history(store, weeks=4)

    def public(epsilon: float) -> dict:
        return build_quarterly_report(
            store, "2026Q3", out_dir=tmp_path, pdf=False, now=AFTER, public=True, epsilon=epsilon
        )

    first = public(0.4)
    assert first["privacy_budget"] == [
        {"audit_id": "ad-delivery", "year": 2026, "epsilon": pytest.approx(0.4), "spent_this_year": pytest.approx(0.4),
         "yearly_budget": 1.0, "left": pytest.approx(0.6)}
    ]  # fmt: skip
    public(0.5)
    with pytest.raises(PrivacyBudgetExceeded, match=r"only 0\.1 of 1 is left .*reports\.dp_yearly_epsilon"):
        public(0.2)
    entries = store.privacy_budget_entries("ad-delivery")
    assert [round(e["epsilon"], 9) for e in entries] == [0.4, 0.5]  # the refused report spent nothing
    assert entries[0]["details"]["quarter"] == "2026 Q3" and entries[0]["year"] == 2026
    assert store.privacy_budget_spent("ad-delivery", 2027) == 0.0
    html = Path(first["html"]).read_text()
    assert "Public edition" in html and "differentially private" in html
    # the public edition carries no trend charts of raw values, and no owners' names
    assert 'data-chart="trend"' not in html and "Priya Raman" not in html
    assert "age_band = 55+, gender = x" not in html  # the small intersection is never published


def test_the_spec_sets_the_yearly_budget(store, tmp_path: Path) -> None:
    build_history(store, weeks=2, spec_overrides={"reports": {"dp_yearly_epsilon": 0.3, "dp_min_count": 500}})
    with pytest.raises(PrivacyBudgetExceeded, match=r"only 0\.3 of 0\.3 is left"):
        build_quarterly_report(store, "2026Q3", out_dir=tmp_path, pdf=False, now=AFTER, public=True, epsilon=0.5)
    result = build_quarterly_report(store, "2026Q3", out_dir=tmp_path, pdf=False, now=AFTER, public=True, epsilon=0.3)
    assert result["privacy_budget"][0]["left"] == pytest.approx(0.0, abs=1e-9)
    html = Path(result["html"]).read_text()
    assert "fewer than about 5" in html  # the threshold shown is at least the spec's 500


def test_reports_section_of_the_spec_is_validated() -> None:
    from ethics_audit.errors import SpecError
    from helpers import make_spec

    spec = make_spec({"reports": {"dp_yearly_epsilon": 2.5, "dp_min_count": 100}})
    assert spec.reports.dp_yearly_epsilon == 2.5 and spec.reports.dp_contributions_per_entity == 1
    with pytest.raises(SpecError) as caught:
        make_spec({"reports": {"dp_yearly_epsilon": 0, "dp_minimum": 3}})
    fields = {p.field for p in caught.value.problems}
    assert fields == {"reports.dp_yearly_epsilon", "reports.dp_minimum"}
