"""End to end under a real Airflow: ``airflow standalone`` runs this checkout's DAGs.

A temporary AIRFLOW_HOME with its metadata in a fresh PostgreSQL database; the results go to
another fresh database through the ``ethics_audit_db`` connection, created over the REST API.
The test logs in (JWT from the simple auth manager), checks that a broken spec is an import
error while the good DAG stays active, triggers an audit DAG over the demo data, clears and
re-runs it, backfills two more windows, and reads the results from PostgreSQL. On failure it
prints the scheduler's output and the logs of the failed tasks.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "ethics_audit__ad-delivery"
STARTUP_TIMEOUT = 300
RUN_TIMEOUT = 420

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.postgres]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Airflow:
    home: Path
    base: str
    process: subprocess.Popen
    log: Path
    results_url: str
    demo: Path
    token: str = ""

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(
            method, f"{self.base}/api/v2{path}", headers={"Authorization": f"Bearer {self.token}"}, timeout=30, **kwargs
        )
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    def wait_for_run(self, run_id: str, timeout: float = RUN_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.alive()
            try:
                state = self.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}")["state"]
            except httpx.TimeoutException:  # a loaded machine: one slow answer is not a failure
                state = None
            if state in ("success", "failed"):
                return state
            time.sleep(2)
        raise AssertionError(f"DAG run {run_id} did not finish in {timeout} s")

    def tasks(self, run_id: str) -> dict[str, str]:
        return {
            t["task_id"]: t["state"]
            for t in self.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances")["task_instances"]
        }

    def alive(self) -> None:
        assert self.process.poll() is None, f"airflow standalone exited with {self.process.returncode}"

    def diagnostics(self) -> str:
        parts = [f"--- airflow standalone (last 150 lines of {self.log})"]
        parts += self.log.read_text(errors="replace").splitlines()[-150:]
        for task_log in sorted((self.home / "logs").glob("dag_id=*/run_id=*/task_id=*/attempt=*.log")):
            text = task_log.read_text(errors="replace")
            if '"level":"error"' in text or "Traceback" in text:
                parts += [f"--- {task_log.relative_to(self.home)}", *text.splitlines()[-40:]]
        return "\n".join(parts)


@pytest.fixture(scope="module")
def databases(pg_server: str) -> Iterator[tuple[str, str]]:
    """Two fresh PostgreSQL databases: Airflow's metadata and the audit results."""
    names = [f"ea_e2e_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("meta", "results")]
    admin = sa.create_engine(pg_server, isolation_level="AUTOCOMMIT")
    host = sa.engine.make_url(pg_server).host
    with admin.connect() as conn:
        for name in names:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield tuple(f"postgresql+psycopg://postgres@{host}:5432/{n}" for n in names)  # type: ignore[misc]
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory, databases: tuple[str, str]) -> Iterator[Airflow]:
    from ethics_audit.demo import generate

    meta_url, results_url = databases
    root = tmp_path_factory.mktemp("e2e")
    home, audit_home, specs = root / "airflow", root / "ethics_audit", root / "audits"
    for folder in (home, audit_home, specs):
        folder.mkdir()
    generate(audit_home / "demo", weeks=5, rows_per_week=3000)
    spec = (REPO / "audits/examples/ad_delivery.yaml").read_text()
    (specs / "ad_delivery.yaml").write_text(spec)
    (specs / "broken.yaml").write_text(
        spec.replace("id: ad-delivery", "id: broken").replace("size: 7d", "size: weekly")
    )

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW", "ETHICS_AUDIT"))} | {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        # the task processes must import this checkout's library, not one installed in the venv
        "PYTHONPATH": str(REPO / "plugins"),
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        # only the runs this test asks for (a DAG unpaused would also audit the latest full window)
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta_url,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": meta_url.replace("+psycopg:", "+psycopg_async:"),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        # the task runners' calls to the execution API: 5 s by default, too short on a loaded CI machine
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        # the log servers of the scheduler and triggerer: free ports, not 8793/8794 of another Airflow
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
        "SCARF_ANALYTICS": "false",
        "DO_NOT_TRACK": "1",
        "GX_ANALYTICS_ENABLED": "false",
        "ETHICS_AUDIT_HOME": str(audit_home),
        "ETHICS_AUDIT_SPECS_DIR": str(specs),
        "ETHICS_AUDIT_TASK_RETRIES": "0",
    }
    log = root / "standalone.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow", "standalone"],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the teardown stops it and every child
        )
    af = Airflow(home, f"http://127.0.0.1:{port}", process, log, results_url, audit_home / "demo")
    try:
        _wait_until_healthy(af)
        password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
        response = httpx.post(f"{af.base}/auth/token", json={"username": "admin", "password": password}, timeout=30)
        assert response.status_code == 201, response.text
        af.token = response.json()["access_token"]
        yield af
    except BaseException:
        print(af.diagnostics())
        raise
    finally:
        _stop(process)


