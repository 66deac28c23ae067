"""Throughput of one full audit against the naive baseline a user would write, in one run.

    python bench/audit_throughput.py --rows 100000 [--engine memory|duckdb|postgres|spark] [--repeats 3] [--json]

Generates N current and N reference rows (20 features, 2 sensitive attributes, label, score,
a text column; ``bench/synthetic.py``), writes them as parquet one million rows at a time (so
the generator's memory does not grow with N; ``--data DIR`` keeps them for the next run), then
times in fresh child processes, alternating, ``--repeats`` times each:

- the project: ``runner.audit_window`` with every check family on, reading the parquet files and
  recording into a SQLite results store; ``--engine duckdb`` leaves the rows on embedded DuckDB
  (``engine: {kind: duckdb}``; ``--memory-limit`` sets its limit); ``--engine postgres`` first
  COPYs both parquet files, batch by batch, into a scratch database on ``--pg-server``
  (``bench/postgres_load.py``) and audits a SQL source there with every statistic pushed down
  (``engine: {kind: postgres}``); its peak RSS is this process tree's, not the server's;
  ``--engine spark`` on a local Spark (``--spark-master``, default local[2]), its session started
  before the clock (as the imports are; ``engine_start_seconds`` says how long it took) and its
  JVM counted in the RSS;
- the baseline: ``pd.read_parquet`` + Evidently ``Report([DataDriftPreset()])`` + Fairlearn
  ``MetricFrame`` (selection rate, TPR, FPR, accuracy) over gender x age_band; skipped above
  ``--baseline-max-rows`` (it holds the window in pandas and would not fit).

``--reference-cache cold`` (the default) empties the baseline reference's kept aggregates before
each repeat, as in the first week an audit runs against a baseline; ``warm`` fills them with one
untimed run first, as every later week finds them; ``off`` turns them off.

``--row-group-rows N`` writes the parquet in row groups of N rows (default: one a million rows,
pyarrow's default). DuckDB scans a file's row groups in parallel, so a 1M-row window written as
one row group is scanned on one thread; Spark's and DuckDB's own writers make smaller groups.

Prints one JSON line: rows, seconds and baseline_seconds (medians), ratio = seconds /
baseline_seconds (lower is better), speedup = its inverse, peak_rss_mb (the project's whole
process tree: its own exact peak plus its children's, sampled every 0.1 s; median), the
per-family seconds of the project, which families had the window loaded into memory on the
engine path, and every repeat's figures.
"""

from __future__ import annotations

import argparse
import atexit
import json
import multiprocessing as mp
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _env() -> None:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    for path in (str(REPO / "plugins"), str(REPO)):
        if path not in sys.path:
            sys.path.insert(0, path)


def _peak_rss_mb() -> float:
    """This process's own peak RSS. On Linux from ``VmHWM``: ``ru_maxrss`` of a spawned child
    starts at its parent's peak (kept across fork and exec), here the parent that generated the data."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


ENGINES = ["memory", "duckdb", "postgres", "spark"]
SPARK_MASTER = "local[2]"
# how often the processes an audit starts (Spark's JVM) are measured (``_child``)
SAMPLE_SECONDS = 0.1
# a small local Spark: two shuffle partitions (the window's aggregates are small), no web UI
SPARK_CONF = {"spark.sql.shuffle.partitions": 2, "spark.ui.enabled": False}


def spec_for(
    engine: str, memory_limit: str | None = None, pg_url: str | None = None, spark_master: str | None = None
) -> dict[str, Any]:
    """The synthetic spec for ``engine``: on PostgreSQL a SQL source on the database ``pg_url``
    (loaded by ``bench/postgres_load.py``), otherwise the folder's parquet."""
    from bench.synthetic import spec_dict

    spec = spec_dict()
    if engine == "postgres":
        from bench.postgres_load import spec_source

        return dict(spec_source(spec, pg_url or ""), engine={"kind": "postgres"})
    if engine == "spark":
        spec["engine"] = {"kind": "spark", "master": spark_master or SPARK_MASTER, "conf": SPARK_CONF}
    elif engine != "memory":
        spec["engine"] = {"kind": engine, **({"memory_limit": memory_limit} if memory_limit else {})}
    return spec


