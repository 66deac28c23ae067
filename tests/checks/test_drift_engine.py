"""The drift family computed from engine aggregates against Evidently itself and against the row
path: exact routes give Evidently's scores (to rounding) and verdicts on random data with missing,
NaN and infinite values; the binned normed Wasserstein stays inside its stated bound; partial
aggregates merge to the whole; a window that lives only on the engine (parquet) gives the same."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from test_drift_evidently import COLUMNS, evidently_value_drift, frames

from ethics_audit import engine
from ethics_audit.checks import drift
from ethics_audit.checks.drift import aggregates as agg
from ethics_audit.checks.drift import engine_path, histograms
from ethics_audit.checks.drift import from_counts as fc
from ethics_audit.evaluate import judge
from ethics_audit.spec import EVIDENTLY_STATTESTS, STATTEST_TYPES
from helpers import make_data, make_spec

pytestmark = [pytest.mark.filterwarnings("ignore::RuntimeWarning"), pytest.mark.filterwarnings("ignore::UserWarning")]


def run_both(current: pd.DataFrame, reference: pd.DataFrame, columns: list[str], monkeypatch, **drift_config):
    """(row path, engine path) results by column, on the same frames and spec."""
    spec = make_spec(
        {"columns": {"features": columns}, "reference": {"previous_windows": 1}, "checks": {"drift": drift_config}}
    )
    rows = drift.run(spec.checks.drift, make_data(spec, current, reference))
    with monkeypatch.context() as patch:
        patch.setattr(drift, "ENGINE_ROWS", 0)
        on_engine = drift.run(spec.checks.drift, make_data(spec, current, reference))
    return ({r.slice.get("column", "*"): r for r in results} for results in (rows, on_engine))


def assert_same(row, eng, column: str, rel: float = 1e-12) -> None:
    assert eng.details["method"] == row.details["method"], column
    assert (eng.n, eng.details["reference_n"]) == (row.n, row.details["reference_n"]), column
    assert eng.details["drifted"] is row.details["drifted"], column
    assert judge(eng).severity == judge(row).severity, column
    if row.value is None:
        assert eng.value is None or math.isnan(eng.value), column
    else:
        assert eng.value == pytest.approx(row.value, rel=rel, abs=1e-15), column
    assert eng.details["error_bound"] == 0.0, column


@pytest.mark.parametrize("n_ref", [400, 1000, 1001, 3000], ids=lambda n: f"ref{n}")
@pytest.mark.parametrize("shift", [0.0, 0.3], ids=["same", "shifted"])
def test_default_methods_on_the_engine_equal_value_drift(n_ref: int, shift: float, monkeypatch) -> None:
    reference, current = frames(n_ref, 900, seed=n_ref, shift=shift)
    rows, on_engine = run_both(current, reference, COLUMNS, monkeypatch)
    theirs = evidently_value_drift(current, reference, COLUMNS)
    for column, (score, method, drifted) in zip(COLUMNS, theirs, strict=True):
        result = on_engine[column]
        assert result.details["method_name"] == method, column
        assert result.value == pytest.approx(score, abs=1e-9), column
        assert result.details["drifted"] is drifted, column
        assert result.details["computation"].startswith("exact"), column
        assert_same(rows[column], result, column)
    assert on_engine["*"].value == rows["*"].value
    assert on_engine["*"].details == rows["*"].details


@pytest.mark.parametrize("method", [m for m in EVIDENTLY_STATTESTS if STATTEST_TYPES[m] != ("text",)])
def test_every_registered_method_on_the_engine_equals_the_row_path(method: str, monkeypatch) -> None:
    slow = method == "TVD"
    reference, current = frames(60 if slow else 400, 50 if slow else 350, seed=11, shift=0.2)
    kinds = STATTEST_TYPES[method]
    columns = [c for c in ("f_normal", "f_nan_inf", "i_wide", "f_three") if "numerical" in kinds]
    columns += [c for c in ("i_four", "s_cat", "s_binary", "b_flag") if "categorical" in kinds]
    if slow:
        columns = ["s_cat"]
    if method in ("fisher_exact", "g_test"):  # Evidently's versions need equally many values
        reference = reference.iloc[: len(current)]
        columns = ["s_binary", "i_binary"] if method == "fisher_exact" else ["i_four", "s_binary"]
    rows, on_engine = run_both(current, reference, columns, monkeypatch, stattest={"stattest": method})
    from_aggregates = {"chisquare", "z", "jensenshannon", "psi", "kl_div", "ks", "wasserstein", "t_test"}
    for column in columns:
        assert_same(rows[column], on_engine[column], column)
        computed_from_rows = on_engine[column].details["computation"].startswith("rows")
        categorical = on_engine[column].details["column_type"] == "categorical"
        assert computed_from_rows is (method not in from_aggregates and not (method == "hellinger" and categorical))


def test_nulls_and_counts_in_details(monkeypatch) -> None:
    reference, current = frames(2000, 1500, seed=5)
    _, on_engine = run_both(current, reference, ["f_nan_inf", "s_cat"], monkeypatch)
    for column in ("f_nan_inf", "s_cat"):
        details = on_engine[column].details
        kept_cur = current[column].replace([np.inf, -np.inf], np.nan).notna().sum()
        kept_ref = reference[column].replace([np.inf, -np.inf], np.nan).notna().sum()
        assert on_engine[column].n == kept_cur and details["reference_n"] == kept_ref
        assert (details["current_nulls"], details["reference_nulls"]) == (1500 - kept_cur, 2000 - kept_ref)


def test_sturges_edges_equal_numpy() -> None:
    rng = np.random.default_rng(0)
    for values in (rng.normal(3, 2, 1234), rng.integers(-5, 300, 999), rng.integers(0, 3, 50), np.full(7, 2.5)):
        edges = fc.sturges_edges(values.min(), values.max(), values.size, values.dtype.kind == "i")
        assert np.array_equal(edges, np.histogram_bin_edges(values, bins="sturges"))


def test_partial_aggregates_merge_to_the_whole() -> None:
    _, current = frames(10, 4000, seed=9, shift=0.1)
    whole = engine.from_frame(current)
    halves = [engine.from_frame(current.iloc[:1700]), engine.from_frame(current.iloc[1700:])]
    for name in ("s_cat", "i_four", "b_flag", "f_nan_inf"):
        parts = [agg.value_counts(h, name) for h in halves]
        assert parts[0].merge(parts[1]).counts == agg.value_counts(whole, name).counts
    finite = current["f_nan_inf"][np.isfinite(current["f_nan_inf"])]
    # the histogram of values inside the edges, as Evidently's joint-range edges always hold them
    edges = {"f_nan_inf": np.linspace(finite.min(), finite.max(), 17), "i_wide": np.linspace(0, 70, 9)}
    merged = [agg.cumulative_counts(h, edges) for h in halves]
    for name, full in agg.cumulative_counts(whole, edges).items():
        assert merged[0][name].merge(merged[1][name]) == full
        assert np.array_equal(full.histogram(), np.histogram(current[name][np.isfinite(current[name])], edges[name])[0])
    grid = {"f_normal": (-4.0, 4.0, 64)}
    fine = [histograms.fine_histograms(h, grid)["f_normal"] for h in halves]
    assert (
        fine[0].merge(fine[1]).dense().tolist() == histograms.fine_histograms(whole, grid)["f_normal"].dense().tolist()
    )
    for name, points in (("f_normal", [-1.5, -0.25, 0.0, 0.5, 2.0]), ("i_wide", [3.0, 4.0, 10.0, 11.0, 50.0])):
        counted = [agg.counts_on_values(h, name, points) for h in halves]
        assert counted[0].merge(counted[1]) == agg.counts_on_values(whole, name, points)
        # the inequality join other engines run gives DuckDB's ASOF join's counts
        portable = engine.Rows(whole.table, whole.backend, "postgres")
        assert agg.counts_on_values(portable, name, points) == agg.counts_on_values(whole, name, points)
        assert counted[0].before > 0 and sum(counted[0].after) > 0
    assert sum(agg.counts_on_values(whole, "i_wide", [3.0, 4.0, 10.0, 11.0, 50.0]).equal) > 0


@pytest.mark.parametrize("bins", [64, 40_000])  # 16-bit keys, and 64-bit ones
def test_fine_histograms_count_the_values_at_and_just_past_the_ends_in_the_end_bins(bins: int) -> None:
    """The engine groups unclipped bin keys: ``hi`` itself, and values rounding puts a bin past
    either end, land in the end bins, as clipping each key put them."""
    values = np.array([-4.0 - 1e-12, -4.0, -3.9999, 0.0, 3.9999, 4.0, 4.0 + 1e-12, np.nan, np.inf, -np.inf])
    got = histograms.fine_histograms(engine.from_frame(pd.DataFrame({"x": values})), {"x": (-4.0, 4.0, bins)})["x"]
    finite = values[np.isfinite(values)]
    expected = np.bincount(np.clip(np.floor((finite + 4.0) * bins / 8.0).astype(np.int64), 0, bins - 1), minlength=bins)
    assert got.dense().tolist() == expected.tolist()
    assert (got.counts[0], got.counts[bins - 1], sum(got.counts.values())) == (3, 3, 7)


def test_the_references_standard_deviation_from_its_histograms_moments_equals_numpys() -> None:
    """The binned normed Wasserstein divides by the reference's ``np.std``, taken from its fine
    histogram's moments (merged by Chan's formula) or, counted exactly, from its value counts:
    equal to numpy's to 1e-12, a far outlier and values far from zero included."""
    rng = np.random.default_rng(5)
    for values in (
        rng.normal(3.0, 2.0, 20_000),
        np.concatenate([rng.normal(1e6, 1.0, 20_000), [1e12]]),  # one bin holds nearly every value
        rng.integers(0, 5, 20_000).astype(float),
    ):
        values = np.concatenate([values, [np.nan, np.inf]])
        finite = values[np.isfinite(values)]
        grid = {"x": (float(finite.min()), float(finite.max()), 8192)}
        halves = [engine.from_frame(pd.DataFrame({"x": part})) for part in (values[:7000], values[7000:])]
        parts = [histograms.fine_histograms(h, grid, moments=True)["x"] for h in halves]
        assert math.isclose(parts[0].merge(parts[1]).std, np.std(finite), rel_tol=1e-12)
        whole = histograms.fine_histograms(engine.from_frame(pd.DataFrame({"x": values})), grid, moments=True)["x"]
        assert whole.moments[0] == finite.size and math.isclose(whole.std, np.std(finite), rel_tol=1e-12)
        assert math.isclose(whole.moments[1], np.mean(finite), rel_tol=1e-12)
    counts = agg.ValueCounts({1.0: 5, 2.5: 3, 7.0: 2})
    assert math.isclose(fc.std_of(counts), np.std([1.0] * 5 + [2.5] * 3 + [7.0] * 2), rel_tol=1e-12)


