"""What comes back from the engine stays bounded when the window or its reference grows 10x.

Every statistic that reaches Python through ``Rows.execute`` is counted (rows of each result) by
a wrapper; each test asserts the same results as the in-memory path and that the rows returned
do not grow with the rows on the engine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ethics_audit.engine import Rows


@pytest.fixture
def returned(monkeypatch):
    """The number of rows each ``Rows.execute`` call handed back, and no whole-table pull."""
    calls: list[int] = []
    execute = Rows.execute

    def counted(self, expr):
        out = execute(self, expr)
        calls.append(len(out) if hasattr(out, "__len__") and not isinstance(out, str) else 1)
        return out

    monkeypatch.setattr(Rows, "execute", counted)
    return calls


def _reference(n: int, seed: int) -> pd.DataFrame:
    """Scores on a coarse grid (many ties at every decile's edge) with mixed labels."""
    rng = np.random.default_rng(seed)
    gender = rng.choice(np.array(["f", "m", "x"], dtype=object), n, p=[0.5, 0.4, 0.1])
    gender[rng.random(n) < 0.03] = None
    band = rng.choice([1.0, 2.0, 3.0], n)
    band[rng.random(n) < 0.03] = np.nan
    score = np.round(rng.beta(2, 5, n), 2)
    label = (rng.random(n) < score).astype(float)
    score[rng.random(n) < 0.01] = np.nan
    label[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame({"gender": gender, "band": band, "score": score, "label": label})


def _on_duckdb(frame: pd.DataFrame, path) -> Rows:
    """The frame as a parquet file of many row groups, scanned by two threads."""
    import ibis

    frame.to_parquet(path, row_group_size=2_000)
    con = ibis.duckdb.connect(threads=2)
    return Rows(con.read_parquet(str(path)), con)


SLICES = [
    [{"gender": g} for g in ("f", "m", "x", None, "absent")],
    [{"band": b, "gender": g} for g in ("f", None) for b in (1.0, 3.0, None)],
    [{}],
]


def _same_summaries(memory, engine, slices, bins) -> int:
    """Assert the engine's summaries equal the in-memory ones; return how many decile edges fell
    inside a run of tied scores."""
    from ethics_audit.checks.fairness.estimated import calibration

    straddled = 0
    for m, e, base in zip(memory.summaries(slices, bins), engine.summaries(slices, bins), slices, strict=True):
        assert e.n == m.n, base
        if not m.n:
            continue
        assert (e.low, e.high) == (m.low, m.high)
        for got, want in (*zip(e.bins, m.bins, strict=True), *zip(e.deciles, m.deciles, strict=True)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)
        np.testing.assert_array_equal(e.deciles[0], m.deciles[0])
        np.testing.assert_array_equal(e.deciles[1], m.deciles[1])  # positives: exact, ties included
        found, expected = calibration(e), calibration(m)
        assert found == pytest.approx(expected, rel=1e-9, abs=1e-12)
        # the case that needs the file order: a decile edge inside a run of tied scores, labels mixed
        score = memory.score[memory._mask(base)]
        edges = np.cumsum(m.deciles[0])[:-1]
        ordered = np.sort(score)
        straddled += int(np.sum(ordered[edges - 1] == ordered[edges]))
    return straddled


@pytest.mark.parametrize(
    ("bins", "coded", "fused"), [(10, True, True), (7, True, True), (10, True, False), (10, False, False)]
)
def test_the_reference_summaries_on_the_engine_equal_the_stable_sort_in_memory(
    tmp_path, monkeypatch, bins, coded, fused
):
    """Deciles split rows tied on a score by their order in the file, as the stable sort does
    (groups coded as integers, or partitioned on the attributes as they are); the coded sets'
    first pass one GROUP BY for all of them (``fused``), or one each."""
    from ethics_audit.checks.fairness import reference as labelled

    if not coded:
        monkeypatch.setattr(labelled, "MAX_CODED", 2)
    if not fused:
        monkeypatch.setattr(labelled, "FUSED_GROUPS", 0)

    frame = _reference(40_000, 1)
    memory = labelled.from_frame(frame.dropna(subset=["score", "label"]), "score", "label", ["gender", "band"], 1)
    engine = labelled.from_rows(_on_duckdb(frame, tmp_path / "r.parquet"), "score", "label", ["gender", "band"], 1)
    passes = []
    sums = engine._sums
    monkeypatch.setattr(engine, "_sums", lambda t: passes.append(1) or sums(t))
    assert len(engine) == len(memory)
    assert sum(_same_summaries(memory, engine, slices, bins) for slices in SLICES) > 10
    # the three attribute sets (gender; band and gender; none): one first pass, or one each (the
    # attributes not coded: only the set of none is, and sorted the others)
    assert len(passes) == (len(SLICES) if coded and not fused else 1)


@pytest.mark.parametrize("fine_bins", [1024, 4])
def test_the_reference_summaries_split_fine_bins_at_every_decile_edge(tmp_path, monkeypatch, fine_bins):
    """Continuous scores (many distinct ones in each fine score bin), scores outside [0, 1],
    groups of fewer than ten rows and a run of one score across several deciles: the fine bins a
    decile edge falls inside are numbered row by row, the others summed whole, as the sort splits them."""
    from ethics_audit.checks.fairness import reference as labelled

    monkeypatch.setattr(labelled, "FINE_BINS", fine_bins)
    rng = np.random.default_rng(7)
    frame = _reference(30_000, 3)
    frame["score"] = rng.beta(2, 5, len(frame)) * 1.2 - 0.1  # some below 0, some above 1
    frame.loc[frame.index[:4], "gender"] = "tiny"  # a group of four rows: each its own decile
    frame.loc[frame.index[100:3100], "score"] = 0.25  # 3,000 tied rows: a run across deciles
    sliced = [*SLICES, [{"gender": "tiny"}], [{"gender": "tiny", "band": b} for b in (1.0, 2.0, 3.0, None)]]
    memory = labelled.from_frame(frame.dropna(subset=["score", "label"]), "score", "label", ["gender", "band"], 1)
    engine = labelled.from_rows(_on_duckdb(frame, tmp_path / "r.parquet"), "score", "label", ["gender", "band"], 1)
    split = []
    engine_binned = engine._binned
    monkeypatch.setattr(engine, "_binned", lambda *args: split.append(1) or engine_binned(*args))
    assert sum(_same_summaries(memory, engine, slices, 10) for slices in sliced) > 0
    assert split  # the coded groups went through the fine bins


def test_the_reference_summaries_come_back_the_same_size_for_a_reference_10x_larger(tmp_path, returned):
    from ethics_audit.checks.fairness import reference as labelled

    sizes = []
    for n in (5_000, 50_000):
        rows = _on_duckdb(_reference(n, 2), tmp_path / f"{n}.parquet")

        def no_pull(*args, **kwargs):
            raise AssertionError("the reference's rows were pulled into Python")

        rows.backend.to_pyarrow = no_pull
        returned.clear()
        engine = labelled.from_rows(rows, "score", "label", ["gender", "band"], 1)
        for slices in SLICES:
            engine.summaries(slices, 10)
        sizes.append(list(returned))
    small, large = sizes
    assert len(small) == len(large)
    # per attribute set at most groups x (FINE_BINS score bins, each in at most two of the 10
    # bins), whatever the reference's size; scores on a 0.01 grid fill 101 of them
    assert max(large) <= 5 * 4 * labelled.FINE_BINS * 2 and sum(large) <= sum(small) * 1.5, (small, large)
    assert max(large) <= 5 * 4 * 101 * 2


def test_the_transparency_family_gets_as_many_rows_back_for_a_window_10x_larger(tmp_path, returned) -> None:
    """Every result that reaches Python (``Rows.execute`` and the backend's ``to_pyarrow``) is
    counted: what comes back is counts per cell and the ledger's decisions, not the window."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "checks"))
    from privacy_engine_helpers import on_engine
    from transparency_helpers import DAY, T0, appeals, controls, spec, window

    from ethics_audit.checks import transparency
    from ethics_audit.results import Status

    calls = returned
    sizes, totals = [], []
    for n in (3_000, 30_000):
        rng = np.random.default_rng(11)
        frame = window(rng, n=n, users=400)
        ledgers = {"appeals": appeals(rng, frame, n=900), "controls": controls(rng)}
        s = spec()
        (tmp_path / str(n)).mkdir()
        engine_data = on_engine(s, frame, tmp_path / str(n), now=T0 + 8 * DAY, **ledgers)
        backend = engine_data.tables["current"].backend
        to_pyarrow = backend.to_pyarrow

        def arrow(expr, *args, _real=to_pyarrow, **kwargs):
            out = _real(expr, *args, **kwargs)
            calls.append(out.num_rows)
            return out

        backend.to_pyarrow = arrow
        calls.clear()
        got = transparency.run(s.checks.transparency, engine_data)
        assert engine_data.current is None
        assert not [r for r in got if r.status is Status.ERROR]
        sizes.append(max(calls))
        totals.append(sum(calls))
    # the largest results: the appeals' decisions (at most 900) and the cells x code sets table
    assert max(sizes) <= 1_000 and totals[1] <= totals[0] * 1.5 + 100, (sizes, totals)
