"""Quality's Great Expectations run, and validation results read back as metric results.

GX is imported only here and only when the spec adds expectations by name. Results (GX's, and
the built-in suite's in GX's format) become metric results here. Row values (possible PII) are
stripped from them before they reach a metric's details or the run's artifact.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ethics_audit.checks.quality.plan import _jsonable
from ethics_audit.data import PendingArtifact
from ethics_audit.errors import DataError
from ethics_audit.results import MetricResult, Status

if TYPE_CHECKING:
    import pandas as pd

    from ethics_audit.checks.quality.plan import Rule
    from ethics_audit.checks.quality.stats import QualityStats
    from ethics_audit.data import AuditData

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
    return _validator(expectations, name)(frame)


def _validator(expectations: list[Any], name: str) -> Any:
    """A function that validates a frame with the suite of ``expectations`` (one GX context for
    all the frames it is given)."""
    import logging

    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # GX pins this logger to INFO and announces a temporary docs folder on every ephemeral context
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    definition = (
        context.data_sources.add_pandas("ethics_audit")
        .add_dataframe_asset("window")
        .add_batch_definition_whole_dataframe("window")
    )
    suite = gx.ExpectationSuite(name=name, expectations=expectations)

    def validate(frame: pd.DataFrame) -> dict[str, Any]:
        batch = definition.get_batch(batch_parameters={"dataframe": frame})
        return batch.validate(suite, result_format=_RESULT_FORMAT).to_json_dict()

    return validate


_RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 0}
# rows GX sees at once on the engine path: a spec's row-by-row expectations (``in_parts``) are
# judged part by part and their counts added; the others see their columns whole
PART_ROWS = 1_000_000
# row-by-row in GX's classes, but a row's verdict depends on the other rows
_WHOLE_COLUMN = {
    "expect_column_values_to_be_unique",
    "expect_column_values_to_be_increasing",
    "expect_column_values_to_be_decreasing",
}


def in_parts(expectation: Any) -> bool:
    """Whether GX judges ``expectation`` row by row on one column, so that its counts over parts
    of the window add up to its counts over the whole (the column's type is the whole column's
    only when seen whole: the type expectations are not)."""
    from great_expectations.expectations.expectation import ColumnMapExpectation

    kind = expectation.expectation_type
    return isinstance(expectation, ColumnMapExpectation) and kind not in _WHOLE_COLUMN | set(_TYPE_EXPECTATIONS)


def merged_outcome(parts: list[dict[str, Any]], expectation: Any) -> dict[str, Any]:
    """One expectation's outcome over the whole window from its outcomes over the parts: the
    counts added, then success and shares as GX's ``ColumnMapExpectation`` derives them."""
    from great_expectations.expectations.expectation import _format_map_output, _mostly_success
    from great_expectations.expectations.expectation_configuration import parse_result_format

    for part in parts:
        if (part.get("exception_info") or {}).get("raised_exception"):
            return part
    results = [part.get("result") or {} for part in parts]
    total = sum(r.get("element_count") or 0 for r in results)
    missing = sum(r.get("missing_count") or 0 for r in results)
    counted = [r.get("unexpected_count") for r in results if r.get("element_count")]
    unexpected = None if any(c is None for c in counted) else sum(counted)
    nonnull = total - missing
    if unexpected is None or total == 0 or nonnull == 0:
        success = True  # vacuously, as GX has it
    else:
        success = _mostly_success(nonnull, unexpected, expectation.mostly)
    result = _format_map_output(
        result_format=parse_result_format(_RESULT_FORMAT),
        success=success,
        element_count=total,
        nonnull_count=nonnull,
        unexpected_count=unexpected,
    )
    return {**parts[0], "success": success, "result": result["result"]}


