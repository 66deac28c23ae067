"""Quality remedy section: the failing expectations, observed against expected, and their fixes.

Built from the quality family's own results (Great Expectations' verdicts, already stripped of
row values): each failing expectation with what was observed (a share, a count, a dtype) and
what the spec expects, and the spec field that changes the expectation when the data is right
and the expectation is not. Raw values, including the unexpected categories GX reports, are
left out: counts and shares say enough. ``links`` adds the families a blocking failure skipped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ethics_audit.remedies import Section, Table

if TYPE_CHECKING:
    from ethics_audit.data import AuditData
    from ethics_audit.results import Finding
    from ethics_audit.spec import QualityConfig

FIXES: dict[str, str] = {
    "column_missing": (
        "restore column {column!r} in the source (query or files), or map the role to the column that replaced it "
        "(columns.*); spec: checks.quality.required_columns"
    ),
    "type_mismatch": "fix the column's type upstream, or declare it in checks.quality.column_types.{column}",
    "null_share": (
        "find the upstream change that leaves {column!r} empty (a client release, a join); if nulls are now "
        "expected, set checks.quality.null_share_per_column.{column}"
    ),
    "unexpected_category_share": (
        "map the new values of {column!r} to known ones upstream, or add them to "
        "checks.quality.allowed_categories.{column}"
    ),
    "out_of_range_share": "rescale or clip the score upstream; the range is checks.quality.score_range",
    "outside_window_share": "filter the source to the window (columns.timestamp, the source query's bounds)",
    "duplicate_id_share": "deduplicate prediction ids upstream (columns.prediction_id)",
    "row_count": "find the rows that went missing upstream; the floor is checks.quality.min_rows",
    "row_count_drop": "find the rows that went missing upstream; the limit is checks.quality.thresholds.row_count_drop",
    "expectation": "fix the data, or the expectation in checks.quality.expectations",
}


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def _expected(finding: Finding) -> str:
    details = finding.result.details
    parts = []
    expected = details.get("expected")
    if isinstance(expected, dict) and "value_set" in expected:
        parts.append("values in {" + ", ".join(map(str, expected["value_set"][:20])) + "}")
    elif isinstance(expected, dict):
        parts.append(", ".join(f"{k}={v}" for k, v in list(expected.items())[:5]))
    elif expected is not None:
        parts.append(str(expected))
    threshold = finding.result.threshold
    if threshold is not None:
        bound = threshold.critical if threshold.critical is not None else threshold.warn
        sign = {"above": "<=", "below": ">=", "outside": "inside"}[threshold.direction]
        parts.append(f"{finding.result.metric} {sign} {bound}")
    return "; ".join(parts) or "–"


def _observed(finding: Finding) -> str:
    details = finding.result.details
    text = _number(finding.result.value)
    if details.get("unexpected_count") is not None:
        of = f" of {details['nonnull']}" if details.get("nonnull") is not None else ""
        text += f" ({details['unexpected_count']} rows{of})"
    if details.get("observed") is not None and not isinstance(details["observed"], list | dict):
        text += f"; observed {details['observed']}"
    return text


def section(config: QualityConfig, data: AuditData, findings: list[Finding]) -> Section | None:
    failing = [
        f
        for f in findings
        if f.result.check == "quality" and f.severity.is_breach and f.result.details.get("expectation")
    ]
    if not failing:
        return None  # nothing Great Expectations judged: nothing to explain beyond the alert itself
    failing.sort(key=lambda f: (-f.severity.rank, f.result.metric))
    rows: list[list[Any]] = []
    section = Section("quality", "", facts={"failing": []})
    for f in failing:
        column = f.result.slice.get("column", "")
        where = f" on {column}" if column else ""
        rows.append(
            [
                f.result.details["expectation"],
                column or "–",
                _observed(f),
                _expected(f),
                f.severity.value,
                "yes" if f.result.details.get("blocking") else "no",
            ]
        )
        section.drivers.append(
            f"{f.result.details['expectation']}{where} failed ({f.severity.value}): observed {_observed(f)}, "
            f"expected {_expected(f)}"
        )
        fix = FIXES.get(f.result.metric, FIXES["expectation"]).format(column=column)
        line = f"{column or f.result.metric}: {fix}"
        if line not in section.fixes:
            section.fixes.append(line)
        section.facts["failing"].append(
            {
                "expectation": f.result.details["expectation"],
                "metric": f.result.metric,
                "column": column,
                "value": f.result.value,
                "severity": f.severity.value,
            }
        )
    names = ", ".join(dict.fromkeys(f"{r[0]}{' on ' + r[1] if r[1] != '–' else ''}" for r in rows[:3]))
    section.headline = (
        f"{len(failing)} expectation{'s' if len(failing) != 1 else ''} failed: {names}"
        + (", …" if len(rows) > 3 else "")
        + "."
    )
    section.tables.append(
        Table(
            "Failing expectations (no row values)",
            ["expectation", "column", "observed", "expected", "severity", "blocking"],
            rows,
        )
    )
    return section