def test_profiles_count_few_values_and_distinct_counts_are_exact(monkeypatch) -> None:
    """A column with few values is counted while profiled (its counts are value_counts', their
    number its exact distinct count); one between that and EXACT_DISTINCT_BELOW gets a
    COUNT(DISTINCT); one above keeps the estimate. A wrong estimate never leaves a count wrong."""
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {
            "few": rng.choice([f"v{i}" for i in range(7)] + [None], 5000),
            "mid": rng.integers(0, 3000, 5000),
            "many": rng.normal(0, 1, 5000),
            "f_bad": np.where(rng.random(5000) < 0.1, np.nan, rng.integers(0, 40, 5000).astype(float)),
        }
    )
    frame.loc[3, "f_bad"] = np.inf
    rows = engine.from_frame(frame)
    monkeypatch.setattr(agg, "EXACT_DISTINCT_BELOW", 4000)
    got = agg.profiles(rows, list(frame.columns))
    finite = frame["f_bad"][np.isfinite(frame["f_bad"])]
    assert got["few"].nunique == frame["few"].nunique() == 7
    assert got["few"].counts.counts == agg.value_counts(rows, "few").counts
    assert got["f_bad"].counts.counts == {float(k): int(v) for k, v in finite.value_counts().items()}
    assert got["f_bad"].nunique == finite.nunique()
    assert got["mid"].counts is None and got["mid"].nunique == frame["mid"].nunique()  # COUNT(DISTINCT)
    assert got["many"].counts is None and got["many"].nunique > 4000  # estimated (above the limit)
    # an estimate far off: the counts still say the exact number
    monkeypatch.setattr(agg, "COUNTED_BELOW", 3)
    assert agg.profiles(rows, ["few"])["few"].counts is None and agg.profiles(rows, ["few"])["few"].nunique == 7


