"""Issue 12: the fairness family from one GROUP BY on an engine equals the in-memory path.

The same random window (missing attribute values, 25-value and float attributes, intersections,
labels partly missing, missing scores and decisions, score cut-offs) is audited once as a pandas
frame (``inputs`` + ``cells.from_inputs``) and once as a parquet file DuckDB reads
(``query.from_rows``, ``data.current`` None): every result is the same, counts and bootstrap
intervals exactly, score sums to rounding. Partial cell tables of two halves merge into the whole.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ethics_audit.checks import fairness
from ethics_audit.checks.fairness import cells as fairness_cells
from ethics_audit.checks.fairness import query
from ethics_audit.checks.fairness.assemble import Builder
from ethics_audit.checks.fairness.inputs import prepare
from ethics_audit.errors import DataError
from helpers import WINDOW_START, make_data, make_spec

SENSITIVE = ["gender", "region", "band"]


def _window(n: int, seed: int, *, labelled: float = 0.6) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    gender = rng.choice(np.array(["f", "m", "x"], dtype=object), n, p=[0.47, 0.45, 0.08])
    gender[rng.random(n) < 0.02] = None
    region = rng.choice(np.array([f"r{i:02d}" for i in range(25)], dtype=object), n)
    region[rng.random(n) < 0.03] = None
    band = rng.choice([1.0, 2.0, 3.0], n)
    band[rng.random(n) < 0.02] = np.nan
    score = np.round(rng.beta(2, 5, n), 4)
    label = (rng.random(n) < score).astype(float)
    score[rng.random(n) < 0.01] = np.nan
    pred = (np.nan_to_num(score, nan=0.0) >= 0.35).astype(float)
    pred[rng.random(n) < 0.01] = np.nan
    label[rng.random(n) > labelled] = np.nan
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(n)],
            "ts": pd.Timestamp(WINDOW_START),
            "gender": gender,
            "region": region,
            "band": band,
            "score": score,
            "pred": pred,
            "label": label,
        }
    )


def _spec(*, prediction: bool = True, sensitive: list[str] = SENSITIVE) -> Any:
    columns = {"label": "label", "score": "score", "sensitive": sensitive}
    fair: dict[str, Any] = {
        "intersections": [c for c in (["gender", "region"], ["gender", "band"]) if set(c) <= set(sensitive)],
        "extra_decision_thresholds": [0.5, 0.2],
        "bootstrap": {"resamples": 200, "seed": 5},
        "min_group_size": 30,
    }
    if prediction:
        columns["prediction"] = "pred"
    else:
        fair["decision_threshold"] = 0.3
    return make_spec({"columns": columns, "checks": {"fairness": fair}})


def _on_engine(spec: Any, frame: pd.DataFrame, tmp_path, reference: pd.DataFrame | None = None, name: str = "w"):
    """The window (and reference) as parquet files on DuckDB; ``data.current`` is None, as on the engine path."""
    import ibis

    from ethics_audit.engine import Rows

    con = ibis.duckdb.connect()
    data = make_data(spec, None)
    for table, rows in (("current", frame), ("reference", reference)):
        if rows is not None:
            path = tmp_path / f"{name}-{table}.parquet"
            rows.to_parquet(path)
            data.tables[table] = Rows(con.read_parquet(str(path)), con)
    return data


def _same(a: Any, b: Any, where: str) -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, float) and isinstance(b, float):
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-12, abs=1e-12), where
    else:
        assert a == b, where


def _assert_same_results(memory: list, engine: list) -> None:
    assert [(r.metric, r.slice) for r in memory] == [(r.metric, r.slice) for r in engine]
    for m, e in zip(memory, engine, strict=True):
        where = f"{m.metric} {m.slice}"
        for attr in ("value", "ci_low", "ci_high", "n", "status", "details", "threshold"):
            _same(getattr(m, attr), getattr(e, attr), f"{where} {attr}")


@pytest.mark.parametrize("prediction", [True, False])
def test_parquet_on_duckdb_gives_the_in_memory_results(tmp_path, prediction):
    spec = _spec(prediction=prediction)
    frame, reference = _window(6000, 1), _window(4000, 2, labelled=1.0)
    memory = fairness.run(spec.checks.fairness, make_data(spec, frame, reference=reference))
    engine = fairness.run(spec.checks.fairness, _on_engine(spec, frame, tmp_path, reference))
    _assert_same_results(memory, engine)
    metrics = {r.metric for r in memory}
    assert {"estimated_true_positive_rate", "disparate_impact_ratio", "mean_score", "labelled_share"} <= metrics
    assert any("decision_threshold" in r.slice for r in memory)
    # calibration was checked on the reference (read from its parquet file on the engine path)
    assert any(r.metric == "score_calibration_error" and r.value is not None for r in engine)
    assert any(r.metric == "estimated_true_positive_rate" and r.value is not None for r in engine)
    assert any(r.slice.get("region") is None and "region" in r.slice for r in memory)  # the missing group


def test_a_labelled_window_backtests_the_same_on_the_engine(tmp_path):
    spec = _spec(sensitive=["gender", "band"])  # groups big enough to check calibration on the reference
    frame = _window(5000, 3, labelled=1.0)
    frame["label"] = frame["label"].fillna(0.0)
    reference = _window(20000, 4, labelled=1.0)
    memory = fairness.run(spec.checks.fairness, make_data(spec, frame, reference=reference))
    engine = fairness.run(spec.checks.fairness, _on_engine(spec, frame, tmp_path, reference))
    assert any(r.metric == "estimate_error" for r in memory)
    _assert_same_results(memory, engine)


def _assert_same_cells(a: fairness_cells.Cells, b: fairness_cells.Cells) -> None:
    assert a.keys == b.keys and a.values == b.values and a.rules == b.rules and a.rows == b.rows
    np.testing.assert_array_equal(a.cell_codes, b.cell_codes)
    np.testing.assert_array_equal(a.tables, b.tables)
    np.testing.assert_array_equal(a.known, b.known)
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-12)
    np.testing.assert_allclose(a.guess, b.guess, rtol=1e-12, atol=1e-9)
    assert a.score_range == b.score_range and a.group_sets == b.group_sets


def test_the_group_by_equals_the_row_encoding_on_a_memtable():
    from ethics_audit.engine import from_frame

    spec = _spec()
    frame = _window(3000, 6)
    data = make_data(spec, frame)
    memory = fairness_cells.from_inputs(prepare(spec.checks.fairness, data))
    _assert_same_cells(memory, query.from_rows(spec.checks.fairness, data, from_frame(frame)))


def test_two_halves_merged_are_the_whole(tmp_path):
    spec = _spec(prediction=False)
    config = spec.checks.fairness
    frame = _window(4000, 7)
    # the first half lacks region r00 and every missing gender: merging must add their cells
    order = frame["region"].eq("r00") | frame["gender"].isna()
    frame = pd.concat([frame[~order], frame[order]], ignore_index=True)
    half = len(frame) // 2
    halves = [
        _on_engine(spec, frame.iloc[:half], tmp_path, name="a"),
        _on_engine(spec, frame.iloc[half:], tmp_path, name="b"),
    ]
    parts = [query.from_rows(config, d, d.tables["current"]) for d in halves]
    whole = fairness_cells.from_inputs(prepare(config, make_data(spec, frame)))
    merged = parts[0].merge(parts[1])
    assert set(parts[0].keys) < set(merged.keys)
    _assert_same_cells(whole, merged)
    _assert_same_results(Builder(config, whole).run(), Builder(config, merged).run())


@pytest.mark.parametrize(
    "change",
    [
        lambda f: f.assign(region=[f"id{i}" for i in range(len(f))]),  # an id, not a category
        lambda f: f.assign(gender="f"),  # one group
        lambda f: f.assign(label=f["label"] * 2),  # not 0/1
        lambda f: f.drop(columns=["band"]),  # a missing column
    ],
)
def test_bad_input_raises_the_same_error_on_the_engine(tmp_path, change):
    spec = _spec(prediction=False)
    frame = change(_window(1500, 8))
    with pytest.raises(DataError) as memory:
        fairness.run(spec.checks.fairness, make_data(spec, frame))
    with pytest.raises(DataError) as engine:
        fairness.run(spec.checks.fairness, _on_engine(spec, frame, tmp_path))
    assert str(engine.value).split(", e.g.")[0] == str(memory.value).split(", e.g.")[0]


def test_scores_outside_the_unit_interval_cannot_be_cut_on_the_engine(tmp_path):
    spec = _spec(prediction=False)
    frame = _window(1500, 9).assign(score=lambda f: f["score"] * 3)
    with pytest.raises(DataError) as memory:
        fairness.run(spec.checks.fairness, make_data(spec, frame))
    with pytest.raises(DataError) as engine:
        fairness.run(spec.checks.fairness, _on_engine(spec, frame, tmp_path))
    assert str(engine.value) == str(memory.value)


def test_the_runner_on_duckdb_files_gives_the_fairness_results_of_memory(tmp_path):
    """``engine: {kind: duckdb}`` over parquet files: the window and the reference stay on DuckDB."""
    from ethics_audit.engine import window
    from ethics_audit.sources import load_window
    from helpers import WINDOW_END

    frame, reference = _window(4000, 13), _window(6000, 14, labelled=1.0)
    frame["ts"] = pd.date_range(WINDOW_START, periods=len(frame), freq="1min", tz="UTC")
    reference["ts"] = frame["ts"].iloc[0] - pd.Timedelta(days=30)
    (tmp_path / "data").mkdir()
    frame.to_parquet(tmp_path / "data" / "w.parquet")
    reference.to_parquet(tmp_path / "reference.parquet")
    results = {}
    for kind in ("memory", "duckdb"):
        base = _spec(sensitive=["gender", "band"])
        spec = make_spec(
            {
                "columns": base.columns.model_dump(exclude_none=True),
                "checks": {"fairness": base.checks.fairness.model_dump(mode="json", exclude_unset=True)},
                "source": {"path": "data/*.parquet"},
                "reference": {"baseline": {"path": "reference.parquet"}},
                "engine": {"kind": kind},
            },
            path=tmp_path / f"{kind}.yaml",
        )
        loader = window.load_window if window.uses_engine(spec) else load_window
        data = loader(spec, WINDOW_START, WINDOW_END)
        assert (data.current is None) is (kind == "duckdb") and (data.reference is None) is (kind == "duckdb")
        results[kind] = fairness.run(spec.checks.fairness, data)
    assert any(r.metric == "estimated_true_positive_rate" and r.value is not None for r in results["duckdb"])
    _assert_same_results(results["memory"], results["duckdb"])


def test_the_reference_groups_equal_their_masks():
    """One sort per attribute set gives each group's rows and stable score order, as a mask per group does."""
    from ethics_audit.checks.fairness import reference as labelled

    frame = _window(5000, 15, labelled=1.0).dropna(subset=["score", "label"])
    ref = labelled.from_frame(frame, "score", "label", ["gender", "region"], 1)
    slices = [{"gender": g, "region": r} for g in ("f", "x", None, "absent") for r in ("r03", None)]
    for base, (score, label, order) in zip(slices, ref.groups(slices), strict=True):
        expected = ref.group(ref._mask(base))
        for got, want in zip((score, label, order), expected, strict=True):
            np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(order, np.argsort(score, kind="stable"))
