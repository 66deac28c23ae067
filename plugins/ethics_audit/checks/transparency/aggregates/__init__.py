"""The transparency family on an engine: each part's counts as Ibis GROUP BYs over ``engine.Rows``.

When the window's rows live on an engine (``data.current`` is None), each part asks for rows per
(combination of sensitive-attribute values, a few small keys) in one GROUP BY, codes the
combinations into cells exactly as ``fairness.inputs.encode_groups`` codes rows in memory (values
sorted, a missing value last, cells in code order) and hands the (cells, categories) tables to the
same pure functions the in-memory path uses (``explanations.report``, ``appeals.report``, ...).
Bootstrap intervals resample within cells from those counts (``counts.resample_cells``), so the
seeded results are the memory path's. The small ledgers stay frames: what the window needs of
them goes to the engine as ``ibis.memtable``; only counts and, for appeals, the window's rows the
ledger names (at most one per appeal) come back. Nothing here formats a value into SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ethics_audit.checks.privacy.aggregates import on_engine, window

if TYPE_CHECKING:
    from ethics_audit.checks.fairness.inputs import Groups
    from ethics_audit.data import AuditData
    from ethics_audit.engine import Rows
    from ethics_audit.spec import TransparencyConfig

__all__ = ["Grouped", "adverse", "arrow", "group_cells", "on_engine", "window"]

# the key columns of the attributes in a GROUP BY: a0, a1, ...
ATTRIBUTE = "__a{}"


def arrow(rows: Rows, expr: Any) -> dict[str, list[Any]]:
    """A small result as Python values (ints stay ints, nulls are None), whatever the engine."""
    from ethics_audit.checks.fairness.query import _arrow

    return _arrow(rows, expr)


@dataclass(frozen=True)
class Grouped:
    """A GROUP BY's result: its columns, the cells of the window and each result row's cell."""

    attributes: list[str]
    groups: Groups
    columns: dict[str, list[Any]]
    cell: np.ndarray  # (result rows,) index into groups.cell_codes

    @property
    def n(self) -> np.ndarray:
        return np.asarray(self.columns["n"], dtype=np.int64)

    def table(self, category: np.ndarray, k: int) -> np.ndarray:
        """Rows per (cell, category) of the window; result rows of category < 0 are left out."""
        out = np.zeros((len(self.groups.cell_codes), k), dtype=np.int64)
        has = category >= 0
        np.add.at(out, (self.cell[has], category[has]), self.n[has])
        return out


def attribute_check(config: TransparencyConfig, data: AuditData, rows: Rows) -> tuple[list[str], list[list[str]], str]:
    """The attributes and intersections, each attribute a column of the window (the memory path's error)."""
    from ethics_audit.checks.fairness.inputs import check_column
    from ethics_audit.checks.transparency.groups import WHERE, attribute_sets

    attributes, intersections = attribute_sets(config, data)
    field = f"{WHERE}.attributes" if config.attributes else "columns.sensitive"
    for name in attributes:
        check_column(rows.table.columns, name, field, f"fix {field} or the source", WHERE)
    return attributes, intersections, field


def cell_keys(columns: dict[str, list[Any]], width: int) -> list[tuple[Any, ...]]:
    """Each result row's combination of attribute values, as slices hold them."""
    from ethics_audit.checks.fairness.inputs import json_scalar

    n = len(columns["n"]) if "n" in columns else len(next(iter(columns.values()), []))
    values = [[json_scalar(v) for v in columns[ATTRIBUTE.format(a)]] for a in range(width)]
    return list(zip(*values, strict=True)) if width else [()] * n


def encode_cells(
    attributes: list[str], intersections: list[list[str]], field: str, keys: list[tuple[Any, ...]]
) -> tuple[Groups, np.ndarray]:
    """The window's cells from the combinations of values it holds (``keys``, one per result row),
    coded as ``fairness.inputs.encode_groups`` codes the rows in memory; and each key's cell."""
    from ethics_audit.checks.fairness.cells import _value_keys, check_groups
    from ethics_audit.checks.fairness.inputs import Groups, group_sets
    from ethics_audit.checks.transparency.groups import WHERE

    value_keys = _value_keys(keys)
    values = []
    for a, name in enumerate(attributes):
        present = sorted({k[a] for k in keys if k[a] is not None}, key=value_keys[a])
        vals = present + ([None] if any(k[a] is None for k in keys) else [])
        check_groups(name, vals, field, WHERE)
        values.append(vals)
    index = [{v: i for i, v in enumerate(vals)} for vals in values]
    codes = np.array([[index[a][v] for a, v in enumerate(k)] for k in keys], dtype=np.int64)
    codes = codes.reshape(len(keys), len(attributes))
    cell_codes, cell = np.unique(codes, axis=0, return_inverse=True) if len(keys) else (codes, np.zeros(0, np.int64))
    groups = Groups(values, cell_codes, np.zeros(0, dtype=np.int64), group_sets(attributes, intersections))
    return groups, np.asarray(cell, dtype=np.int64).reshape(-1)


def group_cells(
    config: TransparencyConfig, data: AuditData, rows: Rows, keys: dict[str, Any], table: Any = None
) -> Grouped:
    """Rows of the window per (attribute values, ``keys``) in one GROUP BY on the engine, coded
    into cells. ``table`` is the window (default) or the window joined with a ledger."""
    attributes, intersections, field = attribute_check(config, data, rows)
    t = rows.table if table is None else table
    by = {ATTRIBUTE.format(i): t[a] for i, a in enumerate(attributes)} | keys
    columns = arrow(rows, t.group_by(**by).aggregate(n=t.count()))
    groups, cell = encode_cells(attributes, intersections, field, cell_keys(columns, len(attributes)))
    return Grouped(attributes, groups, columns, cell)


def adverse(config: TransparencyConfig, data: AuditData, rows: Rows, table: Any = None) -> Any:
    """``groups.adverse_rows`` as a boolean expression (a missing decision is not adverse); None
    without decisions. A decision of another kind than ``adverse_decision`` is never adverse."""
    from ethics_audit.checks.transparency.groups import WHERE
    from ethics_audit.errors import DataError

    column = data.columns.prediction
    if column is None:
        return None
    t = rows.table if table is None else table
    if column not in t.columns:
        raise DataError(f"{WHERE}: columns.prediction names {column!r}, which is not a column of the window")
    return equals(t[column], config.adverse_decision).fill_null(False)


def equals(value: Any, literal: Any) -> Any:
    """``value == literal`` as pandas compares them: a number never equals a text (False, not an error)."""
    import ibis

    kind = value.type()
    is_text = isinstance(literal, str)
    if kind.is_string() != is_text or (kind.is_boolean() and is_text):
        return ibis.literal(False)
    if kind.is_boolean() and not isinstance(literal, bool):
        if literal not in (0, 1):
            return ibis.literal(False)
        literal = bool(literal)
    return value == literal