def _wait_until_healthy(af: Airflow) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        af.alive()
        try:
            health = httpx.get(f"{af.base}/api/v2/monitor/health", timeout=5).json()
            components = ("metadatabase", "scheduler", "triggerer", "dag_processor")
            if all(health.get(c, {}).get("status") == "healthy" for c in components):
                passwords = af.home / "simple_auth_manager_passwords.json.generated"
                if passwords.exists():
                    return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(2)
    raise AssertionError(f"airflow standalone was not healthy after {STARTUP_TIMEOUT} s")


def _stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    try:
        # the scheduler's LocalExecutor workers do not always follow SIGTERM
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _results(url: str, sql: str) -> list[dict]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.text(sql)).mappings()]
    finally:
        engine.dispose()


def _rows_in(af: Airflow, start: datetime, end: datetime) -> int:
    frame = pd.concat(pd.read_parquet(p) for p in sorted((af.demo / "predictions").glob("*.parquet")))
    return int(((frame["ts"] >= start) & (frame["ts"] < end)).sum())


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_a_real_scheduler_runs_an_audit_dag_triggered_over_the_rest_api(airflow: Airflow) -> None:
    try:
        _scenario(airflow)
    except BaseException:
        print(airflow.diagnostics())
        raise


def _connect_results(af: Airflow) -> None:
    """The results database as the Airflow connection the DAGs read (built from fields, not a URI)."""
    results = sa.engine.make_url(af.results_url)
    af.api(
        "POST",
        "/connections",
        json={
            "connection_id": "ethics_audit_db",
            "conn_type": "postgres",
            "host": results.host,
            "port": results.port,
            "login": results.username,
            "schema": results.database,
        },
    )


