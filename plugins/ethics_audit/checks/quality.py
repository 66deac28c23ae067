"""Data quality: a Great Expectations suite built from the spec, run on the window.

The suite checks that the required columns are there, that each column has the kind of values
it should (numbers, strings, booleans, timestamps), null shares, allowed categories, the score
range, timestamps inside the window, unique prediction ids, a minimum row count and the row count
against the median of the last windows, plus any expectation the spec adds by name. GX judges
each expectation with the spec's warn bound (its ``mostly``); the metric results carry GX's
observed values and the spec's thresholds give them their severity. A missing required column is
critical and blocking: the runner then skips the window's other checks. GX's validation result,
stripped of row values, is kept as an artifact of the run.

Speed: GX's pandas engine filters the whole batch frame for each column expectation and hashes
strings again for every metric, so the built-in suite runs on a frame of just the columns it
needs, with string columns as pandas categoricals (the same values, stored once) and time-zone
aware timestamps as naive UTC. Expectations added by the spec run on the window's own columns.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ethics_audit.data import PendingArtifact
from ethics_audit.errors import DataError, columns_withheld
from ethics_audit.results import MetricResult, Status, Threshold
from ethics_audit.windows import as_utc

if TYPE_CHECKING:
    import pandas as pd

    from ethics_audit.data import AuditData
    from ethics_audit.spec import QualityConfig

METHODS: dict[str, str] = {
    "column_missing": (
        "1 when a required column (by default every mapped column) is absent from the window, else 0, from "
        "Great Expectations' expect_table_columns_to_match_set. A missing column is critical and skips the "
        "window's other checks."
    ),
    "type_mismatch": (
        "1 when a column's dtype is not the expected kind (numeric, string, boolean or datetime; by default the "
        "kind it has in the reference, numeric for the score and datetime for the timestamp), else 0."
    ),
    "null_share": "The share of the window's rows where the column is null (the label, which arrives late, is not checked).",
    "unexpected_category_share": "The share of non-null values of a column outside its allowed categories.",
    "out_of_range_share": "The share of non-null scores outside the spec's score_range (inclusive).",
    "outside_window_share": "The share of non-null timestamps outside the audited window [start, end).",
    "duplicate_id_share": "The share of non-null prediction ids that occur more than once in the window.",
    "row_count": "The window's number of rows, against the spec's min_rows.",
    "row_count_drop": (
        "1 - rows / median(rows of the last N windows): how far the row count fell below recent history "
        "(negative when it grew)."
    ),
    "expectation": (
        "A spec-defined Great Expectations expectation, named by its metric: 1 when it failed, else 0, with GX's "
        "observed value in the details."
    ),
}

NUMERIC_DTYPES = [f"{k}{b}" for k in ("int", "uint") for b in (8, 16, 32, 64)] + ["float16", "float32", "float64"]
TYPE_LISTS = {
    "numeric": NUMERIC_DTYPES,
    "boolean": ["bool"],
    "datetime": ["datetime64[ns]", "datetime64[us]", "datetime64[ms]", "datetime64[s]"],
}
# keys of GX results that can hold row values (PII): never kept in details or in the artifact
_ROW_VALUE_KEYS = (
    "partial_unexpected_list",
    "partial_unexpected_counts",
    "partial_unexpected_index_list",
    "unexpected_list",
    "unexpected_index_list",
    "unexpected_index_query",
    "unexpected_rows",
)
_TYPE_EXPECTATIONS = ("expect_column_values_to_be_in_type_list", "expect_column_type_to_be")


@dataclass(frozen=True)
class Rule:
    """One expectation of the suite and how its GX result becomes metric results."""

    expectation: str  # GX snake_case name
    kwargs: dict[str, Any]
    metric: str
    slice: dict[str, Any]
    read: str  # missing_columns | flag | share | observed | drop | failed
    threshold: Threshold | None = None
    details: dict[str, Any] = field(default_factory=dict)
    blocking: bool = False
    from_spec: bool = False  # a spec-defined expectation: runs on the window's own columns


@dataclass
class Plan:
    rules: list[Rule]
    extra: list[MetricResult]  # results decided without GX (e.g. no row-count history yet)
    gx_columns: list[str]  # columns of the built-in suite's frame


# --------------------------------------------------------------------------- kinds and frames


def kind_of(series: pd.Series) -> str:
    """numeric, string, boolean, datetime, or the dtype's name for anything else."""
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if (
        pd.api.types.is_object_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(dtype)
    ):
        return "string"
    return str(dtype)


