"""``appeals`` on an engine: rows per (cell, adverse) in one GROUP BY, and the window rows the ledger names.

The ledger is read in memory (``appeals.read_ledger``) and the appeals are attributed there as
``appeals.attribute`` does; only the decisions they contest come from the engine, at most one per
appeal, each with its cell:

- ``join_on: prediction_id``: the ledger's distinct ids go to the engine as a memtable and the
  window rows they name come back (their time, cell, adverse or not). The window's ids must be
  unique, checked by counts.
- ``join_on: entity_id``: the appeals filed in the window are as-of joined on the engine with the
  instants of each entity's adverse decisions (``asof_join``, DuckDB's ASOF JOIN), then the rows
  at the matched instants give each its cell. Several adverse decisions of one entity at one
  instant are one decision for the join, as for ``merge_asof``, which picks the last of them in
  row order; rows have no order on an engine, so when such tied rows sit in different cells the
  window is loaded and the memory path decides (logged).

Each appealed adverse decision then moves from "not appealed" to its appeal's category in the
per-cell table. Times compare to the microsecond (Ibis' timestamp).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ethics_audit.checks.privacy.consent import _ns, _utc
from ethics_audit.checks.transparency import appeals as pure
from ethics_audit.checks.transparency.aggregates import (
    ATTRIBUTE,
    Grouped,
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
    from ethics_audit.spec import AppealsSpec, TransparencyConfig

ADVERSE, KEY, TS = "__adverse", "__key", "__ts"


def _unique_ids(rows: Rows, wid: object, column: str) -> None:
    """The window's prediction ids repeat nowhere (missing ones count as one id, as in pandas)."""
    t = rows.table
    got = arrow(rows, t.aggregate(n=t.count(), ids=wid.count(), distinct=wid.nunique()))
    n, ids, distinct = (int(got[k][0] or 0) for k in ("n", "ids", "distinct"))
    repeated = ids - distinct + max(n - ids - 1, 0)
    if repeated:
        raise pure.repeated_ids(repeated, column)


def _ids(values: Any, kind: Any) -> Any:
    import ibis

    ids = ibis.memtable(pd.DataFrame({"lid": pd.Series(pd.unique(values), dtype=object)}))
    return ids.mutate(lid=ids.lid.cast(kind))


def _cells(grouped: Grouped, got: dict[str, list[Any]]) -> np.ndarray:
    """The cell of each row of a result that carries the attribute columns."""
    width = len(grouped.attributes)
    cell_of_key = dict(zip(cell_keys(grouped.columns, width), grouped.cell.tolist(), strict=True))
    return np.array([cell_of_key[k] for k in cell_keys(got, width)], dtype=np.int64)


def by_prediction(spec: AppealsSpec, data: AuditData, rows: Rows, ledger: pd.DataFrame, is_adverse: Any,
                  grouped: Grouped) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:  # fmt: skip
    """``appeals.attribute`` by prediction id: the matched appeals (``row`` indexes the decisions),
    and each decision's cell and whether it was adverse."""
    from ethics_audit.checks.privacy.aggregates.consent import aligned_ids, utc_time

    column = data.columns.prediction_id
    if column not in rows:
        raise DataError(f"{pure.PART}: columns.prediction_id names {column!r}, which is not a column of the window")
    wid, keys = aligned_ids(rows, column, ledger["key"])
    _unique_ids(rows, wid, column)
    ids = _ids(keys.dropna().to_numpy(), wid.type())
    ts, _ = utc_time(rows, data.columns.timestamp)
    attributes = {ATTRIBUTE.format(i): rows.table[a] for i, a in enumerate(grouped.attributes)}
    named = rows.table.select(**{KEY: wid, TS: ts, ADVERSE: is_adverse}, **attributes)
    got = arrow(rows, named.inner_join(ids, named[KEY] == ids.lid).select(*named.columns))
    stamps = _ns(_utc(pd.Series(got[TS], dtype=object), "columns.timestamp", data.columns.timestamp))
    position = pd.Index(pd.Series(got[KEY], dtype=object)).get_indexer(keys)
    matched = ledger.assign(row=position)[position >= 0]
    before = matched["filed"].to_numpy() < stamps[matched["row"].to_numpy()]
    if before.any():
        raise pure.filed_before(spec, int(before.sum()))
    return matched, _cells(grouped, got), np.asarray(got[ADVERSE], dtype=bool)


