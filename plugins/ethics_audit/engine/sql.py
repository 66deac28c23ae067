"""Statistics pushed down into the source's PostgreSQL: only aggregates cross the wire.

With ``engine: {kind: postgres}`` and a SQL source on PostgreSQL, the spec's query runs inside
the database into a temporary table of the session (``CREATE TEMP TABLE ... AS <query>``) with
``:window_start``/``:window_end`` bound as parameters by psycopg, never formatted into the SQL
(a baseline query on the same database runs there too, as do previous windows);
the families' Ibis expressions then run against that table through Ibis' PostgreSQL backend,
in the same session. The rows stay in the database (PostgreSQL spills a large window to disk);
what comes back is group-by counts, histograms and the like. The session sorts and hashes in
``WORK_MEM`` (PostgreSQL's default of 4MB sends every GROUP BY of a large window to disk), runs
without JIT and with ``TEMP_BUFFERS`` for its tables (``SESSION``), and each window table is
analysed once, so the planner knows its size. What Ibis cannot state (GROUPING SETS, which count
many keys in one scan) runs as SQL built around Ibis' compiled query (``fetch``, ``grouped_counts``).
A temporary table is never scanned by parallel workers: each statistic is one core's work.
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ethics_audit.errors import SourceError

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from ethics_audit.spec import AuditSpec, SourceSpec

# a bound name of the spec's query (``:window_start``), not a cast (``::date``)
_BIND = re.compile(r"(?<![:\w]):(window_start|window_end)\b")
_names = itertools.count()
# per sort or hash of this session only (``SET work_mem``), never the server's setting
WORK_MEM = "256MB"
# this session's buffers for its temporary tables (PostgreSQL's default is 8MB: every scan of a
# window read again from the OS through them), taken only as the window's tables fill them
TEMP_BUFFERS = "256MB"
# the session's settings. JIT off: each statistic is one pass over the window with many
# expressions, and LLVM's inlining and optimisation of them took about a second of CPU a query
# (2.4 s at 1M rows under load) for no measurable gain in the pass itself
SESSION = {"work_mem": WORK_MEM, "temp_buffers": TEMP_BUFFERS, "jit": "off"}


def postgres_url(source: SourceSpec, spec: AuditSpec, field: str) -> str:
    """The source's URL as libpq understands it (SQLAlchemy's ``postgresql+psycopg://`` prefix)."""
    from ethics_audit.sources import sql_url, where_of

    url = sql_url(source, spec, field)
    scheme, _, rest = url.partition("://")
    if scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise SourceError(
            f"{where_of(spec, field)}: engine kind postgres runs the statistics inside a PostgreSQL source; "
            f"this source is {scheme.split('+')[0]} (use engine kind duckdb or memory)"
        )
    return f"postgresql://{rest}"


def in_same_database(source: SourceSpec, spec: AuditSpec) -> bool:
    """Whether ``source`` is a query on the window's own database (so it runs there too)."""
    if source.kind != "sql":
        return False
    try:
        return postgres_url(source, spec, "reference.baseline") == postgres_url(spec.source, spec, "source")
    except SourceError:
        return False


def connect(source: SourceSpec, spec: AuditSpec, field: str) -> Any:
    """Ibis' PostgreSQL backend on the source's database (one session, so temp tables are seen)."""
    import ibis

    from ethics_audit.sources import where_of

    url = postgres_url(source, spec, field)
    try:
        backend = ibis.connect(url)
        with backend.con.cursor() as cursor:
            for name, value in SESSION.items():
                cursor.execute(f"SET {name} = '{value}'")
        backend.con.commit()
        return backend
    except Exception as exc:  # noqa: BLE001 - drivers raise many types; their text may hold the URL
        raise SourceError(
            f"{where_of(spec, field)}: cannot connect to the database ({type(exc).__name__}); check url/connection"
        ) from None


def window_table(
    backend: Any,
    source: SourceSpec,
    spec: AuditSpec,
    field: str,
    *,
    start: datetime | None,
    end: datetime | None,
) -> ir.Table:
    """The spec's query run inside the database into a temporary table, the window bound."""
    from ethics_audit.sources import where_of, withhold_values
    from ethics_audit.windows import as_utc

    query = source.query or ""
    params = {
        "window_start": as_utc(start) if start is not None else None,
        "window_end": as_utc(end) if end is not None else None,
    }
    # psycopg's placeholders for the spec's bound names; a literal % of the query is doubled
    text = _BIND.sub(lambda m: f"%({m.group(1)})s", query.replace("%", "%%"))
    name = f"ethics_audit_{field.replace('.', '_')}_{next(_names)}"
    try:
        with backend.con.cursor() as cursor:
            cursor.execute(f'CREATE TEMP TABLE "{name}" AS {text}', params)
            cursor.execute(f'ANALYZE "{name}"')  # autovacuum never analyses a temporary table
        backend.con.commit()
    except Exception as exc:  # noqa: BLE001 - psycopg's errors may quote a value: withheld
        backend.con.rollback()
        detail = withhold_values(str(exc).splitlines()[0]) if str(exc) else type(exc).__name__
        raise SourceError(f"{where_of(spec, field)}: the query failed: {detail}") from None
    return backend.table(name)