def canonical(series: pd.Series) -> pd.Series:
    """The column as the built-in suite sees it: strings as a categorical, time-zone-aware
    timestamps as naive UTC, pandas nullable numbers and booleans as NumPy ones. Values, nulls
    and their order are unchanged."""
    import numpy as np
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return series
    if isinstance(dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        try:
            return series.astype("category")
        except TypeError:  # unhashable values (lists, dicts): leave them as they are
            return series
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_bool_dtype(dtype):
        return series.astype(object) if series.hasnans else series.astype(bool)
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_numeric_dtype(dtype):
        if series.hasnans:
            return pd.Series(series.to_numpy(dtype=float, na_value=np.nan), index=series.index, name=series.name)
        return series.astype(dtype.numpy_dtype)
    return series


# --------------------------------------------------------------------------- the plan (no GX here)


def _bound(threshold: Threshold) -> float | None:
    """The bound GX judges with: warn if set, else critical, for numeric ``above`` thresholds."""
    if threshold.direction != "above":
        return None
    bound = threshold.warn if threshold.warn is not None else threshold.critical
    return float(bound) if isinstance(bound, int | float) else None


def _mostly(threshold: Threshold) -> dict[str, float]:
    bound = _bound(threshold)
    return {} if bound is None else {"mostly": min(1.0, max(0.0, 1.0 - bound))}


def _share_rule(expectation: str, column: str, metric: str, threshold: Threshold, **kwargs: Any) -> Rule:
    return Rule(
        expectation,
        {"column": column, **kwargs, **_mostly(threshold)},
        metric,
        {"column": column},
        "share",
        threshold,
        details={"expected": _jsonable(kwargs)} if kwargs else {},
    )


def _expected_kinds(config: QualityConfig, data: AuditData, present: set[str]) -> dict[str, str]:
    columns = data.columns
    kinds: dict[str, str] = {}
    reference = data.reference
    if reference is not None:
        for name in columns.all():
            if name != columns.label and name in reference.columns:
                kind = kind_of(reference[name])
                if kind in ("numeric", "string", "boolean", "datetime"):
                    kinds[name] = kind
    if columns.score:
        kinds[columns.score] = "numeric"
    kinds[columns.timestamp] = "datetime"
    kinds.update(config.column_types)
    return {name: kind for name, kind in kinds.items() if name in present}


def _check_named_columns(config: QualityConfig, required: list[str], present: set[str]) -> None:
    for where, names in (
        ("column_types", config.column_types),
        ("allowed_categories", config.allowed_categories),
        ("null_share_per_column", config.null_share_per_column),
    ):
        unknown = [n for n in names if n not in present and n not in required]
        if unknown:
            raise DataError(
                f"checks.quality.{where}: {unknown} not among the window's columns "
                f"(columns: {columns_withheld(present)}); fix the column names or add them to required_columns"
            )


def build_plan(config: QualityConfig, data: AuditData) -> Plan:
    """The suite for this window, from the spec, the column mapping and the row-count history."""
    present = set(map(str, data.current.columns))
    mapped = data.columns.all()
    required = list(dict.fromkeys(config.required_columns if config.required_columns is not None else mapped))
    _check_named_columns(config, required, present)
    rules, extra = _table_rules(config, data, required)
    rules += _type_rules(config, data, present)
    rules += _value_rules(config, data, [c for c in required if c in present], present)
    rules += _spec_rules(config)
    gx_columns = [c for c in required if c in present]
    gx_columns += [r.kwargs["column"] for r in rules if not r.from_spec and "column" in r.kwargs]
    return Plan(rules, extra, list(dict.fromkeys(gx_columns)))


def _table_rules(config: QualityConfig, data: AuditData, required: list[str]) -> tuple[list[Rule], list[MetricResult]]:
    """Required columns, the minimum row count, and the row count against recent windows."""
    rules = [
        Rule(
            "expect_table_row_count_to_be_between",
            {"min_value": config.min_rows},
            "row_count",
            {},
            "observed",
            Threshold(critical=float(config.min_rows), direction="below"),
            details={"expected": {"min_value": config.min_rows}},
        )
    ]
    if required:
        rules.insert(
            0,
            Rule(
                "expect_table_columns_to_match_set",
                {"column_set": required, "exact_match": False},
                "column_missing",
                {},
                "missing_columns",
                Threshold(critical=0.0),
                details={"required": required},
            ),
        )
    history = data.row_count_history[-config.row_count_history_windows :]
    if not history or statistics.median(history) <= 0:
        reason = "no earlier windows with rows yet" if not history else "the earlier windows had no rows"
        details = {"reason": reason, "history": history}
        return rules, [
            MetricResult(
                "quality", "row_count_drop", None, n=data.rows, status=Status.INSUFFICIENT_DATA, details=details
            )
        ]
    median = float(statistics.median(history))
    threshold = config.thresholds.get("row_count_drop")
    bound = _bound(threshold)
    low = max(0, math.ceil(median * (1 - bound))) if bound is not None else 0
    details = {"median_of_history": median, "history": history}
    rules.append(Rule("expect_table_row_count_to_be_between", {"min_value": low}, "row_count_drop", {}, "drop",
                      threshold, details=details))  # fmt: skip
    return rules, []


def _type_rules(config: QualityConfig, data: AuditData, present: set[str]) -> list[Rule]:
    """One type expectation per column with an expected kind. String columns are categoricals
    in the frame GX sees (see ``canonical``), so their expectation is the dtype ``category``."""
    rules = []
    threshold = config.thresholds.get("type_mismatch")
    for name, kind in _expected_kinds(config, data, present).items():
        if kind == "string":
            expectation, kwargs = "expect_column_type_to_be", {"column": name, "type_": "category"}
        else:
            expectation = "expect_column_values_to_be_in_type_list"
            kwargs = {"column": name, "type_list": TYPE_LISTS[kind]}
        series = data.current[name]
        details = {"expected": kind, "observed": kind_of(series), "dtype": str(series.dtype)}
        rules.append(Rule(expectation, kwargs, "type_mismatch", {"column": name}, "flag", threshold, details=details))
    return rules


def _value_rules(config: QualityConfig, data: AuditData, required: list[str], present: set[str]) -> list[Rule]:
    """Null shares, allowed categories, the score range, timestamps in the window, unique ids."""
    frame, columns, thresholds = data.current, data.columns, config.thresholds
    rules = []
    null_checked = [c for c in required if c != columns.label]
    null_checked += [c for c in config.null_share_per_column if c in present and c not in null_checked]
    for name in null_checked:
        spec = config.null_share_per_column.get(name)
        threshold = spec.to_threshold() if spec is not None else thresholds.get("null_share")
        rules.append(_share_rule("expect_column_values_to_not_be_null", name, "null_share", threshold))
    for name, allowed in config.allowed_categories.items():
        if name in present:
            threshold = thresholds.get("unexpected_category_share")
            rules.append(
                _share_rule(
                    "expect_column_values_to_be_in_set", name, "unexpected_category_share", threshold,
                    value_set=list(allowed),
                )
            )  # fmt: skip
    score = columns.score
    if score and score in present and kind_of(frame[score]) == "numeric":
        low, high = config.score_range
        threshold = thresholds.get("out_of_range_share")
        rules.append(
            _share_rule("expect_column_values_to_be_between", score, "out_of_range_share", threshold,
                        min_value=low, max_value=high)
        )  # fmt: skip
    ts = columns.timestamp
    if ts in present and kind_of(frame[ts]) == "datetime":
        # the frame GX sees holds naive UTC timestamps (see ``canonical``)
        start, end = (as_utc(t).replace(tzinfo=None) for t in (data.window_start, data.window_end))
        threshold = thresholds.get("outside_window_share")
        rules.append(
            _share_rule("expect_column_values_to_be_between", ts, "outside_window_share", threshold,
                        min_value=start, max_value=end, strict_max=True)
        )  # fmt: skip
    pid = columns.prediction_id
    if pid and pid in present:
        threshold = thresholds.get("duplicate_id_share")
        rules.append(_share_rule("expect_column_values_to_be_unique", pid, "duplicate_id_share", threshold))
    return rules


def _spec_rules(config: QualityConfig) -> list[Rule]:
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, spec in enumerate(config.expectations):
        column = spec.kwargs.get("column")
        slice_: dict[str, Any] = {"column": column} if isinstance(column, str) else {}
        key = json.dumps([spec.expectation, slice_], sort_keys=True, default=str)
        if key in seen:
            slice_ = {**slice_, "rule": i}
        seen.add(key)
        rules.append(
            Rule(
                spec.expectation,
                dict(spec.kwargs),
                spec.expectation,
                slice_,
                "failed",
                Threshold(**{spec.severity: 0.0}),
                details={"index": i},
                blocking=spec.blocking,
                from_spec=True,
            )
        )
    return rules


# --------------------------------------------------------------------------- running GX


def _expectations(rules: list[tuple[int, Rule]]) -> list[Any]:
    """GX expectation objects for (plan index, rule) pairs; a bad spec-defined one is a ``DataError``."""
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    made = []
    for i, rule in rules:
        try:
            config = ExpectationConfiguration(type=rule.expectation, kwargs=rule.kwargs, meta={"rule": i})
            made.append(config.to_domain_obj())
        except Exception as exc:  # GX raises many types for a bad name or bad arguments
            if not rule.from_spec:
                raise
            index = rule.details["index"]
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if "not found" in message.lower():
                message = f"{rule.expectation!r} is not a Great Expectations expectation"
            raise DataError(
                f"checks.quality.expectations[{index}]: {message}; see "
                "https://greatexpectations.io/expectations/ for the names and their arguments"
            ) from None
    return made


def _validate(frame: pd.DataFrame, expectations: list[Any], name: str) -> dict[str, Any]:
    import logging

    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # GX pins this logger to INFO and announces a temporary docs folder on every ephemeral context
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    batch = (
        context.data_sources.add_pandas("ethics_audit")
        .add_dataframe_asset("window")
        .add_batch_definition_whole_dataframe("window")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    suite = gx.ExpectationSuite(name=name, expectations=expectations)
    result = batch.validate(suite, result_format={"result_format": "BASIC", "partial_unexpected_count": 0})
    return result.to_json_dict()


def _spec_frame(frame: pd.DataFrame, rules: list[Rule]) -> pd.DataFrame:
    """The window's columns that spec-defined expectations name (all of them if one names none)."""
    names: list[str] = []
    for rule in rules:
        named = [rule.kwargs.get(k) for k in ("column", "column_A", "column_B")] + list(
            rule.kwargs.get("column_list") or []
        )
        named = [n for n in named if isinstance(n, str)]
        if not named:
            return frame
        names += named
    names = list(dict.fromkeys(n for n in names if n in frame.columns))
    return frame[names] if names else frame


# --------------------------------------------------------------------------- GX results -> metric results


def _clean_result(result: dict[str, Any], expectation: str, column: str | None) -> dict[str, Any]:
    """A GX result with no row values: counts, shares and (safe) observed values only."""
    kept = {k: v for k, v in (result or {}).items() if k not in _ROW_VALUE_KEYS}
    observed = kept.get("observed_value")
    safe = (
        observed is None
        or isinstance(observed, bool | int | float)
        or expectation in _TYPE_EXPECTATIONS
        or (column is None and isinstance(observed, list))  # table level: column names
    )
    if not safe:
        kept["observed_value"] = "(withheld: may hold row values)"
    return kept


def _share(result: dict[str, Any]) -> tuple[float | None, int]:
    count = result.get("element_count") or 0
    nonmissing = count - (result.get("missing_count") or 0)
    unexpected = result.get("unexpected_count")
    if unexpected is None or nonmissing <= 0:
        return None, nonmissing
    return unexpected / nonmissing, nonmissing


def _unexpected_values(series: pd.Series, allowed: list[Any], limit: int = 5) -> list[str]:
    """A few values outside the allowed categories (declared categories, so not free text)."""
    counts = series.value_counts(dropna=True)
    counts = counts[counts > 0]  # a categorical lists its unused categories too
    outside = [v for v in counts.index if v not in set(allowed)]
    return [str(v)[:40] for v in outside[:limit]]


def _error(rule: Rule, message: str) -> MetricResult:
    details = {"error": message, "expectation": rule.expectation}
    return MetricResult("quality", rule.metric, None, slice=rule.slice, status=Status.ERROR, details=details)


def _to_results(rule: Rule, outcome: dict[str, Any], data: AuditData, gx_frame: pd.DataFrame) -> list[MetricResult]:
    """The metric result(s) of one expectation's GX outcome, as ``rule.read`` says."""
    if outcome.get("exception_info", {}).get("raised_exception"):
        message = (outcome["exception_info"].get("exception_message") or "GX raised an error").splitlines()[0]
        return [_error(rule, f"Great Expectations could not evaluate {rule.expectation}: {message}")]
    result = outcome.get("result") or {}
    success = bool(outcome.get("success"))
    base = {**rule.details, "expectation": rule.expectation, "gx_success": success}

    def one(value: Any, details: dict[str, Any], n: int = data.rows) -> list[MetricResult]:
        return [
            MetricResult(
                "quality", rule.metric, value, slice=rule.slice, n=n, threshold=rule.threshold, details=details
            )
        ]

    if rule.read == "missing_columns":
        missing = set(((result.get("details") or {}).get("mismatched") or {}).get("missing") or [])
        plain = {"expectation": rule.expectation, "gx_success": success}
        return [
            MetricResult(
                "quality", rule.metric, float(name in missing), slice={"column": name}, n=data.rows,
                threshold=rule.threshold, details={**plain, "blocking": True} if name in missing else plain,
            )
            for name in rule.details["required"]
        ]  # fmt: skip
    if rule.read == "flag":
        return one(0.0 if success else 1.0, base)
    if rule.read == "observed":
        return one(result.get("observed_value"), base)
    if rule.read == "drop":
        value = 1.0 - (result.get("observed_value") or 0) / rule.details["median_of_history"]
        return one(value, {**base, "expected": {"min_rows": rule.kwargs["min_value"]}})
    if rule.read == "share":
        value, nonnull = _share(result)
        details = {**base, "unexpected_count": result.get("unexpected_count"), "nonnull": nonnull}
        if rule.metric == "unexpected_category_share" and result.get("unexpected_count"):
            details["unexpected_values"] = _unexpected_values(gx_frame[rule.slice["column"]], rule.kwargs["value_set"])
        return one(value, details, n=nonnull)
    # a spec-defined expectation: 1 when it failed, GX's observed value (if safe) in the details
    column = rule.kwargs.get("column") if isinstance(rule.kwargs.get("column"), str) else None
    cleaned = _clean_result(result, rule.expectation, column)
    details = {**base, "observed_value": cleaned.get("observed_value"), "kwargs": _jsonable(rule.kwargs)}
    if "unexpected_count" in cleaned:
        details["unexpected_share"] = _share(cleaned)[0]
    if rule.blocking and not success:
        details["blocking"] = True
    return one(0.0 if success else 1.0, details)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _artifact(runs: list[tuple[str, dict[str, Any]]], rules: list[Rule]) -> PendingArtifact:
    validations = []
    for suite, raw in runs:
        results = []
        for outcome in raw.get("results", []):
            config = outcome.get("expectation_config") or {}
            rule = rules[config.get("meta", {}).get("rule", 0)]
            column = rule.kwargs.get("column") if isinstance(rule.kwargs.get("column"), str) else None
            results.append({**outcome, "result": _clean_result(outcome.get("result") or {}, rule.expectation, column)})
        validations.append({**raw, "suite_name": suite, "results": results})
    content = {
        "note": "Great Expectations validation results of the quality check; row values are removed.",
        "success": all(v.get("success") for v in validations),
        "validations": validations,
    }
    return PendingArtifact("gx_validation_json", "gx_validation.json", json.dumps(content, indent=1, default=str))


def run(config: QualityConfig, data: AuditData) -> list[MetricResult]:
    """Validate the window with the suite built from the spec; one or more results per expectation."""
    import pandas as pd

    plan = build_plan(config, data)
    builtin = [(i, r) for i, r in enumerate(plan.rules) if not r.from_spec]
    from_spec = [(i, r) for i, r in enumerate(plan.rules) if r.from_spec]
    # one consolidated copy: GX copies and filters this frame many times, and an unconsolidated
    # frame would be consolidated again on each copy
    gx_frame = pd.DataFrame({name: canonical(data.current[name]) for name in plan.gx_columns})
    runs = []
    outcomes: dict[int, dict[str, Any]] = {}
    for rules, frame, suite in (
        (builtin, gx_frame, f"{data.spec.id}.quality"),
        (from_spec, _spec_frame(data.current, [r for _, r in from_spec]), f"{data.spec.id}.quality.spec"),
    ):
        if not rules:
            continue
        raw = _validate(frame, _expectations(rules), suite)
        runs.append((suite, raw))
        for outcome in raw.get("results", []):
            outcomes[(outcome.get("expectation_config") or {}).get("meta", {}).get("rule")] = outcome
    results = list(plan.extra)
    for i, rule in enumerate(plan.rules):
        outcome = outcomes.get(i)
        if outcome is None:
            results.append(_error(rule, "Great Expectations returned no result for this expectation"))
            continue
        results += _to_results(rule, outcome, data, gx_frame)
    data.artifacts.append(_artifact(runs, plan.rules))
    return results
