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

The package: ``kinds`` (column kinds, the frame GX sees), ``plan`` (the rules, no GX),
``validation`` (running GX and reading its results); the family's ``run`` is here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ethics_audit.checks.quality.kinds import NUMERIC_DTYPES, TYPE_LISTS, canonical, kind_of
from ethics_audit.checks.quality.plan import Plan, Rule, build_plan
from ethics_audit.checks.quality.validation import _artifact, _error, _expectations, _spec_frame, _to_results, _validate

if TYPE_CHECKING:
    from ethics_audit.data import AuditData
    from ethics_audit.results import MetricResult
    from ethics_audit.spec import QualityConfig

__all__ = [
    "METHODS",
    "NUMERIC_DTYPES",
    "TYPE_LISTS",
    "Plan",
    "Rule",
    "build_plan",
    "canonical",
    "kind_of",
    "run",
]

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
