"""How long ``ethics-audit verify`` takes on a year of weekly windows for many audits.

Populates a store (SQLite by default, or ``--db-url``) with ``--audits`` audits of
``--windows`` weekly windows of ``--results`` metric results each, by bulk inserts plus the
same ledger append ``record_window`` makes (so the entries are exactly what production
writes), checkpoints it, then times ``verify_store`` over everything. Prints one JSON document
with the wall and CPU seconds and the microseconds per result.

The SQLite fixture is kept in a file (``--fixture``, by default under /tmp, named by its
size and seed) and reused by later runs: building the full size (2.6 M results) takes
minutes, verifying it is what is measured. The checkpoint's key is derived from the seed,
so a reused fixture verifies against the same public key. ``--fresh`` rebuilds it.

    PYTHONPATH=plugins:. python bench/ledger_verify.py --audits 50 --windows 52 --results 1000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path


def _row_inserter(store):
    """``insert_rows(session, rows)``: one executemany of metric_results rows.

    On SQLite through the driver's cursor, with each column's bind processing applied once
    per distinct value (the fixture repeats its slices, thresholds and timestamps): the ORM
    path spends most of the fixture's time converting parameters. Elsewhere the ORM insert.
    """
    from sqlalchemy import insert

    from ethics_audit.store.models import MetricResultRow

    if store.engine.dialect.name != "sqlite":
        return lambda s, rows: s.execute(insert(MetricResultRow), rows)
    table = MetricResultRow.__table__
    dialect = store.engine.dialect
    names = [(c.key, attr) for attr, c in MetricResultRow.__mapper__.columns.items() if c.key != "id"]
    processors = [table.c[key].type.bind_processor(dialect) for key, _ in names]
    sql = f"INSERT INTO metric_results ({', '.join(k for k, _ in names)}) VALUES ({', '.join('?' * len(names))})"
    memo: dict = {}

    def bound(i: int, value):
        process = processors[i]
        if process is None or value is None or type(value) in (str, int, float):
            return value if process is None or value is None else process(value)
        held = memo.get((i, id(value)))
        if held is None or held[0] is not value:  # the value is held, so its id is not reused
            held = memo[(i, id(value))] = (value, process(value))
        return held[1]

    def insert_rows(s, rows) -> None:
        params = [tuple(bound(i, row[attr]) for i, (_, attr) in enumerate(names)) for row in rows]
        s.connection().connection.driver_connection.cursor().executemany(sql, params)

    return insert_rows


def populate(store, *, audits: int, windows: int, results: int, seed: int) -> None:
    from ethics_audit.results import slice_key
    from ethics_audit.spec import parse_spec
    from ethics_audit.store import ledger
    from ethics_audit.store.models import AuditRun, AuditWindow, SpecSnapshot

    insert_rows = _row_inserter(store)
    rng = random.Random(seed)
    start = datetime(2026, 1, 5, tzinfo=timezone.utc)
    threshold = {"direction": "above", "warn": 0.1, "critical": 0.2}
    checks = ("quality", "drift", "fairness", "privacy")
    slices = [{"group": f"g{i // 25}"} for i in range(results)]
    keys = [slice_key(s) for s in slices]
    for a in range(audits):
        spec = parse_spec(
            f"id: audit-{a:02d}\nmodel: {{name: m{a}, version: '1'}}\nwindow: {{size: 7d}}\n"
            "source: {path: x.parquet}\ncolumns: {entity_id: u, timestamp: ts}\n"
        )
        spec_json = spec.model_dump(mode="json")
        with store.session() as s:  # one transaction per audit: a year of its windows
            s.add(SpecSnapshot(spec_hash=spec.spec_hash(), audit_id=spec.id, spec=spec_json))
            for w in range(windows):
                ws = start + timedelta(weeks=w)
                we = ws + timedelta(weeks=1)
                run = AuditRun(
                    audit_id=spec.id,
                    window_start=ws,
                    window_end=we,
                    spec_hash=spec.spec_hash(),
                    status="succeeded",
                    trigger="bench",
                    rows=10000,
                    started_at=we,
                    finished_at=we,
                    timings={},
                    summary={},
                )
                s.add(run)
                s.flush()
                rows = []
                for i in range(results):
                    value = rng.random() * 0.25
                    severity = "critical" if value >= 0.2 else "warn" if value >= 0.1 else "ok"
                    rows.append(
                        {
                            "run_id": run.id,
                            "audit_id": spec.id,
                            "window_start": ws,
                            "window_end": we,
                            "check": checks[i % 4],
                            "metric": f"metric_{i % 25}",
                            "slice": slices[i],
                            "slice_key": keys[i],
                            "value": value,
                            "ci_low": None,
                            "ci_high": None,
                            "n": 1000,
                            "threshold": threshold,
                            "severity": severity,
                            "reason": "",
                            "details": {},
                        }
                    )
                insert_rows(s, rows)
                s.add(
                    AuditWindow(
                        audit_id=spec.id,
                        window_start=ws,
                        window_end=we,
                        current_run_id=run.id,
                        status="succeeded",
                        worst_severity="critical",
                    )
                )
                ledger.append_window(
                    s, run, rows, spec=spec_json, worst_severity="critical", fingerprint=None, recorded_at=we
                )


def bench_key(seed: int):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"ledger-bench-{seed}".encode()).digest())


def fixture(args: argparse.Namespace) -> tuple[str, float | None]:
    """The store's URL and how long building it took (None when an earlier run's was reused)."""
    from ethics_audit.ledger.checkpoint import make_checkpoint
    from ethics_audit.store import Store

    if args.db_url:  # a server the caller prepared (an empty database): build it every time
        path, url = None, args.db_url
    else:
        path = Path(
            args.fixture
            or f"/tmp/ethics-audit-ledger-bench-{args.audits}x{args.windows}x{args.results}-s{args.seed}.db"
        )
        url = f"sqlite:///{path}"
        if path.exists() and not args.fresh:
            return url, None
        building = path.with_suffix(".building")
        building.unlink(missing_ok=True)
        url_building = f"sqlite:///{building}"
    t0 = time.perf_counter()
    store = Store(url if path is None else url_building)
    populate(store, audits=args.audits, windows=args.windows, results=args.results, seed=args.seed)
    make_checkpoint(store, key=bench_key(args.seed), note="bench", now=datetime(2027, 1, 4, tzinfo=timezone.utc))
    store.dispose()
    if path is not None:
        os.replace(building, path)  # only a complete fixture gets the name a later run reuses
        building.with_name(building.name + ".migrate-lock").unlink(missing_ok=True)  # the store's file lock
    return url, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audits", type=int, default=50)
    parser.add_argument("--windows", type=int, default=52)
    parser.add_argument("--results", type=int, default=1000)
    parser.add_argument("--db-url", default=None, help="an empty database to populate (default: a cached SQLite file)")
    parser.add_argument("--fixture", default=None, help="the SQLite fixture file (default: under /tmp, by size)")
    parser.add_argument("--fresh", action="store_true", help="rebuild the fixture even if it exists")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="processes for the results (default: one per core)")
    args = parser.parse_args()

    from ethics_audit.ledger.verify import verify_store
    from ethics_audit.store import Store
    from ethics_audit.store.ledger_scan import PARALLEL_ROWS, workers_wanted

    url, populate_s = fixture(args)
    store = Store(url)
    t0, c0 = time.perf_counter(), time.process_time()
    result = verify_store(store, public_key=bench_key(args.seed).public_key(), workers=args.workers)
    verify_s, verify_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    store.dispose()
    n = result.checked["results"]
    print(
        json.dumps(
            {
                "db": url.split(":", 1)[0],
                "fixture": url if not args.db_url else "(--db-url)",
                "audits": args.audits,
                "windows": args.audits * args.windows,
                "results": n,
                "entries": result.entries,
                "verified": result.ok,
                "populate_s": None if populate_s is None else round(populate_s, 1),
                "verify_s": round(verify_s, 2),
                # CPU seconds of this process (worker processes not included)
                "verify_cpu_s": round(verify_cpu_s, 2),
                # processes that scanned the results (small stores are scanned in this one)
                "workers": (args.workers or workers_wanted()) if n >= PARALLEL_ROWS else 1,
                "us_per_result": round(1e6 * verify_s / max(n, 1), 2),
                "load_average": round(os.getloadavg()[0], 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