def test_the_windows_floats_are_counted_only_where_the_references_values_are_few(monkeypatch) -> None:
    """The window's float columns are profiled without a distinct count; it is taken afterwards
    only for those whose reference has at most EXACT_VALUES values (where a test reads it), and
    the results are those of the window's columns all counted."""
    rng = np.random.default_rng(8)

    def side(n: int, shift: float) -> pd.DataFrame:
        values = {"f_many": rng.normal(shift, 1, n), "f_three": rng.choice([1.0, 2.0, 3.0], n)}
        return pd.DataFrame({**values, "i_nine": rng.integers(0, 9, n)})

    reference, current = engine.from_frame(side(3000, 0.0)), engine.from_frame(side(2000, 0.4))
    names = ["f_many", "f_three", "i_nine"]
    monkeypatch.setattr(engine_path, "EXACT_VALUES", 1000)
    spec = {"columns": {"features": names}, "reference": {"previous_windows": 1}, "checks": {"drift": {}}}
    config = make_spec(spec).checks.drift
    columns = [engine_path.DriftColumn(n, "feature", "numerical") for n in names[:2]]
    results = []
    for all_counted in (False, True):
        sides = engine_path.window_profile(current, names)
        if all_counted:
            sides.cur = agg.profiles(current, names)
        else:
            assert [sides.cur[n].nunique for n in names] == [None, None, 9]
        sides.with_reference(reference)
        assert sides.cur["f_three"].nunique == 3
        assert sides.cur["f_many"].nunique == (2000 if all_counted else None)
        results.append([(r.value, r.details) for r in engine_path.column_results(config, sides, columns, None)])
    assert results[0] == results[1]
    assert [details["method"] for _, details in results[0]] == ["wasserstein", "jensenshannon"]


