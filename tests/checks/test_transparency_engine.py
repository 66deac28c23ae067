"""The transparency family on DuckDB over a parquet file gives the in-memory path's results exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from privacy_engine_helpers import comparable, on_engine
from transparency_helpers import DAY, T0, data, ledgers, spec, window

from ethics_audit.checks import transparency
from ethics_audit.results import Status


def _both(s: Any, frame: pd.DataFrame, folder: Path, **ledgers: Any) -> tuple[list, list, Any]:
    """The family's results in memory and on DuckDB (the window a parquet file), and the engine's data."""
    config = s.checks.transparency
    memory = transparency.run(config, data(s, frame, **ledgers))
    folder.mkdir(parents=True, exist_ok=True)
    engine_data = on_engine(s, frame, folder, now=T0 + 8 * DAY, **ledgers)
    got = transparency.run(config, engine_data)
    return memory, got, engine_data


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_family_on_duckdb_equals_memory(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    frame = window(rng)
    s = spec()
    memory, got, engine_data = _both(s, frame, tmp_path, **ledgers(rng, frame))
    assert engine_data.current is None, "the family loaded the window into memory"
    assert not [r for r in got if r.status is Status.ERROR], [r.details for r in got if r.status is Status.ERROR]
    assert comparable(got) == comparable(memory)
    metrics = {r.metric for r in got}
    assert {"explanation_coverage", "reason_code_skew", "decisions_ignoring_controls", "appeal_rate",
            "overturn_rate_difference", "selected_count", "median_days_to_decide"} <= metrics  # fmt: skip


def _assert_same(memory: list, got: list) -> None:
    assert [(r.metric, r.slice, r.status) for r in got] == [(r.metric, r.slice, r.status) for r in memory]
    assert comparable(got) == comparable(memory)


def test_appeals_joined_by_entity_on_duckdb_equal_memory(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    frame = window(rng, n=2000, users=150)
    # adverse decisions of one user at one instant (in one cell): one decision for the as-of join
    frame.loc[11, ["user_id", "ts", "gender", "age_band", "shown"]] = frame.loc[10, ["user_id", "ts", "gender",
                                                                                      "age_band", "shown"]].to_numpy()  # fmt: skip
    users = frame["user_id"].to_numpy()
    n = 500
    picks = rng.integers(0, len(frame), n)
    filed = frame["ts"].iloc[picks].reset_index(drop=True) + pd.to_timedelta(rng.integers(0, 3 * 86400, n), unit="s")
    outcome = rng.choice(["overturned", "upheld", "pending"], n, p=[0.3, 0.5, 0.2])
    decided = filed + pd.to_timedelta(rng.integers(3600, 9 * 86400, n), unit="s")
    decided[outcome == "pending"] = pd.NaT
    ledger = pd.DataFrame({"appeal_id": [f"a{i}" for i in range(n)], "entity_id": users[picks], "filed_at": filed,
                           "decided_at": decided, "outcome": outcome})  # fmt: skip
    ledger.loc[:20, "entity_id"] = "nobody"  # appeals of people with no decision in the window
    s = spec({"explanations": None, "controls": None,
              "appeals": {"source": {"path": "a.parquet"}, "join_on": "entity_id", "sla": "4d"}},
             entity_id="user_id")  # fmt: skip
    memory, got, engine_data = _both(s, frame, tmp_path, appeals=ledger)
    assert engine_data.current is None
    _assert_same(memory, got)
    received = next(r for r in got if r.metric == "appeals_received")
    assert 200 < received.value < n - 21


def test_appeals_tied_across_groups_load_the_window_and_still_equal_memory(tmp_path: Path, caplog) -> None:
    frame = pd.DataFrame(
        {
            "prediction_id": ["p1", "p2", "p3", "p4"],
            "user_id": ["u1", "u1", "u2", "u3"],
            "ts": [T0 + DAY, T0 + DAY, T0 + DAY, T0 + 3 * DAY],  # u1: two adverse decisions at one instant
            "gender": ["f", "m", "m", "f"],
            "age_band": ["a", "b", "a", "b"],
            "shown": [0, 0, 0, 0],
        }
    )
    ledger = pd.DataFrame(
        {
            "appeal_id": ["a1", "a2", "a3"],
            "entity_id": ["u1", "u2", "u3"],
            "filed_at": [T0 + 2.5 * DAY, T0 + 1.5 * DAY, T0 + 4 * DAY],
            "decided_at": [T0 + 3 * DAY, pd.NaT, T0 + 5 * DAY],
            "outcome": ["overturned", "pending", "upheld"],
        }
    )
    s = spec({"explanations": None, "controls": None, "min_group_size": 1,
              "appeals": {"source": {"path": "a.parquet"}, "join_on": "entity_id"}}, entity_id="user_id")  # fmt: skip
    memory, got, engine_data = _both(s, frame, tmp_path, appeals=ledger)
    _assert_same(memory, got)
    assert engine_data.derived["engine.loaded_for"] == [
        "the transparency check's appeals (adverse decisions tied in time across groups)"
    ]
    # merge_asof's pick: the last of the tied rows (p2, a man)
    by = {(r.metric, r.slice_key): r for r in got}
    assert by[("appeal_rate", '{"gender":"m"}')].value == 1.0


def test_an_explanation_log_and_scores_on_duckdb_equal_memory(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    frame = window(rng, n=2500)
    frame["score"] = np.round(rng.random(len(frame)), 1)  # ties at the median
    frame.loc[::13, "score"] = np.nan
    log = frame.loc[frame["explanation_id"].notna(), ["prediction_id", "explanation_id", "reasons"]]
    log = log.rename(columns={"explanation_id": "text", "reasons": "codes"})
    again = log.iloc[:100].assign(text="   ", codes="history")  # logged twice: the last one wins (a blank)
    other = pd.DataFrame({"prediction_id": ["old1", "old2"], "text": ["x", "y"], "codes": ["a", "b"]})
    log = pd.concat([log, again, other], ignore_index=True)
    s = spec({"controls": None, "appeals": None,
              "explanations": {"source": {"path": "log.parquet"},
                               "columns": {"explanation": "text", "reason_codes": "codes"}}},
             score="score")  # fmt: skip
    memory, got, engine_data = _both(s, frame.drop(columns=["explanation_id", "reasons"]), tmp_path, explanations=log)
    assert engine_data.current is None
    _assert_same(memory, got)
    window_coverage = next(r for r in got if r.metric == "explanation_coverage" and r.slice == {})
    assert window_coverage.value == pytest.approx((frame["explanation_id"].notna().sum() - 100) / len(frame))
    assert {r.metric for r in got} >= {"above_median_score_count", "reason_code_skew"}


def test_edge_cases_on_duckdb_equal_memory(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    frame = window(rng, n=1500, users=100)
    ledgers_ = ledgers(rng, frame)
    ctl = ledgers_["controls"]
    # the same instant: an entity turns the control off and on again; another sets it twice
    tie = ctl.iloc[:30].copy()
    tie["value"] = np.where(tie["value"] == "on", "off", "on")
    ledgers_["controls"] = pd.concat([ctl, tie], ignore_index=True)
    # small groups (fewer than min_group_size decisions) are insufficient on both paths
    s = spec({"min_group_size": 200})
    memory, got, _ = _both(s, frame, tmp_path / "a", **ledgers_)
    _assert_same(memory, got)
    assert any(r.status is Status.INSUFFICIENT_DATA for r in got)
    ignored = next(r for r in got if r.metric == "decisions_ignoring_controls")
    assert ignored.value > 0
    # a missing explanation column: the same error, the other parts still run
    s = spec({"explanations": {"columns": {"explanation": "nope"}}})
    memory, got, _ = _both(s, frame, tmp_path / "b", **ledgers_)
    _assert_same(memory, got)
    error = next(r for r in got if r.metric == "check_error")
    assert "'nope' is not a column" in error.details["error"] and error.slice == {"part": "explanations"}


def test_an_empty_window_is_reported_alike_on_duckdb_and_in_memory(tmp_path: Path) -> None:
    from ethics_audit.runner import run_family

    rng = np.random.default_rng(0)
    frame = window(rng, n=500)
    ledgers_ = ledgers(rng, frame)
    empty = frame.iloc[:0]
    s = spec()
    memory, got, engine_data = _both(s, empty, tmp_path, **ledgers_)
    assert memory == got == []
    outputs = [run_family("transparency", d) for d in (data(s, empty, **ledgers_), engine_data)]
    assert [(o.status, [(r.metric, r.value, r.status) for r in o.results]) for o in outputs] == [
        ("empty", [("window_rows", 0, Status.INSUFFICIENT_DATA)])
    ] * 2
    assert engine_data.current is None


def test_appeals_of_decisions_outside_the_window_are_not_counted(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    frame = window(rng, n=1000)
    ledgers_ = ledgers(rng, frame)
    ledger = ledgers_["appeals"]
    s = spec({"explanations": None, "controls": None})
    memory, got, _ = _both(s, frame, tmp_path, **ledgers_)
    _assert_same(memory, got)
    by = {r.metric: r for r in got if r.slice == {}}
    in_window = ledger[ledger["prediction_id"].isin(frame["prediction_id"])]
    latest = in_window.drop_duplicates("appeal_id", keep="last")
    adverse_ids = set(frame.loc[frame["shown"] == 0, "prediction_id"])
    contested = latest.loc[latest["prediction_id"].isin(adverse_ids), "prediction_id"].nunique()
    assert by["appeals_received"].value == contested
    assert by["open_appeals_past_sla"].details["ledger_appeals"] == ledger["appeal_id"].nunique()
    assert by["appeals_received"].details["appeals_of_favourable_decisions"] > 0