def _scenario(af: Airflow) -> None:
    _connect_results(af)
    deadline = time.monotonic() + 120
    while DAG_ID not in {d["dag_id"] for d in af.api("GET", "/dags")["dags"]}:
        assert time.monotonic() < deadline, "the audit DAG never appeared"
        time.sleep(2)

    # the broken spec is an import error naming file and field; the good DAG stays active
    deadline = time.monotonic() + 60
    while not (errors := af.api("GET", "/importErrors")["import_errors"]):
        assert time.monotonic() < deadline, "the broken spec did not show up as an import error"
        time.sleep(2)
    [error] = errors
    assert error["filename"].endswith("ethics_audit_spec_check.py")
    assert "broken.yaml: window.size: 'weekly' is not a duration" in error["stack_trace"]
    dag = af.api("GET", f"/dags/{DAG_ID}")
    assert dag["is_stale"] is False and dag["has_import_errors"] is False
    assert "ethics_audit__broken" not in {d["dag_id"] for d in af.api("GET", "/dags")["dags"]}

    af.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
    run = af.api(
        "POST", f"/dags/{DAG_ID}/dagRuns", json={"dag_run_id": "e2e-week-2", "logical_date": "2026-07-20T00:00:00Z"}
    )
    assert (run["data_interval_start"], run["data_interval_end"]) == ("2026-07-13T00:00:00Z", "2026-07-20T00:00:00Z")
    assert af.wait_for_run("e2e-week-2") == "success", af.tasks("e2e-week-2")

    [first] = _results(af.results_url, "SELECT * FROM audit_runs")
    assert (first["window_start"], first["window_end"]) == (utc(2026, 7, 13), utc(2026, 7, 20))
    assert first["trigger"] == "airflow-manual"
    assert first["rows"] == _rows_in(af, utc(2026, 7, 13), utc(2026, 7, 20)) > 2000
    assert first["status"] in ("succeeded", "partial")
    before = _results(af.results_url, "SELECT check_name, metric, slice_key, value, severity FROM metric_results")
    assert {"row_count", "reference_row_count"} <= {r["metric"] for r in before}

    # clear the whole run and let the scheduler run it again: one set of results, no duplicate notices
    af.api(
        "POST",
        f"/dags/{DAG_ID}/clearTaskInstances",
        json={"dry_run": False, "dag_run_id": "e2e-week-2", "only_failed": False, "reset_dag_runs": True},
    )
    time.sleep(3)
    assert af.wait_for_run("e2e-week-2") == "success", af.tasks("e2e-week-2")
    runs = _results(af.results_url, "SELECT id, status FROM audit_runs ORDER BY id")
    assert [r["id"] for r in runs] == [first["id"], first["id"] + 1]
    [window] = _results(af.results_url, "SELECT * FROM audit_windows")
    assert window["current_run_id"] == first["id"] + 1
    after = _results(
        af.results_url, "SELECT check_name, metric, slice_key, value, severity, run_id FROM metric_results"
    )
    assert {r["run_id"] for r in after} == {first["id"] + 1}
    key = lambda r: (r["check_name"], r["metric"], r["slice_key"])  # noqa: E731
    assert sorted((key(r), r["value"], r["severity"]) for r in after) == sorted(
        (key(r), r["value"], r["severity"]) for r in before
    )
    notes = _results(af.results_url, "SELECT idempotency_key, status, attempts FROM notifications")
    assert len({n["idempotency_key"] for n in notes}) == len(notes)
    assert all(n["attempts"] <= 1 for n in notes if n["status"] == "sent")

    # a backfill runs every tick in [from, to], each auditing the window that ends there: weeks 4
    # and 5, oldest first. (Its runs' logical dates are the window starts, while a manual run's is
    # the window end: week 3, starting 07-20, would collide with the manual run above and be skipped.)
    af.api(
        "POST",
        "/backfills",
        json={
            "dag_id": DAG_ID,
            "from_date": "2026-08-03T00:00:00Z",
            "to_date": "2026-08-10T00:00:00Z",
            "max_active_runs": 1,
        },
    )
    deadline = time.monotonic() + 2 * RUN_TIMEOUT
    while True:
        backfill_runs = [r for r in af.api("GET", f"/dags/{DAG_ID}/dagRuns")["dag_runs"] if r["run_type"] == "backfill"]
        if len(backfill_runs) == 2 and all(r["state"] in ("success", "failed") for r in backfill_runs):
            break
        assert time.monotonic() < deadline, f"the backfill did not finish: {backfill_runs}"
        af.alive()
        time.sleep(3)
    assert [r["state"] for r in backfill_runs] == ["success", "success"]
    rows = _results(
        af.results_url,
        "SELECT window_start, window_end, trigger, rows FROM audit_runs WHERE trigger = 'airflow-backfill' ORDER BY id",
    )
    weeks = [(utc(2026, 7, 27), utc(2026, 8, 3)), (utc(2026, 8, 3), utc(2026, 8, 10))]
    assert [(r["window_start"], r["window_end"]) for r in rows] == weeks
    assert [r["rows"] for r in rows] == [_rows_in(af, *week) for week in weeks]
    assert min(r["rows"] for r in rows) > 2000