def by_entity(data: AuditData, rows: Rows, ledger: pd.DataFrame, is_adverse: Any,
              grouped: Grouped) -> tuple[pd.DataFrame, np.ndarray, np.ndarray] | None:  # fmt: skip
    """``appeals.attribute`` by entity: each appeal filed in the window goes to its entity's latest
    adverse decision at or before the filing. None when tied decisions sit in different cells."""
    import ibis

    from ethics_audit.checks.privacy.aggregates.consent import aligned_ids, instants, utc_time
    from ethics_audit.engine.asof import latest_at_or_before

    start, end = pd.Timestamp(data.window_start).value, pd.Timestamp(data.window_end).value
    filed = ledger[(ledger["filed"] >= start) & (ledger["filed"] < end)].reset_index(drop=True)
    wid, keys = aligned_ids(rows, data.columns.entity_id, filed["key"])
    ts, aware = utc_time(rows, data.columns.timestamp)
    empty = pd.DataFrame(columns=[*ledger.columns, "row"]).astype(ledger.dtypes.to_dict() | {"row": np.int64})
    if not len(filed):
        return empty, np.zeros(0, np.int64), np.zeros(0, bool)
    left = ibis.memtable(pd.DataFrame({"i": np.arange(len(filed)), "lid": keys.to_numpy(dtype=object),
                                       "fts": instants(filed["filed"].to_numpy(), aware).to_numpy()}))  # fmt: skip
    left = left.mutate(lid=left.lid.cast(wid.type()))
    decisions = rows.table.select(wid=wid, dts=ts, adv=is_adverse)
    decisions = decisions.filter(decisions.adv & decisions.wid.notnull() & decisions.dts.notnull())
    decisions = decisions.filter(decisions.wid.isin(left.lid)).select("wid", "dts").distinct()
    joined = latest_at_or_before(left, decisions, key=("lid", "wid"), instant=("fts", "dts"), engine=rows.engine)
    got = arrow(rows, joined.filter(joined.dts.notnull()).select("i", "wid", "dts"))
    if not got["i"]:
        return empty, np.zeros(0, np.int64), np.zeros(0, bool)
    instants_ = pd.DataFrame({"wid": pd.Series(got["wid"], dtype=object), "dts": got["dts"]})
    pairs = instants_.drop_duplicates().reset_index(drop=True)
    row = pd.MultiIndex.from_frame(pairs).get_indexer(pd.MultiIndex.from_frame(instants_))
    # the cells of the rows at the matched instants: one per instant, else the memory path decides
    at = ibis.memtable(pairs.rename(columns={"wid": "pw", "dts": "pts"}))
    at = at.mutate(pw=at.pw.cast(wid.type()), pts=at.pts.cast(ts.type()))
    attributes = {ATTRIBUTE.format(i): rows.table[a] for i, a in enumerate(grouped.attributes)}
    tied = rows.table.select(wid=wid, dts=ts, adv=is_adverse, **attributes).filter(lambda t: t.adv)
    tied = tied.inner_join(at, (tied.wid == at.pw) & (tied.dts == at.pts))
    cells_at = arrow(rows, tied.select("wid", "dts", *attributes).distinct())
    cells = _cells(grouped, cells_at)
    found = pd.DataFrame({"wid": pd.Series(cells_at["wid"], dtype=object), "dts": cells_at["dts"]})
    if found.duplicated().any():
        return None
    where = pd.MultiIndex.from_frame(found).get_indexer(pd.MultiIndex.from_frame(pairs))
    matched = filed.iloc[np.asarray(got["i"], dtype=np.int64)].assign(row=row)
    return matched, cells[where], np.ones(len(pairs), dtype=bool)


def run(config: TransparencyConfig, data: AuditData) -> list[MetricResult]:
    spec = config.appeals
    if spec is None:
        return []
    rows = window(data)
    is_adverse = adverse(config, data, rows)
    if is_adverse is None:
        raise DataError(f"{pure.PART}: needs columns.prediction, the decisions that people appeal")
    attribute_check(config, data, rows)
    ledger = pure.read_ledger(spec, data)
    grouped = group_cells(config, data, rows, {ADVERSE: is_adverse})
    if spec.join_on == "prediction_id":
        attributed = by_prediction(spec, data, rows, ledger, is_adverse, grouped)
    else:
        attributed = by_entity(data, rows, ledger, is_adverse, grouped)
        if attributed is None:
            from ethics_audit.engine.window import materialise

            materialise(data, "the transparency check's appeals (adverse decisions tied in time across groups)")
            return pure.run(config, data)
    matched, cells, was_adverse = attributed
    table = grouped.table(np.where(np.asarray(grouped.columns[ADVERSE], dtype=bool), pure.NOT_APPEALED,
                                   pure.FAVOURABLE), 5)  # fmt: skip
    # a decision contested twice counts once, with its latest appeal
    matched = matched.sort_values("filed", kind="stable").drop_duplicates(subset="row", keep="last")
    row = matched["row"].to_numpy()
    appealed = was_adverse[row]
    code = pure.outcome_category(matched["outcome"].to_numpy())
    np.add.at(table, (cells[row[appealed]], pure.NOT_APPEALED), -1)
    np.add.at(table, (cells[row[appealed]], code[appealed]), 1)
    decided = appealed & (code != pure.PENDING)
    days = (matched["decided"].to_numpy() - matched["filed"].to_numpy()) / pure.DAY_NS
    return pure.report(
        config, spec, data, grouped.attributes, grouped.groups, table, cells[row[decided]], days[decided], ledger,
        matched, int((~appealed).sum()),
    )  # fmt: skip
