"""What the incident lifecycle adds to recording a window, as results, incidents and history grow.

Records ``--windows`` weekly windows of ``--results`` metric results each into a fresh store
(SQLite by default, or ``--db-url``). Each window a random ``--breaching`` of them, drawn from
a pool three times that size, breach (so incidents open, update, resolve and reopen), and
every ``--backfill-every`` windows an old window is re-run. Prints one JSON document: seconds
per ``record_window`` and the parts of it spent in ``incidents.advance`` and in appending the
window's ledger entry (median and max), and how many incidents, alerts and notifications came
out. ``--no-ledger`` skips the ledger append, to measure what it costs.

    PYTHONPATH=plugins:. python bench/incidents_advance.py --windows 52 --results 1000 --breaching 40
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=52)
    parser.add_argument("--results", type=int, default=1000)
    parser.add_argument("--breaching", type=int, default=40)
    parser.add_argument("--backfill-every", type=int, default=10)
    parser.add_argument("--db-url", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-ledger", action="store_true", help="skip the ledger append (the 'before' figure)")
    args = parser.parse_args()

    from ethics_audit import incidents
    from ethics_audit.evaluate import judge_all
    from ethics_audit.results import MetricResult, Threshold
    from ethics_audit.spec import parse_spec
    from ethics_audit.store import Store

    url = args.db_url or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    store = Store(url)
    spec = parse_spec(
        "id: bench\nmodel: {name: m, version: '1'}\nwindow: {size: 7d}\n"
        "source: {path: x.parquet}\ncolumns: {entity_id: u, timestamp: ts}\n"
    )
    advance_seconds: list[float] = []
    original = incidents.advance

    def timed(*a, **k):
        t0 = time.perf_counter()
        try:
            return original(*a, **k)
        finally:
            advance_seconds.append(time.perf_counter() - t0)

    incidents.advance = timed
    from ethics_audit.store import ledger

    ledger_seconds: list[float] = []
    append_window = ledger.append_window

    def timed_append(*a, **k):
        t0 = time.perf_counter()
        try:
            return None if args.no_ledger else append_window(*a, **k)
        finally:
            ledger_seconds.append(time.perf_counter() - t0)

    ledger.append_window = timed_append
    rng = random.Random(args.seed)
    threshold = Threshold(warn=0.1, critical=0.2)
    checks = ("quality", "drift", "fairness", "privacy")
    pool = rng.sample(range(args.results), min(args.results, 3 * args.breaching))
    start = datetime(2026, 1, 5, tzinfo=timezone.utc)

    def window(week: int) -> list:
        breaching = set(rng.sample(pool, args.breaching))
        return judge_all(
            MetricResult(
                checks[i % 4],
                f"metric_{i % 25}",
                (0.25 if rng.random() < 0.3 else 0.15) if i in breaching else 0.02,
                slice={"group": f"g{i // 25}"},
                n=1000,
                threshold=threshold,
            )
            for i in range(args.results)
        )

    record_seconds = []
    order = list(range(args.windows))
    for week in order:
        plan = [week] + (
            [rng.randrange(week)] if args.backfill_every and week and week % args.backfill_every == 0 else []
        )
        for w in plan:
            findings = window(w)
            ws = start + timedelta(weeks=w)
            run_id = store.begin_run(spec, ws, ws + timedelta(weeks=1))
            t0 = time.perf_counter()
            store.record_window(
                run_id, spec, findings, status="succeeded", rows=1, reference_rows=None, timings={}, summary={}
            )
            record_seconds.append(time.perf_counter() - t0)
    incidents.advance = original
    ledger.append_window = append_window
    out = {
        "db": url.split(":", 1)[0],
        "windows": args.windows,
        "results_per_window": args.results,
        "breaching_per_window": args.breaching,
        "record_window_s": {
            "median": round(statistics.median(record_seconds), 4),
            "max": round(max(record_seconds), 4),
        },
        "advance_s": {"median": round(statistics.median(advance_seconds), 4), "max": round(max(advance_seconds), 4)},
        "ledger": not args.no_ledger,
        "ledger_append_s": {
            "median": round(statistics.median(ledger_seconds), 4),
            "max": round(max(ledger_seconds), 4),
        },
        "incidents": len(store.incidents(statuses=[], limit=100000)),
        "alerts": len(store.alerts()),
        "notifications": len(store.notifications(limit=100000)),
    }
    store.dispose()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
