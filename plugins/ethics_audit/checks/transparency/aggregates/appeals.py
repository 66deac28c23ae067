"""``appeals`` on an engine: rows per (cell, adverse) in one GROUP BY, and the window rows the ledger names.

The ledger is read in memory (``appeals.read_ledger``). With ``join_on: prediction_id`` its
distinct ids go to the engine as a memtable and the window rows they name come back (at most one
per appeal: the window's ids must be unique, checked by counts): their cell, time and whether the
decision was adverse. The appeals are attributed to them in memory as ``appeals.attribute`` does,
and each appealed adverse decision moves from "not appealed" to its appeal's category in the
per-cell table. ``join_on: entity_id`` (an as-of join of appeals with each entity's adverse
decisions, whose ties ``merge_asof`` breaks by row order) still loads the window into memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ethics_audit.checks.privacy.consent import _ns, _utc
from ethics_audit.checks.transparency import appeals as pure
from ethics_audit.checks.transparency.aggregates import (
    ATTRIBUTE,
    adverse,
    arrow,
    attribute_check,
    cell_keys,
    group_cells,
    window,
)
from ethics_audit.errors import DataError

if TYPE_CHECKING:
    from ethics_audit.data import AuditData
    from ethics_audit.engine import Rows
    from ethics_audit.results import MetricResult
    from ethics_audit.spec import TransparencyConfig

ADVERSE, KEY, TS = "__adverse", "__key", "__ts"


def _unique_ids(rows: Rows, wid: object, column: str) -> None:
    """The window's prediction ids repeat nowhere (missing ones count as one id, as in pandas)."""
    t = rows.table
    got = arrow(rows, t.aggregate(n=t.count(), ids=wid.count(), distinct=wid.nunique()))
    n, ids, distinct = (int(got[k][0] or 0) for k in ("n", "ids", "distinct"))
    repeated = ids - distinct + max(n - ids - 1, 0)
    if repeated:
        raise DataError(
            f"{pure.PART}: {repeated} prediction ids repeat in the window "
            f"(columns.prediction_id {column!r}); appeals need one id per decision"
        )


def run(config: TransparencyConfig, data: AuditData) -> list[MetricResult]:
    import ibis

    from ethics_audit.checks.privacy.aggregates.consent import aligned_ids, utc_time

    spec = config.appeals
    if spec is None:
        return []
    rows = window(data)
    is_adverse = adverse(config, data, rows)
    if is_adverse is None:
        raise DataError(f"{pure.PART}: needs columns.prediction, the decisions that people appeal")
    attributes = attribute_check(config, data, rows)[0]
    ledger = pure.read_ledger(spec, data)
    if spec.join_on != "prediction_id":
        from ethics_audit.engine.window import materialise

        materialise(data, "the transparency check's appeals joined on entity_id")
        return pure.run(config, data)
    column = data.columns.prediction_id
    if column not in rows:
        raise DataError(f"{pure.PART}: columns.prediction_id names {column!r}, which is not a column of the window")
    wid, keys = aligned_ids(rows, column, ledger["key"])
    _unique_ids(rows, wid, column)
    grouped = group_cells(config, data, rows, {ADVERSE: is_adverse})
    cell_of_key = dict(zip(cell_keys(grouped.columns, len(attributes)), grouped.cell.tolist(), strict=False))
    table = grouped.table(np.where(np.asarray(grouped.columns[ADVERSE], dtype=bool), pure.NOT_APPEALED,
                                   pure.FAVOURABLE), 5)  # fmt: skip

    # the window rows the ledger names, at most one per distinct id
    ids = ibis.memtable(pd.DataFrame({"lid": pd.unique(keys.dropna().to_numpy())}))
    ids = ids.mutate(lid=ids.lid.cast(wid.type()))
    ts, _ = utc_time(rows, data.columns.timestamp)
    named = rows.table.select(
        **{KEY: wid, TS: ts, ADVERSE: is_adverse},
        **{ATTRIBUTE.format(i): rows.table[a] for i, a in enumerate(attributes)},
    )
    got = arrow(rows, named.inner_join(ids, named[KEY] == ids.lid).select(*named.columns))
    cells = np.array([cell_of_key[k] for k in cell_keys(got, len(attributes))], dtype=np.int64)
    named = pd.DataFrame({KEY: pd.Series(got[KEY], dtype=object), ADVERSE: np.asarray(got[ADVERSE], dtype=bool)})
    stamps = _ns(_utc(pd.Series(got[TS], dtype=object), "columns.timestamp", data.columns.timestamp))
    position = pd.Index(named[KEY]).get_indexer(keys)
    matched = ledger.assign(row=position)[position >= 0]
    before = matched["filed"].to_numpy() < stamps[matched["row"].to_numpy()]
    if before.any():
        raise DataError(
            f"{pure.PART}.columns.filed_at: {int(before.sum())} appeals were filed before the decision they contest "
            f"was made (appeals ledger, {spec.source.describe()}); check that "
            f"{spec.columns.prediction_id!r} holds the contested prediction's id"
        )
    # a decision contested twice counts once, with its latest appeal
    matched = matched.sort_values("filed", kind="stable").drop_duplicates(subset="row", keep="last")
    row = matched["row"].to_numpy()
    was_adverse = named[ADVERSE].to_numpy(dtype=bool)[row]
    code = pure.outcome_category(matched["outcome"].to_numpy())
    np.add.at(table, (cells[row[was_adverse]], pure.NOT_APPEALED), -1)
    np.add.at(table, (cells[row[was_adverse]], code[was_adverse]), 1)
    decided = was_adverse & (code != pure.PENDING)
    days = (matched["decided"].to_numpy() - matched["filed"].to_numpy()) / pure.DAY_NS
    on_favourable = int((~was_adverse).sum())
    return pure.report(
        config, spec, data, grouped.attributes, grouped.groups, table, cells[row[decided]], days[decided], ledger,
        matched, on_favourable,
    )  # fmt: skip
