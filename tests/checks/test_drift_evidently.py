"""The drift family against Evidently 0.7 itself: same scores (to 1e-9), same method choice,
same verdicts, same registry, same type inference and cleaning, on seeded random data."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from ethics_audit.checks import drift
from ethics_audit.evaluate import judge
from ethics_audit.results import MetricResult
from ethics_audit.spec import EVIDENTLY_STATTESTS, STATTEST_TYPES
from helpers import make_data, make_spec

pytestmark = [pytest.mark.filterwarnings("ignore::RuntimeWarning"), pytest.mark.filterwarnings("ignore::UserWarning")]

COLUMNS = [
    "f_normal",  # float: numerical
    "f_nan_inf",  # float with NaN and +-inf, dropped before testing
    "i_wide",  # int with many values: numerical
    "f_three",  # float with 3 values: numerical, but chi-square/Jensen-Shannon by default
    "i_four",  # int with 4 values: categorical
    "i_binary",  # 0/1 int: categorical, Z test for small references
    "b_flag",  # bool: categorical
    "s_cat",  # strings with missing values: categorical
    "s_binary",  # two strings
]


def frames(n_ref: int, n_cur: int, seed: int, shift: float = 0.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def one(n: int, s: float) -> pd.DataFrame:
        noisy = rng.normal(s, 1, n)
        noisy[rng.random(n) < 0.05] = np.nan
        noisy[rng.random(n) < 0.01] = np.inf
        noisy[rng.random(n) < 0.01] = -np.inf
        return pd.DataFrame(
            {
                "f_normal": rng.normal(s, 1, n),
                "f_nan_inf": noisy,
                "i_wide": rng.integers(0, 60, n) + int(10 * s),
                "f_three": rng.choice([1.0, 2.0, 3.0], n, p=[0.5 - s / 4, 0.3, 0.2 + s / 4]),
                "i_four": rng.choice(4, n, p=[0.4 - s / 4, 0.3, 0.2, 0.1 + s / 4]),
                "i_binary": (rng.random(n) < 0.3 + s / 5).astype(int),
                "b_flag": rng.random(n) < 0.5 - s / 5,
                "s_cat": pd.Series(
                    rng.choice(["a", "b", "c", "d", None], n, p=[0.3, 0.3, 0.2, 0.1, 0.1]), dtype=object
                ),
                "s_binary": rng.choice(["yes", "no"], n, p=[0.6 - s / 5, 0.4 + s / 5]),
            }
        )

    return one(n_ref, 0.0), one(n_cur, shift)


def evidently_value_drift(current: pd.DataFrame, reference: pd.DataFrame, columns: list[str], **kwargs):
    """(score, method display name, drifted) per column from Evidently's ValueDrift."""
    from evidently import Report
    from evidently.metrics import ValueDrift

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot = Report([ValueDrift(column=c, **kwargs) for c in columns], include_tests=True).run(current, reference)
    result = snapshot.dict()
    return [
        (m["value"], m["config"]["method"], t["status"] == "FAIL")
        for m, t in zip(result["metrics"], result["tests"], strict=True)
    ]


def run_drift(current: pd.DataFrame, reference: pd.DataFrame, columns: list[str], **drift_config):
    spec = make_spec(
        {"columns": {"features": columns}, "reference": {"previous_windows": 1}, "checks": {"drift": drift_config}}
    )
    results = drift.run(spec.checks.drift, make_data(spec, current, reference))
    return {r.slice["column"]: r for r in results if r.metric == "column_drift"}


@pytest.mark.parametrize("n_ref", [400, 1000, 1001, 3000], ids=lambda n: f"ref{n}")
@pytest.mark.parametrize("shift", [0.0, 0.3], ids=["same", "shifted"])
def test_default_method_scores_equal_value_drift(n_ref: int, shift: float) -> None:
    reference, current = frames(n_ref, 900, seed=n_ref, shift=shift)
    ours = run_drift(current, reference, COLUMNS)
    theirs = evidently_value_drift(current, reference, COLUMNS)
    for column, (score, method, drifted) in zip(COLUMNS, theirs, strict=True):
        result = ours[column]
        assert result.details["method_name"] == method, column
        assert result.value == pytest.approx(score, abs=1e-9), column
        assert result.details["drifted"] is drifted, column
        assert judge(result).severity.is_breach is drifted, column


