"""The transparency family pushed down into PostgreSQL gives the in-memory path's results exactly:
coverage and reason codes by group, the controls' as-of join, appeals by prediction id and by
entity (an as-of join), and the bias-audit counts with the window's exact median score."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from ethics_audit import checks
from ethics_audit.checks import transparency
from ethics_audit.engine import Rows
from ethics_audit.engine import sql as pushdown
from ethics_audit.engine import window as engine_window
from ethics_audit.engine.files import in_utc
from ethics_audit.results import Status
from ethics_audit.spec import AuditSpec
from helpers import WINDOW_END, WINDOW_START, make_data

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "checks"))
from privacy_engine_helpers import comparable
from transparency_helpers import DAY, T0, ledgers, spec, window

pytestmark = pytest.mark.postgres
QUERY = "SELECT * FROM decisions WHERE ts >= :window_start AND ts < :window_end"
NOW = T0 + 8 * DAY


def pushed_down(url: str, frame: pd.DataFrame, transparency_: dict | None = None, **columns: Any) -> tuple[Any, Any]:
    """The spec on a PostgreSQL source and the window as the pushdown path holds it."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        frame.to_sql("decisions", conn, index=False)
    engine.dispose()
    base = spec(transparency_, **columns).model_dump(mode="json", exclude_unset=True)
    pg = AuditSpec.model_validate({**base, "source": {"query": QUERY, "url": url}, "engine": {"kind": "postgres"}})
    backend = pushdown.connect(pg.source, pg, "source")
    table = pushdown.window_table(backend, pg.source, pg, "source", start=WINDOW_START, end=WINDOW_END)
    return pg, Rows(in_utc(table, "ts", "source", backend), backend, "postgres")


def _compare(pg: Any, rows: Rows, frame: pd.DataFrame, ledgers: dict) -> list:
    config = pg.checks.transparency
    memory = transparency.run(config, make_data(pg, frame, now=NOW, **ledgers))
    data = make_data(pg, None, tables={"current": rows}, now=NOW, **ledgers)
    got = transparency.run(config, data)
    assert data.current is None, data.derived.get("engine.loaded_for")
    assert not [r for r in got if r.status is Status.ERROR], [r.details for r in got if r.status is Status.ERROR]
    assert comparable(got) == comparable(memory)
    return got


def test_the_transparency_family_pushed_down_equals_the_memory_path(pg_url: str) -> None:
    rng = np.random.default_rng(0)
    frame = window(rng, n=2500)
    frame["score"] = np.round(rng.random(len(frame)), 1)  # ties at the median
    frame.loc[frame.index[::11], "score"] = None
    frame.loc[frame.index[::17], "explanation_id"] = "  "  # blank: not an explanation
    ledgers_ = ledgers(rng, frame)
    pg, rows = pushed_down(pg_url, frame, score="score")
    got = _compare(pg, rows, frame, ledgers_)
    metrics = {r.metric for r in got}
    assert {"explanation_coverage", "reason_code_skew", "decisions_ignoring_controls", "appeal_rate",
            "above_median_score_count", "median_days_to_decide"} <= metrics  # fmt: skip
    assert next(r for r in got if r.metric == "decisions_ignoring_controls").value > 0


def test_appeals_by_entity_pushed_down_equal_the_memory_path(pg_url: str) -> None:
    rng = np.random.default_rng(2)
    frame = window(rng, n=2000, users=150)
    users = frame["user_id"].to_numpy()
    picks = rng.integers(0, len(frame), 400)
    filed = frame["ts"].iloc[picks].reset_index(drop=True) + pd.to_timedelta(rng.integers(0, 3 * 86400, 400), unit="s")
    outcome = rng.choice(["overturned", "upheld", "pending"], 400, p=[0.3, 0.5, 0.2])
    decided = (filed + pd.to_timedelta(rng.integers(3600, 9 * 86400, 400), unit="s")).where(outcome != "pending")
    ledger = pd.DataFrame({"appeal_id": [f"a{i}" for i in range(400)], "entity_id": users[picks], "filed_at": filed,
                           "decided_at": decided, "outcome": outcome})  # fmt: skip
    appeals_spec = {"source": {"path": "a.parquet"}, "join_on": "entity_id", "sla": "4d"}
    pg, rows = pushed_down(pg_url, frame, {"explanations": None, "controls": None, "appeals": appeals_spec})
    got = _compare(pg, rows, frame, {"appeals": ledger})
    assert next(r for r in got if r.metric == "appeals_received").value > 100


def test_the_runner_leaves_transparency_on_every_engine() -> None:
    for engine in ("duckdb", "postgres", "spark"):  # on Spark: tests/engine/test_spark_ledgers.py
        assert engine_window.reads_rows("transparency", engine)
    assert engine_window.PUSHED_DOWN <= set(checks.CHECKS.values())
