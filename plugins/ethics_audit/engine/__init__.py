"""Where a window's rows live, and the one way the check families ask questions of them.

A check family never walks rows in Python. It states the statistics it needs as Ibis
expressions over a ``Rows`` handle (group-by counts, histograms on fixed edges, value and null
counts, regex candidates, distinct counts) and turns the small results into ``MetricResult``s
with pure functions. The same expressions run wherever the rows are: DuckDB embedded (the
default, for parquet/CSV files and for frames already in memory), the source's own SQL database,
or Spark. Only aggregates come back.

Ibis, DuckDB and pandas are imported inside the functions: the DAG processor and ``--help``
load this module without paying for them.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd

    from ethics_audit.data import AuditData
    from ethics_audit.engine.cache import Kept

# DuckDB spills to disk past this much memory; the spec or ETHICS_AUDIT_MEMORY_LIMIT overrides it
DEFAULT_MEMORY_LIMIT = "1GB"
# an aggregate that comes back bigger than this is a bug (it would be the rows themselves)
MAX_RESULT_ROWS = 5_000_000
# rows per fetch from PostgreSQL when every row must be seen (``Rows.batches``)
FETCH_ROWS = 50_000


def memory_limit(override: str | None = None) -> str:
    return override or os.environ.get("ETHICS_AUDIT_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT


# how a family's failure on DuckDB's memory limit begins (``out_of_memory``; ``engine.parallel`` reads it)
OUT_OF_MEMORY = "DuckDB ran out of its memory limit"


def out_of_memory(what: str, exc: BaseException) -> str | None:
    """The error of ``what`` when ``exc`` is DuckDB refusing to pass its memory limit (an operator
    that cannot spill, or queries side by side that together need more), with the fix; else None."""
    import sys

    duckdb = sys.modules.get("duckdb")
    if duckdb is None or not isinstance(exc, duckdb.OutOfMemoryException):
        return None
    logging.getLogger(__name__).warning("%s in %s", OUT_OF_MEMORY, what)
    return (
        f"{OUT_OF_MEMORY} in {what}: raise engine.memory_limit in the spec or ETHICS_AUDIT_MEMORY_LIMIT "
        f"({DEFAULT_MEMORY_LIMIT} when neither is set)"
    )


def spill_directory() -> str:
    """Where DuckDB writes what does not fit in its memory limit (removed by DuckDB on close)."""
    import tempfile

    return os.path.join(tempfile.gettempdir(), f"ethics-audit-duckdb-{os.getpid()}")


def duckdb_backend(*, limit: str | None = None, threads: int | None = None) -> Any:
    """A new embedded DuckDB (in memory, spilling to a temporary folder past ``limit``).

    Its session time zone is UTC: a timestamp without a zone means UTC, as it does in
    ``sources``, and the timestamps handed back are in UTC.
    """
    import ibis

    config: dict[str, Any] = {
        "memory_limit": memory_limit(limit),
        "temp_directory": spill_directory(),
    }
    if threads:
        config["threads"] = threads
    backend = ibis.duckdb.connect(**config)
    # DuckDB follows the host's zone once ICU is loaded (it cannot be set before connecting)
    backend.raw_sql("SET TimeZone = 'UTC'")
    # the prefetch reads a whole row group's columns into fresh buffers: a 1M-row file of one row
    # group cost every query about 100 MB of new pages (1M cold audit: 2.25 s against 2.43 s, peak
    # 0.67 GB against 0.85); GLOBAL: for the connections the families and the fingerprint open too
    backend.raw_sql("SET GLOBAL disable_parquet_prefetching = true")
    return backend


@dataclass
class Rows:
    """A table of rows on an engine: the window, its reference, or a ledger.

    ``table`` is an Ibis table expression; ``backend`` the Ibis backend that runs it; ``engine``
    its name (``duckdb``, ``postgres``, ``spark``). ``execute`` runs an expression and returns its
    (small) result as pandas.
    """

    table: ir.Table
    backend: Any
    engine: str = "duckdb"
    # pandas dtypes the in-memory loader would give columns the engine has no type for (a
    # parquet file's ``Int64``, say), so a frame or fingerprint taken from here is the same
    pandas_dtypes: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    # a baseline reference's results are kept for the next windows (``engine.cache``)
    kept: Kept | None = field(default=None, repr=False, compare=False)
    _count: int | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def columns(self) -> list[str]:
        return list(self.table.columns)

    def __contains__(self, column: str) -> bool:
        return column in self.table.columns

    def execute(self, expr: Any) -> Any:
        if self.kept is not None:
            out = self.kept.fetch_key(self.kept.expression_key(expr, self.engine), lambda: self.backend.execute(expr))
        else:
            out = self.backend.execute(expr)
        if hasattr(out, "__len__") and not isinstance(out, str) and len(out) > MAX_RESULT_ROWS:
            raise RuntimeError(f"an aggregate returned {len(out):,} rows: a statistic must stay small")
        return out

    def batches(self, expr: Any | None = None, *, rows: int = 500_000) -> Any:
        """An Arrow record-batch reader over ``expr`` (default: the table), ``rows`` at a time: for
        the few consumers that must see every row (the ledger's fingerprint), in bounded memory."""
        expr = self.table if expr is None else expr
        if self.engine == "duckdb":
            # Ibis 12's own batch reader calls an API DuckDB 2 removed
            import ibis
            import pyarrow as pa

            self.backend._run_pre_execute_hooks(expr)  # registers the memtables ``expr`` reads
            reader = self.backend.con.sql(ibis.to_sql(expr, dialect="duckdb")).to_arrow_reader(rows)
            # as Ibis' own results are: cast to the expression's schema (e.g. timestamps in ns)
            schema = expr.schema().to_pyarrow()
            return pa.RecordBatchReader.from_batches(schema, (b.cast(schema) for b in reader))
        if self.engine == "postgres":
            # psycopg hands each fetch over as Python tuples (about 2.5 KB a row of 30 columns
            # before Arrow and pandas copy it): at most ``FETCH_ROWS`` a batch
            return self.backend.to_pyarrow_batches(expr, chunk_size=min(rows, FETCH_ROWS))
        return self.backend.to_pyarrow_batches(expr, chunk_size=rows)

    def count(self) -> int:
        # a table expression never changes, so its count is asked of the engine once
        if self._count is None:
            self._count = int(self.execute(self.table.count()))
        return self._count


def from_frame(frame: pd.DataFrame, *, backend: Any | None = None) -> Rows:
    """Rows of a pandas frame already in memory, queried by DuckDB without copying it to disk."""
    import ibis

    backend = backend or duckdb_backend()
    return Rows(ibis.memtable(frame), backend, "duckdb")


def rows_of(data: AuditData, name: str = "current") -> Rows | None:
    """The ``name`` table of a window on its engine (``current``, ``reference``, ``consent`` ...).

    When the window was loaded into memory instead, its frame is wrapped (once per window, on
    one DuckDB shared by the families) and kept in ``data.tables``. None when there is no such table.
    """
    if name in data.tables:
        return data.tables[name]
    frame = getattr(data, name, None)
    if frame is None:
        return None
    shared = next(iter(data.tables.values())).backend if data.tables else None
    data.tables[name] = from_frame(frame, backend=shared)
    return data.tables[name]