@pytest.mark.parametrize("method", [m for m in EVIDENTLY_STATTESTS if STATTEST_TYPES[m] != ("text",)])
def test_every_registered_method_scores_equal_value_drift(method: str) -> None:
    slow = method == "TVD"  # 1,000 permutations in pure Python: keep the sample small
    reference, current = frames(60 if slow else 300, 50 if slow else 250, seed=7, shift=0.3)
    kinds = STATTEST_TYPES[method]
    columns = [c for c in ("f_normal", "f_nan_inf") if "numerical" in kinds]
    columns += [c for c in ("i_four", "s_cat", "s_binary") if "categorical" in kinds]
    if slow:
        columns = ["s_cat"]
    if method in ("fisher_exact", "g_test"):  # Evidently's versions need equally many values
        reference = reference.iloc[:250]
        columns = ["s_binary", "i_binary"] if method == "fisher_exact" else ["i_four", "s_binary"]
    ours = run_drift(current, reference, columns, stattest={"stattest": method})
    for column in columns:
        np.random.seed(0)  # Evidently's MMD draws unseeded permutations; ours seeds them with 0
        [(score, _, drifted)] = evidently_value_drift(current, reference, [column], method=method)
        assert ours[column].details["method"] == method
        if math.isnan(score):
            assert ours[column].value is None
        else:
            assert ours[column].value == pytest.approx(score, abs=1e-9), column
        assert ours[column].details["drifted"] is drifted, column


def test_spec_threshold_is_passed_to_evidently() -> None:
    reference, current = frames(2000, 1500, seed=3, shift=0.3)
    ours = run_drift(current, reference, ["f_normal", "s_cat"], per_column={"f_normal": {"threshold": 0.5}})
    theirs = evidently_value_drift(current, reference, ["f_normal"], threshold=0.5)
    assert ours["f_normal"].details["threshold"] == 0.5
    assert ours["f_normal"].details["drifted"] is theirs[0][2]
    assert ours["s_cat"].details["threshold"] == 0.1  # Jensen-Shannon's own default


@pytest.mark.parametrize("method", sorted(drift.DRIFTED_WHEN))
def test_verdict_rule_matches_evidently_at_the_threshold(method: str) -> None:
    """With the threshold at Evidently's score exactly, and one float step either side, the
    strict comparison of ``drift_threshold`` gives Evidently's own verdict."""
    from evidently.legacy.calculations.stattests.registry import get_registered_stattest
    from evidently.legacy.core import ColumnType

    n = 40 if method == "TVD" else 200
    reference, current = frames(n, n, seed=11, shift=0.4)
    if "numerical" in STATTEST_TYPES[method]:
        kind, column_type, column = "numerical", ColumnType.Numerical, "f_normal"
    else:
        kind, column_type, column = "categorical", ColumnType.Categorical, "s_binary"
    stattest = get_registered_stattest(method, column_type)

    def evidently(threshold: float):
        ref, cur = drift.prepare(reference[column], current[column], kind)
        np.random.seed(0)
        return stattest(ref, cur, column_type, threshold)

    score = float(evidently(0.5).drift_score)
    verdicts = set()
    for threshold in (math.nextafter(score, -math.inf), score, math.nextafter(score, math.inf)):
        theirs = evidently(threshold)
        assert float(theirs.drift_score) == score
        result = MetricResult(
            "drift", "column_drift", score, threshold=drift.drift_threshold(method, threshold, "warn")
        )
        assert judge(result).severity.is_breach is bool(theirs.drifted), (method, threshold, score)
        verdicts.add(bool(theirs.drifted))
    assert verdicts == {True, False}  # the three thresholds straddle Evidently's decision


def test_registry_matches_evidently() -> None:
    from evidently.legacy.calculations.stattests.registry import _registered_stat_tests

    names = {"num": "numerical", "cat": "categorical", "text": "text"}
    registry = {
        name: tuple(sorted(names[t.value] for t in by_type)) for name, by_type in _registered_stat_tests.items()
    }
    assert sorted(EVIDENTLY_STATTESTS) == sorted(registry)
    assert STATTEST_TYPES == registry
    assert set(drift.DRIFTED_WHEN) == {n for n, kinds in registry.items() if kinds != ("text",)}


