"""The ledger's input fingerprint of a window whose rows stay on the engine, in bounded memory.

``ledger.fingerprint.of_frame`` digests each column as ``name|dtype|rows|nulls|sum`` where
``sum`` adds pandas' 64-bit hash of every value modulo 2**64. On an engine the same digest is
one scan there with the engine's own 64-bit hash and the engine's type (Ibis') as the dtype:
order-free and value-free as pandas' is, and changed by any one value, but not the same numbers,
so the fingerprint names its ``method`` and the version of what computed it (whoever recomputes
it uses the same):

- DuckDB: ``sum(hash(column))`` (``of_duckdb``, ``method: duckdb-hash``, the DuckDB version);
- PostgreSQL: the sum of the type's own extended hash, ``hashint8extended``,
  ``hashfloat8extended``, ``hashtextextended`` and so on with seed 0 (``of_postgres``,
  ``method: postgres-hash``, the server's ``server_version_num``); a timestamp with a zone is
  hashed as its UTC wall time, so the session's zone does not change it;
- Spark: ``xxhash64`` (``engine.spark.fingerprint``, ``method: spark-xxhash64``).

A window pushed down into PostgreSQL therefore no longer has the fingerprint the in-memory
loader gives the same rows (streaming every row to Python to hash it took longer than all the
statistics together). ``of_rows`` still does that, through pandas in batches, each with the
dtype the whole column would have had (an integer column with a missing value is float64 in
pandas, a boolean one object), and equals ``of_frame`` of the same rows in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ethics_audit.data import AuditData
    from ethics_audit.engine import Rows

BATCH_ROWS = 500_000


def of_rows(rows: Rows) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    from ethics_audit.ledger import canonical

    table = rows.table
    names = list(table.columns)
    if not names:
        return {"rows": rows.count(), "columns": {}}
    counts = rows.execute(
        table.aggregate(__n__=table.count(), **{f"c{i}": table[c].isnull().sum() for i, c in enumerate(names)})
    )
    n = int(counts["__n__"].iloc[0])
    nulls = {c: int(counts[f"c{i}"].iloc[0] or 0) for i, c in enumerate(names)}
    from ethics_audit.engine.window import as_loaded

    dtypes: dict[str, Any] = {}
    totals = dict.fromkeys(names, 0)
    for batch in rows.batches(rows=BATCH_ROWS):
        frame = as_loaded(batch.to_pandas(), rows.pandas_dtypes)
        for name in names:
            column = _in_nanoseconds(frame[name]) if rows.engine == "postgres" else frame[name]
            dtypes.setdefault(name, _whole_column_dtype(column.dtype, nulls[name]))
            if column.dtype != dtypes[name]:
                column = column.astype(dtypes[name])
            try:
                hashed = pd.util.hash_pandas_object(column, index=False).to_numpy(dtype=np.uint64)
            except TypeError:  # unhashable cells (lists, dicts): hash their text, as of_frame does
                hashed = pd.util.hash_pandas_object(column.astype(str), index=False).to_numpy(dtype=np.uint64)
            totals[name] = (totals[name] + int(hashed.sum(dtype=np.uint64))) % 2**64
    if not dtypes:  # no rows: the dtypes of an empty frame of this schema
        empty = as_loaded(table.schema().to_pyarrow().empty_table().to_pandas(), rows.pandas_dtypes)
        dtypes = {
            name: (_in_nanoseconds(empty[name]) if rows.engine == "postgres" else empty[name]).dtype for name in names
        }
    columns = {str(name): canonical.sha256(f"{name}|{dtypes[name]}|{n}|{nulls[name]}|{totals[name]}") for name in names}
    return {"rows": n, "columns": dict(sorted(columns.items()))}


def _in_nanoseconds(column: Any) -> Any:
    """Timestamps in the unit the in-memory loader gives a SQL source's (``pd.read_sql``'s
    nanoseconds): PostgreSQL hands back microseconds, and a hash of the same instant in another
    unit is another number. (A parquet file's unit is kept by both loaders.)"""
    import pandas as pd

    dtype = column.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        return column.astype(pd.DatetimeTZDtype("ns", dtype.tz)) if dtype.unit != "ns" else column
    if getattr(dtype, "kind", "") == "M" and str(dtype) != "datetime64[ns]":
        return column.astype("datetime64[ns]")
    return column


def _whole_column_dtype(dtype: Any, nulls: int) -> Any:
    """What pandas makes of the whole column: a batch without the column's missing values
    would keep an integer or boolean dtype the full column does not have."""
    import numpy as np

    if nulls and getattr(dtype, "kind", "") in "iu" and isinstance(dtype, np.dtype):
        return np.dtype("float64")
    if nulls and getattr(dtype, "kind", "") == "b" and isinstance(dtype, np.dtype):
        return np.dtype("object")
    return dtype


def of_duckdb(rows: Rows, con: Any = None) -> dict[str, Any]:
    """The digest of each column computed by DuckDB in one scan (see the module's docstring), on
    the rows' own connection or ``con`` (a cursor of it)."""
    import duckdb
    import ibis

    from ethics_audit.ledger import canonical

    table = rows.table
    names = list(table.columns)
    quoted = ['"' + str(c).replace('"', '""') + '"' for c in names]
    parts = ["count(*)"]
    for q in quoted:
        # the identifiers are the table's own columns, quoted; no value of the spec is in the text
        # sum() of the UBIGINT hashes is already a HUGEINT: a cast of every hash first made the
        # scan 2.6 times as slow (10M rows: 3.6 s against 1.4 s), for the same sums
        parts += [f"count(*) - count({q})", f"coalesce(sum(hash({q})), 0)"]
    sql = f"SELECT {', '.join(parts)} FROM ({ibis.to_sql(table, dialect='duckdb')}) AS t"

    def scan() -> tuple[Any, ...]:
        return (con or rows.backend.con).sql(sql).fetchall()[0]

    row = rows.kept.fetch(sql, scan) if rows.kept is not None else scan()
    n = int(row[0])
    schema = table.schema()
    columns = {}
    for i, name in enumerate(names):
        nulls, total = int(row[1 + 2 * i]), int(row[2 + 2 * i]) % 2**64
        columns[str(name)] = canonical.sha256(f"{name}|{schema[name]}|{n}|{nulls}|{total}")
    return {"rows": n, "columns": dict(sorted(columns.items())), "method": "duckdb-hash", "duckdb": duckdb.__version__}


# PostgreSQL's 64-bit hash of a value by its Ibis type (seed 0); ``{}`` is the quoted column
_PG_HASHES = {
    "integer": "hashint8extended({}::bigint, 0)",
    "boolean": "hashint4extended({}::integer, 0)",
    "floating": "hashfloat8extended({}::double precision, 0)",
    "string": "hashtextextended({}, 0)",
    "decimal": "hash_numeric_extended({}, 0)",
    "date": "hashint4extended({} - DATE '2000-01-01', 0)",
}


def _pg_hash(quoted: str, dtype: Any) -> str:
    if dtype.is_timestamp():
        utc = f"({quoted} AT TIME ZONE 'UTC')" if dtype.timezone is not None else quoted
        return f"timestamp_hash_extended({utc}, 0)"
    for kind, template in _PG_HASHES.items():
        if getattr(dtype, f"is_{kind}")():
            return template.format(quoted)
    return f"hashtextextended({quoted}::text, 0)"  # any other type: its text


def of_postgres(rows: Rows) -> dict[str, Any]:
    """The digest of each column computed by PostgreSQL in one scan (see the module's docstring)."""
    import ibis

    from ethics_audit.engine.sql import fetch
    from ethics_audit.ledger import canonical

    table = rows.table
    names = list(table.columns)
    schema = table.schema()
    parts = ["count(*)"]
    for name in names:
        # the identifiers are the table's own columns, quoted; no value of the spec is in the text
        quoted = '"' + str(name).replace('"', '""') + '"'
        parts += [f"count(*) - count({quoted})", f"coalesce(sum({_pg_hash(quoted, schema[name])}), 0)"]
    sql = f"SELECT current_setting('server_version_num'), {', '.join(parts)} FROM ({ibis.to_sql(table, dialect='postgres')}) AS t"
    version, *row = fetch(rows, sql)[0]
    n = int(row[0])
    columns = {}
    for i, name in enumerate(names):
        nulls, total = int(row[1 + 2 * i]), int(row[2 + 2 * i]) % 2**64
        columns[str(name)] = canonical.sha256(f"{name}|{schema[name]}|{n}|{nulls}|{total}")
    return {"rows": n, "columns": dict(sorted(columns.items())), "method": "postgres-hash", "postgres": version}


def of_tables(data: AuditData, con: Any = None) -> dict[str, Any]:
    """``ledger.fingerprint.of_window`` of a window on the engine (DuckDB's scans on ``con`` if given)."""
    from ethics_audit.ledger.fingerprint import of_frame

    def of(name: str) -> dict[str, Any] | None:
        frame = getattr(data, name)
        if frame is not None:
            return of_frame(frame)
        if name not in data.tables:
            return None
        rows = data.tables[name]
        if rows.engine == "spark":
            from ethics_audit.engine.spark import fingerprint

            return fingerprint(rows)
        if rows.engine == "postgres":
            return of_postgres(rows)
        return of_duckdb(rows, con) if rows.engine == "duckdb" else of_rows(rows)

    return {"current": of("current"), "reference": of("reference")}


def started(data: AuditData) -> Callable[[], dict[str, Any] | None]:
    """``of_tables(data)`` begun in a thread on a second DuckDB connection, so its scan of every
    column runs while the families' queries do (a 1M-row window in one parquet row group is
    scanned by one thread: the other core was idle). The returned function waits for it; None
    when it could not be taken there (a table only the audit's connection sees, a frame in
    memory, another engine), and the caller takes it on the audit's connection instead."""
    tables = [data.tables[n] for n in ("current", "reference") if n in data.tables]
    if data.current is not None or not tables or any(t.engine != "duckdb" for t in tables):
        return lambda: None
    from concurrent.futures import ThreadPoolExecutor

    cursor = tables[0].backend.con.cursor()
    cursor.execute("SET TimeZone = 'UTC'")  # a session setting, as on the audit's connection

    def run() -> dict[str, Any]:
        try:
            return of_tables(data, cursor)
        finally:
            cursor.close()

    pool = ThreadPoolExecutor(1, thread_name_prefix="ethics-audit-fingerprint")
    future = pool.submit(run)
    pool.shutdown(wait=False)

    def result() -> dict[str, Any] | None:
        try:
            return future.result()
        except Exception:  # noqa: BLE001 - taken again on the audit's connection, which says why it fails
            return None

    return result