def project(
    folder: str,
    queue: Any,
    engine: str = "memory",
    memory_limit: str | None = None,
    pg_url: str | None = None,
    spark_master: str | None = None,
) -> None:
    """One full audit of the window, in a fresh process (imports warmed first, not timed)."""
    _env()
    os.environ["ETHICS_AUDIT_HOME"] = str(Path(folder) / "home")
    import logging

    import yaml

    from bench.synthetic import window
    from ethics_audit import checks
    from ethics_audit.runner import audit_window
    from ethics_audit.spec import load_spec
    from ethics_audit.store import Store

    loaded_for: list[str] = []

    class Loads(logging.Handler):  # the engine path's fallback says which family needed the frame
        def emit(self, record: logging.LogRecord) -> None:
            loaded_for.append(str(record.args[1]) if record.args and len(record.args) > 1 else record.getMessage())

    logging.getLogger("ethics_audit.engine.window").addHandler(Loads(logging.WARNING))
    spec_path = Path(folder) / f"bench-{engine}.yaml"
    spec_path.write_text(yaml.safe_dump(spec_for(engine, memory_limit, pg_url, spark_master)))
    spec = load_spec(spec_path)
    for family in checks.available():  # cold library imports are not the audit's work
        __import__(checks.CHECKS[family])
    _warm_imports()
    engine_start = _start_engine(spec)
    store = Store(f"sqlite:///{Path(folder) / f'results-{engine}-{os.getpid()}.db'}")
    start, end = window()
    t0 = time.perf_counter()
    outcome = audit_window(spec, start, end, store=store, trigger="bench")
    seconds = time.perf_counter() - t0
    errors = [f.reason for f in outcome.findings if f.severity.value == "error"]
    queue.put(
        {
            "seconds": seconds,
            "peak_rss_mb": _peak_rss_mb(),
            "families": {k: v for k, v in outcome.timings.items()},
            "status": outcome.status,
            "errors": errors,
            "loaded_for": loaded_for,
            "engine_start_seconds": engine_start,
        }
    )


def _start_engine(spec: Any) -> float | None:
    """Start Spark's JVM before the clock (a cluster's session would be running already): the
    audit's ``getOrCreate`` then reuses it. Returns the seconds it took (None: not Spark)."""
    if spec.engine.kind != "spark":
        return None
    from ethics_audit.engine import spark

    t0 = time.perf_counter()
    spark.session(spec.engine).sparkContext.setLogLevel("ERROR")
    return round(time.perf_counter() - t0, 3)


def _warm_imports() -> None:
    import evidently  # noqa: F401
    import fairlearn.metrics  # noqa: F401
    import great_expectations  # noqa: F401
    import ibis

    ibis.duckdb  # noqa: B018 - Ibis loads a backend on first use


def baseline(folder: str, queue: Any) -> None:
    """What a user would write with the libraries' high-level APIs."""
    _env()
    _warm_imports()
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset
    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
    from sklearn.metrics import accuracy_score

    from bench.synthetic import CATEGORICAL, FEATURES, NUMERIC, SENSITIVE

    t0 = time.perf_counter()
    current = pd.read_parquet(Path(folder) / "current.parquet")
    reference = pd.read_parquet(Path(folder) / "reference.parquet")
    columns = FEATURES + ["score", "prediction", "label"]
    definition = DataDefinition(
        numerical_columns=NUMERIC + ["score"], categorical_columns=CATEGORICAL + ["prediction", "label"]
    )
    report = Report([DataDriftPreset()])
    report.run(
        Dataset.from_pandas(current[columns], data_definition=definition),
        Dataset.from_pandas(reference[columns], data_definition=definition),
    )
    frame = MetricFrame(
        metrics={
            "selection_rate": selection_rate,
            "tpr": true_positive_rate,
            "fpr": false_positive_rate,
            "accuracy": accuracy_score,
        },
        y_true=current["label"],
        y_pred=current["prediction"],
        sensitive_features=current[SENSITIVE],
    )
    frame.difference()
    seconds = time.perf_counter() - t0
    queue.put({"seconds": seconds, "peak_rss_mb": _peak_rss_mb()})


