"""An as-of join on every engine: each left row with the right row of its key whose instant is
the latest at or before its own (no such row: the right side's columns are missing).

DuckDB and PostgreSQL run Ibis' ``asof_join``. Ibis' PySpark compiler has none, so there (or when
``native=False``) the join is spelled with portable parts: the two sides' instants are stacked,
ordered per key by instant with the right side's first on a tie, and a running maximum of the
right side's instants gives each left row its match; an equi-join on (key, instant) then brings
the right side's columns. The right side must hold one row per (key, instant), as its callers
make it (consent's blocking events, transparency's decision instants), and the sides share no
column name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ibis.expr.types as ir

# engines whose Ibis compiler has an ASOF JOIN
NATIVE = frozenset({"duckdb", "postgres"})


def latest_at_or_before(
    left: ir.Table,
    right: ir.Table,
    *,
    key: tuple[str, str],
    instant: tuple[str, str],
    engine: str,
    native: bool | None = None,
) -> ir.Table:
    """``left`` with the columns of ``right`` joined as of ``instant`` (left's, right's) within
    ``key`` (left's, right's): ``left.asof_join(right, on=left_instant >= right_instant,
    predicates=[left_key == right_key])``, the right side's columns missing where none matches."""
    import ibis

    (lk, rk), (lt, rt) = key, instant
    shared = set(left.columns) & set(right.columns)
    if shared:
        raise ValueError(f"an as-of join's sides share columns {sorted(shared)}: rename them first")
    if native if native is not None else engine in NATIVE:
        return left.asof_join(right, on=left[lt] >= right[rt], predicates=[left[lk] == right[rk]])
    key_type, time_type = left[lk].type(), left[lt].type()
    schema = left.schema()
    stacked = ibis.union(
        left.mutate(_ak=left[lk], _at=left[lt], _aside=ibis.literal(1, "int8")),
        right.select(
            **{name: ibis.null(kind) for name, kind in schema.items()},
            _ak=right[rk].cast(key_type),
            _at=right[rt].cast(time_type),
            _aside=ibis.literal(0, "int8"),
        ),
    )
    running = ibis.cumulative_window(group_by=stacked._ak, order_by=[stacked._at, stacked._aside])
    latest = ibis.ifelse(stacked._aside == 0, stacked._at, ibis.null(time_type)).max().over(running)
    lefts = stacked.mutate(_am=ibis.ifelse(stacked._at.isnull(), ibis.null(time_type), latest))
    lefts = lefts.filter(lefts._aside == 1)
    joined = lefts.left_join(right, [lefts._ak == right[rk].cast(key_type), lefts._am == right[rt].cast(time_type)])
    return joined.select(*schema.names, *right.columns)
