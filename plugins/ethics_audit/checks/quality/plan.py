"""Quality's plan: the expectations the spec asks for, as rules, decided without GX.

``build_plan`` turns the spec and the window into ``Rule``s (one GX expectation each, and how
its result becomes metric results) and the results that need no GX (e.g. no row-count history).
It reads the window's schema (``kinds.ColumnInfo``) and row count, never its rows, so the same
plan serves a frame in memory and a table on an engine.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ethics_audit.checks.quality.kinds import TYPE_LISTS, ColumnInfo, frame_schema, table_schema
from ethics_audit.errors import DataError, columns_withheld
from ethics_audit.results import MetricResult, Status, Threshold
from ethics_audit.windows import as_utc

if TYPE_CHECKING:
    from ethics_audit.data import AuditData
    from ethics_audit.spec import QualityConfig


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
    gx_columns: list[str]  # columns the built-in suite reads
    schema: dict[str, ColumnInfo] = field(default_factory=dict)  # the window's columns
    rows: int = 0  # the window's row count


def schema_of(data: AuditData, name: str = "current") -> dict[str, ColumnInfo] | None:
    """The columns of the window's ``name`` table: from its frame in memory, else from its engine."""
    frame = getattr(data, name, None)
    if frame is not None:
        return frame_schema(frame)
    from ethics_audit import engine

    rows = engine.rows_of(data, name)
    return None if rows is None else table_schema(rows.table, rows.pandas_dtypes)


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
    reference = schema_of(data, "reference")
    if reference is not None:
        for name in columns.all():
            if name != columns.label and name in reference:
                kind = reference[name].kind
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
    schema = schema_of(data, "current") or {}
    rows = data.rows
    present = set(schema)
    mapped = data.columns.all()
    required = list(dict.fromkeys(config.required_columns if config.required_columns is not None else mapped))
    _check_named_columns(config, required, present)
    rules, extra = _table_rules(config, data, required, rows)
    rules += _type_rules(config, data, schema)
    rules += _value_rules(config, data, [c for c in required if c in present], schema)
    rules += _spec_rules(config)
    gx_columns = [c for c in required if c in present]
    gx_columns += [r.kwargs["column"] for r in rules if not r.from_spec and "column" in r.kwargs]
    return Plan(rules, extra, list(dict.fromkeys(gx_columns)), schema, rows)


def _table_rules(
    config: QualityConfig, data: AuditData, required: list[str], rows: int
) -> tuple[list[Rule], list[MetricResult]]:
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
            MetricResult("quality", "row_count_drop", None, n=rows, status=Status.INSUFFICIENT_DATA, details=details)
        ]
    median = float(statistics.median(history))
    threshold = config.thresholds.get("row_count_drop")
    bound = _bound(threshold)
    low = max(0, math.ceil(median * (1 - bound))) if bound is not None else 0
    details = {"median_of_history": median, "history": history}
    rules.append(Rule("expect_table_row_count_to_be_between", {"min_value": low}, "row_count_drop", {}, "drop",
                      threshold, details=details))  # fmt: skip
    return rules, []


def _type_rules(config: QualityConfig, data: AuditData, schema: dict[str, ColumnInfo]) -> list[Rule]:
    """One type expectation per column with an expected kind. String columns are categoricals
    in the frame GX sees (see ``canonical``), so their expectation is the dtype ``category``."""
    rules = []
    threshold = config.thresholds.get("type_mismatch")
    for name, kind in _expected_kinds(config, data, set(schema)).items():
        if kind == "string":
            expectation, kwargs = "expect_column_type_to_be", {"column": name, "type_": "category"}
        else:
            expectation = "expect_column_values_to_be_in_type_list"
            kwargs = {"column": name, "type_list": TYPE_LISTS[kind]}
        details = {"expected": kind, "observed": schema[name].kind, "dtype": schema[name].dtype}
        rules.append(Rule(expectation, kwargs, "type_mismatch", {"column": name}, "flag", threshold, details=details))
    return rules


def _value_rules(
    config: QualityConfig, data: AuditData, required: list[str], schema: dict[str, ColumnInfo]
) -> list[Rule]:
    """Null shares, allowed categories, the score range, timestamps in the window, unique ids."""
    columns, thresholds, present = data.columns, config.thresholds, set(schema)
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
    if score and score in present and schema[score].kind == "numeric":
        low, high = config.score_range
        threshold = thresholds.get("out_of_range_share")
        rules.append(
            _share_rule("expect_column_values_to_be_between", score, "out_of_range_share", threshold,
                        min_value=low, max_value=high)
        )  # fmt: skip
    ts = columns.timestamp
    if ts in present and schema[ts].kind == "datetime":
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


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
