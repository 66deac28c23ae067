"""Re-identification on an engine: one GROUP BY over the quasi-identifiers of each entity's latest row.

The engine keeps each entity's latest row (a window ``row_number`` over the entity, newest
``columns.timestamp`` first), groups those rows by the quasi-identifiers (NULL is a value of its
own, as in memory) into classes: their size, and per attribute the number of distinct
non-missing values and of entities with a value. A second aggregate over the classes sums what
the results read (``reidentification.ClassSummary``), so one row comes back however many classes
(up to one per entity) there are; ``reidentification.class_results`` turns it into the same
results as in memory.

An engine has no row order, so ties of an entity's timestamp are broken by the larger
``columns.prediction_id`` (when mapped) instead of the later row: the same row whenever
prediction ids grow with the log, as they do in the benchmark and the demo.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ethics_audit.checks.privacy.aggregates import is_timestamp, window
from ethics_audit.checks.privacy.reidentification import ClassSummary, attributes_of, class_results

if TYPE_CHECKING:
    from ethics_audit.data import AuditData
    from ethics_audit.engine import Rows
    from ethics_audit.results import MetricResult
    from ethics_audit.spec import PrivacyConfig


def latest_rows(rows: Rows, entity: str, timestamp: str | None, tie_break: str | None):
    """Each entity's latest row (rows without an entity id are dropped), as an Ibis table."""
    import ibis

    table = rows.table
    order = [ibis.desc(c) for c in (timestamp, tie_break) if c and c in table.columns]
    if timestamp in table.columns and not is_timestamp(table[timestamp].type()):
        order = [ibis.desc(tie_break)] if tie_break in table.columns else []  # in memory: row order
    ranked = table.filter(table[entity].notnull()).mutate(
        _rank=ibis.row_number().over(group_by=entity, order_by=order or None)
    )
    return ranked.filter(ranked._rank == 0)


def class_table(rows: Rows, data: AuditData, attributes: list[str], k: int) -> ClassSummary | None:
    """The classes' counts: one row comes back, however many classes there are.

    The engine groups the latest rows into classes (size, and per attribute its distinct values
    and entities with one), then sums over the classes what ``class_results`` reads."""
    import ibis

    columns = data.columns
    qi = list(columns.quasi_identifiers)
    latest = latest_rows(rows, columns.entity_id, columns.timestamp, columns.prediction_id)
    metrics = {"size": ibis._.count()}
    for i, attribute in enumerate(attributes):
        metrics[f"distinct_{i}"] = latest[attribute].nunique()
        metrics[f"present_{i}"] = latest[attribute].count()
    classes = latest.group_by(qi).agg(**metrics)

    def count(condition: Any, value: Any = 1) -> Any:  # spelled out: PostgreSQL sums no boolean
        return ibis.cases((condition, value), else_=0).sum()

    size = classes["size"]
    sums = {"classes": classes.count(), "entities": size.sum(), "smallest": size.min(),
            "below": count(size < k), "in_below": count(size < k, size), "unique": count(size == 1)}  # fmt: skip
    for i in range(len(attributes)):
        distinct, present = classes[f"distinct_{i}"], classes[f"present_{i}"]
        sums |= {
            f"populated_{i}": count(distinct > 0),
            f"lowest_{i}": ibis.cases((distinct > 0, distinct), else_=ibis.null("int64")).min(),
            f"single_{i}": count(distinct == 1),
            f"in_single_{i}": count(distinct == 1, present),
            f"present_{i}": present.sum(),
        }
    found = rows.execute(classes.aggregate(**sums)).iloc[0]

    def number(name: str) -> int:
        value = found[name]
        return 0 if value is None or value != value else int(value)

    if not number("classes"):
        return None
    out = ClassSummary(*(number(c) for c in ("classes", "entities", "smallest", "below", "in_below", "unique")))
    for i, attribute in enumerate(attributes):
        out.attributes[attribute] = tuple(
            number(f"{c}_{i}") for c in ("populated", "lowest", "single", "in_single", "present")
        )
    return out


def run(config: PrivacyConfig, data: AuditData) -> list[MetricResult]:
    spec = config.reidentification
    if not spec.enabled or not data.columns.quasi_identifiers:
        return []
    rows = window(data)
    attributes = attributes_of(data, rows.columns)
    return class_results(config, data, class_table(rows, data, attributes, spec.k))
