"""The families after quality run side by side on DuckDB, each on its own connection.

DuckDB scans a parquet file's row groups in parallel, one per thread, so a 1M-row window in one
row group (pyarrow's default) is scanned on one core by every query, and a family's queries run
one after another: the second core waited. Run side by side, drift's queries overlap fairness'
and privacy's. Each family gets a view of the window (``for_thread``): the same tables on a new
connection to the same database (a DuckDB cursor: the database's views, memory limit and thread
pool, a session of its own, as ``engine.fingerprint.started`` uses) and its own list of
artifacts, so no two threads ever share a connection. The results are the same as one after
another (tests/engine/test_parallel.py holds them equal), in the same order.

Only where every table is on DuckDB, the window's rows stayed there and every family computes
there (a family that would load the frames runs them in turn, as before); quality runs first,
alone, since it may block the others. DuckDB's memory limit holds for all the connections
together: a family that runs out of it beside the others is run again alone after them.
``ETHICS_AUDIT_PARALLEL=off`` runs them in turn.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ethics_audit.engine import OUT_OF_MEMORY

if TYPE_CHECKING:
    from ethics_audit.data import AuditData

log = logging.getLogger(__name__)

PARALLEL_ENV = "ETHICS_AUDIT_PARALLEL"
# families at once: the machine's cores, at least two (DuckDB's own pool runs their scans)
WORKERS = max(2, os.cpu_count() or 2)


def eligible(data: AuditData, families: list[str]) -> bool:
    """Whether ``families`` can run side by side on ``data`` (see the module's docstring)."""
    from ethics_audit.engine.window import reads_rows

    if os.environ.get(PARALLEL_ENV, "").strip().lower() in ("off", "0", "false", "no"):
        return False
    tables = data.tables
    return (
        len(families) > 1
        and data.current is None
        and "current" in tables
        and data.rows > 0
        and all(rows.engine == "duckdb" for rows in tables.values())
        and all(reads_rows(family) for family in families)
    )


def for_thread(data: AuditData) -> tuple[AuditData, Callable[[], None]]:
    """A view of ``data`` whose tables are on a new connection to the same DuckDB database, with
    its own artifacts (``derived`` is shared: its keys are per family); and what closes it."""
    import ibis

    cursor = data.tables["current"].backend.con.cursor()
    backend = ibis.duckdb.from_connection(cursor)  # its session in UTC, as duckdb_backend's
    tables = {}
    for name, rows in data.tables.items():
        tables[name] = dataclasses.replace(rows, backend=backend)
        tables[name]._count = rows._count
    view = dataclasses.replace(data, artifacts=[], tables=tables)
    return view, cursor.close


def side_by_side(families: list[str], data: AuditData, run: Callable[[str, AuditData], Any]) -> list[Any]:
    """``run(family, view)`` of each family in threads, each on its own view; results in order."""
    from concurrent.futures import ThreadPoolExecutor

    def one(family: str) -> Any:
        try:
            view, close = for_thread(data)
        except Exception as exc:  # noqa: BLE001 - the family runs after the others, on the audit's connection
            log.warning("the %s family could not open a connection of its own (%s)", family, type(exc).__name__)
            return None
        try:
            return run(family, view)
        finally:
            close()

    with ThreadPoolExecutor(min(WORKERS, len(families)), thread_name_prefix="ethics-audit-family") as pool:
        outputs = list(pool.map(one, families))
    # DuckDB's memory limit is the database's, all its connections together: a family that ran out
    # of it beside the others (or could not open a connection) runs again alone, on the audit's own
    # connection, as it would have one after another
    for k, output in enumerate(outputs):
        if output is None or ran_out_of_memory(output):
            log.warning("the %s family runs again alone, after the others (DuckDB's memory limit)", families[k])
            outputs[k] = run(families[k], data)
    return outputs


def ran_out_of_memory(output: Any) -> bool:
    """Whether the family, or one of its parts (``checks.parts``), failed on DuckDB's memory limit."""
    errors = [output.reason, *(str(r.details.get("error", "")) for r in output.results if r.metric == "check_error")]
    return any(error.startswith(OUT_OF_MEMORY) for error in errors)