@pytest.mark.parametrize("n_ref", [999, 1000, 1001])
@pytest.mark.parametrize("n_values", [1, 2, 3, 5, 6, 25])
@pytest.mark.parametrize("kind", ["numerical", "categorical"])
def test_default_choice_is_evidentlys(kind: str, n_values: int, n_ref: int) -> None:
    from evidently.legacy.calculations.stattests.registry import _get_default_stattest
    from evidently.legacy.core import ColumnType

    rng = np.random.default_rng(n_values)
    values = np.arange(n_values, dtype=float)
    reference = pd.Series(rng.choice(values, n_ref))
    current = pd.Series(np.concatenate([values, rng.choice(values, 5000)]))  # every value present
    column_type = ColumnType.Numerical if kind == "numerical" else ColumnType.Categorical
    assert (
        drift.default_stattest(reference, current, kind) == _get_default_stattest(reference, current, column_type).name
    )


def _typed_columns() -> dict[str, pd.Series]:
    rng = np.random.default_rng(5)
    n = 6000
    text = pd.Series([f"note {i}" for i in range(n)], dtype=object)
    return {
        "float": pd.Series(rng.normal(size=n)),
        "int_few": pd.Series(rng.integers(0, 10, n)),
        "int_eleven": pd.Series(np.arange(n) % 11),
        "int_many_late": pd.Series(np.concatenate([np.zeros(5000, dtype=int), np.arange(1000)])),
        "uint": pd.Series(rng.integers(0, 3, n).astype("uint8")),
        "nullable_int": pd.Series(rng.integers(0, 3, n)).astype("Int64"),
        "bool": pd.Series(rng.random(n) < 0.5),
        "category": pd.Series(rng.choice(["a", "b"], n)).astype("category"),
        "object_str": pd.Series(rng.choice(["a", "b", None], n), dtype=object),
        "object_text": text,
        "object_half": pd.Series([f"v{i % 3000}" for i in range(n)], dtype=object),
        "object_ints": pd.Series(list(rng.integers(0, 3, n)), dtype=object),
        "object_none": pd.Series([None] * n, dtype=object),
        "object_lists": pd.Series([[1, 2]] * n, dtype=object),
        "string": pd.Series(rng.choice(["a", "b"], n), dtype="string"),
        "datetime": pd.Series(pd.date_range("2026-01-01", periods=n, freq="min", tz="UTC")),
    }


@pytest.mark.parametrize("name", list(_typed_columns()))
def test_type_inference_is_evidentlys(name: str) -> None:
    from evidently.core.datasets import infer_column_type

    series = _typed_columns()[name]
    names = {"num": "numerical", "cat": "categorical"}
    expected = infer_column_type(series).value
    assert drift.infer_kind(series) == names.get(expected, expected)


@pytest.mark.parametrize(
    "series",
    [
        pd.Series([1.0, np.nan, np.inf, -np.inf, 2.0]),
        pd.Series([1, 2, 3]),
        pd.Series([True, False]),
        pd.Series(["a", None, np.nan, "b", math.inf, 3], dtype=object),
        pd.Series([1.5, None, 2.5], dtype="Float64"),
        pd.Series(["a", None, "b"], dtype="string"),
        pd.Series(["a", None], dtype="category"),
    ],
    ids=["float", "int", "bool", "object", "Float64", "string", "category"],
)
def test_clean_is_evidentlys_replace_and_dropna(series: pd.Series) -> None:
    expected = series.replace([-np.inf, np.inf], np.nan).dropna()
    assert drift.clean(series).tolist() == expected.tolist()


def test_shared_categories_keep_values_and_drop_missing_and_infinite() -> None:
    reference = pd.Series(["a", "b", None, math.inf, "a"], dtype=object)
    current = pd.Series(["c", "a", np.nan], dtype=object)
    ref, cur = drift.prepare(reference, current, "categorical")
    assert ref.tolist() == ["a", "b", "a"]
    assert cur.tolist() == ["c", "a"]
    assert list(ref.cat.categories) == list(cur.cat.categories) == ["c", "a", "b"]
