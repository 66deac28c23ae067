"""Attempts whose process died are marked abandoned at the audit's next run; live ones are not."""

from __future__ import annotations

import subprocess
from datetime import timedelta

from ethics_audit.store import Store
from ethics_audit.store.models import AuditRun
from helpers import WINDOW_END, WINDOW_START, make_spec


def test_only_attempts_of_dead_processes_are_abandoned(store: Store) -> None:
    spec = make_spec()
    dead = store.begin_run(spec, WINDOW_START, WINDOW_END, in_process=True)
    live = store.begin_run(spec, WINDOW_START, WINDOW_END, in_process=True)  # this process: alive
    split = store.begin_run(spec, WINDOW_START, WINDOW_END)  # an Airflow attempt: no process of its own
    with store.session() as s:
        run = s.get(AuditRun, dead)
        run.summary = {"process": {**run.summary["process"], "pid": _ended_pid()}}
    store.begin_run(spec, WINDOW_END, WINDOW_END + timedelta(days=7))  # another window of the audit
    statuses = {r.run_id: r.status for r in store.history(spec.id, attempts=True)}
    assert statuses[dead] == "abandoned" and statuses[live] == "running" and statuses[split] == "running"


def _ended_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid
