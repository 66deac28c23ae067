"""Windows without rows: each way a window comes out empty is a critical quality finding, the
run is ``empty`` with a non-zero exit, and it never replaces a window's earlier results unless
``--replace-empty`` says so."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ethics_audit import checks
from ethics_audit.results import Severity
from ethics_audit.runner import audit_window
from ethics_audit.store import Store
from fakes import family as fake
from helpers import WINDOW_END, WINDOW_START, make_spec
from test_cli import cli


def _frame(n: int, start) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(n)],
            "ts": pd.date_range(start, periods=n, freq="1h", tz="UTC"),
            "score": [0.2] * n,
        }
    )


def empty_parquet(folder: Path) -> str:
    _frame(0, WINDOW_START).to_parquet(folder / "empty.parquet")
    return "data/*.parquet"


def rows_outside(folder: Path) -> str:
    _frame(48, WINDOW_START - pd.Timedelta(days=30)).to_parquet(folder / "old.parquet")
    return "data/*.parquet"


def header_only_csv(folder: Path) -> str:
    (folder / "empty.csv").write_text("user_id,ts,score\n")
    return "data/*.csv"


EMPTY_KINDS = [empty_parquet, rows_outside, header_only_csv]


@pytest.fixture
def fake_quality(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks, "CHECKS", {"quality": "fakes.family", "privacy": "fakes.family"})
    monkeypatch.setattr(
        fake, "BEHAVIOUR", {"quality": fake.mean_score("quality"), "privacy": fake.mean_score("privacy")}
    )


def spec_for(tmp_path: Path, path: str, quality: dict | None) -> object:
    families = {"privacy": {}} if quality is None else {"quality": quality, "privacy": {}}
    return make_spec(
        {"columns": {"score": "score"}, "checks": families, "source": {"path": path}}, path=tmp_path / "spec.yaml"
    )


@pytest.mark.parametrize("kind", EMPTY_KINDS, ids=lambda k: k.__name__)
def test_each_kind_of_empty_window_is_a_critical_quality_finding(
    tmp_path: Path, store: Store, fake_quality: None, kind
) -> None:
    (tmp_path / "data").mkdir()
    spec = spec_for(tmp_path, kind(tmp_path / "data"), {"min_rows": 1000})
    outcome = audit_window(spec, WINDOW_START, WINDOW_END, store=store)
    assert outcome.status == "empty" and outcome.rows == 0
    row_count = next(f for f in outcome.findings if f.result.check == "quality" and f.result.metric == "row_count")
    assert row_count.severity is Severity.CRITICAL and row_count.result.value == 0
    assert "below 1000" in row_count.reason
    # the silent log opens an incident like any breach
    assert [(i["check"], i["metric"]) for i in store.incidents(audit_id=spec.id)] == [("quality", "row_count")]


def test_an_empty_window_is_a_finding_even_with_quality_off(tmp_path: Path, store: Store, fake_quality: None) -> None:
    (tmp_path / "data").mkdir()
    spec = spec_for(tmp_path, empty_parquet(tmp_path / "data"), None)
    outcome = audit_window(spec, WINDOW_START, WINDOW_END, store=store)
    assert outcome.status == "empty"
    assert {f.result.metric: f.severity for f in outcome.findings if f.result.check == "quality"}["row_count"] is (
        Severity.CRITICAL
    )


def test_a_collapsed_log_is_judged_against_the_row_count_history(
    tmp_path: Path, store: Store, fake_quality: None
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for week in range(3):
        _frame(50, WINDOW_START + pd.Timedelta(days=7 * week)).to_parquet(data / f"w{week}.parquet")
    spec = spec_for(tmp_path, "data/*.parquet", {"min_rows": 0})  # min_rows 0: only the history can tell
    for week in range(3):
        start = WINDOW_START + pd.Timedelta(days=7 * week)
        audit_window(spec, start, start + pd.Timedelta(days=7), store=store)
    start = WINDOW_START + pd.Timedelta(days=21)
    outcome = audit_window(spec, start, start + pd.Timedelta(days=7), store=store)
    found = {f.result.metric: f for f in outcome.findings if f.result.check == "quality"}
    assert found["row_count"].severity is Severity.OK  # min_rows: 0 accepts an empty window...
    assert found["row_count_drop"].result.value == 1.0  # ...the history does not: all 50 rows are gone
    assert found["row_count_drop"].severity is Severity.CRITICAL
    assert found["row_count_drop"].result.details["median_of_history"] == 50


def test_an_empty_rerun_keeps_the_good_results_unless_told(tmp_path: Path, store: Store, fake_quality: None) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _frame(24, WINDOW_START).to_parquet(data / "week.parquet")
    spec = spec_for(tmp_path, "data/*.parquet", {})
    good = audit_window(spec, WINDOW_START, WINDOW_END, store=store)
    assert good.status == "succeeded"
    (data / "week.parquet").unlink()
    _frame(0, WINDOW_START).to_parquet(data / "week.parquet")  # the file was truncated
    empty = audit_window(spec, WINDOW_START, WINDOW_END, store=store)
    assert empty.status == "empty" and empty.summary["incidents"]["kept_run_id"] == good.run_id
    assert [(r.run_id, r.rows) for r in store.history(spec.id)] == [(good.run_id, 24)]
    attempt = store.get_run(empty.run_id)
    assert attempt.status == "empty" and not attempt.is_current
    kept = {(f["metric"], f["severity"]) for f in attempt.summary["findings"] if f["check"] == "quality"}
    assert ("row_count", "critical") in kept
    assert store.incidents(audit_id=spec.id) == []  # the incidents follow the current results
    from ethics_audit.ledger.verify import verify_store

    assert verify_store(store).ok  # the kept attempt added nothing around the ledger
    replaced = audit_window(spec, WINDOW_START, WINDOW_END, store=store, replace_empty=True)
    assert [(r.run_id, r.rows, r.status) for r in store.history(spec.id)] == [(replaced.run_id, 0, "empty")]


@pytest.mark.parametrize("kind", EMPTY_KINDS, ids=lambda k: k.__name__)
def test_the_cli_exits_non_zero_on_an_empty_window(capsys, tmp_path: Path, fake_quality: None, kind) -> None:
    (tmp_path / "data").mkdir()
    spec_for(tmp_path, kind(tmp_path / "data"), {"min_rows": 1000})
    args = ["run", str(tmp_path / "spec.yaml"), "--start", "2026-07-06", "--end", "2026-07-13"]
    code, out, _ = cli(capsys, *args, "--json")
    assert code == 3 and json.loads(out)["status"] == "empty"
    code, _, _ = cli(capsys, *args, "--fail-on", "warn")
    assert code == 1  # the critical row-count finding trips --fail-on first
