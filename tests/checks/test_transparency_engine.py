"""The transparency family on DuckDB over a parquet file gives the in-memory path's results exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from privacy_engine_helpers import comparable, on_engine
from transparency_helpers import DAY, T0, appeals, controls, data, spec, window

from ethics_audit.checks import transparency
from ethics_audit.results import Status


def _both(s: Any, frame: pd.DataFrame, folder: Path, **ledgers: Any) -> tuple[list, list, Any]:
    """The family's results in memory and on DuckDB (the window a parquet file), and the engine's data."""
    config = s.checks.transparency
    memory = transparency.run(config, data(s, frame, **ledgers))
    engine_data = on_engine(s, frame, folder, now=T0 + 8 * DAY, **ledgers)
    got = transparency.run(config, engine_data)
    return memory, got, engine_data


def _ledgers(rng: np.random.Generator, frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    ledger = appeals(rng, frame)
    states = ledger.iloc[:40].copy()  # earlier states of some appeals: one appeal, not two
    states.loc[:, "decided_at"] = pd.NaT
    states["outcome"] = "pending"
    return {"appeals": pd.concat([states, ledger], ignore_index=True), "controls": controls(rng)}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_family_on_duckdb_equals_memory(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    frame = window(rng)
    s = spec()
    memory, got, engine_data = _both(s, frame, tmp_path, **_ledgers(rng, frame))
    assert engine_data.current is None, "the family loaded the window into memory"
    assert not [r for r in got if r.status is Status.ERROR], [r.details for r in got if r.status is Status.ERROR]
    assert comparable(got) == comparable(memory)
    metrics = {r.metric for r in got}
    assert {"explanation_coverage", "reason_code_skew", "decisions_ignoring_controls", "appeal_rate",
            "overturn_rate_difference", "selected_count", "median_days_to_decide"} <= metrics  # fmt: skip
