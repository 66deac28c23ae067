"""On Spark, the families that join the window with a ledger as of each prediction (privacy's
consent, transparency's controls and appeals) and the parts that raised there before (privacy's
membership, the LL144 median) give the memory path's results on the demo's weeks, the window
left on Spark. Spark's as-of join is spelled with portable parts (``engine.asof``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from test_spark import spark_session  # noqa: F401 - the module's one local[2] session

from ethics_audit import demo
from ethics_audit.checks.dispatch import run_check
from ethics_audit.engine import window as engine_window
from ethics_audit.results import Status
from ethics_audit.sources import load_window
from ethics_audit.spec import load_spec

REPO = Path(__file__).resolve().parents[2]


def comparable(results: list) -> list[dict]:
    return [r.to_dict() for r in results]


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("spark_demo")
    demo.generate(home / "demo", weeks=10, rows_per_week=2000)
    return home


@pytest.mark.slow
@pytest.mark.parametrize("week", [6, 10])  # a setting ignored (controls), the consent filter down
def test_the_ledger_families_on_spark_equal_the_memory_path(
    spark_session,  # noqa: F811
    demo_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    week: int,
) -> None:
    monkeypatch.setenv("ETHICS_AUDIT_HOME", str(demo_home))
    # the demo's late labels are files whose empty columns pandas typed differently, which
    # Spark's schema merge refuses: the windows here are the predictions alone
    spec = load_spec(REPO / demo.DEMO_SPEC).model_copy(update={"labels": None})
    on_spark = spec.model_copy(
        update={"engine": spec.engine.model_copy(update={"kind": "spark", "master": "local[2]"})}
    )
    start, end = demo.week_window(week)
    now = end + pd.Timedelta(days=1)
    memory = load_window(spec, start, end, now=now)
    engine = engine_window.load_window(on_spark, start, end, now=now)
    assert engine.current is None and engine.tables["current"].engine == "spark"
    for family in ("privacy", "transparency"):
        assert engine_window.reads_rows(family, "spark")
        got = run_check(family, engine)
        assert engine.current is None, f"{family} loaded the window"
        assert not [r.details for r in got if r.status is Status.ERROR]
        assert comparable(got) == comparable(run_check(family, memory))
    # the week's injected problem is found on Spark, through the as-of join
    problem = "decisions_ignoring_controls" if week == 6 else "predictions_after_withdrawal"
    found = [r.value for r in run_check("transparency" if week == 6 else "privacy", engine) if r.metric == problem]
    assert found and max(found) > 0