def test_a_window_that_lives_on_the_engine(tmp_path, monkeypatch) -> None:
    """``data.current`` None and the rows in parquet files: the same results as from the frames."""
    reference, current = frames(3000, 2500, seed=21, shift=0.3)
    current.to_parquet(tmp_path / "current.parquet")
    reference.to_parquet(tmp_path / "reference.parquet")
    spec = make_spec({"columns": {"features": COLUMNS}, "reference": {"previous_windows": 1}, "checks": {"drift": {}}})
    backend = engine.duckdb_backend()
    tables = {
        name: engine.Rows(backend.read_parquet(tmp_path / f"{name}.parquet"), backend)
        for name in ("current", "reference")
    }
    results = drift.run(spec.checks.drift, make_data(spec, None, None, tables=tables))
    expected = drift.run(spec.checks.drift, make_data(spec, current, reference))
    assert [r.slice for r in results] == [r.slice for r in expected]
    for got, want in zip(results[:-1], expected[:-1], strict=True):
        assert_same(want, got, got.slice["column"])
    assert results[-1].value == expected[-1].value


def _binned_against_evidently(n: int, monkeypatch) -> None:
    rng = np.random.default_rng(n)
    reference = pd.DataFrame(
        {
            "normal": rng.normal(0, 1, n),
            "lognormal": rng.lognormal(0, 1, n),
            "near": rng.normal(0, 1, n),
            "outlier": np.append(rng.normal(0, 1, n - 1), 1e4),
        }
    )
    current = pd.DataFrame(
        {
            "normal": rng.normal(0.3, 1, n),
            "lognormal": rng.lognormal(0.02, 1, n),
            "near": rng.normal(0.125, 1, n),  # normed W1 about 0.1: near the threshold
            "outlier": rng.normal(0.05, 1, n),
        }
    )
    monkeypatch.setattr(engine_path, "EXACT_VALUES", 0)  # force the binned route even on small data
    spec = make_spec(
        {"columns": {"features": list(reference)}, "reference": {"previous_windows": 1}, "checks": {"drift": {}}}
    )
    with monkeypatch.context() as patch:
        patch.setattr(drift, "ENGINE_ROWS", 0)
        results = {r.slice["column"]: r for r in drift.run(spec.checks.drift, make_data(spec, current, reference))[:-1]}
    theirs = evidently_value_drift(current, reference, list(reference), method="wasserstein")
    for column, (score, _, drifted) in zip(reference, theirs, strict=True):
        result = results[column]
        assert result.details["method"] == "wasserstein" and result.details["computation"].startswith("binned")
        bound = result.details["error_bound"]
        assert abs(result.value - score) <= bound, column
        if column != "outlier":  # the outlier stretches the joint range: the bound says so
            assert bound < 0.02 * result.details["threshold"], column
        if abs(score - result.details["threshold"]) > bound:
            assert result.details["drifted"] is drifted, column


