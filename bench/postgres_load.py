"""The benchmark's parquet windows loaded into a scratch PostgreSQL database, for ``--engine postgres``.

``load`` creates a database of its own on the server, one table per parquet file, and fills it
with ``COPY ... FROM STDIN`` one Arrow record batch at a time (CSV in memory), so loading 100M
rows holds one batch. ``spec_source`` points the audit spec's source at the window's table and
its baseline at the reference's, both queries on that database: every statistic then runs
inside PostgreSQL. ``drop`` removes the database. The PostgreSQL server's own memory is not part
of the benchmark's peak RSS (its processes are not children of the audit).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
BATCH_ROWS = 200_000
QUERY = "SELECT * FROM predictions WHERE ts >= :window_start AND ts < :window_end"


def _column_type(arrow_type: Any) -> str:
    import pyarrow as pa

    if pa.types.is_timestamp(arrow_type):
        return "timestamptz" if arrow_type.tz else "timestamp"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type):
        return "bigint"
    if pa.types.is_floating(arrow_type):
        return "double precision"
    return "text"


def _copy(conn: Any, table: str, path: Path) -> int:
    import pyarrow as pa
    import pyarrow.csv as csv
    import pyarrow.parquet as pq

    source = pq.ParquetFile(path)
    schema = source.schema_arrow
    columns = ", ".join(f'"{f.name}" {_column_type(f.type)}' for f in schema)
    # timestamps to microseconds: PostgreSQL keeps no finer
    target = pa.schema(
        [pa.field(f.name, pa.timestamp("us", f.type.tz)) if pa.types.is_timestamp(f.type) else f for f in schema]
    )
    rows = 0
    with conn.cursor() as cursor:
        cursor.execute(f'CREATE TABLE "{table}" ({columns})')
        with cursor.copy(f'COPY "{table}" FROM STDIN (FORMAT csv)') as copy:
            for batch in source.iter_batches(batch_size=BATCH_ROWS):
                buffer = io.BytesIO()
                csv.write_csv(
                    pa.Table.from_batches([batch]).cast(target),
                    buffer,
                    csv.WriteOptions(include_header=False, quoting_style="needed"),
                )
                copy.write(buffer.getbuffer())
                rows += batch.num_rows
        cursor.execute(f'ANALYZE "{table}"')
    conn.commit()
    return rows


def load(folder: Path, server: str = DEFAULT_SERVER, *, name: str) -> str:
    """current.parquet and reference.parquet as tables ``predictions`` and ``baseline`` of a new
    database ``name`` on ``server``; returns the database's SQLAlchemy URL."""
    import psycopg

    drop(server, name)
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(url) as conn:
        _copy(conn, "predictions", folder / "current.parquet")
        _copy(conn, "baseline", folder / "reference.parquet")
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def spec_source(spec: dict[str, Any], url: str) -> dict[str, Any]:
    """The bench spec with its window and baseline read from the loaded database."""
    return {
        **spec,
        "source": {"query": QUERY, "url": url},
        "reference": {"baseline": {"query": "SELECT * FROM baseline", "url": url}},
    }


def drop(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
