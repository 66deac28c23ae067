"""The quarterly report and housekeeping DAGs, and the task helpers they share with the audit DAGs."""

from __future__ import annotations

import importlib.machinery
import json
import sys
import time
import types
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from airflow_support import DAGS

from ethics_audit import staging
from ethics_audit.airflow import tasks
from ethics_audit.errors import AuditError, DataError
from ethics_audit.store import Store
from helpers import WINDOW_END, WINDOW_START, make_data, make_spec

SPEC = {
    "id": "churn-model",
    "model": {"name": "churn", "version": "3"},
    "window": {"size": "7d"},
    "source": {"path": "data/*.parquet"},
    "columns": {"entity_id": "user_id", "timestamp": "ts"},
    "notifications": {
        "routes": [{"severities": ["critical"], "channels": ["slack", "jira"]}, {"channels": ["console"]}]
    },
    "staging_retention": "1d",
}


def install(monkeypatch: pytest.MonkeyPatch, name: str, **functions: Any) -> None:
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    for key, value in functions.items():
        setattr(module, key, value)
    monkeypatch.setitem(sys.modules, name, module)


def test_previous_quarter() -> None:
    def at(*args: int) -> datetime:
        return datetime(*args, tzinfo=timezone.utc)

    assert tasks.previous_quarter(at(2026, 10, 8, 6)) == "2026Q3"
    assert tasks.previous_quarter(at(2026, 1, 8)) == "2025Q4"
    assert tasks.previous_quarter(at(2026, 4, 1)) == "2026Q1"
    assert tasks.previous_quarter(at(2026, 12, 31, 23)) == "2026Q3"


def test_failure_messages_keep_our_errors_and_hide_library_details() -> None:
    assert tasks.safe_error(DataError("a.yaml: columns.score: column 'score' is missing")).startswith("a.yaml")
    assert tasks.safe_error(KeyError("jane@example.com")) == "KeyError (details in the task log in Airflow)"
    assert tasks.safe_error(None) == "the task failed (see its log in Airflow)"
    assert tasks.trigger_name(types.SimpleNamespace(value="backfill")) == "airflow-backfill"
    assert tasks.trigger_name("scheduled") == "airflow-scheduled"


def test_steps_without_their_piece_are_skipped_not_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks, "_available", lambda module: False)
    with pytest.raises(tasks.StepSkipped, match=r"ethics_audit\.notify is not installed"):
        tasks.deliver("churn-model")
    with pytest.raises(tasks.StepSkipped, match=r"ethics_audit\.reports is not installed"):
        tasks.quarterly_report("2026Q3", [])
    with pytest.raises(AuditError, match="quarterly report: '2026Q5' is not a quarter"):
        tasks.quarterly_report("2026Q5", [])


def dag_from(file: str, dag_id: str) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / file))
    assert bag.import_errors == {}
    return bag.dags[dag_id]


def test_the_quarterly_dag_builds_the_report_and_tells_each_audited_model(
    airflow_db: Path, specs_dir: Path, results_conn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (specs_dir / "churn.yaml").write_text(yaml.safe_dump(SPEC))
    (specs_dir / "other.yaml").write_text(yaml.safe_dump(SPEC | {"id": "never-audited"}))
    store = Store(results_conn)
    run_id = store.begin_run(make_spec({"id": "churn-model"}), WINDOW_START, WINDOW_END)
    store.record_window(
        run_id,
        make_spec({"id": "churn-model"}),
        [],
        status="succeeded",
        rows=1,
        reference_rows=None,
        timings={},
        summary={},
    )
    built: list[tuple[str, Any]] = []
    delivered: list[Any] = []

    def build_quarterly_report(store: Store, quarter: str, **kwargs: Any) -> dict:
        built.append((quarter, kwargs))
        return {"html": Path(f"/reports/{quarter}.html"), "pdf": Path(f"/reports/{quarter}.pdf")}

    install(monkeypatch, "ethics_audit.reports", build_quarterly_report=build_quarterly_report)
    install(monkeypatch, "ethics_audit.notify", deliver_pending=lambda store, **kw: delivered.append(kw) or {})
    if not hasattr(Store, "enqueue_notification"):
        queued: list[tuple] = []
        monkeypatch.setattr(Store, "enqueue_notification", lambda self, *a: queued.append(a), raising=False)
    else:
        queued = None  # type: ignore[assignment]

    dag = dag_from("ethics_audit_maintenance.py", "ethics_audit_quarterly_report")
    dag_run = dag.test(logical_date=datetime(2026, 10, 8, 6, tzinfo=timezone.utc))
    assert str(dag_run.state) == "success"
    assert built == [("2026Q3", {})]
    if queued is not None:
        # every channel of the audited model, once; the model that was never audited is not told
        assert sorted((a[0], a[1], a[2]) for a in queued) == [
            ("churn-model", c, f"quarterly-report:2026Q3:churn-model:{c}") for c in ("console", "jira", "slack")
        ]
        assert queued[0][3]["files"] == {"html": "/reports/2026Q3.html", "pdf": "/reports/2026Q3.pdf"}

    built.clear()
    dag_run = dag.test(logical_date=datetime(2026, 11, 1, tzinfo=timezone.utc), run_conf={"quarter": "2026Q1"})
    assert str(dag_run.state) == "success" and built == [("2026Q1", {})]
    store.dispose()


def test_the_housekeeping_dag_flushes_the_outbox_and_prunes_old_staged_windows(
    airflow_db: Path, specs_dir: Path, results_conn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (specs_dir / "churn.yaml").write_text(yaml.safe_dump(SPEC))
    spec = make_spec({"id": "churn-model"})
    import pandas as pd

    frame = pd.DataFrame({"user_id": ["a"], "ts": pd.to_datetime(["2026-07-06"], utc=True)})
    old = staging.window_folder("churn-model", WINDOW_START, WINDOW_END, 1)
    fresh = staging.window_folder("churn-model", WINDOW_START, WINDOW_END, 2)
    for folder, age in ((old, timedelta(days=2)), (fresh, timedelta(hours=2))):
        staging.save_audit_data(make_data(spec, frame), folder)
        manifest = staging.read_manifest(folder) | {"staged_at": time.time() - age.total_seconds()}
        (folder / staging.MANIFEST).write_text(json.dumps(manifest))
    flushed: list[Any] = []
    install(monkeypatch, "ethics_audit.notify", deliver_pending=lambda store, **kw: flushed.append(kw) or {"sent": 3})

    dag_run = dag_from("ethics_audit_maintenance.py", "ethics_audit_housekeeping").test()

    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert states == {"flush_outbox": "success", "prune_staging": "success"}
    assert flushed == [{"audit_id": None}]  # every audit's outbox
    assert not old.exists() and fresh.exists()  # the spec keeps staged rows for 1 day


def test_the_failure_callback_never_raises(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def broken_store() -> Store:
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(tasks, "open_results_store", broken_store)
    ti = types.SimpleNamespace(task_id="record", dag_id="d", try_number=1, xcom_pull=lambda **kw: None)
    tasks.audit_failed(make_spec(), {"ti": ti})
    assert "the failure callback itself failed" in caplog.text
