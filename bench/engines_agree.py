"""Do the engines agree? One audit of the same generated window on each engine, compared.

    python bench/engines_agree.py --engines duckdb,spark[,postgres] [--rows 100000] [--data DIR] [--json]

Generates the data as ``bench/audit_throughput.py`` does (``--data DIR`` shares its folders),
then runs ``runner.audit_window`` with every family on, once per engine, each in a fresh
process (PostgreSQL gets the parquet loaded into a scratch database first, with
``bench/postgres_load.py`` as ``audit_throughput --engine postgres`` does, dropped after). The
first engine is the standard the others are held to, result by result (check, metric, slice):

- status, severity and n exactly;
- the value exactly when it is a whole number (a count); within the sum of the two runs'
  ``details.error_bound`` when either states one (drift's binned distances); otherwise within
  1e-9 relative (a rate summed in another order may differ in the last digits).

Prints each engine's seconds and peak RSS (its process tree: Spark's JVM counted) and a verdict;
exits 1 when they disagree.
"""

from __future__ import annotations

import argparse
import atexit
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import audit_throughput as bench

REL_TOL = 1e-9


def audit(folder: str, queue: Any, engine: str, pg_url: str | None = None, spark_master: str | None = None) -> None:
    """One audit on ``engine`` in this (fresh) process; puts its results and timings on ``queue``."""
    bench._env()
    os.environ["ETHICS_AUDIT_HOME"] = str(Path(folder) / f"home-agree-{engine}")
    import yaml

    from bench.synthetic import window
    from ethics_audit.runner import audit_window
    from ethics_audit.spec import load_spec
    from ethics_audit.store import Store

    spec_path = Path(folder) / f"agree-{engine}.yaml"
    spec_path.write_text(yaml.safe_dump(bench.spec_for(engine, pg_url=pg_url, spark_master=spark_master)))
    spec = load_spec(spec_path)
    start_seconds = bench._start_engine(spec)
    store = Store(f"sqlite:///{Path(folder) / f'agree-{engine}-{os.getpid()}.db'}")
    start, end = window()
    t0 = time.perf_counter()
    outcome = audit_window(spec, start, end, store=store, trigger="bench")
    seconds = time.perf_counter() - t0
    results = []
    for finding in outcome.findings:
        r = finding.result
        results.append(
            {
                "key": [r.check, r.metric, json.dumps(r.slice, sort_keys=True, default=str)],
                "status": getattr(r.status, "value", str(r.status)),
                "severity": finding.severity.value,
                "n": r.n,
                "value": r.value,
                "bound": (r.details or {}).get("error_bound"),
            }
        )
    queue.put(
        {
            "engine": engine,
            "seconds": seconds,
            "engine_start_seconds": start_seconds,
            "peak_rss_mb": bench._peak_rss_mb(),
            "status": outcome.status,
            "results": results,
        }
    )


def same_value(a: Any, b: Any, bound_a: Any, bound_b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if bound_a is not None or bound_b is not None:
        return abs(a - b) <= float(bound_a or 0) + float(bound_b or 0) + 1e-12
    if a.is_integer() and b.is_integer():
        return a == b
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-12)


def compare(standard: dict[str, Any], other: dict[str, Any]) -> list[str]:
    """What ``other`` reports differently from ``standard`` (no values quoted beyond the numbers)."""
    ours = {tuple(r["key"]): r for r in standard["results"]}
    theirs = {tuple(r["key"]): r for r in other["results"]}
    problems = [f"{other['engine']} lacks {k[0]}.{k[1]} {k[2]}" for k in ours.keys() - theirs.keys()]
    problems += [f"{other['engine']} adds {k[0]}.{k[1]} {k[2]}" for k in theirs.keys() - ours.keys()]
    for key in sorted(ours.keys() & theirs.keys()):
        a, b = ours[key], theirs[key]
        what = f"{key[0]}.{key[1]} {key[2]}"
        for name in ("status", "severity", "n"):
            if a[name] != b[name]:
                problems.append(f"{what}: {name} {a[name]} on {standard['engine']}, {b[name]} on {other['engine']}")
        if not same_value(a["value"], b["value"], a["bound"], b["bound"]):
            problems.append(f"{what}: value {a['value']} on {standard['engine']}, {b['value']} on {other['engine']}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="duckdb,spark", help="comma-separated; the first is the standard")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--data", type=Path, help="folder for the generated parquet (shared with audit_throughput)")
    parser.add_argument("--spark-master", help=f"the Spark master (default {bench.SPARK_MASTER})")
    parser.add_argument(
        "--pg-server",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="postgres: the server where a scratch database is loaded (and dropped after)",
    )
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()
    bench._env()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in bench.ENGINES]
    if len(engines) < 2 or unknown:
        parser.error(
            f"--engines: give two or more of {', '.join(bench.ENGINES)}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    with tempfile.TemporaryDirectory(prefix="ea-agree-") as scratch:
        folder = args.data / str(args.rows) if args.data else Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        bench.generate(folder, args.rows)
        pg_url = None
        if "postgres" in engines:
            from bench import postgres_load

            database = f"ea_agree_{args.rows}_{os.getpid()}"
            pg_url = postgres_load.load(folder, args.pg_server, name=database)
            atexit.register(postgres_load.drop, args.pg_server, database)
        runs = []
        for engine in engines:
            runs.append(bench._child(audit, str(folder), engine, pg_url, args.spark_master))
            if not args.json:
                run = runs[-1]
                print(
                    f"{engine}: {run['seconds']:.2f} s, {run['peak_rss_mb']:.0f} MB peak, "
                    f"{len(run['results'])} results, status {run['status']}"
                    + (
                        f" (session start {run['engine_start_seconds']:.1f} s, not timed)"
                        if run["engine_start_seconds"]
                        else ""
                    ),
                    file=sys.stderr,
                )
    problems = [p for run in runs[1:] for p in compare(runs[0], run)]
    verdict = "agree" if not problems else "disagree"
    summary = {
        "rows": args.rows,
        "standard": engines[0],
        "engines": {
            r["engine"]: {
                "seconds": round(r["seconds"], 3),
                "engine_start_seconds": r["engine_start_seconds"],
                "peak_rss_mb": round(r["peak_rss_mb"], 1),
                "results": len(r["results"]),
                "status": r["status"],
            }
            for r in runs
        },
        "verdict": verdict,
        "differences": problems[:50],
    }
    if not args.json:
        for problem in problems[:50]:
            print(f"  {problem}", file=sys.stderr)
        print(
            f"verdict: the engines {verdict} ({sum(len(r['results']) for r in runs[1:])} results compared)",
            file=sys.stderr,
        )
    print(json.dumps(summary))
    sys.exit(0 if not problems else 1)


if __name__ == "__main__":
    main()
