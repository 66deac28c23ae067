"""Behaviour of the quality family: each expectation of the suite built from the spec, its
observed value (hand-computed here) and severity, blocking, the GX artifact and its privacy."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ethics_audit import runner
from ethics_audit.checks import CHECKS, quality
from ethics_audit.errors import DataError, SpecError
from ethics_audit.evaluate import judge
from ethics_audit.results import Severity, Status
from helpers import WINDOW_END, WINDOW_START, make_data, make_spec

COLUMNS = {
    "prediction_id": "pid",
    "score": "score",
    "prediction": "shown",
    "label": "clicked",
    "features": ["age", "device", "opted_in"],
    "sensitive": ["gender"],
}


def window(n: int = 1000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    score = rng.random(n)
    return pd.DataFrame(
        {
            "pid": [f"p{i:06d}" for i in range(n)],
            "user_id": rng.integers(0, n // 2, n),
            "ts": WINDOW_START + pd.to_timedelta(rng.integers(0, 7 * 86400, n), unit="s"),
            "age": rng.integers(18, 80, n),
            "device": rng.choice(["ios", "android", "web"], n),
            "opted_in": rng.random(n) < 0.5,
            "gender": rng.choice(["f", "m", "x"], n),
            "score": score,
            "shown": (score > 0.5).astype(int),
            "clicked": np.where(rng.random(n) < 0.5, np.nan, (rng.random(n) < score).astype(float)),
        }
    )


def spec(**quality_config):
    return make_spec({"columns": COLUMNS, "checks": {"quality": quality_config}})


def run(current: pd.DataFrame, reference: pd.DataFrame | None = None, history=(), **quality_config):
    s = spec(**quality_config)
    data = make_data(s, current, reference, row_count_history=list(history))
    return quality.run(s.checks.quality, data), data


def find(results, metric: str, column: str | None = None):
    matches = [r for r in results if r.metric == metric and r.slice.get("column") == column]
    assert len(matches) == 1, (metric, column, matches)
    return matches[0]


def severity(result) -> Severity:
    return judge(result).severity


def breaches(results) -> dict[tuple[str, str | None], Severity]:
    return {(r.metric, r.slice.get("column")): s for r in results if (s := severity(r)).is_breach}


def test_registered_first() -> None:
    assert next(iter(CHECKS)) == "quality"
    assert set(quality.METHODS) >= {
        "column_missing",
        "type_mismatch",
        "null_share",
        "unexpected_category_share",
        "out_of_range_share",
        "outside_window_share",
        "duplicate_id_share",
        "row_count",
        "row_count_drop",
    }


def test_clean_window_has_no_findings_and_the_expected_suite() -> None:
    current = window()
    results, data = run(
        current, window(seed=1), history=[1000, 1100, 900], allowed_categories={"device": ["ios", "android", "web"]}
    )
    assert breaches(results) == {}
    assert all(r.status is Status.COMPUTED for r in results)
    mapped = ["user_id", "ts", "pid", "shown", "score", "clicked", "age", "device", "opted_in", "gender"]
    assert [r.slice["column"] for r in results if r.metric == "column_missing"] == mapped
    assert {r.slice["column"] for r in results if r.metric == "null_share"} == set(mapped) - {"clicked"}
    # types: the kind each column has in the reference (not the late label), score and timestamp fixed
    assert {r.slice["column"]: r.details["expected"] for r in results if r.metric == "type_mismatch"} == {
        "user_id": "numeric",
        "ts": "datetime",
        "pid": "string",
        "shown": "numeric",
        "score": "numeric",
        "age": "numeric",
        "device": "string",
        "opted_in": "boolean",
        "gender": "string",
    }
    assert find(results, "row_count").value == 1000
    assert find(results, "row_count_drop").value == pytest.approx(0.0)
    for metric, column in (
        ("out_of_range_share", "score"),
        ("outside_window_share", "ts"),
        ("duplicate_id_share", "pid"),
        ("unexpected_category_share", "device"),
    ):
        assert find(results, metric, column).value == 0.0
    [artifact] = data.artifacts
    assert (artifact.kind, artifact.name) == ("gx_validation_json", "gx_validation.json")
    content = json.loads(artifact.content)
    assert content["success"] is True
    assert len(content["validations"][0]["results"]) == sum(
        1 for _ in quality.build_plan(data.spec.checks.quality, data).rules
    )


def test_without_reference_only_score_and_timestamp_types_are_checked() -> None:
    results, _ = run(window())
    assert {r.slice["column"] for r in results if r.metric == "type_mismatch"} == {"score", "ts"}


def test_missing_required_column_is_critical_and_blocking() -> None:
    results, _ = run(window().drop(columns=["device", "score"]))
    missing = {r.slice["column"]: r for r in results if r.metric == "column_missing"}
    assert {c for c, r in missing.items() if r.value == 1.0} == {"device", "score"}
    for column in ("device", "score"):
        assert severity(missing[column]) is Severity.CRITICAL
        assert missing[column].details["blocking"] is True
    assert "blocking" not in missing["age"].details and severity(missing["age"]) is Severity.OK
    # no other expectation is run on a missing column
    assert not [r for r in results if r.slice.get("column") in ("device", "score") and r.metric != "column_missing"]


def test_required_columns_can_be_narrowed() -> None:
    results, _ = run(window().drop(columns=["device"]), required_columns=["user_id", "ts", "score"])
    assert breaches(results) == {}
    assert [r.slice["column"] for r in results if r.metric == "column_missing"] == ["user_id", "ts", "score"]


def test_blocking_skips_the_other_families_and_the_run_is_partial(tmp_path) -> None:
    from ethics_audit.store import Store

    s = make_spec(
        {
            "columns": COLUMNS,
            "reference": {"previous_windows": 2},
            "checks": {"quality": {}, "drift": {}},
        }
    )
    data = make_data(s, window().drop(columns=["device"]), window(seed=1))
    outputs = runner.run_families(data)
    assert [(o.family, o.status) for o in outputs] == [("quality", "ran"), ("drift", "skipped")]
    assert outputs[1].reason == "quality: required column 'device' is missing"
    store = Store(f"sqlite:///{tmp_path / 'results.db'}")
    try:
        run_id = runner.begin(store, s, WINDOW_START, WINDOW_END)
        outcome = runner.finish(store, run_id, s, data, outputs)
    finally:
        store.dispose()
    assert outcome.status == "partial"
    assert outcome.summary["checks"]["drift"]["status"] == "skipped"
    assert outcome.worst is Severity.CRITICAL
    # and a complete window is not blocked
    data = make_data(s, window(), window(seed=1))
    assert [o.status for o in runner.run_families(data)] == ["ran", "ran"]


def test_null_share_per_column_values_and_severities() -> None:
    current = window(2000)
    current.loc[current.index[:60], "age"] = np.nan  # 3%: above warn 0.01, below critical 0.05
    current.loc[current.index[:300], "device"] = None  # 15%
    current.loc[current.index[:300], "gender"] = None
    results, _ = run(current, null_share_per_column={"gender": {"warn": 0.2, "critical": 0.5}})
    age, device, gender = (find(results, "null_share", c) for c in ("age", "device", "gender"))
    assert (age.value, severity(age)) == (0.03, Severity.WARN)
    assert (device.value, severity(device)) == (0.15, Severity.CRITICAL)
    assert (gender.value, severity(gender)) == (0.15, Severity.OK)
    assert age.details["unexpected_count"] == 60
    assert age.details["gx_success"] is False  # GX judged with mostly = 1 - warn
    assert gender.details["gx_success"] is True


def test_unlabelled_window_is_not_a_null_problem() -> None:
    current = window()
    current["clicked"] = np.nan
    results, _ = run(current)
    assert breaches(results) == {}
    results, _ = run(current, null_share_per_column={"clicked": {"warn": 0.5}})
    assert breaches(results) == {("null_share", "clicked"): Severity.WARN}


def test_unexpected_categories_are_counted_and_named() -> None:
    current = window(1000)
    current.loc[current.index[:25], "device"] = "smart_tv"
    current.loc[current.index[25:30], "device"] = None
    results, _ = run(current, allowed_categories={"device": ["ios", "android", "web"], "shown": [0, 1]})
    device = find(results, "unexpected_category_share", "device")
    assert device.value == pytest.approx(25 / 995)  # share of the non-null values
    assert device.n == 995
    assert severity(device) is Severity.CRITICAL
    assert device.details["unexpected_values"] == ["smart_tv"]
    assert find(results, "unexpected_category_share", "shown").value == 0.0


def test_score_out_of_range_and_timestamps_outside_the_window() -> None:
    current = window(1000)
    current.loc[current.index[:5], "score"] = 1.5
    current.loc[current.index[5:7], "score"] = -0.1
    current.loc[current.index[:20], "ts"] = WINDOW_END  # the end is outside [start, end)
    current.loc[current.index[20:30], "ts"] = WINDOW_START - pd.Timedelta(seconds=1)
    results, _ = run(current)
    score = find(results, "out_of_range_share", "score")
    assert (score.value, severity(score)) == (0.007, Severity.WARN)
    ts = find(results, "outside_window_share", "ts")
    assert (ts.value, severity(ts)) == (0.03, Severity.CRITICAL)
    results, _ = run(current, score_range=[-1, 2])
    assert find(results, "out_of_range_share", "score").value == 0.0


def test_duplicate_prediction_ids() -> None:
    current = window(1000)
    current.loc[current.index[:3], "pid"] = "p000999"  # 4 rows now share one id
    results, _ = run(current)
    duplicates = find(results, "duplicate_id_share", "pid")
    assert duplicates.value == pytest.approx(4 / 1000)
    assert severity(duplicates) is Severity.CRITICAL


def test_minimum_rows_and_row_count_history() -> None:
    results, _ = run(window(500), min_rows=1000)
    assert (find(results, "row_count").value, severity(find(results, "row_count"))) == (500, Severity.CRITICAL)
    results, _ = run(window(1000), min_rows=1000)
    assert severity(find(results, "row_count")) is Severity.OK
    history = [5000, 1500, 1600, 1700, 1800]  # the median of the last 4 is 1650
    for rows, expected in ((1500, Severity.OK), (1000, Severity.WARN), (700, Severity.CRITICAL)):
        results, _ = run(window(rows), history=history)
        drop = find(results, "row_count_drop")
        assert drop.value == pytest.approx(1 - rows / 1650)
        assert severity(drop) is expected
        assert drop.details["history"] == [1500, 1600, 1700, 1800]
    results, _ = run(window(1000), history=history, row_count_history_windows=1)
    assert find(results, "row_count_drop").value == pytest.approx(1 - 1000 / 1800)


def test_no_history_is_insufficient() -> None:
    results, _ = run(window())
    drop = find(results, "row_count_drop")
    assert drop.status is Status.INSUFFICIENT_DATA and severity(drop) is Severity.INSUFFICIENT_DATA
    assert drop.details["reason"] == "no earlier windows with rows yet"


def test_types_against_the_reference_and_the_spec() -> None:
    reference = window(seed=1)
    current = window()
    current["age"] = current["age"].astype(str)  # numbers logged as strings
    current["ts"] = current["ts"].astype(str)
    current["score"] = current["score"].astype(object)
    current["opted_in"] = current["opted_in"].astype(int)
    results, _ = run(current, reference)
    assert {c for (m, c), s in breaches(results).items() if m == "type_mismatch"} == {"age", "ts", "score", "opted_in"}
    age = find(results, "type_mismatch", "age")
    assert (age.details["expected"], age.details["observed"], age.details["dtype"]) == ("numeric", "string", "object")
    assert severity(age) is Severity.CRITICAL
    results, _ = run(current, reference, column_types={"age": "string", "opted_in": "numeric"})
    assert {c for (m, c) in breaches(results) if m == "type_mismatch"} == {"ts", "score"}


def test_pandas_extension_dtypes_have_their_kinds() -> None:
    current = window()
    current["age"] = current["age"].astype("Int64")
    current.loc[current.index[:3], "age"] = pd.NA
    current["device"] = current["device"].astype("string")
    current["gender"] = current["gender"].astype("category")
    current["opted_in"] = current["opted_in"].astype("boolean")
    current["ts"] = current["ts"].dt.tz_convert("Europe/Berlin")
    results, _ = run(current, window(seed=1), allowed_categories={"device": ["ios", "android", "web"]})
    assert breaches(results) == {}
    assert [r.slice["column"] for r in results if r.metric == "type_mismatch" and r.value != 0.0] == []
    assert find(results, "null_share", "age").value == 0.003
    assert find(results, "outside_window_share", "ts").value == 0.0
    assert find(results, "unexpected_category_share", "device").value == 0.0


def test_canonical_frame_keeps_values_and_nulls() -> None:
    values = {
        "object": pd.Series(["a", None, "b"], dtype=object),
        "string": pd.Series(["a", None, "b"], dtype="string"),
        "Int64": pd.Series([1, None, 3], dtype="Int64"),
        "Int64_full": pd.Series([1, 2, 3], dtype="Int64"),
        "boolean": pd.Series([True, None, False], dtype="boolean"),
        "tz": pd.Series(pd.to_datetime(["2026-07-06T12:00:00+02:00", None, "2026-07-07T00:00:00Z"], utc=True)),
    }
    for name, series in values.items():
        canonical = quality.canonical(series)
        assert canonical.isna().tolist() == series.isna().tolist(), name
    assert quality.canonical(values["object"]).dtype == "category"
    assert str(quality.canonical(values["Int64"]).dtype) == "float64"
    assert str(quality.canonical(values["Int64_full"]).dtype) == "int64"
    tz = quality.canonical(values["tz"])
    assert str(tz.dtype) == "datetime64[ns]" and tz.iloc[0] == pd.Timestamp("2026-07-06T10:00:00")


def test_spec_expectations_by_name() -> None:
    current = window(1000)
    current.loc[current.index[:10], "device"] = "Web "
    results, data = run(
        current,
        expectations=[
            {"expectation": "expect_column_values_to_match_regex", "kwargs": {"column": "device", "regex": "^[a-z]+$"}},
            {"expectation": "expect_column_mean_to_be_between", "kwargs": {"column": "age", "min_value": 18, "max_value": 80}, "severity": "critical"},
            {"expectation": "expect_column_values_to_match_regex", "kwargs": {"column": "device", "regex": "^.{3,7}$"}},
        ],
    )  # fmt: skip
    regex = [r for r in results if r.metric == "expect_column_values_to_match_regex"]
    assert [r.slice for r in regex] == [{"column": "device"}, {"column": "device", "rule": 2}]
    assert (regex[0].value, severity(regex[0])) == (1.0, Severity.WARN)
    assert regex[0].details["unexpected_share"] == pytest.approx(0.01)
    assert (regex[1].value, severity(regex[1])) == (0.0, Severity.OK)
    mean = find(results, "expect_column_mean_to_be_between", "age")
    assert mean.value == 0.0 and mean.details["observed_value"] == pytest.approx(current["age"].mean())
    assert len(json.loads(data.artifacts[0].content)["validations"]) == 2


def test_failed_blocking_spec_expectation_blocks() -> None:
    s = make_spec(
        {
            "columns": COLUMNS,
            "reference": {"previous_windows": 2},
            "checks": {
                "quality": {
                    "expectations": [
                        {"expectation": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 5000}, "severity": "critical", "blocking": True}
                    ]
                },
                "drift": {},
            },
        }
    )  # fmt: skip
    outputs = runner.run_families(make_data(s, window(), window(seed=1)))
    assert outputs[1].status == "skipped" and "expect_table_row_count_to_be_between" in outputs[1].reason


def test_bad_spec_expectations_are_clear_errors() -> None:
    with pytest.raises(
        DataError, match=r"checks.quality.expectations\[0\]: 'expect_the_moon' is not a Great Expectations"
    ):
        run(window(), expectations=[{"expectation": "expect_the_moon"}])
    with pytest.raises(DataError, match=r"checks.quality.expectations\[0\]:"):
        run(window(), expectations=[{"expectation": "expect_column_values_to_be_between", "kwargs": {"colum": "age"}}])
    with pytest.raises(SpecError, match="a blocking expectation must have severity: critical"):
        spec(expectations=[{"expectation": "expect_column_to_exist", "kwargs": {"column": "x"}, "blocking": True}])
    with pytest.raises(DataError, match=r"checks.quality.allowed_categories: \['platform'\] not among"):
        run(window(), allowed_categories={"platform": ["a"]})
    with pytest.raises(SpecError, match="score_range"):
        spec(score_range=[1, 0])


def test_no_row_values_in_details_or_artifact() -> None:
    current = window(1000)
    current["email"] = [f"person{i}@example.com" for i in range(1000)]
    results, data = run(
        current,
        expectations=[
            {"expectation": "expect_column_values_to_match_regex", "kwargs": {"column": "email", "regex": "^x"}},
            {"expectation": "expect_column_most_common_value_to_be_in_set", "kwargs": {"column": "email", "value_set": ["y"]}},
            {"expectation": "expect_column_values_to_be_unique", "kwargs": {"column": "user_id"}},
        ],
    )  # fmt: skip
    text = json.dumps([r.to_dict() for r in results]) + data.artifacts[0].content
    assert "@example.com" not in text
    assert "partial_unexpected_list" not in text
    user_ids = [str(v) for v in current["user_id"].unique()[:50] if v > 100]
    assert not any(f'"{v}"' in text or f"[{v}" in text for v in user_ids)
