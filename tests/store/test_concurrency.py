"""Commands at the same time on one results database: they take turns, none fails.

Each race is two real processes released together: they open the store (migrating a brand-new
SQLite file), begin a run and record a window of the same audit. Before the store serialised
recordings per audit, PostgreSQL failed the loser with ``UniqueViolation uq_audit_windows_window``
and SQLite with ``table audit_runs already exists``; two windows of one audit lost an update.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ethics_audit.recording import record_window
from ethics_audit.store import Store
from helpers import WINDOW_START, make_spec

REPO = Path(__file__).resolve().parents[2]

RECORD = """
import sys, time
from datetime import datetime, timedelta
from pathlib import Path
from ethics_audit.evaluate import judge_all
from ethics_audit.recording import record_window
from ethics_audit.results import MetricResult, Threshold
from ethics_audit.store import Store
from helpers import make_spec
url, go, audit_id, start, value, begin_first = sys.argv[1:]
spec = make_spec({"id": audit_id, "checks": {"quality": {}}})
start = datetime.fromisoformat(start)
if begin_first == "yes":  # both runs are under way (reading data, checking) before either records
    store = Store(url)
    run = store.begin_run(spec, start, start + timedelta(days=7))
Path(go + "." + start.isoformat() + "." + str(time.monotonic_ns())).touch()  # ready at the gate
while not Path(go).exists():
    time.sleep(0.002)
if begin_first != "yes":  # both open the store at once: on a new SQLite file, both migrate it
    store = Store(url)
    run = store.begin_run(spec, start, start + timedelta(days=7))
result = MetricResult("quality", "mean_score", float(value), n=10, threshold=Threshold(warn=0.5, critical=0.8))
changes = record_window(store, run, spec, judge_all([result]), status="succeeded", rows=10, reference_rows=None,
                        timings={}, summary={})
print(run, changes)
"""


def race(
    tmp_path: Path, url: str, jobs: list[tuple[str, str, float]], *, begin_first: bool = False
) -> list[subprocess.CompletedProcess]:
    go = tmp_path / f"go-{time.monotonic_ns()}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO / "tests")])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RECORD, url, str(go), audit_id, start, str(value), "yes" if begin_first else "no"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for audit_id, start, value in jobs
    ]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob(go.name + ".*"))) < len(jobs):  # every process waits at the gate
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "a racer did not start"
        time.sleep(0.01)
    go.touch()
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def _kinds(store: Store, audit_id: str) -> list[str]:
    return sorted(r.kind for r in store.notifications(audit_id=audit_id))


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_two_runs_of_the_same_new_window_take_turns(tmp_path: Path, backend: str, request) -> None:
    for attempt in range(2):
        # SQLite: a brand-new file each time, so the two processes also race to migrate it
        url = (
            f"sqlite:///{tmp_path / f'new-{attempt}.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
        )
        audit_id = f"race-{attempt}"
        start = WINDOW_START.isoformat()
        results = race(tmp_path, url, [(audit_id, start, 0.9), (audit_id, start, 0.9)])
        for done in results:
            assert done.returncode == 0, done.stderr[-2000:]
        store = Store(url)
        try:
            attempts = store.history(audit_id, attempts=True)
            assert [a.status for a in attempts] == ["succeeded", "succeeded"]
            assert sum(a.is_current for a in attempts) == 1
            assert len(store.history(audit_id)) == 1
            assert len(store.incidents(audit_id=audit_id)) == 1
            assert _kinds(store, audit_id).count("opened") == 1
        finally:
            store.dispose()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_two_windows_of_one_audit_at_once_each_queue_their_update(tmp_path: Path, backend: str, request) -> None:
    url = f"sqlite:///{tmp_path / 'results.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    from datetime import timedelta

    from ethics_audit.evaluate import judge_all
    from ethics_audit.results import MetricResult, Threshold

    store = Store(url)
    spec = make_spec({"id": "two-windows", "checks": {"quality": {}}})
    run = store.begin_run(spec, WINDOW_START, WINDOW_START + timedelta(days=7))
    breach = MetricResult("quality", "mean_score", 0.9, n=10, threshold=Threshold(warn=0.5, critical=0.8))
    record_window(
        store, run, spec, judge_all([breach]), status="succeeded", rows=10, reference_rows=None, timings={}, summary={}
    )
    weeks = [(WINDOW_START + timedelta(days=7 * k)).isoformat() for k in (1, 2)]
    jobs = [("two-windows", weeks[0], 0.95), ("two-windows", weeks[1], 0.97)]
    results = race(tmp_path, url, jobs, begin_first=True)
    for done in results:
        assert done.returncode == 0, done.stderr[-2000:]
    try:
        [incident] = store.incidents(audit_id="two-windows")
        assert incident["occurrences"] == 3
        assert _kinds(store, "two-windows").count("updated") == 2, [r.stdout for r in results]
    finally:
        store.dispose()
