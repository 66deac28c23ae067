"""A small recorded history for ledger tests: four weekly windows, a re-run, an ack, a DP spend."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import text

START = datetime(2026, 7, 6, tzinfo=timezone.utc)


def findings(week: int, *, breach: bool) -> list[Any]:
    from ethics_audit.evaluate import judge_all
    from ethics_audit.results import MetricResult, Threshold

    threshold = Threshold(warn=0.1, critical=0.2)
    results = [
        MetricResult(
            "fairness",
            "demographic_parity_difference",
            0.25 if breach and g == 0 else 0.01 * (g + 1) + week / 1000,
            slice={"attribute": "gender", "group": f"g{g}"},
            ci_low=0.001 * g,
            ci_high=0.3,
            n=1000 + g,
            threshold=threshold,
            details={"rates": [0.1, 0.2], "method": "bootstrap", "whole": 2.0},
        )
        for g in range(4)
    ]
    results.append(MetricResult("window", "row_count", 1000 + week, n=1000 + week))
    results.append(MetricResult("quality", "null_share", 0.0, slice={"column": "score"}, threshold=threshold))
    return judge_all(results)


def record(store: Any, spec: Any, week: int, *, breach: bool = False) -> int:
    import pandas as pd

    from ethics_audit.ledger.fingerprint import of_window
    from ethics_audit.recording import record_window

    start = START + timedelta(weeks=week)
    run_id = store.begin_run(spec, start, start + timedelta(weeks=1))
    frame = pd.DataFrame({"user_id": [f"u{i}" for i in range(5)], "score": [0.1 * i for i in range(5)]})
    record_window(
        store,
        run_id,
        spec,
        findings(week, breach=breach),
        status="succeeded",
        rows=1000 + week,
        reference_rows=None,
        timings={},
        summary={},
        now=start + timedelta(weeks=1, hours=6),
        fingerprint=of_window(frame, None),
    )
    return run_id


def build(store: Any) -> dict[str, Any]:
    """Windows 0-3 (week 3 breaches), week 2 re-run, the open incident acknowledged, a DP spend."""
    from ethics_audit.recording import apply_action
    from ethics_audit.store import BudgetSpend
    from helpers import make_spec

    spec = make_spec({"checks": {}})
    runs = [record(store, spec, w, breach=w == 3) for w in range(4)]
    rerun = record(store, spec, 2)
    incidents = store.incidents(statuses=["open"])
    apply_action(store, "acknowledge", [incidents[0]["id"]], actor="ethics-officer", note="looking")
    store.spend_privacy_budget(
        [BudgetSpend("test-model", 2026, 0.5, 2.0, "public report 2026Q3", {"quarter": "2026Q3"})]
    )
    return {"spec": spec, "runs": runs, "rerun": rerun, "incident": incidents[0]["id"]}


def sql(store: Any, *statements: str) -> None:
    with store.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def unlock_ledger(store: Any) -> None:
    """What an admin who means to rewrite the ledger does first: drop the append-only triggers."""
    from ethics_audit.store.ledger import drop_append_only_triggers

    sql(store, *drop_append_only_triggers(store.engine.dialect.name))


def broken_worker_start(url: str, snapshot: str | None) -> None:
    """A verify worker that cannot start (tests/ledger/test_parallel_scan.py)."""
    raise RuntimeError("this worker cannot start")
