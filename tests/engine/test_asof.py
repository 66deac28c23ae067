"""The as-of join spelled with portable parts (for Spark, whose Ibis compiler has none) gives
DuckDB's own ASOF JOIN's rows: ties at the same instant, rows with no earlier match, keys on one
side only, missing instants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ethics_audit.engine import asof, duckdb_backend


def _sides(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    base = pd.Timestamp("2026-07-06", tz="UTC")
    n, m = 400, 120
    left = pd.DataFrame(
        {
            "i": np.arange(n),
            "lid": rng.integers(0, 30, n),
            "lts": base + pd.to_timedelta(rng.integers(0, 50, n), unit="h"),
        }
    )
    left.loc[left.index[::37], "lts"] = pd.NaT
    right = pd.DataFrame(
        {"rid": rng.integers(0, 35, m), "rts": base + pd.to_timedelta(rng.integers(0, 50, m), unit="h")}
    )
    right = right.drop_duplicates(["rid", "rts"]).reset_index(drop=True)
    right["event"] = [f"e{i}" for i in range(len(right))]
    return left, right


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_portable_as_of_join_equals_duckdbs(seed: int) -> None:
    import ibis

    left, right = _sides(seed)
    backend = duckdb_backend()
    lt, rt = ibis.memtable(left), ibis.memtable(right)
    got = {}
    for native in (True, False):
        joined = asof.latest_at_or_before(
            lt, rt, key=("lid", "rid"), instant=("lts", "rts"), engine="duckdb", native=native
        )
        frame = backend.execute(joined)  # rows without an instant included: no match on either
        got[native] = frame.sort_values("i").reset_index(drop=True)[["i", "lid", "lts", "rid", "rts", "event"]]
    pd.testing.assert_frame_equal(got[True], got[False])
    matched = got[False]["event"].notna()
    # the data has every case: matches at the same instant, earlier ones, and none
    assert matched.sum() > 50 and (~matched).sum() > 10
    assert (got[False]["lts"] == got[False]["rts"]).sum() > 0
    # each match is the latest of its key at or before the left row's instant
    for _, row in got[False][matched].head(60).iterrows():
        mine = right[(right["rid"] == row["lid"]) & (right["rts"] <= row["lts"])]
        assert row["rts"] == mine["rts"].max()


def test_sides_that_share_a_column_are_refused() -> None:
    import ibis

    left = ibis.memtable(pd.DataFrame({"k": [1], "t": [1]}))
    with pytest.raises(ValueError, match="share columns"):
        asof.latest_at_or_before(left, left, key=("k", "k"), instant=("t", "t"), engine="spark")
