"""Audit DAGs on an engine (``engine: {kind: duckdb | postgres}``): no raw row is staged.

``extract`` counts the window and takes its fingerprint on the engine, each family task opens
the window there itself, and ``record`` commits what the memory-engine DAG commits for the same
data. A source that changes between extract and a family task fails that task instead of
recording a mix. The results database is a file SQLite here (test_audit_dag.py covers both).
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from airflow_support import airflow_uri, demo_spec_text, run_dag, states, xcom

from ethics_audit.demo import week_window
from ethics_audit.store import Store

WEEK = 4  # the week of the demo's fairness problem: breaches, remedies and incidents all happen


@pytest.fixture
def results_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'results.db'}"
    monkeypatch.setenv("AIRFLOW_CONN_ETHICS_AUDIT_DB", airflow_uri(url))
    monkeypatch.delenv("ETHICS_AUDIT_DB_URL", raising=False)
    return url


@pytest.fixture
def data_roots(demo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setenv("ETHICS_AUDIT_DATA_ROOTS", os.pathsep.join([str(demo_root), str(tmp_path)]))


def write_spec(specs_dir: Path, text: str, audit_id: str, engine: str | None) -> str:
    text = text.replace("id: ad-delivery ", f"id: {audit_id} ", 1)
    assert f"id: {audit_id} " in text
    if engine:
        text += f"engine:\n  kind: {engine}\n"
    (specs_dir / f"{audit_id}.yaml").write_text(text)
    return f"ethics_audit__{audit_id}"


def results_of(store: Store, audit_id: str) -> tuple[Any, list[tuple]]:
    [record] = store.history(audit_id)
    findings = sorted(
        (f.result.check, f.result.metric, json.dumps(f.result.slice, sort_keys=True), f.result.value, f.severity.value)
        for f in store.findings(record.run_id)
    )
    return record, findings


def ledger_fingerprint(store: Store, audit_id: str) -> dict:
    from ethics_audit.store.ledger_read import entry_rows

    with store.session() as s:
        payloads = [json.loads(r.payload) for r in entry_rows(s)]
    [window] = [p for p in payloads if p["kind"] == "window" and p["audit_id"] == audit_id]
    return window["input_fingerprint"]


def assert_same_results(store: Store, engine_id: str, memory_id: str) -> Any:
    on_engine, engine_findings = results_of(store, engine_id)
    in_memory, memory_findings = results_of(store, memory_id)
    assert (on_engine.rows, on_engine.reference_rows) == (in_memory.rows, in_memory.reference_rows)
    assert on_engine.status == in_memory.status and on_engine.worst_severity == in_memory.worst_severity
    assert [f[:3] + f[4:] for f in engine_findings] == [f[:3] + f[4:] for f in memory_findings]
    for got, want in zip(engine_findings, memory_findings, strict=True):
        if isinstance(want[3], float) and isinstance(got[3], float):
            assert got[3] == pytest.approx(want[3], rel=1e-9, abs=1e-12), got
        else:
            assert got[3] == want[3], got

    def families(record: Any) -> dict:  # each family's status, counts and worst, not its time
        return {f: {k: v for k, v in i.items() if k != "seconds"} for f, i in record.summary["checks"].items()}

    assert families(on_engine) == families(in_memory)
    assert {f["status"] for f in families(on_engine).values()} == {"ran"}
    return on_engine


def assert_no_rows_staged(dag_run: Any, rows: int) -> dict:
    staged = xcom(dag_run, "extract")
    folder = Path(staged["folder"])
    assert staged["rows"] == rows and staged["engine"] in ("duckdb", "postgres")
    assert len(json.dumps(staged)) < 1000  # bounds, ids and counts only
    audit_folder = folder.parents[1]  # staging/<audit id>: every attempt of this audit's windows
    assert audit_folder.name == xcom(dag_run, "record")["audit_id"]
    assert list(audit_folder.rglob("*.parquet")) == []  # no raw row on the worker's disk
    manifest = json.loads((folder / "window.json").read_text())
    assert manifest["rows_staged"] is False and manifest["frames"]["current"] == {"file": None, "rows": rows}
    # what is staged is the families' small outputs
    assert sorted(p.name for p in folder.glob("*.json")) == sorted(
        ["window.json", *(f"family-{f}.json" for f in ("quality", "drift", "fairness", "privacy", "transparency"))]
    )
    return manifest


def test_a_duckdb_dag_run_stages_no_rows_and_records_what_the_memory_dag_records(
    airflow_db: Path, specs_dir: Path, demo_root: Path, data_roots: None, results_db: str
) -> None:
    from ethics_audit.engine.fingerprint import of_tables
    from ethics_audit.ledger.fingerprint import of_window
    from ethics_audit.runner import loader_for

    text = demo_spec_text(demo_root)
    memory_dag = write_spec(specs_dir, text, "ad-delivery", None)
    duck_dag = write_spec(specs_dir, text, "ad-delivery-duckdb", "duckdb")
    start, end = week_window(WEEK)

    memory_run = run_dag(end, memory_dag)
    duck_run = run_dag(end, duck_dag)

    assert str(memory_run.state) == str(duck_run.state) == "success", (states(memory_run), states(duck_run))
    assert set(states(duck_run).values()) == {"success"}
    store = Store(results_db)
    try:
        record = assert_same_results(store, "ad-delivery-duckdb", "ad-delivery")
        assert record.rows > 5000
        assert any(f.result.check == "fairness" and f.severity.is_breach for f in store.findings(record.run_id))
        assert_no_rows_staged(duck_run, record.rows)
        assert (Path(xcom(memory_run, "extract")["folder"]) / "current.parquet").exists()  # memory: staged as today
        # the ledger holds the fingerprint of the rows, taken on the engine (DuckDB's hash) by extract
        from ethics_audit.spec import load_spec

        spec = load_spec(specs_dir / "ad-delivery-duckdb.yaml")
        data = loader_for(spec)(spec, start, end, row_count_history=[])
        assert ledger_fingerprint(store, "ad-delivery-duckdb") == json.loads(json.dumps(of_tables(data)))
        # and the memory DAG's is the fingerprint of the frames (not of their row count only)
        memory_spec = load_spec(specs_dir / "ad-delivery.yaml")
        frames = loader_for(memory_spec)(memory_spec, start, end, row_count_history=[])
        recorded = ledger_fingerprint(store, "ad-delivery")
        assert recorded == json.loads(json.dumps(of_window(frames.current, frames.reference)))
        assert len(recorded["current"]["columns"]) == len(frames.current.columns) > 20
    finally:
        store.dispose()


def load_predictions(pg_url: str, demo_root: Path) -> None:
    """Weeks 3 and 4 of the demo, the late labels joined in, as the ``predictions`` table."""
    frame = pd.concat(pd.read_parquet(p) for p in sorted((demo_root / "predictions").glob("*.parquet")))
    labels = pd.concat(pd.read_parquet(p) for p in sorted((demo_root / "labels").glob("*.parquet")))
    frame = frame.merge(labels[["prediction_id", "clicked"]], on="prediction_id", how="left")
    frame = frame[(frame["ts"] >= week_window(WEEK - 1)[0]) & (frame["ts"] < week_window(WEEK)[1])]
    engine = sa.create_engine(pg_url)
    try:
        frame.to_sql("predictions", engine, index=False, chunksize=1000, method="multi")
    finally:
        engine.dispose()


def sql_source_spec(demo_root: Path, pg_url: str) -> str:
    """The demo spec reading the window from PostgreSQL (labels already in the table)."""
    text = demo_spec_text(demo_root)
    source = f"source:\n  path: {demo_root}/predictions/*.parquet\n"
    assert source in text
    query = "SELECT * FROM predictions WHERE ts >= :window_start AND ts < :window_end"
    text = text.replace(source, f"source:\n  query: {query}\n  url: {pg_url}\n")
    head, rest = text.split("\nlabels:", 1)
    return head + "\ncolumns:" + rest.split("\ncolumns:", 1)[1]


@pytest.mark.postgres
def test_a_postgres_dag_run_stages_no_rows_and_records_what_the_memory_dag_records(
    airflow_db: Path, specs_dir: Path, demo_root: Path, data_roots: None, results_db: str, pg_url: str
) -> None:
    load_predictions(pg_url, demo_root)
    text = sql_source_spec(demo_root, pg_url)
    memory_dag = write_spec(specs_dir, text, "ad-delivery-sql", None)
    pg_dag = write_spec(specs_dir, text, "ad-delivery-pg", "postgres")
    end = week_window(WEEK)[1]

    memory_run = run_dag(end, memory_dag)
    pg_run = run_dag(end, pg_dag)

    assert str(memory_run.state) == str(pg_run.state) == "success", (states(memory_run), states(pg_run))
    store = Store(results_db)
    try:
        record = assert_same_results(store, "ad-delivery-pg", "ad-delivery-sql")
        assert record.rows > 5000
        manifest = assert_no_rows_staged(pg_run, record.rows)
        assert manifest["engine"] == "postgres"
        # extract took it on PostgreSQL (its own hash, method postgres-hash), as the CLI's engine path takes it
        from ethics_audit.engine.fingerprint import of_tables
        from ethics_audit.runner import loader_for
        from ethics_audit.spec import load_spec

        spec = load_spec(specs_dir / "ad-delivery-pg.yaml")
        data = loader_for(spec)(spec, *week_window(WEEK), row_count_history=[])
        try:
            expected = json.loads(json.dumps(of_tables(data)))
        finally:
            from ethics_audit.airflow.tasks import close

            close(data)
        recorded = ledger_fingerprint(store, "ad-delivery-pg")
        assert recorded == expected and recorded["current"]["rows"] == record.rows
    finally:
        store.dispose()
    engine = sa.create_engine(pg_url)
    try:
        # every session of the tasks was closed (their temp tables with them); a backend whose
        # client has gone exits on its own time, so a busy server is given ten seconds to list none
        import time

        query = sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        deadline = time.monotonic() + 10
        while True:
            with engine.connect() as conn:  # a new transaction each time: pg_stat_activity is a snapshot
                others = conn.execute(query).scalar()
            if not others or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert others == 0
    finally:
        engine.dispose()


def test_a_source_changing_after_extract_fails_the_family_task_and_records_no_mix(
    airflow_db: Path,
    specs_dir: Path,
    demo_root: Path,
    data_roots: None,
    results_db: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ethics_audit.airflow import tasks

    predictions = tmp_path / "predictions"
    shutil.copytree(demo_root / "predictions", predictions)
    text = demo_spec_text(demo_root).replace(f"{demo_root}/predictions/*.parquet", f"{predictions}/*.parquet")
    dag_id = write_spec(specs_dir, text, "ad-delivery-duckdb", "duckdb")
    start, end = week_window(2)
    real_extract = tasks.extract

    def extract_then_late_rows_arrive(*args: Any, **kwargs: Any) -> dict:
        staged = real_extract(*args, **kwargs)
        frame = pd.concat(pd.read_parquet(p) for p in sorted(predictions.glob("*.parquet")))
        late = frame[(frame["ts"] >= start) & (frame["ts"] < end)].head(7).copy()
        late["prediction_id"] = late["prediction_id"] + "-late"
        late.to_parquet(predictions / "zz-late.parquet", index=False)
        return staged

    monkeypatch.setattr(tasks, "extract", extract_then_late_rows_arrive)
    dag_run = run_dag(end, dag_id)

    got = states(dag_run)
    assert str(dag_run.state) == "failed"
    assert (got["extract"], got["quality"], got["record"]) == ("success", "failed", "upstream_failed")
    rows = xcom(dag_run, "extract")["rows"]
    engine = sa.create_engine(results_db)
    try:
        with engine.connect() as conn:
            [run] = conn.execute(sa.text("SELECT status, error FROM audit_runs")).mappings().all()
            assert conn.execute(sa.text("SELECT count(*) FROM metric_results")).scalar() == 0
    finally:
        engine.dispose()
    assert run["status"] == "failed"
    assert "the source changed during this DAG run" in run["error"]
    assert f"extract counted {rows} rows in the window, the quality task counts {rows + 7}" in run["error"]
    store = Store(results_db)
    try:
        assert store.history("ad-delivery-duckdb") == []  # nothing current was recorded for the window
    finally:
        store.dispose()


def test_staged_counts_read_back_as_frames_of_that_length_only(
    tmp_path: Path, demo_root: Path, data_roots: None
) -> None:
    """``record`` rebuilds the window from the manifest alone; asking it for rows says why not."""
    from ethics_audit import staging
    from ethics_audit.errors import SourceError
    from ethics_audit.runner import loader_for
    from ethics_audit.spec import load_spec

    path = tmp_path / "spec.yaml"
    path.write_text(demo_spec_text(demo_root) + "engine:\n  kind: duckdb\n")
    spec = load_spec(path)
    start, end = week_window(1)
    data = loader_for(spec)(spec, start, end, row_count_history=[3, 4], now=datetime(2026, 8, 1))
    folder = staging.window_folder(spec.id, start, end, run_id=1)
    staging.save_audit_data(data, folder, run_id=1, rows=False, fingerprint={"current": None})
    assert not list(folder.glob("*.parquet"))
    back = staging.load_audit_data(spec, folder, counts_only=True)
    assert (back.rows, back.reference_rows, back.has_reference) == (data.rows, data.reference_rows, True)
    assert back.rows > 5000 and back.row_count_history == [3, 4] and back.consent is None
    assert staging.read_manifest(folder)["fingerprint"] == {"current": None}
    with pytest.raises(SourceError, match="stayed on the duckdb engine and were not staged"):
        staging.load_audit_data(spec, folder)
    # housekeeping prunes such a folder after the retention, as it prunes staged rows
    from datetime import timedelta

    assert staging.prune({}, timedelta(days=7)).folders == 0
    pruned = staging.prune({}, timedelta(days=7), now=staging.read_manifest(folder)["staged_at"] + 8 * 86400)
    assert pruned.folders == 1 and pruned.bytes > 0 and not folder.exists()
    assert list(staging.staging_root().iterdir()) == []  # the empty window and audit folders went too
