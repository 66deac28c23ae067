"""A baseline reference's aggregates, computed once and kept for the next windows.

A ``reference.baseline`` is the same file every week, so every aggregate the families ask of it
(drift's profiles and value counts, the fairness reference's groups, the ledger's fingerprint...)
is the same every week too. The reference's ``Rows`` carries a ``Kept``: each small result it
computes is kept under ``$ETHICS_AUDIT_HOME/cache/reference``, keyed by

- the reference's identity: its files' paths, sizes and modification times (to the nanosecond),
  how the spec reads them, and the DuckDB and Ibis versions, so a changed file is a new
  reference; and
- the query: an Ibis expression by a digest of its operations and their arguments (``expression_key``:
  a millisecond, where compiling it to SQL for a key took 35 ms a query, half a second a run),
  a query written as SQL by its text; either with the reference's view named by a placeholder,
  and the engine's name.

A query that reads anything but the reference (the window, a table sent from memory) is never
kept. The window's own rows are never kept either: only a baseline reference gets a ``Kept``.
``ETHICS_AUDIT_REFERENCE_CACHE=off`` turns it off. The results are pickled pandas frames in the
home, which is the audit's own folder (its results database and signing key live there too).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ethics_audit.spec import AuditSpec, SourceSpec

CACHE_ENV = "ETHICS_AUDIT_REFERENCE_CACHE"
# bumped whenever what a kept result means changes
VERSION = 3
# the newest this many results are kept; older ones are removed as new ones are written
MAX_ENTRIES = 5000
_PLACEHOLDER = "__kept_reference__"
# another table in a query: the window, a frame sent from memory, another source
_OTHER_TABLE = re.compile(r"ethics_audit_|memtable")
# the view ``engine.files`` scans a baseline reference's files into (``_utc``: with its timestamps in UTC)
_VIEW = re.compile(r"ethics_audit_reference_baseline_\d+(?:_utc)?")
_pruned = False


def enabled() -> bool:
    return os.environ.get(CACHE_ENV, "").strip().lower() not in ("off", "0", "false", "no")


def folder() -> Path:
    from ethics_audit import settings

    return settings.home() / "cache" / "reference"


@dataclass(frozen=True)
class Kept:
    """Where a reference's results are kept: its identity, and the name of its view in the SQL."""

    identity: str
    view: str

    def key(self, sql: str) -> str | None:
        """The result's key, or None when the query reads more than the reference."""
        text = sql.replace(self.view, _PLACEHOLDER)
        if _PLACEHOLDER not in text or _OTHER_TABLE.search(text):
            return None
        return self._digest(text)

    def expression_key(self, expr: Any, engine: str) -> str | None:
        """The key of an Ibis expression's result on ``engine``, or None when it reads a table
        but the reference's view (or anything whose arguments do not say what it computes).

        Each operation is digested from its class and its arguments' digests; a value that is
        no operation by its type and ``repr`` (exact for the numbers, text, types and schemas
        Ibis holds). The Ibis version is part of the reference's identity."""
        import ibis.expr.operations as ops
        from ibis.common.graph import Node

        opaque = (ops.PhysicalTable, ops.SQLQueryResult, ops.SQLStringView, ops.ScalarUDF, ops.AggUDF)
        memo: dict[int, str] = {}

        def walk(value: Any) -> str:
            if isinstance(value, Node):
                found = memo.get(id(value))
                if found is None:
                    if isinstance(value, opaque):
                        if not (isinstance(value, ops.DatabaseTable) and value.name == self.view):
                            raise _NotKept
                        found = f"{_PLACEHOLDER}|{value.schema!r}"
                    else:
                        kind = type(value)
                        args = ",".join(
                            f"{n}={walk(a)}" for n, a in zip(value.__argnames__, value.__args__, strict=True)
                        )
                        found = hashlib.sha256(f"{kind.__module__}.{kind.__qualname__}({args})".encode()).hexdigest()
                    memo[id(value)] = found
                return found
            if isinstance(value, tuple | list):
                return f"{type(value).__name__}[{','.join(walk(v) for v in value)}]"
            if isinstance(value, Mapping):
                return f"{type(value).__name__}{{{','.join(f'{walk(k)}:{walk(v)}' for k, v in value.items())}}}"
            text = repr(value)
            if " at 0x" in text:  # an object's identity, not its value
                raise _NotKept
            return f"{type(value).__qualname__}:{text}"

        try:
            return self._digest(f"{engine}\n{walk(expr.op())}")
        except _NotKept:
            return None

    def _digest(self, query: str) -> str:
        return hashlib.sha256(f"{self.identity}\n{query}".encode()).hexdigest()

    def fetch(self, sql: str, compute: Callable[[], Any]) -> Any:
        """The kept result of ``sql``, else ``compute()``, kept for next time."""
        return self.fetch_key(self.key(sql), compute)

    def fetch_key(self, key: str | None, compute: Callable[[], Any]) -> Any:
        """The result kept under ``key``, else ``compute()``, kept for next time (None: not kept)."""
        if key is None:
            return compute()
        path = folder() / key[:2] / f"{key}.pickle"
        try:
            with path.open("rb") as handle:
                return pickle.load(handle)
        except (OSError, EOFError, pickle.UnpicklingError):
            pass
        value = compute()
        _write(path, value)
        return value


class _NotKept(Exception):
    """A query whose result is not the reference's alone."""


def for_reference(table: Any, source: SourceSpec, spec: AuditSpec, field: str) -> Kept | None:
    """The ``Kept`` of a baseline reference of files scanned by DuckDB as ``table`` (None when
    turned off, or when the table is not one view of the files)."""
    if not enabled() or source.kind != "file":
        return None
    import duckdb
    import ibis

    from ethics_audit.sources import resolve_files

    views = set(_VIEW.findall(ibis.to_sql(table, dialect="duckdb")))
    if len(views) != 1:
        return None
    files = resolve_files(source, spec, field)
    stats = []
    for path in files:
        st = path.stat()
        stats.append([str(path.resolve()), st.st_size, st.st_mtime_ns])
    identity = json.dumps(
        {
            "version": VERSION,
            "files": stats,
            "source": source.model_dump(mode="json"),
            "duckdb": duckdb.__version__,
            "ibis": ibis.__version__,
        },
        sort_keys=True,
    )
    return Kept(identity, views.pop())


def _write(path: Path, value: Any) -> None:
    """Written whole or not at all (a temporary file renamed), then the oldest results pruned."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")  # families run in threads
        with temporary.open("wb") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
        _prune(path.parent.parent)
    except OSError:
        pass  # a cache that cannot be written only costs the next run the scan


def _prune(root: Path) -> None:
    """Once per process: only the newest ``MAX_ENTRIES`` results stay."""
    global _pruned
    if _pruned:
        return
    _pruned = True
    entries = list(root.glob("*/*.pickle"))
    if len(entries) <= MAX_ENTRIES:
        return
    entries.sort(key=lambda p: p.stat().st_mtime_ns)
    for stale in entries[: len(entries) - MAX_ENTRIES]:
        stale.unlink(missing_ok=True)
