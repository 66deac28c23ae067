"""What the incident lifecycle adds to recording a window, as results, incidents and history grow.

Records ``--windows`` weekly windows of ``--results`` metric results each into a fresh store
(SQLite by default, or ``--db-url``). Each window a random ``--breaching`` of them, drawn from
a pool three times that size, breach (so incidents open, update, resolve and reopen), and
every ``--backfill-every`` windows an old window is re-run. Prints one JSON document: seconds
per ``record_window`` and the parts of it spent in ``recording.incidents.advance`` and in appending the
window's ledger entry (median and max), and how many incidents, alerts and notifications came
out.

Each window's findings are recorded twice, into two stores, one right after the other: one
with the ledger and one without (``--no-ledger`` keeps only the second). Pairing the two
makes the ledger's cost readable on a busy machine, where the load swings more between runs
than the append costs: ``ledger_cost`` gives the append's median share of ``record_window``
(the append is timed after flushing what the rest of ``record_window`` left pending, so it
counts the ledger's own work only) and the median of the paired differences.

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


def _stats(seconds: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(seconds), 4), "max": round(max(seconds), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=52)
    parser.add_argument("--results", type=int, default=1000)
    parser.add_argument("--breaching", type=int, default=40)
    parser.add_argument("--backfill-every", type=int, default=10)
    parser.add_argument("--db-url", default=None, help="the ledger store (the other one is a SQLite file)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-ledger", action="store_true", help="only the store without the ledger")
    args = parser.parse_args()

    from ethics_audit.evaluate import judge_all
    from ethics_audit.recording import incidents, record_window
    from ethics_audit.results import MetricResult, Threshold
    from ethics_audit.spec import parse_spec
    from ethics_audit.store import Store, ledger

    folder = tempfile.TemporaryDirectory(prefix="ethics-audit-bench-")  # removed at the end
    stores = {} if args.no_ledger else {"ledger": Store(args.db_url or f"sqlite:///{folder.name}/ledger.db")}
    stores["no_ledger"] = Store(f"sqlite:///{folder.name}/no-ledger.db")
    spec = parse_spec(
        "id: bench\nmodel: {name: m, version: '1'}\nwindow: {size: 7d}\n"
        "source: {path: x.parquet}\ncolumns: {entity_id: u, timestamp: ts}\n"
    )
    current = {"name": ""}  # the store being recorded into
    seconds: dict[str, dict[str, list[float]]] = {name: {"record": [], "advance": [], "append": []} for name in stores}
    original = incidents.advance

    def timed(*a, **k):
        t0 = time.perf_counter()
        try:
            return original(*a, **k)
        finally:
            seconds[current["name"]]["advance"].append(time.perf_counter() - t0)

    append_window = ledger.append_window

    def timed_append(s, *a, **k):
        if current["name"] != "ledger":
            return None
        s.flush()  # what record_window left pending is its cost, not the ledger's
        t0 = time.perf_counter()
        try:
            return append_window(s, *a, **k)
        finally:
            seconds["ledger"]["append"].append(time.perf_counter() - t0)

    incidents.advance = timed
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

    for week in range(args.windows):
        plan = [week] + (
            [rng.randrange(week)] if args.backfill_every and week and week % args.backfill_every == 0 else []
        )
        for w in plan:
            findings = window(w)
            ws = start + timedelta(weeks=w)
            # alternate which store goes first, so neither always gets the warmer cache
            for name in sorted(stores, reverse=bool(week % 2)):
                store = stores[name]
                current["name"] = name
                run_id = store.begin_run(spec, ws, ws + timedelta(weeks=1))
                t0 = time.perf_counter()
                record_window(
                    store,
                    run_id,
                    spec,
                    findings,
                    status="succeeded",
                    rows=1,
                    reference_rows=None,
                    timings={},
                    summary={},
                )
                seconds[name]["record"].append(time.perf_counter() - t0)
    incidents.advance = original
    ledger.append_window = append_window
    out: dict = {
        "db": (args.db_url or "sqlite").split(":", 1)[0],
        "windows": args.windows,
        "results_per_window": args.results,
        "breaching_per_window": args.breaching,
    }
    for name, store in stores.items():
        out[name] = {
            "record_window_s": _stats(seconds[name]["record"]),
            "advance_s": _stats(seconds[name]["advance"]),
            **({"ledger_append_s": _stats(seconds[name]["append"])} if seconds[name]["append"] else {}),
            "incidents": len(store.incidents(statuses=[], limit=100000)),
            "alerts": len(store.alerts()),
            "notifications": len(store.notifications(limit=100000)),
        }
        store.dispose()
    folder.cleanup()
    if "ledger" in stores:
        with_, without = seconds["ledger"]["record"], seconds["no_ledger"]["record"]
        append = statistics.median(seconds["ledger"]["append"])
        paired = statistics.median(a - b for a, b in zip(with_, without, strict=True))
        out["ledger_cost"] = {
            "append_median_s": round(append, 4),
            "append_share_of_record_window_pct": round(100 * append / statistics.median(with_), 1),
            "paired_difference_median_s": round(paired, 4),
            "paired_difference_pct": round(100 * paired / statistics.median(without), 1),
            "budget_pct": 5.0,
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
