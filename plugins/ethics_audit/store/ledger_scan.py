"""The digest of every stored window's metric results, run by run, on all the machine's cores.

``verify`` recomputes each current window's results digest from ``metric_results``: millions
of rows, serialised by ``ledger_read.iter_result_groups``. Above ``PARALLEL_ROWS`` the runs are
split into chunks of consecutive run ids and scanned by worker processes (``spawn``: a fresh
interpreter, its own engine, nothing inherited from the caller's connections); the chunks come
back in run order, so what a verification reports does not depend on how it was split. On
PostgreSQL the workers read the caller's snapshot (``pg_export_snapshot``), so they see exactly
what the caller's transaction sees; an in-memory SQLite database, and any store from a daemonic
process, is scanned in-process.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ethics_audit.ledger import canonical
from ethics_audit.store.ledger_read import iter_result_groups

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.orm import Session

PARALLEL_ROWS = 300_000  # below this, starting the processes costs more than they save
CHUNK_RUNS = 25  # runs per task: small enough to spread evenly, large enough to stream well
WORKERS_ENV = "ETHICS_AUDIT_VERIFY_WORKERS"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunDigest:
    """What the scan learned of one run's stored results.

    ``matches``: the digest equals the expected one. ``first``: the first row's text, for a run
    no entry expects (it names the window). ``rows``: ``(row id, text)`` of a run whose digest
    differs, to diff against the entry's evidence.
    """

    run_id: int
    count: int
    matches: bool
    first: str | None = None
    rows: list[tuple[int, str]] | None = None


def digest_runs(groups: Iterable[tuple[int, list[int], list[str]]], expected: dict[int, str]) -> list[RunDigest]:
    out = []
    for run_id, ids, texts in groups:
        want = expected.get(run_id)
        if want is None:
            out.append(RunDigest(run_id, len(ids), False, first=texts[0]))
        elif canonical.sha256(canonical.results_document(texts)) == want:
            out.append(RunDigest(run_id, len(ids), True))
        else:
            out.append(RunDigest(run_id, len(ids), False, rows=list(zip(ids, texts, strict=True))))
    return out


def workers_wanted() -> int:
    text = os.environ.get(WORKERS_ENV, "")
    if text.strip().isdigit():
        return max(1, int(text))
    return min(os.cpu_count() or 1, 8)


@contextmanager
def scan(
    s: Session | Connection,
    run_ids: list[int] | None,
    expected: dict[int, str],
    *,
    rows_hint: int,
    workers: int | None = None,
) -> Iterator[Iterator[RunDigest]]:
    """The ``RunDigest`` of every run in ``run_ids`` (None: every run that has results), in run
    order, as an iterator. With workers, every chunk is handed out on entry, so the caller can
    do its own work on the session before it reads the digests."""
    bind = s.connection() if hasattr(s, "connection") and not hasattr(s, "dialect") else s
    workers = workers_wanted() if workers is None else workers
    url = bind.engine.url
    dialect = bind.dialect.name
    import multiprocessing

    in_memory = dialect == "sqlite" and url.database in (None, "", ":memory:")
    # a daemonic process (a Celery or multiprocessing pool worker) may not start processes
    daemon = multiprocessing.current_process().daemon
    if workers <= 1 or rows_hint < PARALLEL_ROWS or in_memory or daemon or dialect not in ("sqlite", "postgresql"):
        yield iter(digest_runs(iter_result_groups(bind, run_ids), expected))
        return
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    from sqlalchemy import text

    ids = sorted(run_ids) if run_ids is not None else _run_ids_with_results(bind)
    chunks = [ids[i : i + CHUNK_RUNS] for i in range(0, len(ids), CHUNK_RUNS)]
    snapshot = bind.execute(text("SELECT pg_export_snapshot()")).scalar_one() if dialect == "postgresql" else None
    pool = ProcessPoolExecutor(
        min(workers, len(chunks)) or 1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(url.render_as_string(hide_password=False), snapshot),
    )
    wanted = [{r: expected[r] for r in c if r in expected} for c in chunks]

    def digests() -> Iterator[RunDigest]:
        for chunk, want, future in zip(chunks, wanted, futures, strict=True):
            try:
                part = future.result()
            except BrokenProcessPool:  # a worker died (killed, out of memory): this process scans it
                log.warning("a verify worker process stopped; scanning runs %s-%s in-process", chunk[0], chunk[-1])
                part = digest_runs(iter_result_groups(bind, chunk), want)
            yield from part

    try:
        futures = [pool.submit(_scan_chunk, c, w) for c, w in zip(chunks, wanted, strict=True)]
        yield digests()
    finally:
        pool.shutdown(cancel_futures=True)


def _run_ids_with_results(bind: Connection) -> list[int]:
    from sqlalchemy import text

    return list(bind.execute(text("SELECT DISTINCT run_id FROM metric_results ORDER BY run_id")).scalars())


_worker: dict[str, Any] = {}


def _start_worker(url: str, snapshot: str | None) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})
    conn = engine.connect()
    if snapshot is not None:  # the caller's snapshot: see exactly what its transaction sees
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
    _worker["conn"] = conn


def _scan_chunk(run_ids: list[int], expected: dict[int, str]) -> list[RunDigest]:
    return digest_runs(iter_result_groups(_worker["conn"], run_ids), expected)
