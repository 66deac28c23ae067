"""How long ``ethics-audit verify`` takes on a year of weekly windows for many audits.

Populates a fresh store (SQLite by default, or ``--db-url``) with ``--audits`` audits of
``--windows`` weekly windows of ``--results`` metric results each, by bulk inserts plus the
same ledger append ``record_window`` makes (so the entries are exactly what production
writes), checkpoints it, then times ``verify_store`` over everything. Prints one JSON document.

    PYTHONPATH=plugins:. python bench/ledger_verify.py --audits 50 --windows 52 --results 1000
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import datetime, timedelta, timezone


def populate(store, *, audits: int, windows: int, results: int, seed: int) -> None:
    from sqlalchemy import insert

    from ethics_audit.results import slice_key
    from ethics_audit.spec import parse_spec
    from ethics_audit.store import ledger
    from ethics_audit.store.models import AuditRun, AuditWindow, MetricResultRow, SpecSnapshot

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
        with store.session() as s:
            s.add(SpecSnapshot(spec_hash=spec.spec_hash(), audit_id=spec.id, spec=spec_json))
        for w in range(windows):
            ws = start + timedelta(weeks=w)
            we = ws + timedelta(weeks=1)
            with store.session() as s:
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
                s.execute(insert(MetricResultRow), rows)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audits", type=int, default=50)
    parser.add_argument("--windows", type=int, default=52)
    parser.add_argument("--results", type=int, default=1000)
    parser.add_argument("--db-url", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ethics_audit import ledger
    from ethics_audit.ledger.verify import verify_store
    from ethics_audit.store import Store

    url = args.db_url or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    store = Store(url)
    t0 = time.perf_counter()
    populate(store, audits=args.audits, windows=args.windows, results=args.results, seed=args.seed)
    populate_s = time.perf_counter() - t0
    key = Ed25519PrivateKey.generate()
    ledger.make_checkpoint(store, key=key, note="bench")
    t0, c0 = time.perf_counter(), time.process_time()
    result = verify_store(store, public_key=key.public_key())
    verify_s, verify_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    store.dispose()
    print(
        json.dumps(
            {
                "db": url.split(":", 1)[0],
                "audits": args.audits,
                "windows": args.audits * args.windows,
                "results": result.checked["results"],
                "entries": result.entries,
                "verified": result.ok,
                "populate_s": round(populate_s, 1),
                "verify_s": round(verify_s, 2),
                # CPU seconds of this process: on a shared machine the wall clock also counts others' work
                "verify_cpu_s": round(verify_cpu_s, 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
