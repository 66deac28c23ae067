"""The transparency ledgers end to end: read from files and SQL like any source, recorded in the
store (SQLite and PostgreSQL), late appeals replacing a window's results without double counting,
and bad ledgers failing with the file, the column and the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from transparency_helpers import DAY, T0, appeals, controls, window

from ethics_audit.checks import transparency
from ethics_audit.errors import SpecError
from ethics_audit.results import Status
from ethics_audit.runner import audit_window
from ethics_audit.sources import load_window
from helpers import WINDOW_END, WINDOW_START, make_spec


def _spec_on_disk(tmp_path: Path, rng: np.random.Generator, *, appeals_source: dict | None = None):
    frame = window(rng, n=1500)
    (tmp_path / "data").mkdir(exist_ok=True)
    frame.drop(columns=["explanation_id", "reasons"]).to_parquet(tmp_path / "data" / "w.parquet")
    log = frame.loc[frame["explanation_id"].notna(), ["prediction_id", "explanation_id", "reasons"]]
    log.to_csv(tmp_path / "explanations.csv", index=False)
    controls(rng).to_parquet(tmp_path / "controls.parquet")
    ledger = appeals(rng, frame, n=400)
    ledger.to_parquet(tmp_path / "appeals.parquet")
    spec = make_spec(
        {
            "columns": {"prediction_id": "prediction_id", "prediction": "shown", "sensitive": ["gender", "age_band"]},
            "checks": {
                "transparency": {
                    "intersections": [["gender", "age_band"]],
                    "min_group_size": 20,
                    "bootstrap": {"resamples": 20},
                    "explanations": {
                        "source": {"path": "explanations.csv"},
                        "columns": {"explanation": "explanation_id", "reason_codes": "reasons"},
                    },
                    "controls": {
                        "source": {"path": "controls.parquet"},
                        "rules": [
                            {"control": "personalised_ads", "value": "off", "forbids": {"targeting": ["personalised"]}}
                        ],
                    },
                    "appeals": {"source": appeals_source or {"path": "appeals.parquet"}, "sla": "5d"},
                }
            },
        },
        path=tmp_path / "spec.yaml",
    )
    return spec, frame, ledger


def _values(store, run_id: int) -> dict:
    return {
        (f.result.metric, f.result.slice_key): f.result.value
        for f in store.findings(run_id)
        if f.result.check == "transparency"
    }


def test_late_appeals_replace_the_windows_results_and_count_once(tmp_path: Path, store) -> None:
    rng = np.random.default_rng(11)
    spec, frame, ledger = _spec_on_disk(tmp_path, rng)
    first = audit_window(spec, WINDOW_START, WINDOW_END, store=store, now=T0 + 8 * DAY)
    before = _values(store, first.run_id)
    assert first.summary["checks"]["transparency"]["status"] == "ran"
    # five more appeals of the window's adverse decisions arrive, and one earlier appeal is decided
    adverse = frame[(frame["shown"] == 0) & ~frame["prediction_id"].isin(ledger["prediction_id"])].head(5)
    late = pd.DataFrame(
        {
            "appeal_id": [f"late{i}" for i in range(5)],
            "prediction_id": adverse["prediction_id"].to_numpy(),
            "filed_at": adverse["ts"].to_numpy() + pd.Timedelta(days=9),
            "decided_at": adverse["ts"].to_numpy() + pd.Timedelta(days=10),
            "outcome": "overturned",
        }
    )
    pd.concat([ledger, late], ignore_index=True).to_parquet(tmp_path / "appeals.parquet")
    second = audit_window(spec, WINDOW_START, WINDOW_END, store=store, now=T0 + 20 * DAY)
    after = _values(store, second.run_id)
    key = lambda metric: (metric, "{}")  # noqa: E731
    assert after[key("appeals_received")] == before[key("appeals_received")] + 5
    assert after[key("appeals_overturned")] == before[key("appeals_overturned")] + 5
    # the window's current results are the second run's, once
    [current] = [r for r in store.current_runs(WINDOW_START, WINDOW_END) if r.audit_id == spec.id]
    assert current.run_id == second.run_id
    metrics = [f.result.metric for f in store.findings(current.run_id) if f.result.slice == {}]
    assert metrics.count("appeals_received") == 1
    third = audit_window(spec, WINDOW_START, WINDOW_END, store=store, now=T0 + 20 * DAY)
    assert _values(store, third.run_id) == after  # the same ledger: the same numbers, nothing added


def test_ledgers_load_from_files_and_sql(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    db = f"sqlite:///{tmp_path / 'ledgers.db'}"
    spec, frame, ledger = _spec_on_disk(tmp_path, rng)
    engine = sa.create_engine(db)
    ledger.assign(filed_at=ledger["filed_at"].astype(str), decided_at=ledger["decided_at"].astype(str)).to_sql(
        "appeals", engine, index=False
    )
    engine.dispose()
    query = "SELECT * FROM appeals WHERE filed_at >= :window_start"
    sql_spec, _, _ = _spec_on_disk(tmp_path, np.random.default_rng(12), appeals_source={"query": query, "url": db})
    data = load_window(sql_spec, WINDOW_START, WINDOW_END, now=T0 + 8 * DAY)
    assert data.appeals is not None and len(data.appeals) == len(ledger)
    assert data.explanations is not None and data.controls is not None
    file_data = load_window(spec, WINDOW_START, WINDOW_END, now=T0 + 8 * DAY)
    via_sql = {(r.metric, r.slice_key): r.value for r in transparency.run(sql_spec.checks.transparency, data)}
    via_file = {(r.metric, r.slice_key): r.value for r in transparency.run(spec.checks.transparency, file_data)}
    assert via_sql == via_file and via_file[("appeals_received", "{}")] > 0
    # the explanation log joined on prediction ids gives the coverage of the window's own column
    assert via_file[("explanation_coverage", "{}")] == pytest.approx(frame["explanation_id"].notna().mean())


def _error(results, part: str) -> str:
    [error] = [r for r in results if r.status is Status.ERROR]
    assert error.slice == {"part": part}
    return error.details["error"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda a: a.drop(columns="outcome"), ["columns.outcome", "'outcome' is not a column of the appeals ledger",
                                               "appeals.parquet", "rename the column"]),
        (lambda a: a.assign(outcome="reversed"), ["columns.outcome", "unknown outcomes ('reversed')", "appeals.parquet",
                                                  "overturned, upheld, pending"]),
        (lambda a: a.assign(decided_at=a["filed_at"] - pd.Timedelta(hours=1), outcome="upheld"),
         ["columns.decided_at", "decided before they were filed", "appeals.parquet", "time zones"]),
        (lambda a: a.assign(prediction_id=None), ["columns.prediction_id", "an appeal for no decision", "appeals.parquet"]),
        (lambda a: a.assign(filed_at=a["filed_at"] - pd.Timedelta(days=30), decided_at=a["filed_at"], outcome="upheld"),
         ["columns.filed_at", "filed before the decision they contest", "appeals.parquet"]),
        (lambda a: a.assign(decided_at=pd.NaT, outcome="upheld"), ["columns.decided_at", "have no decision time"]),
    ],
)  # fmt: skip
def test_bad_appeals_ledgers_name_the_file_the_column_and_the_fix(tmp_path: Path, change, expected) -> None:
    rng = np.random.default_rng(13)
    spec, frame, ledger = _spec_on_disk(tmp_path, rng)
    data = load_window(spec, WINDOW_START, WINDOW_END, now=T0 + 8 * DAY)
    data.appeals = change(ledger[ledger["prediction_id"].isin(frame["prediction_id"])].copy())
    results = transparency.run(spec.checks.transparency, data)
    message = _error(results, "appeals")
    for text in expected:
        assert text in message, message
    assert any(r.metric == "explanation_coverage" for r in results)  # the other parts still ran
    assert not any(p in message for p in ledger["prediction_id"].head(20))  # no ids in the message


def test_bad_controls_and_explanations_name_the_file_and_the_column(tmp_path: Path) -> None:
    rng = np.random.default_rng(14)
    spec, _, _ = _spec_on_disk(tmp_path, rng)
    data = load_window(spec, WINDOW_START, WINDOW_END, now=T0 + 8 * DAY)
    data.controls = data.controls.rename(columns={"value": "setting"})
    data.explanations = data.explanations.drop(columns="prediction_id")
    results = transparency.run(spec.checks.transparency, data)
    errors = {r.slice["part"]: r.details["error"] for r in results if r.status is Status.ERROR}
    assert (
        "checks.transparency.controls.columns.value: 'value' is not a column of the controls ledger"
        in errors["controls"]
    )
    assert "controls.parquet" in errors["controls"]
    assert "checks.transparency.explanations.columns.prediction_id" in errors["explanations"]
    assert "explanations.csv" in errors["explanations"]
    assert any(r.metric == "appeal_rate" for r in results)


@pytest.mark.parametrize(
    ("transparency_spec", "field", "message"),
    [
        ({"controls": {"source": {"path": "c.parquet"}, "rules": []}}, "checks.transparency.controls.rules", "at least 1"),
        ({"appeals": {"source": {"path": "a.csv"}, "sla": "0d"}}, "checks.transparency.appeals.sla", "positive"),
        ({"appeals": {"source": {"path": "a.csv"}, "outcome_map": {}}}, "checks.transparency.appeals.outcome_map",
         "unknown key"),
        ({}, "checks.transparency", "at least one of explanations, controls or appeals"),
        ({"appeals": {"source": {"query": "SELECT 1"}}}, "checks.transparency.appeals.source", "url"),
    ],
)  # fmt: skip
def test_the_spec_section_is_validated(transparency_spec: dict, field: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        make_spec({"columns": {"prediction": "shown", "sensitive": ["gender"]},
                   "checks": {"transparency": transparency_spec}})  # fmt: skip
    problems = [(p.field, p.message) for p in caught.value.problems]
    assert any(f == field and message in m for f, m in problems), problems


def test_cross_field_problems() -> None:
    with pytest.raises(SpecError) as caught:
        make_spec({"columns": {"sensitive": ["gender"]},
                   "checks": {"transparency": {"appeals": {"source": {"path": "a.csv"}}}}})  # fmt: skip
    fields = {p.field for p in caught.value.problems}
    assert {"checks.transparency.appeals", "checks.transparency.appeals.join_on"} <= fields
