"""The results scan in worker processes reports exactly what the in-process scan reports.

Forced on the small history (``PARALLEL_ROWS`` 0, one run per chunk, two workers) on SQLite
and PostgreSQL, untouched and after tamperings that reach every branch of the scan: a changed
value (digest differs, rows diffed), rows added for a run no entry knows, a deleted run.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ledger_history import build, sql

from ethics_audit.ledger.checkpoint import make_checkpoint
from ethics_audit.ledger.verify import verify_store
from ethics_audit.store import ledger_scan


def _both(store, key, monkeypatch) -> tuple[list[str], list[str], dict]:
    serial = verify_store(store, public_key=key.public_key(), workers=1)
    monkeypatch.setattr(ledger_scan, "PARALLEL_ROWS", 0)
    monkeypatch.setattr(ledger_scan, "CHUNK_RUNS", 1)
    spread = verify_store(store, public_key=key.public_key(), workers=2)
    monkeypatch.undo()
    assert dict(spread.checked) == dict(serial.checked)
    return [p.text() for p in serial.problems], [p.text() for p in spread.problems], dict(serial.checked)


@pytest.mark.parametrize("tamper", ["none", "value", "added_run", "deleted_run"])
def test_workers_report_what_one_process_reports(store, monkeypatch, tamper: str) -> None:
    info = build(store)
    key = Ed25519PrivateKey.generate()
    make_checkpoint(store, key=key, note="test")
    runs = info["runs"]
    if tamper == "value":
        sql(store, f"UPDATE metric_results SET value = 0.05 WHERE run_id = {runs[3]} AND severity = 'critical'")
    elif tamper == "added_run":
        # a copy of one run's rows under the superseded run of week 2, which no current entry records
        sql(
            store,
            "INSERT INTO metric_results (run_id, audit_id, window_start, window_end, check_name, metric, slice, "
            "slice_key, value, ci_low, ci_high, n, threshold, severity, reason, details) "
            f"SELECT {runs[2]}, audit_id, window_start, window_end, check_name, metric, slice, slice_key, value, ci_low, "
            f"ci_high, n, threshold, severity, reason, details FROM metric_results WHERE run_id = {runs[0]}",
        )
    elif tamper == "deleted_run":
        sql(store, f"DELETE FROM metric_results WHERE run_id = {runs[1]}")
    serial, spread, checked = _both(store, key, monkeypatch)
    assert spread == serial
    assert checked["results"] > 0
    if tamper == "none":
        assert serial == []
    else:
        assert serial, "the tampering must be found"


def test_runs_a_broken_worker_pool_left_are_scanned_in_process(store, monkeypatch, caplog) -> None:
    import logging

    import ledger_history

    caplog.set_level(logging.WARNING, logger=ledger_scan.__name__)

    build(store)
    key = Ed25519PrivateKey.generate()
    serial = verify_store(store, public_key=key.public_key(), workers=1)
    monkeypatch.setattr(ledger_scan, "PARALLEL_ROWS", 0)
    monkeypatch.setattr(ledger_scan, "CHUNK_RUNS", 1)
    monkeypatch.setattr(ledger_scan, "_start_worker", ledger_history.broken_worker_start)
    spread = verify_store(store, public_key=key.public_key(), workers=2)
    assert dict(spread.checked) == dict(serial.checked) and spread.checked["results"] > 0
    assert [p.text() for p in spread.problems] == [p.text() for p in serial.problems]
    assert "a verify worker process stopped" in caplog.text
