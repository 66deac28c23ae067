"""Audit DAGs run with ``dag.test()`` over the demo data: what lands in the results database.

Each test runs the DAG from this checkout's ``dags/`` folder against the results database given
as the ``ethics_audit_db`` connection, on SQLite and on PostgreSQL. The check families are
whatever ``ethics_audit.checks`` registers (the real ones once merged); tests that need exact
numbers use the small real families of ``tests/fakes``.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from airflow_support import demo_spec_text, run_dag, states, xcom

from ethics_audit import checks
from ethics_audit.demo import week_window
from ethics_audit.results import MetricResult, Threshold
from ethics_audit.store import Store
from fakes import family as fake

DAG_ID = "ethics_audit__ad-delivery"
FAMILIES = ("quality", "drift", "fairness", "privacy", "transparency")


# --------------------------------------------------------------------------- helpers


def window_rows(demo_root: Path, start: datetime, end: datetime) -> pd.DataFrame:
    frame = pd.concat(pd.read_parquet(p) for p in sorted((demo_root / "predictions").glob("*.parquet")))
    return frame[(frame["ts"] >= start) & (frame["ts"] < end)]


def runs_table(url: str) -> list[dict]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT * FROM audit_runs ORDER BY id")).mappings().all()
            return [dict(r) for r in rows]
    finally:
        engine.dispose()


def outbox(url: str) -> list[dict]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT * FROM notifications ORDER BY id")).mappings().all()
            # SQLite hands JSON columns back as text
            return [dict(r) | {"payload": _json(r["payload"])} for r in rows]
    finally:
        engine.dispose()


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@pytest.fixture
def demo_spec(specs_dir: Path, demo_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ETHICS_AUDIT_DATA_ROOTS", str(demo_root))  # the data lives outside the specs' folder
    path = specs_dir / "ad_delivery.yaml"
    path.write_text(demo_spec_text(demo_root))
    return path


@pytest.fixture
def fake_families(monkeypatch: pytest.MonkeyPatch) -> dict:
    """Every family is the test's little real check: the window's mean score, judged by thresholds."""
    monkeypatch.setattr(checks, "CHECKS", {f: "fakes.family" for f in FAMILIES})
    behaviour = {f: fake.mean_score(f, warn=0.2, critical=0.9) for f in FAMILIES}
    monkeypatch.setattr(fake, "BEHAVIOUR", behaviour)
    return behaviour


# --------------------------------------------------------------------------- tests


def test_dag_test_audits_its_data_interval_and_records_it(
    airflow_db: Path, demo_spec: Path, demo_root: Path, results_conn: str
) -> None:
    start, end = week_window(4)  # the week of the injected fairness problem
    dag_run = run_dag(end)  # the logical date is the window's end

    assert (dag_run.data_interval_start, dag_run.data_interval_end) == (start, end)
    assert str(dag_run.state) == "success"
    got = states(dag_run)
    assert {t: got[t] for t in got if t != "deliver"} == {
        t: "success" for t in ("wait_for_late_data", "extract", *FAMILIES, "record")
    }
    assert got["deliver"] == "success"

    store = Store(results_conn)
    try:
        [record] = store.history("ad-delivery")
        expected = window_rows(demo_root, start, end)
        assert (record.window_start, record.window_end) == (start, end)
        assert record.rows == len(expected) > 2000
        assert record.reference_rows == len(pd.read_parquet(demo_root / "baseline.parquet"))
        families = record.summary["checks"]
        assert set(families) == set(FAMILIES)  # (JSONB keeps no key order)
        for family in FAMILIES:
            assert families[family]["status"] == "ran", families[family]
        findings = store.findings(record.run_id)
        by_metric = {(f.result.check, f.result.metric): f for f in findings}
        assert by_metric[("window", "row_count")].result.value == len(expected)
        # week 4's pacing bug comes out as a fairness breach, and every family ran cleanly
        assert families["fairness"]["worst"] in ("warn", "critical")
        assert any(f.result.check == "fairness" and f.severity.is_breach for f in findings)
        assert record.status == "succeeded"
    finally:
        store.dispose()
    [run] = runs_table(results_conn)
    assert run["trigger"] == "airflow-manual"

    # XCom carries paths and ids only: the rows stay in the staging folder
    staged = xcom(dag_run, "extract")
    assert set(staged) == {"run_id", "folder", "window_start", "window_end", "rows", "reference_rows", "timings"}
    assert len(json.dumps(staged)) < 1000
    folder = Path(staged["folder"])
    assert sorted(p.name for p in folder.glob("*.parquet")) == [
        "appeals.parquet",
        "consent.parquet",
        "controls.parquet",
        "current.parquet",
        "explanations.parquet",
        "reference.parquet",
    ]
    assert len(pd.read_parquet(folder / "current.parquet")) == len(expected)
    assert xcom(dag_run, "record")["run_id"] == record.run_id

    # the results Asset was updated, with the window in its extra
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        events = session.scalars(
            sa.select(AssetEvent)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.uri == "x-ethics-audit://results/ad-delivery", AssetEvent.source_run_id == dag_run.run_id)
        ).all()
        assert [(e.extra["run_id"], e.extra["window_start"]) for e in events] == [(record.run_id, start.isoformat())]


def test_rerunning_a_window_leaves_one_set_of_results_and_no_duplicate_notifications(
    airflow_db: Path,
    demo_spec: Path,
    demo_root: Path,
    results_conn: str,
    fake_families: dict,
) -> None:
    start, end = week_window(2)
    mean = float(window_rows(demo_root, start, end)["score"].mean())
    assert 0.2 < mean < 0.9  # so every family's mean_score is a warn breach

    first = run_dag(end)
    store = Store(results_conn)
    try:
        before = sorted((f.result.check, f.result.metric, f.result.value, f.severity.value) for f in store.findings(1))
        assert ("quality", "mean_score", pytest.approx(mean), "warn") in before
        assert len([f for f in before if f[1] == "mean_score"]) == 4
        outbox_before = outbox(results_conn)

        second = run_dag(end)  # the same window again: dag.test clears and re-creates the run

        assert str(first.state) == str(second.state) == "success"
        [record] = store.history("ad-delivery")
        assert record.run_id == 2 and record.is_current
        attempts = store.history("ad-delivery", attempts=True)
        assert [(a.run_id, a.is_current) for a in attempts] == [(2, True), (1, False)]
        after = sorted((f.result.check, f.result.metric, f.result.value, f.severity.value) for f in store.findings(2))
        assert after == before
        assert store.findings(1) == []  # the replaced run's results are gone
        engine = sa.create_engine(results_conn)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM metric_results")).scalar() == len(after)
        engine.dispose()
    finally:
        store.dispose()

    notes = outbox(results_conn)
    keys = [n["idempotency_key"] for n in notes]
    assert len(keys) == len(set(keys))
    # the persisting breach updates its incidents and the re-run queues nothing new; every
    # queued notification was sent exactly once
    assert len(notes) == len(outbox_before) > 0
    assert all(n["status"] == "sent" and n["attempts"] == 1 for n in notes)


def test_quality_blocking_skips_the_other_families_and_still_records_the_window(
    airflow_db: Path, demo_spec: Path, results_conn: str, fake_families: dict
) -> None:
    def blocking(config: Any, data: Any) -> list[MetricResult]:
        return [
            MetricResult(
                "quality",
                "missing_required_columns",
                1,
                slice={"column": "score"},
                threshold=Threshold(warn=0, critical=0),
                details={"blocking": True},
            )
        ]

    fake_families["quality"] = blocking
    dag_run = run_dag(week_window(3)[1])

    got = states(dag_run)
    assert (got["quality"], got["record"]) == ("success", "success")
    assert got["drift"] == got["fairness"] == got["privacy"] == "skipped"
    store = Store(results_conn)
    try:
        [record] = store.history("ad-delivery")
        assert record.status == "partial"
        for family in ("drift", "fairness", "privacy"):
            info = record.summary["checks"][family]
            assert info["status"] == "skipped"
            assert info["reason"].startswith("quality: missing_required_columns")
        assert record.worst_severity == "critical"
    finally:
        store.dispose()


@pytest.mark.slow
def test_a_backfill_audits_each_window_in_order(
    airflow_db: Path, demo_spec: Path, demo_root: Path, results_conn: str, fake_families: dict, _isolated_home: Path
) -> None:
    from airflow.models.backfill import _get_info_list
    from airflow.models.dagbag import DBDagBag
    from airflow.utils.session import create_session

    run_dag(week_window(1)[1])  # puts the DAG in the metadata DB (and audits week 1)
    with create_session() as session:
        serialized = DBDagBag().get_latest_version_of_dag(DAG_ID, session=session)
    # what `airflow backfill create --from-date 2026-07-20 --to-date 2026-08-03` would run
    infos = _get_info_list(
        from_date=datetime(2026, 7, 20, tzinfo=timezone.utc),
        to_date=datetime(2026, 8, 3, tzinfo=timezone.utc),
        reverse=False,
        dag=serialized,
    )
    intervals = [(i.data_interval.start, i.data_interval.end) for i in infos]
    assert intervals == [week_window(2), week_window(3), week_window(4)]

    for info in infos:
        # dag.test makes a manual run, whose window ends at its logical date (a backfill run's
        # logical date is its window's start: the data interval is what counts)
        assert str(run_dag(info.data_interval.end).state) == "success"

    store = Store(results_conn)
    try:
        history = list(reversed(store.history("ad-delivery")))
        assert [(r.window_start, r.window_end) for r in history] == [week_window(w) for w in (1, 2, 3, 4)]
        rows = [len(window_rows(demo_root, *week_window(w))) for w in (1, 2, 3, 4)]
        assert [r.rows for r in history] == rows
        means = [next(f for f in store.findings(r.run_id) if f.result.check == "drift").result.value for r in history]
        assert means == pytest.approx([window_rows(demo_root, *week_window(w))["score"].mean() for w in (1, 2, 3, 4)])
    finally:
        store.dispose()
    # windows ran in order: week 4 saw the row counts of weeks 1-3 as its history
    staged = sorted((_isolated_home / "staging" / "ad-delivery").glob("*/run-*/window.json"))
    last = json.loads(staged[-1].read_text())
    assert last["window_start"] == week_window(4)[0].isoformat()
    assert last["row_count_history"] == rows[:3]


def test_a_failed_extract_is_recorded_and_tells_the_owners(
    airflow_db: Path,
    specs_dir: Path,
    demo_root: Path,
    results_conn: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ETHICS_AUDIT_DATA_ROOTS", str(demo_root))
    text = demo_spec_text(demo_root).replace(f"{demo_root}/predictions/*.parquet", f"{demo_root}/missing/*.parquet")
    text = text.replace("      channels: [console]", "      channels: [console, slack]")
    (specs_dir / "ad_delivery.yaml").write_text(text)
    start, end = week_window(2)

    dag_run = run_dag(end)

    got = states(dag_run)
    assert str(dag_run.state) == "failed"
    assert got["extract"] == "failed"
    assert {got[t] for t in (*FAMILIES, "record", "deliver")} == {"upstream_failed"}
    [run] = runs_table(results_conn)
    assert run["status"] == "failed"
    assert "source.path: no files match" in run["error"] and "missing" in run["error"]
    notes = outbox(results_conn)
    assert sorted(n["channel"] for n in notes) == ["console", "slack"]
    payload = notes[0]["payload"]
    assert payload["severity"] == "critical" and payload["task_id"] == "extract"
    assert payload["window_start"] == start.isoformat()
    assert "source.path: no files match" in payload["error"]
    assert notes[0]["idempotency_key"].startswith(f"airflow-failed:{DAG_ID}:{dag_run.run_id}:extract:1:")


def test_a_task_failing_after_extract_fails_its_attempt_without_leaking_values(
    airflow_db: Path,
    demo_spec: Path,
    results_conn: str,
    fake_families: dict,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ethics_audit.airflow import tasks

    def broken_record(spec: Any, staged: dict) -> dict:
        raise ValueError("could not convert 'jane.doe@example.com' to float")

    monkeypatch.setattr(tasks, "record", broken_record)
    dag_run = run_dag(week_window(2)[1])

    assert states(dag_run)["record"] == "failed"
    [run] = runs_table(results_conn)
    assert run["status"] == "failed"
    assert run["error"] == "Airflow task record failed: ValueError (details in the task log in Airflow)"
    [note] = outbox(results_conn)
    assert "jane.doe" not in json.dumps(note["payload"])
    assert note["payload"]["error"] == "ValueError (details in the task log in Airflow)"


CANARY = "canary.person@example.org"


def everything_in(url: str) -> str:
    """Every row of every table of the results database, as text."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            tables = sa.MetaData()
            tables.reflect(conn)
            return "\n".join(str(list(row)) for t in tables.sorted_tables for row in conn.execute(sa.select(t)))
    finally:
        engine.dispose()


def test_a_source_error_quoting_a_value_reaches_neither_the_database_nor_the_logs(
    airflow_db: Path,
    demo_spec: Path,
    results_conn: str,
    fake_families: dict,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture,
) -> None:
    import logging

    from ethics_audit import sources

    def reading_fails(*args: Any, **kwargs: Any) -> Any:
        raise ValueError(f"could not convert {CANARY!r} to float")  # as pyarrow or pandas would say it

    monkeypatch.delenv("ETHICS_AUDIT_DEBUG", raising=False)
    monkeypatch.setattr(sources, "load_window", reading_fails)
    caplog.set_level(logging.DEBUG)
    dag_run = run_dag(week_window(2)[1])

    assert states(dag_run)["extract"] == "failed"
    [run] = runs_table(results_conn)
    assert run["status"] == "failed"
    assert run["error"].startswith("internal error in the audit run: ValueError at ")
    assert "message withheld" in run["error"]
    [note] = [n for n in outbox(results_conn) if n["payload"].get("task_id") == "extract"]
    assert note["payload"]["error"] == run["error"]
    assert CANARY not in everything_in(results_conn)
    out, err = capfd.readouterr()
    assert CANARY not in caplog.text + out + err
