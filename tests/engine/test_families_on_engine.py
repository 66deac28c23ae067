"""The families the runner leaves on the engine give the results they give in memory."""

from __future__ import annotations

import pytest
import yaml
from bench.synthetic import frame, spec_dict, window

from ethics_audit import checks
from ethics_audit.checks.dispatch import run_check
from ethics_audit.engine import window as engine_window
from ethics_audit.sources import load_window
from ethics_audit.spec import load_spec
from helpers import close

# every family the runner leaves on the engine: the registry's and those saying READS_ROWS
FAMILIES = [f for f in checks.FAMILIES if engine_window.reads_rows(f)]


@pytest.fixture(scope="module")
def windows(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("synthetic")
    current = frame(3000, seed=1)
    current.loc[current.index % 17 == 0, "num_03"] = float("nan")  # gaps, so null counts are exercised
    current.to_parquet(folder / "current.parquet")
    frame(3000, seed=2, shift=0.4).to_parquet(folder / "reference.parquet")
    spec = dict(spec_dict(), engine={"kind": "duckdb"})
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec))
    spec = load_spec(folder / "spec.yaml")
    start, end = window()
    return load_window(spec, start, end), engine_window.load_window(spec, start, end)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_family_on_the_engine_equals_the_memory_path(windows, family: str) -> None:
    memory, engine = windows
    expected = run_check(family, memory)
    got = run_check(family, engine)
    assert engine.current is None, f"{family} loaded the window into memory"
    assert [(r.metric, r.slice, r.status, r.n) for r in got] == [(r.metric, r.slice, r.status, r.n) for r in expected]
    for a, b in zip(got, expected, strict=True):
        assert close(a.value, b.value), (a.metric, a.slice, a.value, b.value)


def test_the_registry_names_modules_of_real_families() -> None:
    assert set(engine_window.ON_ENGINE) <= set(checks.FAMILIES.values())
