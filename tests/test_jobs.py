"""The jobs the DAGs and the CLI share, run without Airflow: which quarter a report covers, an
outbox flush, a staging prune. (The DAGs running them: tests/airflow/test_maintenance.py.)"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from ethics_audit import jobs, staging
from ethics_audit.errors import AuditError
from helpers import WINDOW_END, WINDOW_START, fresh_python, make_data, make_spec


def test_importing_the_jobs_loads_no_airflow_and_nothing_heavy() -> None:
    probe = (
        "import sys\nimport ethics_audit.jobs\n"
        "print([m for m in ('airflow', 'sqlalchemy', 'pandas', 'jinja2') if m in sys.modules])\n"
    )
    out = fresh_python(probe)
    assert out.strip() == "[]"


def test_the_quarter_of_a_report() -> None:
    assert jobs.report_quarter("2026Q1") == "2026Q1"
    assert jobs.report_quarter("", datetime(2026, 10, 8, 6, tzinfo=timezone.utc)) == "2026Q3"
    assert jobs.report_quarter(None, datetime(2026, 1, 8, tzinfo=timezone.utc)) == "2025Q4"
    with pytest.raises(AuditError, match="quarterly report: '2026Q5' is not a quarter"):
        jobs.report_quarter("2026Q5")


def test_a_flush_sends_what_waits(store) -> None:
    store.enqueue_notification("a", "console", "k1", {"kind": "message", "audit_id": "a", "title": "t", "text": "hi"})
    store.enqueue_notification("b", "console", "k2", {"kind": "message", "audit_id": "b", "title": "t", "text": "hi"})
    result = jobs.flush_outbox(store, audit_id="a")
    assert (result["sent"], result["errors"]) == (1, [])
    assert sorted((n.audit_id, n.status) for n in store.notifications()) == [("a", "sent"), ("b", "pending")]
    assert jobs.flush_outbox(store)["sent"] == 1


def test_a_prune_keeps_what_each_spec_still_wants(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = make_spec({"id": "kept-a-day", "staging_retention": "1d"})
    frame = pd.DataFrame({"user_id": ["a"], "ts": pd.to_datetime(["2026-07-06"], utc=True)})

    def stage(audit_id: str, run_id: int, age: timedelta) -> Path:
        folder = staging.window_folder(audit_id, WINDOW_START, WINDOW_END, run_id)
        staging.save_audit_data(make_data(spec, frame), folder)
        manifest = staging.read_manifest(folder) | {"staged_at": time.time() - age.total_seconds()}
        (folder / staging.MANIFEST).write_text(json.dumps(manifest))
        return folder

    old, fresh = stage(spec.id, 1, timedelta(days=2)), stage(spec.id, 2, timedelta(hours=2))
    # an audit whose spec is gone keeps its staged windows for the default retention
    orphan_young, orphan_old = stage("gone", 3, timedelta(days=2)), stage("gone", 4, timedelta(days=9))
    monkeypatch.delenv("ETHICS_AUDIT_STAGING_RETENTION", raising=False)
    result = jobs.prune_staging([spec])
    assert result["folders"] == 2 and result["bytes"] > 0
    assert not old.exists() and fresh.exists()
    assert orphan_young.exists() and not orphan_old.exists()
