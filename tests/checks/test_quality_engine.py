"""The quality family where the window's rows live: counted in memory (pandas) or on an engine
(Ibis over DuckDB reading a parquet file), the same results; the counts judged as GX judges them
(compared with GX's own validation of the same rules); and the counts merge over chunks."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ethics_audit.checks import quality
from ethics_audit.checks.quality import outcomes, stats, validation
from ethics_audit.engine import Rows
from helpers import WINDOW_END, WINDOW_START, make_data, make_spec

COLUMNS = {
    "prediction_id": "pid",
    "score": "score",
    "prediction": "shown",
    "label": "clicked",
    "features": ["age", "device", "opted_in", "user_ref"],
    "sensitive": ["gender"],
}
QUALITY = {
    "allowed_categories": {"device": ["ios", "android", "web"], "shown": [0, 1]},
    "null_share_per_column": {"gender": {"warn": 0.2, "critical": 0.5}},
}


def messy(n: int, seed: int) -> pd.DataFrame:
    """A window with nulls, NaN, out-of-range scores, timestamps outside the window, duplicated
    ids, categories outside the allowed set and numbers logged as strings."""
    rng = np.random.default_rng(seed)
    score = rng.random(n) * 1.2 - 0.1
    score[rng.random(n) < 0.05] = np.nan
    seconds = rng.integers(-3600, 7 * 86400 + 3600, n)
    ts = pd.Series(WINDOW_START + pd.to_timedelta(seconds, unit="s"))
    ts[rng.random(n) < 0.03] = pd.NaT
    ts[rng.random(n) < 0.02] = WINDOW_END  # the end is outside [start, end)
    device = rng.choice(["ios", "android", "web", "smart_tv", "fridge"], n, p=[0.3, 0.3, 0.3, 0.07, 0.03]).astype(
        object
    )
    device[rng.random(n) < 0.04] = None
    pid = np.array([f"p{i:06d}" for i in rng.integers(0, n * 3, n)], dtype=object)
    pid[rng.random(n) < 0.01] = None
    age = rng.integers(18, 80, n).astype(float)
    age[rng.random(n) < 0.08] = np.nan
    gender = rng.choice(["f", "m", "x"], n).astype(object)
    gender[rng.random(n) < 0.25] = None
    return pd.DataFrame(
        {
            "pid": pid,
            "user_id": rng.integers(0, n // 2, n),
            "ts": ts,
            "age": age,
            "device": device,
            "opted_in": rng.random(n) < 0.5,
            "gender": gender,
            "score": score,
            "shown": rng.choice([0, 1, 2], n, p=[0.49, 0.49, 0.02]),
            "clicked": np.where(rng.random(n) < 0.5, np.nan, (rng.random(n) < 0.5).astype(float)),
            "user_ref": rng.integers(0, 1000, n).astype(str),  # numbers logged as strings
        }
    )


def reference(n: int = 500) -> pd.DataFrame:
    frame = messy(n, 99)
    frame["user_ref"] = frame["user_ref"].astype(int)
    return frame


def spec(**extra):
    return make_spec({"columns": COLUMNS, "checks": {"quality": {**QUALITY, **extra}}})


def parquet_rows(backend, path) -> Rows:
    """A parquet file as the runner's engine sees it: DuckDB reads pandas' UTC nanosecond
    timestamps as TIMESTAMPTZ_NS, which Ibis has no type for, so they are read as the same UTC
    instants and typed as UTC timestamps again (as ``engine.files`` does for file sources)."""
    import ibis.expr.datatypes as dt

    relation = backend.con.read_parquet(str(path))
    fixes = [
        f'CAST("{c}" AS TIMESTAMP_NS) AS "{c}"'
        for c, t in zip(relation.columns, relation.types, strict=True)
        if t.id == "timestamptz_ns"
    ]
    name = path.stem
    relation.project(f"* REPLACE ({', '.join(fixes)})").create_view(name)
    table = backend.table(name)
    return Rows(table.mutate(ts=table.ts.cast(dt.Timestamp(timezone="UTC", scale=9))), backend)


def as_dicts(results) -> list[dict]:
    return [json.loads(json.dumps(r.to_dict(), default=str)) for r in results]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_parquet_window_on_duckdb_gives_the_results_of_the_same_window_in_memory(tmp_path, seed) -> None:
    import ibis

    current, ref = messy(3000, seed), reference()
    if seed == 2:  # no duplicated id: the engine skips the GROUP BY of the ids
        current["pid"] = [f"p{i:06d}" for i in range(len(current))]
    current.to_parquet(tmp_path / "current.parquet")
    ref.to_parquet(tmp_path / "reference.parquet")
    # the spec's own expectations: GX runs them on the columns they name, pulled from the engine
    s = spec(
        expectations=[
            {"expectation": "expect_column_values_to_match_regex", "kwargs": {"column": "device", "regex": "^[a-z]+$"}},
            {
                "expectation": "expect_column_mean_to_be_between",
                "kwargs": {"column": "age", "min_value": 40, "max_value": 60},
            },
            {"expectation": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 5000}},
        ]
    )
    history = [3100, 2900, 3000]
    # today's path for a parquet source: the file read into pandas, then the family
    in_memory = make_data(s, pd.read_parquet(tmp_path / "current.parquet"),
                          pd.read_parquet(tmp_path / "reference.parquet"), row_count_history=history)  # fmt: skip
    expected = quality.run(s.checks.quality, in_memory)
    # the engine path: no frame, the window's tables on DuckDB
    backend = ibis.duckdb.connect()
    on_engine = make_data(s, None, None, row_count_history=history)
    on_engine.tables = {
        "current": parquet_rows(backend, tmp_path / "current.parquet"),
        "reference": parquet_rows(backend, tmp_path / "reference.parquet"),
    }
    got = quality.run(s.checks.quality, on_engine)
    assert as_dicts(got) == as_dicts(expected)
    # and the original frame (pandas dtypes as built) gives the same values and verdicts
    original = quality.run(s.checks.quality, make_data(s, current, ref, row_count_history=history))
    strip = [{**r, "details": {k: v for k, v in r["details"].items() if k != "dtype"}} for r in as_dicts(original)]
    assert strip == [{**r, "details": {k: v for k, v in r["details"].items() if k != "dtype"}} for r in as_dicts(got)]
    # the data is messy enough that every kind of finding is there
    found = {(r.metric, r.slice.get("column")) for r in got if r.value}
    assert {("out_of_range_share", "score"), ("outside_window_share", "ts"), ("unexpected_category_share", "device"),
            ("unexpected_category_share", "shown"), ("type_mismatch", "user_ref"), ("null_share", "age")} <= found  # fmt: skip
    assert (("duplicate_id_share", "pid") in found) == (seed != 2)
    [mean] = [r for r in got if r.metric == "expect_column_mean_to_be_between"]
    assert mean.details["observed_value"] == pytest.approx(current["age"].mean())
    [device] = [r for r in got if r.metric == "unexpected_category_share" and r.slice["column"] == "device"]
    assert device.details["unexpected_values"] == ["smart_tv", "fridge"]
    meta = json.loads(on_engine.artifacts[0].content)["validations"][0]["meta"]
    assert meta["engine"] == "duckdb"


@pytest.mark.parametrize("seed", [3, 4])
def test_the_counts_are_judged_as_great_expectations_judges_them(seed) -> None:
    """Our outcomes for the built-in suite equal GX's own validation of the same rules on the
    frame GX used to see (canonical columns), field by field."""
    current = messy(2000, seed)
    for mostly_bound in (0.0, 0.05):
        s = spec(thresholds={"null_share": {"warn": mostly_bound, "critical": 0.5}})
        data = make_data(s, current, reference(), row_count_history=[2000, 2100])
        plan = quality.build_plan(s.checks.quality, data)
        counts = stats.frame_stats(plan, current)
        builtin = [(i, r) for i, r in enumerate(plan.rules) if not r.from_spec]
        gx_frame = pd.DataFrame({name: quality.canonical(current[name]) for name in plan.gx_columns})
        raw = validation._validate(gx_frame, validation._expectations(builtin), "compare")
        theirs = {o["expectation_config"]["meta"]["rule"]: o for o in raw["results"]}
        assert len(theirs) == len(builtin)
        for i, rule in builtin:
            ours = outcomes.builtin_outcome(i, rule, plan, counts)
            column = rule.kwargs.get("column")
            gx_result = validation._clean_result(theirs[i]["result"], rule.expectation, column)
            assert (ours["success"], ours["result"]) == (theirs[i]["success"], gx_result), (rule.expectation, column)


def test_a_big_window_on_the_engine_is_validated_by_gx_in_parts_with_the_whole_windows_verdicts(
    tmp_path, monkeypatch
) -> None:
    """Past ``PART_ROWS`` rows, GX sees a row-by-row expectation's column a part at a time (the
    process never holds the column whole) and the counts are added: the same outcomes, counts and
    verdicts as GX over the whole window; an expectation that needs the whole column sees it whole."""
    import ibis

    current = messy(3000, 5)
    # an integer column with missing values in the last part only (float64 whole, int64 in parts)
    current["visits"] = [i % 9 if i < 2500 else None for i in range(len(current))]
    current.to_parquet(tmp_path / "current.parquet")
    between = {"column": "age", "min_value": 20, "max_value": 75, "mostly": 0.85}
    regex = {"column": "device", "regex": "^[a-z]+$", "mostly": 0.9}
    expectations = [
        ("expect_column_values_to_match_regex", regex),
        ("expect_column_values_to_match_regex", {**regex, "mostly": 0.97}),
        ("expect_column_values_to_be_between", between),
        ("expect_column_values_to_be_between", {**between, "mostly": 0.9}),
        ("expect_column_values_to_be_in_set", {"column": "shown", "value_set": [0, 1]}),
        ("expect_column_values_to_not_be_null", {"column": "gender", "mostly": 0.7}),
        ("expect_column_values_to_not_be_null", {"column": "gender", "mostly": 0.8}),
        ("expect_column_values_to_be_between", {"column": "visits", "min_value": 0, "max_value": 7}),
        ("expect_column_values_to_be_unique", {"column": "pid"}),  # needs the whole column
        ("expect_column_mean_to_be_between", {"column": "age", "min_value": 40, "max_value": 60}),
    ]
    s = spec(expectations=[{"expectation": e, "kwargs": k} for e, k in expectations])
    expected = quality.run(s.checks.quality, make_data(s, pd.read_parquet(tmp_path / "current.parquet")))
    seen: list[int] = []
    validator = validation._validator

    def counting(expectations, name):
        validate = validator(expectations, name)

        def each(frame):
            seen.append(len(frame))
            return validate(frame)

        return each

    monkeypatch.setattr(validation, "PART_ROWS", 700)
    monkeypatch.setattr(validation, "_validator", counting)
    on_engine = make_data(s, None, None)
    on_engine.tables = {"current": parquet_rows(ibis.duckdb.connect(), tmp_path / "current.parquet")}
    got = quality.run(s.checks.quality, on_engine)
    assert as_dicts(got) == as_dicts(expected)
    # one whole frame (uniqueness, mean), then parts of at most 700 rows covering the window
    assert seen[0] == 3000 and max(seen[1:]) <= 700 and sum(seen[1:]) == 3000
    # each pair straddles its bound: the verdicts turn on the whole window's shares
    assert [r.value for r in got if r.metric.startswith("expect_")] == [
        0.0,
        1.0,
        0.0,
        1.0,
        1.0,
        0.0,
        1.0,
        1.0,
        1.0,
        0.0,
    ]
    artifact = json.loads(on_engine.artifacts[0].content)["validations"][1]["results"]
    unexpected = [o["result"].get("unexpected_count") for o in artifact]
    assert unexpected[:8] == [
        int((~current["device"].dropna().str.match("^[a-z]+$")).sum()),
        int((~current["device"].dropna().str.match("^[a-z]+$")).sum()),
        int((~current["age"].dropna().between(20, 75)).sum()),
        int((~current["age"].dropna().between(20, 75)).sum()),
        int((~current["shown"].isin([0, 1])).sum()),
        int(current["gender"].isna().sum()),
        int(current["gender"].isna().sum()),
        int((current["visits"].dropna() > 7).sum()),
    ]


def test_counts_merge_over_chunks(tmp_path) -> None:
    import ibis

    current = messy(4000, 5)
    s = spec()
    data = make_data(s, current, reference())
    plan = quality.build_plan(s.checks.quality, data)
    whole = stats.frame_stats(plan, current)
    # any split of the rows: every count but the duplicated ids adds up
    halves = stats.frame_stats(plan, current.iloc[:1500]).merge(stats.frame_stats(plan, current.iloc[1500:]))
    unique = {i for i, r in enumerate(plan.rules) if r.expectation == stats.UNIQUE}
    assert (halves.rows, halves.nulls, halves.outside) == (whole.rows, whole.nulls, whole.outside)
    assert {k: v for k, v in halves.unexpected.items() if k not in unique} == {
        k: v for k, v in whole.unexpected.items() if k not in unique
    }
    # split by the id's hash (as partitions are): the duplicates add up too; chunks on DuckDB
    backend = ibis.duckdb.connect()
    part = pd.util.hash_pandas_object(current["pid"], index=False) % 3
    merged = stats.QualityStats()
    for k in range(3):
        merged = merged.merge(stats.table_stats(plan, Rows(ibis.memtable(current[part.to_numpy() == k]), backend)))
    assert merged == whole
    assert whole.unexpected[next(iter(unique))] > 0


def test_a_parquet_source_loaded_by_the_runner_on_duckdb_or_into_memory_gives_the_same_results(tmp_path) -> None:
    """Through the loaders themselves: ``engine: memory`` reads the files into pandas (today's
    path), ``engine: duckdb`` leaves them on DuckDB; pandas extension dtypes included."""
    from ethics_audit import sources
    from ethics_audit.engine import window

    current, ref = messy(4000, 7), reference()
    current["visits"] = pd.array([None if i % 17 == 0 else i % 9 for i in range(len(current))], dtype="Int64")
    current["verified"] = pd.array([None if i % 13 == 0 else i % 2 == 0 for i in range(len(current))], dtype="boolean")
    current["city"] = pd.array([None if i % 11 == 0 else f"c{i % 5}" for i in range(len(current))], dtype="string")
    for name in ("visits", "verified", "city"):
        ref[name] = current[name].iloc[: len(ref)].reset_index(drop=True)
    (tmp_path / "data").mkdir()
    current.to_parquet(tmp_path / "data" / "current.parquet")
    ref.to_parquet(tmp_path / "reference.parquet")
    features = [*COLUMNS["features"], "visits", "verified", "city"]
    results = {}
    for kind in ("memory", "duckdb"):
        s = make_spec(
            {
                "columns": {**COLUMNS, "features": features},
                "source": {"path": "data/*.parquet"},
                "reference": {"baseline": {"path": "reference.parquet"}},
                "checks": {"quality": {**QUALITY, "allowed_categories": {"city": ["c0", "c1", "c2"]}}},
                "engine": {"kind": kind},
            },
            path=tmp_path / "spec.yaml",
        )
        load = sources.load_window if kind == "memory" else window.load_window
        data = load(s, WINDOW_START, WINDOW_END, row_count_history=[4000, 3900])
        assert (data.current is None) == (kind == "duckdb")
        results[kind] = as_dicts(quality.run(s.checks.quality, data))
    assert results["duckdb"] == results["memory"]
    dtypes = {r["slice"]["column"]: r["details"]["dtype"] for r in results["duckdb"] if r["metric"] == "type_mismatch"}
    assert (dtypes["visits"], dtypes["verified"], dtypes["city"]) == ("Int64", "boolean", "string")
    assert any(r["metric"] == "unexpected_category_share" and r["value"] for r in results["duckdb"])


def test_table_level_spec_expectations_are_judged_as_gx_judges_them() -> None:
    """Row counts and column existence need no rows: judged from the counts (so the engine path
    never loads the window for them), equal to GX's own outcome; other arguments go to GX."""
    current = messy(500, 8)
    kwargs = [
        ("expect_table_row_count_to_be_between", {"min_value": 400}),
        ("expect_table_row_count_to_be_between", {"min_value": 600}),
        ("expect_table_row_count_to_be_between", {"min_value": None, "max_value": 499}),
        ("expect_table_row_count_to_be_between", {"max_value": 500}),
        ("expect_table_row_count_to_equal", {"value": 500}),
        ("expect_table_row_count_to_equal", {"value": 501}),
        ("expect_column_to_exist", {"column": "age"}),
        ("expect_column_to_exist", {"column": "no_such_column"}),
    ]
    s = spec(expectations=[{"expectation": e, "kwargs": k} for e, k in kwargs])
    data = make_data(s, current)
    plan = quality.build_plan(s.checks.quality, data)
    rules = [(i, r) for i, r in enumerate(plan.rules) if r.from_spec]
    assert all(outcomes.from_counts(r) for _, r in rules)
    counts = stats.frame_stats(plan, current)
    raw = validation._validate(current, validation._expectations(rules), "compare")
    theirs = {o["expectation_config"]["meta"]["rule"]: o for o in raw["results"]}
    for i, rule in rules:
        ours = outcomes.builtin_outcome(i, rule, plan, counts)
        assert (ours["success"], ours["result"]) == (theirs[i]["success"], theirs[i]["result"]), rule.kwargs
    assert [theirs[i]["success"] for i, _ in rules] == [True, False, False, True, True, False, True, False]
    results = quality.run(s.checks.quality, data)
    assert [r.value for r in results if r.metric.startswith("expect_")] == [0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0]
    strict = spec(
        expectations=[
            {"expectation": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1, "strict_min": True}}
        ]
    )
    [rule] = [r for r in quality.build_plan(strict.checks.quality, make_data(strict, current)).rules if r.from_spec]
    assert not outcomes.from_counts(rule)


