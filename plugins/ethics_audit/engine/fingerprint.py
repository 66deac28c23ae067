"""The ledger's input fingerprint of a window whose rows stay on the engine, in bounded memory.

``ledger.fingerprint.of_frame`` digests each column as ``name|dtype|rows|nulls|sum`` where
``sum`` adds pandas' 64-bit hash of every value modulo 2**64. On DuckDB the same digest is one
scan, ``sum(hash(column))`` modulo 2**64 there, with DuckDB's type as the dtype (``of_duckdb``):
as order-free and value-free, about 20 times faster than hashing the rows in pandas, but not the
same numbers, so the fingerprint says ``method: duckdb-hash`` and the DuckDB version that
computed it (whoever recomputes it uses the same); on Spark likewise with its ``xxhash64``
(``method: spark-xxhash64``, ``engine.spark.fingerprint``). On other engines ``of_rows`` streams the
rows through pandas in batches, each with the dtype the whole column would have had (an
integer column with a missing value is float64 in pandas, a boolean one object), and equals
``of_frame`` of the same rows in memory.
"""

from __future__ import annotations

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


def of_duckdb(rows: Rows) -> dict[str, Any]:
    """The digest of each column computed by DuckDB in one scan (see the module's docstring)."""
    import duckdb
    import ibis

    from ethics_audit.ledger import canonical

    table = rows.table
    names = list(table.columns)
    quoted = ['"' + str(c).replace('"', '""') + '"' for c in names]
    parts = ["count(*)"]
    for q in quoted:
        # the identifiers are the table's own columns, quoted; no value of the spec is in the text
        parts += [f"count(*) - count({q})", f"coalesce(sum(hash({q})::HUGEINT), 0)"]
    sql = f"SELECT {', '.join(parts)} FROM ({ibis.to_sql(table, dialect='duckdb')}) AS t"

    def scan() -> tuple[Any, ...]:
        return rows.backend.con.sql(sql).fetchall()[0]

    row = rows.kept.fetch(sql, scan) if rows.kept is not None else scan()
    n = int(row[0])
    schema = table.schema()
    columns = {}
    for i, name in enumerate(names):
        nulls, total = int(row[1 + 2 * i]), int(row[2 + 2 * i]) % 2**64
        columns[str(name)] = canonical.sha256(f"{name}|{schema[name]}|{n}|{nulls}|{total}")
    return {"rows": n, "columns": dict(sorted(columns.items())), "method": "duckdb-hash", "duckdb": duckdb.__version__}


def of_tables(data: AuditData) -> dict[str, Any]:
    """``ledger.fingerprint.of_window`` of a window on the engine."""
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
        return of_duckdb(rows) if rows.engine == "duckdb" else of_rows(rows)

    return {"current": of("current"), "reference": of("reference")}
