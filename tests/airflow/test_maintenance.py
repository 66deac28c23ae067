"""The quarterly report and housekeeping DAGs, and the task helpers they share with the audit DAGs."""

from __future__ import annotations

import json
import time
import types
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from airflow_support import DAGS

from ethics_audit import jobs, staging
from ethics_audit.airflow import tasks
from ethics_audit.errors import AuditError, DataError
from ethics_audit.recording import record_window
from ethics_audit.store import Store
from ethics_audit.windows import previous_quarter
from helpers import WINDOW_END, WINDOW_START, make_data, make_spec

SPEC = {
    "id": "churn-model",
    "model": {"name": "churn", "version": "3"},
    "window": {"size": "7d"},
    "source": {"path": "data/*.parquet"},
    "columns": {"entity_id": "user_id", "timestamp": "ts"},
    "owners": {"slack_channel": "#churn", "ticket_project": "CHURN"},
    "notifications": {
        "routes": [{"severities": ["critical"], "channels": ["slack", "jira"]}, {"channels": ["console"]}]
    },
    "staging_retention": "1d",
}


def test_previous_quarter() -> None:
    def at(*args: int) -> datetime:
        return datetime(*args, tzinfo=timezone.utc)

    assert previous_quarter(at(2026, 10, 8, 6)) == "2026Q3"
    assert previous_quarter(at(2026, 1, 8)) == "2025Q4"
    assert previous_quarter(at(2026, 4, 1)) == "2026Q1"
    assert previous_quarter(at(2026, 12, 31, 23)) == "2026Q3"


def test_failure_messages_keep_our_errors_and_hide_library_details() -> None:
    assert tasks.safe_error(DataError("a.yaml: columns.score: column 'score' is missing")).startswith("a.yaml")
    assert tasks.safe_error(KeyError("jane@example.com")) == "KeyError (details in the task log in Airflow)"
    assert tasks.safe_error(None) == "the task failed (see its log in Airflow)"
    assert tasks.trigger_name(types.SimpleNamespace(value="backfill")) == "airflow-backfill"
    assert tasks.trigger_name("scheduled") == "airflow-scheduled"


def test_a_quarter_that_is_not_one_is_a_clear_error() -> None:
    with pytest.raises(AuditError, match="quarterly report: '2026Q5' is not a quarter"):
        jobs.report_quarter("2026Q5")


def dag_from(file: str, dag_id: str) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / file))
    assert bag.import_errors == {}
    return bag.dags[dag_id]


def test_the_quarterly_dag_builds_the_report_and_tells_each_audited_model(
    airflow_db: Path, specs_dir: Path, results_conn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETHICS_AUDIT_CHROMIUM", str(specs_dir / "no-browser"))  # the PDF is tested elsewhere
    (specs_dir / "churn.yaml").write_text(yaml.safe_dump(SPEC))
    (specs_dir / "other.yaml").write_text(yaml.safe_dump(SPEC | {"id": "never-audited"}))
    store = Store(results_conn)
    spec = make_spec({"id": "churn-model"})
    run_id = store.begin_run(spec, WINDOW_START, WINDOW_END)
    record_window(store, run_id, spec, [], status="succeeded", rows=1, reference_rows=None, timings={}, summary={})

    dag = dag_from("ethics_audit_maintenance.py", "ethics_audit_quarterly_report")
    for _ in range(2):  # a re-run of the same quarter tells nobody twice
        dag_run = dag.test(logical_date=datetime(2026, 10, 8, 6, tzinfo=timezone.utc))
        assert str(dag_run.state) == "success"
    html = Path(specs_dir.parent / "home" / "reports" / "2026Q3" / "ethics-report-2026Q3.html")
    assert "churn" in html.read_text()
    # every chat channel of the audited model, once; the model that was never audited is not told
    queued = sorted((n.audit_id, n.channel, n.idempotency_key) for n in store.notifications(limit=50))
    assert queued == [("churn-model", c, f"quarterly-report:2026Q3:churn-model:{c}") for c in ("console", "slack")]
    assert all(str(html) in str(n.payload["links"]) for n in store.notifications(limit=50))

    dag_run = dag.test(logical_date=datetime(2026, 11, 1, tzinfo=timezone.utc), run_conf={"quarter": "2026Q1"})
    assert str(dag_run.state) == "success"
    assert (specs_dir.parent / "home" / "reports" / "2026Q1" / "ethics-report-2026Q1.html").exists()
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
    store = Store(results_conn)
    store.enqueue_notification("churn-model", "console", "hello", {"title": "hi", "text": "a waiting notice"})

    dag_run = dag_from("ethics_audit_maintenance.py", "ethics_audit_housekeeping").test()

    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert states == {"flush_outbox": "success", "prune_staging": "success"}
    assert [n.status for n in store.notifications()] == ["sent"]  # the waiting notice went out
    store.dispose()
    assert not old.exists() and fresh.exists()  # the spec keeps staged rows for 1 day


def test_the_failure_callback_never_raises(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def broken_store() -> Store:
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(tasks, "open_results_store", broken_store)
    ti = types.SimpleNamespace(task_id="record", dag_id="d", try_number=1, xcom_pull=lambda **kw: None)
    tasks.audit_failed(make_spec(), {"ti": ti})
    assert "the failure callback itself failed" in caplog.text
