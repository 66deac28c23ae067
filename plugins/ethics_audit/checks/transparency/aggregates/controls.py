"""``controls`` on an engine: the as-of join of the window with the controls ledger runs there.

The ledger is read and reduced in memory as ``controls.read_ledger`` and
``privacy.consent.blocked_since`` do; the window's side is the privacy family's engine as-of join
(``privacy.aggregates.consent.made_while_blocked``: events at one instant of one entity reduced
first to the one ``merge_asof`` picks, so ties break alike), restricted to the decisions the rule
forbids. Counts of rows and entities come back, never an id; times compare to the microsecond.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ethics_audit.checks.privacy.consent import blocked_since
from ethics_audit.checks.transparency import controls as pure
from ethics_audit.checks.transparency.aggregates import equals, window
from ethics_audit.checks.transparency.groups import Results

if TYPE_CHECKING:
    from ethics_audit.data import AuditData
    from ethics_audit.engine import Rows
    from ethics_audit.results import MetricResult
    from ethics_audit.spec import ControlRule, TransparencyConfig


def forbidden(rule: ControlRule, rows: Rows, index: int) -> Any:
    """``controls._forbidden`` as a boolean expression: every listed column holds a listed value."""
    import ibis

    mask = ibis.literal(True)
    for column, values in rule.forbids.items():
        if column not in rows:
            raise pure.missing_forbidden_column(index, column)
        value = rows.table[column]
        hit = ibis.literal(False)
        for v in values:
            hit = hit | equals(value, v).fill_null(False)
        mask = mask & hit
    return mask


def run(config: TransparencyConfig, data: AuditData) -> list[MetricResult]:
    import ibis

    from ethics_audit.checks.privacy.aggregates.consent import made_while_blocked, window_entities

    spec = config.controls
    if spec is None:
        return []
    results = Results(config)
    rows = window(data)
    ledger = pure.read_ledger(spec, data)
    wid, _, ledger, ids = window_entities(rows, data, ledger)
    masks = [forbidden(rule, rows, i) for i, rule in enumerate(spec.rules)]
    sums = {f"r{i}": ibis.coalesce(ibis.ifelse(m, 1, 0).sum(), 0) for i, m in enumerate(masks)}
    forbidden_rows = rows.execute(rows.table.aggregate(**sums)) if sums else None
    for i, rule in enumerate(spec.rules):
        events, blocking = pure.rule_events(ledger, rule)
        late, entities, _ = made_while_blocked(
            rows, data, blocked_since(events, blocking), ids, wid, spec.grace_period, where=masks[i]
        )
        pure.report_rule(results, spec, rule, events, blocking, late=late, entities=entities, rows=data.rows,
                         forbidden=int(forbidden_rows[f"r{i}"].iloc[0]))  # fmt: skip
    return results.out
