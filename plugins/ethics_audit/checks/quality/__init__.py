"""Data quality: the Great Expectations suite built from the spec, judged on the window.

The suite checks that the required columns are there, that each column has the kind of values
it should (numbers, strings, booleans, timestamps), null shares, allowed categories, the score
range, timestamps inside the window, unique prediction ids, a minimum row count and the row count
against the median of the last windows, plus any expectation the spec adds by name. Each
expectation is judged with the spec's warn bound (its ``mostly``); the metric results carry the
observed values and the spec's thresholds give them their severity. A missing required column is
critical and blocking: the runner then skips the window's other checks. The validation result,
in GX's format and stripped of row values, is kept as an artifact of the run.

Where it runs: the built-in expectations need only counts (nulls, values out of range or outside
a set, duplicated ids, the row count) and the window's schema, so they are computed as exact
aggregates where the rows live (``stats``: pandas for a window in memory, Ibis on the engine
otherwise) and judged exactly as GX 1.x judges them (``outcomes``): GX itself does not run for
them, and no row is copied. Expectations the spec adds by name can be any of GX's, so GX runs
them, on its pandas engine, on just the columns they name (the whole window when one names no
column). From a window on the engine, those columns are streamed: GX sees the row-by-row
expectations' (values in a set, in a range, matching a pattern, not null...) a million rows at a
time and their counts are added, which gives GX's own verdict and counts over the whole window
in bounded memory; the others (uniqueness, means, quantiles, pairs of columns...) see their
columns whole (``validation.validate_spec``).

The package: ``kinds`` (column kinds and schemas), ``plan`` (the rules, no GX), ``stats`` (the
mergeable counts), ``outcomes`` (counts -> GX's verdicts), ``validation`` (running GX for the
spec's expectations, and reading results); the family's ``run`` is here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ethics_audit.checks.quality.kinds import NUMERIC_DTYPES, TYPE_LISTS, canonical, kind_of
from ethics_audit.checks.quality.outcomes import builtin_outcome, builtin_validation, from_counts
from ethics_audit.checks.quality.plan import Plan, Rule, build_plan
from ethics_audit.checks.quality.stats import QualityStats, frame_stats, table_stats
from ethics_audit.checks.quality.validation import _artifact, _error, _expectations, _to_results, validate_spec

if TYPE_CHECKING:
    from ethics_audit.data import AuditData
    from ethics_audit.results import MetricResult
    from ethics_audit.spec import QualityConfig

__all__ = [
    "METHODS",
    "NUMERIC_DTYPES",
    "TYPE_LISTS",
    "Plan",
    "QualityStats",
    "Rule",
    "build_plan",
    "canonical",
    "kind_of",
    "run",
    "window_stats",
]

# the runner leaves the window on its engine for this family (see ``engine.window.frames_for``)
READS_ROWS = True

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


def window_stats(plan: Plan, data: AuditData) -> tuple[QualityStats, str]:
    """The built-in suite's counts, and where they were computed. The switch: a window already in
    memory (``data.current``) is counted with pandas where it is; otherwise its table on the
    engine (``engine.rows_of``) is, and only the counts come back."""
    if data.current is not None:
        return frame_stats(plan, data.current), "pandas"
    from ethics_audit import engine

    rows = engine.rows_of(data, "current")
    return table_stats(plan, rows), rows.engine


def run(config: QualityConfig, data: AuditData) -> list[MetricResult]:
    """Judge the window with the suite built from the spec; one or more results per expectation."""
    plan = build_plan(config, data)
    stats, where = window_stats(plan, data)
    suite = f"{data.spec.id}.quality"
    outcomes = {i: builtin_outcome(i, r, plan, stats) for i, r in enumerate(plan.rules) if not r.from_spec}
    runs = [(suite, builtin_validation(list(outcomes.values()), suite, where))] if outcomes else []
    from_spec = [(i, r) for i, r in enumerate(plan.rules) if r.from_spec]
    if from_spec:
        made = _expectations(from_spec)  # GX checks their names and arguments: a bad one is a DataError
        # the row count and the schema's are judged here; any other can be any of GX's, so GX runs
        # them on the columns they name
        counted = [(i, r) for i, r in from_spec if from_counts(r)]
        rest = [(pair, e) for pair, e in zip(from_spec, made, strict=True) if not from_counts(pair[1])]
        gx_raw: dict[str, Any] = {"results": []}
        if rest:
            gx_raw = validate_spec(data, [r for (_, r), _ in rest], [e for _, e in rest], f"{suite}.spec")
        mine = [builtin_outcome(i, r, plan, stats) for i, r in counted]
        combined = builtin_validation(mine + gx_raw["results"], f"{suite}.spec", where)
        # GX's own fields (its version, the batch) when it ran; success and counts over both
        raw = {**gx_raw, **combined, "meta": {**gx_raw.get("meta", {}), **combined["meta"]}} if rest else combined
        runs.append((f"{suite}.spec", raw))
        for outcome in raw["results"]:
            outcomes[(outcome.get("expectation_config") or {}).get("meta", {}).get("rule")] = outcome
    results = list(plan.extra)
    for i, rule in enumerate(plan.rules):
        outcome = outcomes.get(i)
        if outcome is None:
            results.append(_error(rule, "Great Expectations returned no result for this expectation"))
            continue
        results += _to_results(rule, outcome, stats)
    data.artifacts.append(_artifact(runs, plan.rules))
    return results