@pytest.mark.postgres
def test_pushed_down_into_postgresql_the_results_are_those_of_the_memory_path(pg_url: str) -> None:
    import sqlalchemy as sa
    from bench.synthetic import frame, spec_dict, window

    from ethics_audit.engine import sql as pushdown
    from ethics_audit.sources import load_window
    from ethics_audit.spec import AuditSpec

    start, end = window()
    current = frame(3000, seed=1)
    current.loc[current.index % 7 == 0, "num_03"] = np.nan
    current.loc[current.index % 11 == 0, "cat_01"] = None
    current.loc[current.index[:30], "score"] = 1.5
    current.loc[current.index[30:40], "prediction_id"] = current["prediction_id"].iloc[0]
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        current.to_sql("predictions", conn, index=False)
    engine.dispose()
    results = {}
    for kind in ("memory", "postgres"):
        raw = spec_dict()
        raw["source"] = {
            "query": "SELECT * FROM predictions WHERE ts >= :window_start AND ts < :window_end",
            "url": pg_url,
        }
        raw.pop("reference")
        raw["checks"] = {"quality": {"allowed_categories": {"cat_01": ["v0", "v1"]}}}
        raw["engine"] = {"kind": kind}
        spec = AuditSpec.model_validate(raw)
        data = (load_window if kind == "memory" else pushdown.load_window)(spec, start, end, row_count_history=[3000])
        assert (data.current is None) == (kind == "postgres")
        results[kind] = as_dicts(quality.run(spec.checks.quality, data))
    assert results["postgres"] == results["memory"]
    found = {r["metric"] for r in results["postgres"] if r["value"]}
    assert {"out_of_range_share", "duplicate_id_share", "unexpected_category_share", "null_share"} <= found


def test_a_missing_required_column_on_the_engine_is_reported_and_blocks_as_in_memory(tmp_path) -> None:
    import ibis

    current = messy(1000, 9).drop(columns=["device", "score"])
    current.to_parquet(tmp_path / "current.parquet")
    s = spec(allowed_categories={"shown": [0, 1]})
    expected = quality.run(s.checks.quality, make_data(s, pd.read_parquet(tmp_path / "current.parquet")))
    backend = ibis.duckdb.connect()
    on_engine = make_data(s, None)
    on_engine.tables = {"current": parquet_rows(backend, tmp_path / "current.parquet")}
    got = quality.run(s.checks.quality, on_engine)
    assert as_dicts(got) == as_dicts(expected)
    missing = {r.slice["column"] for r in got if r.metric == "column_missing" and r.value == 1.0}
    assert missing == {"device", "score"}
    assert all(r.details.get("blocking") for r in got if r.metric == "column_missing" and r.value == 1.0)
