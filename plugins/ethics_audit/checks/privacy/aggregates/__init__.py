"""The privacy family on an engine: each part's statistics as Ibis expressions over ``engine.Rows``.

When the window's rows live on an engine (``data.current`` is None, ``data.tables`` holds them),
each part asks the engine for small aggregates and hands them to the same pure functions the
in-memory path uses (``pii.column_results``, ``reidentification.class_results``, ...). Counts are
exact and equal the in-memory path's (tests hold them equal on random data). Nothing here
formats a value into SQL: patterns and literals go through Ibis.

``window(data)`` is the one switch: the in-memory path runs when the frame is loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ethics_audit.errors import DataError

if TYPE_CHECKING:
    from ethics_audit.data import AuditData
    from ethics_audit.engine import Rows

# candidate values streamed back per batch: bounded memory however many rows match
BATCH = 100_000


def on_engine(data: AuditData) -> bool:
    """True when the window's rows are on an engine and not loaded as a frame."""
    return data.current is None and "current" in data.tables


def window(data: AuditData) -> Rows:
    from ethics_audit.engine import rows_of

    rows = rows_of(data, "current")
    if rows is None:
        raise DataError("the window's rows are neither loaded nor on an engine")
    return rows


def window_rows(data: AuditData, rows: Rows) -> int:
    """Rows of the window (counted once per window on the engine)."""
    key = "privacy.window_rows"
    if key not in data.derived:
        data.derived[key] = rows.count()
    return int(data.derived[key])


def is_timestamp(dtype: Any) -> bool:
    """A timestamp column. DuckDB 2 reads pandas' nanosecond timestamps with a time zone as
    TIMESTAMPTZ_NS, which Ibis 12 does not know (``unknown``): ordering and comparing still work."""
    return bool(dtype.is_timestamp() or (dtype.is_unknown() and "TIMESTAMP" in str(dtype).upper()))


def batches(rows: Rows, expr: object):
    """A possibly long result (distinct candidates, as many as the window's distinct values) in
    record batches of at most ``BATCH`` rows, streamed from the engine (``Rows.batches``): one
    batch at a time is in the process, however many values match."""
    for batch in rows.batches(expr, rows=BATCH):
        for start in range(0, len(batch), BATCH):
            yield batch.slice(start, BATCH)
