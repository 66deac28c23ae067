"""Re-identification on an engine: one GROUP BY over the quasi-identifiers of each entity's latest row.

The engine keeps each entity's latest row (a window ``row_number`` over the entity, newest
``columns.timestamp`` first), groups those rows by the quasi-identifiers (NULL is a value of its
own, as in memory) and returns one row per class: its size, and per attribute the number of
distinct non-missing values and of entities with a value. ``reidentification.class_results``
turns that table into the same results as in memory.

An engine has no row order, so ties of an entity's timestamp are broken by the larger
``columns.prediction_id`` (when mapped) instead of the later row: the same row whenever
prediction ids grow with the log, as they do in the benchmark and the demo.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ethics_audit.checks.privacy.aggregates import is_timestamp, window
from ethics_audit.checks.privacy.reidentification import ClassSizes, attributes_of, class_results

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


def class_table(rows: Rows, data: AuditData, attributes: list[str]) -> ClassSizes | None:
    """Size of each class and per attribute its distinct values and entities with one."""
    import ibis
    import numpy as np

    columns = data.columns
    qi = list(columns.quasi_identifiers)
    latest = latest_rows(rows, columns.entity_id, columns.timestamp, columns.prediction_id)
    metrics = {"size": ibis._.count()}
    for i, attribute in enumerate(attributes):
        metrics[f"distinct_{i}"] = latest[attribute].nunique()
        metrics[f"present_{i}"] = latest[attribute].count()
    table = rows.execute(latest.group_by(qi).agg(**metrics))
    if not len(table):
        return None
    out = ClassSizes(table["size"].to_numpy(np.int64))
    for i, attribute in enumerate(attributes):
        out.distinct[attribute] = table[f"distinct_{i}"].to_numpy(np.int64)
        out.present[attribute] = table[f"present_{i}"].to_numpy(np.int64)
    return out


def run(config: PrivacyConfig, data: AuditData) -> list[MetricResult]:
    spec = config.reidentification
    if not spec.enabled or not data.columns.quasi_identifiers:
        return []
    rows = window(data)
    attributes = attributes_of(data, rows.columns)
    return class_results(config, data, class_table(rows, data, attributes))
