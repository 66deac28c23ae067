"""The demo's transparency data on DuckDB (predictions, explanation log, controls and appeals
ledgers as written by ``demo.generate``) gives the in-memory path's results, week by week, and
the rows the engine hands back stay bounded when the window grows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from privacy_engine_helpers import comparable

from ethics_audit import demo
from ethics_audit.checks import transparency
from ethics_audit.engine import window as engine_window
from ethics_audit.results import Status
from ethics_audit.sources import load_window
from ethics_audit.spec import load_spec

REPO = Path(__file__).resolve().parents[2]
WEEKS = (1, 2, 6, 7)  # a clean week and the three with a transparency problem (demo.problems)


def _specs(home: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ETHICS_AUDIT_HOME", str(home))
    spec = load_spec(REPO / demo.DEMO_SPEC)
    return spec, spec.model_copy(update={"engine": spec.engine.model_copy(update={"kind": "duckdb"})})


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("transparency_demo")
    demo.generate(home / "demo", weeks=8, rows_per_week=4000)
    return home


@pytest.mark.parametrize("week", WEEKS)
def test_the_demo_weeks_on_duckdb_equal_memory(demo_home: Path, monkeypatch: pytest.MonkeyPatch, week: int) -> None:
    spec, on_duckdb = _specs(demo_home, monkeypatch)
    start, end = demo.week_window(week)
    now = end + pd.Timedelta(days=1)
    memory = load_window(spec, start, end, now=now)
    engine = engine_window.load_window(on_duckdb, start, end, now=now)
    assert engine.current is None and "current" in engine.tables
    expected = transparency.run(spec.checks.transparency, memory)
    got = transparency.run(on_duckdb.checks.transparency, engine)
    assert engine.current is None, engine.derived.get("engine.loaded_for")
    assert not [r for r in got if r.status is Status.ERROR], [r.details for r in got if r.status is Status.ERROR]
    assert comparable(got) == comparable(expected)
    assert {"explanation_coverage", "decisions_ignoring_controls", "appeal_rate", "selected_count"} <= {
        r.metric for r in got
    }