def test_binned_wasserstein_stays_inside_its_bound(monkeypatch) -> None:
    _binned_against_evidently(100_000, monkeypatch)


def test_binned_wasserstein_stays_inside_its_bound_on_a_million_rows(monkeypatch) -> None:
    _binned_against_evidently(1_000_000, monkeypatch)


def test_html_report_samples_on_the_engine(monkeypatch) -> None:
    """The report's sample is drawn on the engine (seeded), cut to the sample size."""
    reference, current = frames(2500, 2000, seed=20, shift=0.5)
    spec = make_spec(
        {
            "columns": {"features": ["f_normal", "s_cat"]},
            "reference": {"previous_windows": 1},
            "checks": {"drift": {"html_report": {"enabled": True, "sample_size": 300}}},
        }
    )
    monkeypatch.setattr(drift, "ENGINE_ROWS", 0)
    data = make_data(spec, current, reference)
    results = drift.run(spec.checks.drift, data)
    [artifact] = data.artifacts
    assert artifact.details == {"sampled": True, "current_rows": 300, "reference_rows": 300}
    assert "300 of the window's 2,000 rows and 300 of the reference's 2,500 rows" in artifact.content
    assert results[0].details["drifted"] is True


def test_the_runner_on_duckdb_gives_the_memory_paths_results(tmp_path, store) -> None:
    """``engine: {kind: duckdb}`` leaves the window on DuckDB (``data.current`` None): drift reads
    it there and gives the results of ``kind: memory`` on the same parquet files."""
    from ethics_audit.runner import load
    from helpers import WINDOW_END, WINDOW_START

    reference, current = frames(2500, 2000, seed=31, shift=0.3)
    for folder, part in (("data", current), ("ref", reference)):
        (tmp_path / folder).mkdir()
        stamped = part.assign(
            user_id=[f"u{i}" for i in range(len(part))],
            ts=pd.date_range(WINDOW_START, periods=len(part), freq="1min", tz="UTC"),
        )
        stamped.to_parquet(tmp_path / folder / "part.parquet")
    results = {}
    for kind in ("memory", "duckdb"):
        spec = make_spec(
            {
                "columns": {"features": COLUMNS},
                "checks": {"drift": {}},
                "source": {"path": "data/*.parquet"},
                "reference": {"baseline": {"path": "ref/*.parquet"}},
                "engine": {"kind": kind},
            },
            path=tmp_path / f"{kind}.yaml",
        )
        data = load(store, spec, WINDOW_START, WINDOW_END)
        assert (data.current is None) is (kind == "duckdb")
        results[kind] = drift.run(spec.checks.drift, data)
    assert [r.slice for r in results["duckdb"]] == [r.slice for r in results["memory"]]
    for got, want in zip(results["duckdb"][:-1], results["memory"][:-1], strict=True):
        assert_same(want, got, got.slice["column"])
    assert results["duckdb"][-1].value == results["memory"][-1].value


def test_frames_loaded_from_another_engine_are_queried_on_duckdb(monkeypatch) -> None:
    """On PostgreSQL the runner loads drift's frames; a large window then runs on DuckDB over them."""
    reference, current = frames(1500, 1200, seed=41, shift=0.3)
    spec = make_spec({"columns": {"features": COLUMNS}, "reference": {"previous_windows": 1}, "checks": {"drift": {}}})
    expected = drift.run(spec.checks.drift, make_data(spec, current, reference))
    foreign = {
        n: engine.Rows(engine.from_frame(f).table, None, "postgres")
        for n, f in (("current", current), ("reference", reference))
    }
    monkeypatch.setattr(drift, "ENGINE_ROWS", 0)
    results = drift.run(spec.checks.drift, make_data(spec, current, reference, tables=foreign))
    for got, want in zip(results[:-1], expected[:-1], strict=True):
        assert_same(want, got, got.slice["column"])
