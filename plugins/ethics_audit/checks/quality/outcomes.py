"""Quality's built-in expectations judged from counts: GX's verdicts and result fields, no GX.

Each built-in expectation (required columns, row counts, column types, null shares, ranges,
value sets, unique ids) is decided here from the window's schema and its ``QualityStats``, the
way Great Expectations 1.x decides it on its pandas engine: the same ``mostly`` test
(``(non-null - unexpected) / non-null >= mostly``, vacuously true with no rows or no non-null
values), the same ``element_count`` / ``missing_count`` / ``unexpected_count`` / percentages in
``result`` (its BASIC format), so the validation result kept as the run's artifact has the shape
it had when GX produced it. ``tests/checks/test_quality_engine.py`` compares these with GX's own
results on random data. Pure: no I/O, no GX import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ethics_audit.checks.quality.plan import _jsonable
from ethics_audit.checks.quality.stats import BETWEEN, IN_SET, NOT_NULL, UNIQUE

if TYPE_CHECKING:
    from ethics_audit.checks.quality.plan import Plan, Rule
    from ethics_audit.checks.quality.stats import QualityStats

_NO_EXCEPTION = {"raised_exception": False, "exception_traceback": None, "exception_message": None}


def _mostly_success(considered: int, unexpected: int, mostly: float) -> bool:
    # GX's own arithmetic (expectation._mostly_success), so a share at the bound is judged alike
    return (float(considered) - float(unexpected)) / float(considered) >= mostly


def _map_result(rows: int, nonnull: int | None, unexpected: int) -> dict[str, Any]:
    """GX's ``_format_map_output`` in BASIC format, without the (row-valued) unexpected list."""
    total = unexpected / rows * 100 if rows > 0 else None
    result: dict[str, Any] = {"element_count": rows, "unexpected_count": unexpected}
    if nonnull is None:  # expect_column_values_to_not_be_null: nulls are what it counts
        result["unexpected_percent"] = total
        return result
    missing = rows - nonnull
    nonmissing = unexpected / nonnull * 100 if rows > 0 and nonnull > 0 else None
    result["unexpected_percent"] = nonmissing
    result.update(
        missing_count=missing,
        missing_percent=missing / rows * 100 if rows > 0 else None,
        unexpected_percent_total=total,
        unexpected_percent_nonmissing=nonmissing,
    )
    return result


def _judge(index: int, rule: Rule, plan: Plan, stats: QualityStats) -> tuple[bool, dict[str, Any]]:
    kwargs, rows = rule.kwargs, stats.rows
    if rule.expectation == "expect_table_columns_to_match_set":
        present, required = set(plan.schema), set(kwargs["column_set"])
        result: dict[str, Any] = {"observed_value": sorted(present)}
        mismatched = {}
        if present - required:
            mismatched["unexpected"] = sorted(present - required)
        if required - present:
            mismatched["missing"] = sorted(required - present)
        if mismatched:
            result["details"] = {"mismatched": mismatched}
        return not (required - present), result
    if rule.expectation == "expect_table_row_count_to_be_between":
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        ok = (low is None or rows >= low) and (high is None or rows <= high)
        return ok, {"observed_value": rows}
    if rule.expectation == "expect_table_row_count_to_equal":
        return rows == kwargs["value"], {"observed_value": rows}
    if rule.expectation == "expect_column_to_exist":
        return kwargs["column"] in plan.schema, {}
    if rule.read == "flag":  # a type expectation
        info = plan.schema[kwargs["column"]]
        observed = info.dtype_name if rule.expectation == "expect_column_type_to_be" else info.type_name
        return rule.details["expected"] in info.accepts, {"observed_value": observed}
    column = kwargs["column"]
    nulls, mostly = stats.nulls[column], kwargs.get("mostly", 1.0)
    if rule.expectation == NOT_NULL:
        return (True if rows == 0 else (rows - nulls) / rows >= mostly), _map_result(rows, None, nulls)
    if rule.expectation in (BETWEEN, IN_SET, UNIQUE):
        unexpected, nonnull = stats.unexpected[index], rows - nulls
        ok = True if rows == 0 or nonnull == 0 else _mostly_success(nonnull, unexpected, mostly)
        return ok, _map_result(rows, nonnull, unexpected)
    raise ValueError(f"{rule.expectation} is not judged from counts")


# spec-defined expectations that need only the schema and the row count, with the arguments
# judged here (any other argument, e.g. strict_min or column_index, leaves them to GX)
_FROM_COUNTS = {
    "expect_table_row_count_to_be_between": {"min_value", "max_value"},
    "expect_table_row_count_to_equal": {"value"},
    "expect_column_to_exist": {"column"},
}


def from_counts(rule: Rule) -> bool:
    """Whether a spec-defined expectation is judged here rather than by GX: a table-level one that
    names no column would otherwise have GX load every column of the window."""
    allowed = _FROM_COUNTS.get(rule.expectation)
    if allowed is None or not set(rule.kwargs) <= allowed:
        return False
    if rule.expectation == "expect_column_to_exist":
        return isinstance(rule.kwargs.get("column"), str)
    return all(v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in rule.kwargs.values())


def builtin_outcome(index: int, rule: Rule, plan: Plan, stats: QualityStats) -> dict[str, Any]:
    """The outcome GX would report for one built-in rule, as its ``to_json_dict`` has it."""
    success, result = _judge(index, rule, plan, stats)
    return {
        "success": success,
        "expectation_config": {"type": rule.expectation, "kwargs": _jsonable(rule.kwargs), "meta": {"rule": index}},
        "result": result,
        "meta": {},
        "exception_info": dict(_NO_EXCEPTION),
    }


def builtin_validation(outcomes: list[dict[str, Any]], suite: str, engine: str) -> dict[str, Any]:
    """The suite's validation result around its outcomes, with GX's statistics block."""
    passed = sum(1 for o in outcomes if o["success"])
    return {
        "success": passed == len(outcomes),
        "results": outcomes,
        "suite_name": suite,
        "statistics": {
            "evaluated_expectations": len(outcomes),
            "successful_expectations": passed,
            "unsuccessful_expectations": len(outcomes) - passed,
            "success_percent": passed / len(outcomes) * 100 if outcomes else None,
        },
        "meta": {
            "computed_by": "ethics-audit: exact counts on the engine, judged as Great Expectations 1.x judges them",
            "engine": engine,
        },
    }