def validate_spec(data: AuditData, rules: list[Rule], expectations: list[Any], name: str) -> dict[str, Any]:
    """GX's validation of the spec's expectations (``rules``, ``expectations`` in the same order).

    A window in memory, or of at most ``PART_ROWS`` rows, is one frame of the columns the
    expectations name. A bigger one on the engine is streamed: the row-by-row expectations see
    their columns ``PART_ROWS`` rows at a time and their counts are added (the same verdict and
    counts as over the whole); any other sees its columns whole."""
    if data.current is not None:
        return _validate(_spec_frame(data, rules), expectations, name)
    from ethics_audit import engine

    rows = engine.rows_of(data, "current")
    parted = [i for i, e in enumerate(expectations) if in_parts(e)]
    if rows.count() <= PART_ROWS or not parted:
        return _validate(_spec_frame(data, rules), expectations, name)
    whole = [i for i in range(len(expectations)) if i not in parted]
    raw: dict[str, Any] = {"results": [], "meta": {}}
    if whole:
        raw = _validate(_spec_frame(data, [rules[i] for i in whole]), [expectations[i] for i in whole], name)
    columns = _spec_columns([rules[i] for i in parted], rows.columns) or rows.columns
    validate = _validator([expectations[i] for i in parted], name)
    parts: dict[Any, list[dict[str, Any]]] = {}
    from ethics_audit.engine.window import as_loaded

    for batch in rows.batches(rows.table.select(*columns), rows=PART_ROWS):
        part = validate(as_loaded(batch.to_pandas(), rows.pandas_dtypes))
        raw["meta"] = raw.get("meta") or part.get("meta", {})
        for outcome in part["results"]:
            parts.setdefault(_rule_of(outcome), []).append(outcome)
    merged = [merged_outcome(parts[e.meta["rule"]], e) for e in (expectations[i] for i in parted)]
    raw["results"] = sorted([*raw["results"], *merged], key=_rule_of)
    return raw


def _rule_of(outcome: dict[str, Any]) -> Any:
    return (outcome.get("expectation_config") or {}).get("meta", {}).get("rule")


def _spec_columns(rules: list[Rule], present: list[str]) -> list[str] | None:
    """The window's columns that spec-defined expectations name (None: all, if one names none)."""
    names: list[str] = []
    for rule in rules:
        named = [rule.kwargs.get(k) for k in ("column", "column_A", "column_B")] + list(
            rule.kwargs.get("column_list") or []
        )
        named = [n for n in named if isinstance(n, str)]
        if not named:
            return None
        names += named
    names = list(dict.fromkeys(n for n in names if n in present))
    return names or None


def _spec_frame(data: AuditData, rules: list[Rule]) -> pd.DataFrame:
    """The frame GX validates the spec's expectations on: the columns they name, from memory or
    pulled from the engine (all of the window's columns when one names none)."""
    if data.current is not None:
        names = _spec_columns(rules, list(map(str, data.current.columns)))
        return data.current if names is None else data.current[names]
    from ethics_audit import engine
    from ethics_audit.engine.window import frame_of

    rows = engine.rows_of(data, "current")
    # as the in-memory loader gives them: timestamps in UTC, the source's pandas dtypes restored
    return frame_of(rows, _spec_columns(rules, rows.columns))


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


def _error(rule: Rule, message: str) -> MetricResult:
    details = {"error": message, "expectation": rule.expectation}
    return MetricResult("quality", rule.metric, None, slice=rule.slice, status=Status.ERROR, details=details)


def _to_results(rule: Rule, outcome: dict[str, Any], stats: QualityStats) -> list[MetricResult]:
    """The metric result(s) of one expectation's GX outcome, as ``rule.read`` says."""
    if outcome.get("exception_info", {}).get("raised_exception"):
        message = (outcome["exception_info"].get("exception_message") or "GX raised an error").splitlines()[0]
        return [_error(rule, f"Great Expectations could not evaluate {rule.expectation}: {message}")]
    result = outcome.get("result") or {}
    success = bool(outcome.get("success"))
    base = {**rule.details, "expectation": rule.expectation, "gx_success": success}

    def one(value: Any, details: dict[str, Any], n: int = stats.rows) -> list[MetricResult]:
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
                "quality", rule.metric, float(name in missing), slice={"column": name}, n=stats.rows,
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
            details["unexpected_values"] = stats.outside_values(rule.slice["column"])
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