def _child(target: Any, folder: str, *args: Any) -> dict[str, Any]:
    """Run ``target`` in a fresh process; adds the peak RSS of its whole process tree."""
    import threading

    import psutil

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(folder, queue, *args))
    proc.start()
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        # the processes the child started (Spark's JVM, by spark-submit; DuckDB is in-process),
        # polled every SAMPLE_SECONDS: the child's own peak is exact (VmHWM, reported by it). Polled
        # every 20 ms, the whole tree's walk of /proc took a core's share from the audit it measured
        # (1M rows warm: 3.50 s median with it, 2.50 s without, five repeats each)
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                total = 0
                for p in root.children(recursive=True):
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
                peak[0] = max(peak[0], total)
            except psutil.Error:
                break
            done.wait(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    result = queue.get()
    done.set()
    proc.join()
    sampler.join()
    # at most the tree's peak: the child's peak plus its children's, each at its own highest
    result["own_peak_rss_mb"] = result.get("peak_rss_mb")
    result["peak_rss_mb"] = (result.get("peak_rss_mb") or 0.0) + peak[0] / 2**20
    return result


def generate(folder: Path, rows: int, reference_rows: int | None = None, row_group_rows: int | None = None) -> float:
    """Write the current and the reference parquet (unless already there); returns seconds."""
    from bench.synthetic import write_parquet

    t0 = time.perf_counter()
    marker = folder / f"rows-{rows}"
    if not marker.exists():
        write_parquet(folder / "current.parquet", rows, seed=1, row_group_rows=row_group_rows)
        write_parquet(folder / "reference.parquet", reference_rows or rows, seed=2, row_group_rows=row_group_rows)
        marker.write_text("complete\n")
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    parser.add_argument("--skip-baseline", action="store_true", help="time the project only")
    parser.add_argument("--engine", choices=ENGINES, default="memory")
    parser.add_argument(
        "--pg-server",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="--engine postgres: the server where a scratch database is loaded (and dropped after)",
    )
    parser.add_argument("--spark-master", help=f"--engine spark: the master (default {SPARK_MASTER})")
    parser.add_argument("--memory-limit", help="DuckDB's memory limit (default: ETHICS_AUDIT_MEMORY_LIMIT or 1GB)")
    parser.add_argument(
        "--baseline-max-rows",
        type=int,
        default=5_000_000,
        help="skip the baseline above this (it holds rows in pandas)",
    )
    parser.add_argument("--data", type=Path, help="folder for the generated parquet (kept and reused across runs)")
    parser.add_argument(
        "--reference-rows", type=int, help="rows of the baseline reference (default: as many as the window)"
    )
    parser.add_argument(
        "--row-group-rows",
        type=int,
        help="rows per parquet row group (default: 1M, pyarrow's default); DuckDB scans a file's row groups in "
        "parallel, one at a time per thread",
    )
    parser.add_argument(
        "--reference-cache",
        choices=["cold", "warm", "off"],
        default="cold",
        help="the baseline reference's kept aggregates (engine.cache): cold = emptied before each repeat (the "
        "first week against a baseline), warm = filled by one untimed run first (every later week), off = not used",
    )
    args = parser.parse_args()
    _env()
    skip_baseline = args.skip_baseline or args.rows > args.baseline_max_rows
    with tempfile.TemporaryDirectory(prefix="ea-bench-") as scratch:
        name = str(args.rows) + (f"-ref{args.reference_rows}" if args.reference_rows else "")
        name += f"-rg{args.row_group_rows}" if args.row_group_rows else ""
        folder = args.data / name if args.data else Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        generated = generate(folder, args.rows, args.reference_rows, args.row_group_rows)
        if not args.json:
            reference = args.reference_rows or args.rows
            print(
                f"data: {args.rows:,} + {reference:,} reference rows in {folder} ({generated:.1f} s)", file=sys.stderr
            )
        pg_url, database = None, f"ea_bench_{args.rows}_{os.getpid()}"
        if args.engine == "postgres":
            from bench import postgres_load

            t0 = time.perf_counter()
            pg_url = postgres_load.load(folder, args.pg_server, name=database)
            atexit.register(postgres_load.drop, args.pg_server, database)
            if not args.json:
                print(f"loaded into PostgreSQL with COPY in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        ours, theirs = [], []
        if args.reference_cache == "off":
            os.environ["ETHICS_AUDIT_REFERENCE_CACHE"] = "off"
        kept = folder / "home" / "cache" / "reference"
        if args.reference_cache == "warm":
            _child(project, str(folder), args.engine, args.memory_limit, pg_url, args.spark_master)
        for i in range(args.repeats):
            if args.reference_cache == "cold":
                shutil.rmtree(kept, ignore_errors=True)
            ours.append(_child(project, str(folder), args.engine, args.memory_limit, pg_url, args.spark_master))
            if not skip_baseline:
                theirs.append(_child(baseline, str(folder)))
            if not args.json:
                line = f"repeat {i + 1}: project {ours[-1]['seconds']:.2f} s, {ours[-1]['peak_rss_mb']:.0f} MB"
                if theirs:
                    line += f", baseline {theirs[-1]['seconds']:.2f} s, {theirs[-1]['peak_rss_mb']:.0f} MB"
                print(line, file=sys.stderr)
    seconds = statistics.median(r["seconds"] for r in ours)
    baseline_seconds = statistics.median(r["seconds"] for r in theirs) if theirs else None
    families = {
        name: round(statistics.median(r["families"].get(name, 0.0) for r in ours), 3) for name in ours[0]["families"]
    }
    result = {
        "rows": args.rows,
        "reference_rows": args.reference_rows or args.rows,
        "engine": args.engine,
        "reference_cache": args.reference_cache,
        "seconds": round(seconds, 3),
        "baseline_seconds": round(baseline_seconds, 3) if baseline_seconds else None,
        "ratio": round(seconds / baseline_seconds, 4) if baseline_seconds else None,
        "speedup": round(baseline_seconds / seconds, 2) if baseline_seconds else None,
        "peak_rss_mb": round(statistics.median(r["peak_rss_mb"] for r in ours), 1),
        **({"peak_rss_of": "this process tree (PostgreSQL's server not counted)"} if args.engine == "postgres" else {}),
        "baseline_peak_rss_mb": round(statistics.median(r["peak_rss_mb"] for r in theirs), 1) if theirs else None,
        "families": families,
        "loaded_for": ours[-1].get("loaded_for", []),
        "engine_start_seconds": ours[-1].get("engine_start_seconds"),
        "status": ours[-1]["status"],
        "errors": ours[-1]["errors"],
        "repeats": {
            "project": [round(r["seconds"], 3) for r in ours],
            "project_peak_rss_mb": [round(r["peak_rss_mb"], 1) for r in ours],
            "baseline": [round(r["seconds"], 3) for r in theirs],
        },
    }
    print(json.dumps(result))
    if result["errors"]:
        # a family that did not run makes the figure meaningless: never let it pass as a result
        print(f"the project's audit had errors: {result['errors']}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
