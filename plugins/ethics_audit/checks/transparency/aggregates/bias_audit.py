"""``bias_audit`` on an engine: selection and above-median-score counts per cell in one GROUP BY.

The window's median score is exact: the one or two middle scores come back (``ORDER BY ... LIMIT
2 OFFSET``) and numpy takes their median, as ``np.median`` does over every score in memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ethics_audit.checks.transparency import bias_audit as pure
from ethics_audit.checks.transparency.aggregates import arrow, attribute_check, equals, group_cells, window
from ethics_audit.checks.transparency.groups import WHERE
from ethics_audit.errors import DataError

if TYPE_CHECKING:
    from ethics_audit.data import AuditData
    from ethics_audit.engine import Rows
    from ethics_audit.results import MetricResult
    from ethics_audit.spec import TransparencyConfig

SELECTED, ABOVE = "__selected", "__above_median"


def score_of(rows: Rows, column: str) -> Any:
    """The score as float64, null where it is missing (NaN counts as missing, as in pandas)."""
    import ibis

    s = rows.table[column]
    kind = s.type()
    if not kind.is_numeric():
        raise DataError(
            f"{WHERE}: columns.score names {column!r}, which is not numeric ({kind}); map the model's score"
        )
    s = s.cast("float64")
    return ibis.ifelse(s.isnan(), ibis.null("float64"), s) if kind.is_floating() else s


def median(rows: Rows, score: Any) -> float | None:
    """The median of the present scores (None when there is none), exactly as ``np.median``."""
    n = int(rows.execute(score.count()))
    if not n:
        return None
    present = rows.table.select(s=score).filter(lambda t: t.s.notnull())
    if rows.engine == "spark":  # Ibis' PySpark backend returns an OFFSET's rows with another schema
        import ibis

        ranked = present.mutate(r=ibis.row_number().over(order_by="s"))
        middle = ranked.filter(ranked.r.isin([(n - 1) // 2, n // 2])).select("s")
    else:
        middle = present.order_by("s").limit(2 - n % 2, offset=(n - 1) // 2)
    values = arrow(rows, middle)["s"]
    return float(np.median(np.asarray(values, dtype=np.float64)))


def run(config: TransparencyConfig, data: AuditData) -> list[MetricResult]:
    import ibis

    columns = data.columns
    if columns.prediction is None and columns.score is None:
        return []
    rows = window(data)
    attribute_check(config, data, rows)
    keys: dict[str, Any] = {}
    if columns.prediction is not None:
        if columns.prediction not in rows:
            raise DataError(f"{WHERE}: columns.prediction names {columns.prediction!r}, which is not a column")
        decision = rows.table[columns.prediction]
        selected = ibis.ifelse(equals(decision, config.adverse_decision).fill_null(False), 0, 1)
        keys[SELECTED] = ibis.ifelse(decision.isnull(), -1, selected)
    if columns.score is not None and columns.score in rows:
        score = score_of(rows, columns.score)
        middle = median(rows, score)
        if middle is not None:
            keys[ABOVE] = ibis.ifelse(score.isnull(), -1, ibis.ifelse(score > middle, 1, 0))
    grouped = group_cells(config, data, rows, keys)
    parts = []
    for metric, key in (("selected_count", SELECTED), ("above_median_score_count", ABOVE)):
        if key in keys:
            parts.append((metric, grouped.table(np.asarray(grouped.columns[key], dtype=np.int64), 2)))
    return pure.report(config, grouped.attributes, grouped.groups, parts)