def load_window(
    spec: AuditSpec,
    window_start: datetime,
    window_end: datetime,
    *,
    row_count_history: list[int] | None = None,
    now: datetime | None = None,
) -> Any:
    """``sources.load_window`` with the window and its previous-windows reference inside the
    source's PostgreSQL; a baseline and late labels are read as ``sources`` reads them and sent
    to the database as temporary tables (Ibis memtables)."""
    import ibis

    from ethics_audit.engine import Rows
    from ethics_audit.engine.files import in_utc
    from ethics_audit.engine.window import join_labels, on_engine
    from ethics_audit.sources import read_source, require_entity_column, where_of
    from ethics_audit.windows import as_utc

    start, end = as_utc(window_start), as_utc(window_end)
    backend = connect(spec.source, spec, "source")
    current = window_table(backend, spec.source, spec, "source", start=start, end=end)
    ts = spec.columns.timestamp
    if ts in current.columns:
        current = in_utc(current, ts, where_of(spec, "source"), backend)
    require_entity_column(spec, list(current.columns))
    if spec.labels is not None:
        current = join_labels(current, spec, start, end, backend)
    tables = {"current": Rows(current, backend, "postgres")}
    if spec.reference is not None and spec.reference.baseline is not None:
        baseline = spec.reference.baseline
        if in_same_database(baseline, spec):
            # read as ``sources`` reads a baseline: its query's window names bound to NULL
            reference = window_table(backend, baseline, spec, "reference.baseline", start=None, end=None)
            if ts in reference.columns:
                reference = in_utc(reference, ts, where_of(spec, "reference.baseline"), backend)
        else:
            reference = ibis.memtable(read_source(baseline, spec, "reference.baseline", timestamp=ts))
        tables["reference"] = Rows(reference, backend, "postgres")
    elif spec.reference is not None and spec.reference.previous_windows:
        from ethics_audit.calendar_windows import shift

        ref_start = shift(start, spec.window.size, -spec.reference.previous_windows, spec.timezone)
        reference = window_table(backend, spec.source, spec, "source", start=ref_start, end=start)
        if ts in reference.columns:
            reference = in_utc(reference, ts, where_of(spec, "source"), backend)
        if spec.labels is not None:
            reference = join_labels(reference, spec, ref_start, start, backend)
        tables["reference"] = Rows(reference, backend, "postgres")
    return on_engine(spec, start, end, tables, row_count_history=row_count_history, now=now)


def fetch(rows: Any, sql: str, *, reads: Any = None) -> list[tuple[Any, ...]]:
    """The rows of ``sql``, a statement Ibis cannot state (GROUPING SETS, PostgreSQL's own hash
    functions), run in the session of ``rows`` (a ``Rows`` on PostgreSQL); ``reads`` is the Ibis
    expression whose compiled SQL it embeds, so the memtables that expression reads are created first.
    Only identifiers of the table and numbers the statistics chose are in the text, never a value
    of the spec or of the window. What comes back is an aggregate, held to ``MAX_RESULT_ROWS``."""
    from ethics_audit.engine import MAX_RESULT_ROWS

    backend = rows.backend
    backend._run_pre_execute_hooks(rows.table if reads is None else reads)
    try:
        with backend.con.cursor() as cursor:
            cursor.execute(sql)
            out = cursor.fetchmany(MAX_RESULT_ROWS + 1)
        backend.con.commit()
    except Exception:
        backend.con.rollback()
        raise
    if len(out) > MAX_RESULT_ROWS:
        raise RuntimeError(f"an aggregate returned more than {MAX_RESULT_ROWS:,} rows: a statistic must stay small")
    return out


# GROUPING() takes at most 31 arguments: that many keys share one scan
GROUPING_MAX = 31


def grouped_counts(rows: Any, keys: dict[str, Any], *, distinct: bool = False) -> dict[str, Any]:
    """For each of ``keys`` (an Ibis expression over ``rows.table``, NULL where a row does not
    count), how many rows hold each of its values, ``{name: {value: rows}}``; with
    ``distinct=True`` only how many values, ``{name: count}`` (exact). Up to ``GROUPING_MAX``
    keys are counted in one scan with GROUPING SETS, which Ibis cannot state: Ibis' union of
    one GROUP BY per key scans the window once per key, and PostgreSQL's ``COUNT(DISTINCT)``
    sorts every row of each column on one core where a GROUP BY hashes them."""
    import ibis

    names = list(keys)
    out: dict[str, Any] = {name: (0 if distinct else {}) for name in names}
    for first in range(0, len(names), GROUPING_MAX):
        chunk = names[first : first + GROUPING_MAX]
        expr = rows.table.select(**{f"k{j}": keys[name] for j, name in enumerate(chunk)})
        columns = ", ".join(f'"k{j}"' for j in range(len(chunk)))
        sets = ", ".join(f'("k{j}")' for j in range(len(chunk)))
        sql = (
            f"SELECT GROUPING({columns}) AS g, {columns}, count(*) AS c "
            f"FROM ({ibis.to_sql(expr, dialect='postgres')}) AS t "
            f"GROUP BY GROUPING SETS ({sets}) HAVING num_nonnulls({columns}) > 0"
        )
        if distinct:
            sql = f"SELECT g, count(*) FROM ({sql}) AS s GROUP BY g"
        # GROUPING's bit for key j is set where the row is not grouped by it: all but one
        full = (1 << len(chunk)) - 1
        which = {full - (1 << (len(chunk) - 1 - j)): j for j in range(len(chunk))}
        for row in fetch(rows, sql, reads=expr):
            j = which[row[0]]
            if distinct:
                out[chunk[j]] = int(row[1])
            else:
                out[chunk[j]][row[1 + j]] = int(row[-1])  # psycopg's Python values
    return out
