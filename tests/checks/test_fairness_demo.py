"""The fairness family on the demo data, and a window re-run after its labels arrived."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fairness_helpers import get

from ethics_audit import demo
from ethics_audit.results import Severity
from helpers import WINDOW_END, WINDOW_START, make_spec

REPO = Path(__file__).resolve().parents[2]
FAIRNESS_WEEKS = {i.week for i in demo.INJECTED if i.family == "fairness"}


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("fairness-demo")
    demo.generate(home / "demo", weeks=12, rows_per_week=20000)
    return home


def week_findings(home: Path, week: int, monkeypatch: pytest.MonkeyPatch) -> dict:
    from ethics_audit.checks import fairness
    from ethics_audit.evaluate import judge_all
    from ethics_audit.results import slice_key
    from ethics_audit.sources import load_window
    from ethics_audit.spec import load_spec

    monkeypatch.setenv("ETHICS_AUDIT_HOME", str(home))
    spec = load_spec(REPO / demo.DEMO_SPEC)
    data = load_window(spec, *demo.week_window(week))
    results = fairness.run(spec.checks.fairness, data)
    return {(r.metric, slice_key(r.slice)): f for r, f in zip(results, judge_all(results), strict=True)}


@pytest.mark.parametrize("week", range(1, 13))
def test_demo_week(demo_home: Path, week: int, monkeypatch: pytest.MonkeyPatch):
    found = week_findings(demo_home, week, monkeypatch)
    breaches = {key: f for key, f in found.items() if f.severity.is_breach}
    if week not in FAIRNESS_WEEKS:
        assert not breaches, [(k, f.result.value, f.result.ci_low, f.result.ci_high) for k, f in breaches.items()]
        # the intersections were audited, not skipped
        assert get(found, "demographic_parity_difference", attribute="age_band+gender").result.value is not None
        return
    # the pacing bug: women are shown the ad far less often than men, significantly
    di = get(found, "disparate_impact_ratio", gender="f", reference="m")
    assert di.severity.is_breach and di.result.ci_high < 0.8
    assert 0.5 < di.result.value < 0.65
    assert get(found, "demographic_parity_ratio", attribute="gender").severity.is_breach
    assert get(found, "selection_rate", gender="f").result.value == pytest.approx(0.17, abs=0.02)
    assert get(found, "selection_rate", gender="m").result.value == pytest.approx(0.30, abs=0.02)
    # age alone is clean even in these weeks
    assert not [k for k in breaches if k[1] == '{"attribute":"age_band"}']


def test_demo_late_labels(demo_home: Path, monkeypatch: pytest.MonkeyPatch):
    newest = week_findings(demo_home, 12, monkeypatch)
    assert get(newest, "labelled_share").result.value == 0
    eod = get(newest, "equalized_odds_difference", attribute="gender")
    assert eod.severity is Severity.INSUFFICIENT_DATA and "no labels have arrived" in eod.reason
    assert get(newest, "demographic_parity_difference", attribute="gender").severity is Severity.OK

    half = week_findings(demo_home, 11, monkeypatch)
    assert get(half, "labelled_share").result.value == pytest.approx(0.5, abs=0.01)
    assert get(half, "true_positive_rate", gender="f").result.n < get(half, "count", gender="f").result.value / 2


def test_rerunning_a_window_after_its_labels_arrive_updates_its_results(tmp_path: Path, store):
    from ethics_audit.runner import audit_window

    rng = np.random.default_rng(0)
    n = 600
    predictions = pd.DataFrame(
        {
            "prediction_id": [f"p{i}" for i in range(n)],
            "user_id": [f"u{i % 200}" for i in range(n)],
            "ts": pd.Timestamp(WINDOW_START) + pd.to_timedelta(rng.integers(0, 6 * 86400, n), unit="s"),
            "gender": rng.choice(["f", "m"], n),
            "shown": rng.integers(0, 2, n),
        }
    )
    (tmp_path / "data").mkdir()
    (tmp_path / "labels").mkdir()
    predictions.to_parquet(tmp_path / "data" / "predictions.parquet")
    labels = pd.DataFrame({"prediction_id": predictions["prediction_id"], "clicked": rng.integers(0, 2, n)})
    labels.iloc[0:0].to_parquet(tmp_path / "labels" / "clicks.parquet")
    spec = make_spec(
        {
            "labels": {"source": {"path": "labels/*.parquet"}, "column": "clicked", "join_on": ["prediction_id"]},
            "columns": {
                "prediction_id": "prediction_id",
                "prediction": "shown",
                "label": "clicked",
                "sensitive": ["gender"],
            },
            "checks": {"fairness": {"bootstrap": {"resamples": 50}}},
        },
        path=tmp_path / "audit.yaml",
    )

    def current(metric: str, **slice_):
        findings = store.current_findings(spec.id, WINDOW_START, WINDOW_END)
        matching = [f for f in findings if f.result.metric == metric and f.result.slice == slice_]
        assert len(matching) == 1, (metric, slice_, len(matching))
        return matching[0]

    audit_window(spec, WINDOW_START, WINDOW_END, store=store)
    before = current("true_positive_rate", gender="f")
    assert before.severity is Severity.INSUFFICIENT_DATA
    selection = current("selection_rate", gender="f").result.value

    labels.to_parquet(tmp_path / "labels" / "clicks.parquet")
    for _ in range(2):  # the second re-run replaces, it does not add
        audit_window(spec, WINDOW_START, WINDOW_END, store=store)
        after = current("true_positive_rate", gender="f")
        joined = predictions.merge(labels, on="prediction_id")
        f = joined[(joined["gender"] == "f") & (joined["clicked"] == 1)]
        assert after.result.value == pytest.approx(f["shown"].mean(), abs=1e-12)
        assert current("selection_rate", gender="f").result.value == selection
        assert current("labelled_share").result.value == 1
