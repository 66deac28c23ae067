"""Quality check speed: on a parquet window left on DuckDB, or in memory next to GX's own runs.

    python bench/quality_speed.py --rows 1000000 --repeats 3                  # in memory
    python bench/quality_speed.py --rows 10000000 --repeats 3 --engine duckdb # parquet on DuckDB

Builds a window of ``--rows`` rows with ``bench/synthetic.py`` (30 columns, 28 of them mapped).
``--engine duckdb`` writes it to parquet in chunks (bounded memory) and times ``checks.quality.run``
on the window as the runner's DuckDB loader leaves it (no frame). In memory (the default) it times
``checks.quality.run`` on the frame and, in the same run, Great Expectations validating the same
built-in suite two ways: on the frame of just the suite's columns in canonical dtypes (what this
family ran before its counts moved to the engine) and naively on the window's own frame. Prints
one JSON line with the medians and the peak RSS of the process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

from bench.synthetic import audit_data, frame, spec_dict, window  # noqa: E402


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def on_engine(rows: int, repeats: int) -> dict:
    from ethics_audit.checks import quality
    from ethics_audit.engine import window as engine_window
    from ethics_audit.spec import AuditSpec

    with tempfile.TemporaryDirectory() as folder:
        os.environ["ETHICS_AUDIT_DATA_ROOTS"] = folder  # the source guard: audits read only known folders
        current, reference = Path(folder) / "current.parquet", Path(folder) / "reference.parquet"
        # written by a child process, so the peak RSS printed is the audit's, not the generator's
        code = (
            "import sys; sys.path[:0] = sys.argv[1:3]; from bench.synthetic import write_parquet; "
            "write_parquet(sys.argv[3], int(sys.argv[4]), seed=1); write_parquet(sys.argv[5], 10_000, seed=0)"
        )
        args = [str(ROOT / "plugins"), str(ROOT), str(current), str(rows), str(reference)]
        subprocess.run([sys.executable, "-c", code, *args], check=True)
        raw = spec_dict(str(current), str(reference))
        raw["engine"] = {"kind": "duckdb"}
        spec = AuditSpec.model_validate(raw)
        start, end = window()
        ours = []
        for _ in range(repeats):
            data = engine_window.load_window(spec, start, end, row_count_history=[rows] * 4)
            data.rows  # noqa: B018 - the runner counts the window before any family runs
            started = time.perf_counter()
            results = quality.run(spec.checks.quality, data)
            ours.append(time.perf_counter() - started)
            assert data.current is None
    return {
        "engine": "duckdb",
        "metric_results": len(results),
        "ours_median_s": _median(ours),
        "ours_s": [round(t, 3) for t in ours],
        "gx_imported": "great_expectations" in sys.modules,
    }


def in_memory(rows: int, repeats: int) -> dict:
    import great_expectations  # noqa: F401 - its cold import is not what is measured
    import pandas as pd

    from ethics_audit.checks import quality

    data = audit_data(frame(rows, seed=1), frame(10_000, seed=0), row_count_history=[rows] * 4)
    ours, canonical, naive = [], [], []
    for _ in range(repeats):
        data.artifacts.clear()
        started = time.perf_counter()
        results = quality.run(data.spec.checks.quality, data)
        ours.append(time.perf_counter() - started)
    plan = quality.build_plan(data.spec.checks.quality, data)
    rules = [(i, r) for i, r in enumerate(plan.rules) if not r.from_spec]
    quality._validate(data.current.iloc[:1000], quality._expectations(rules), "warm")  # GX's first-use work
    for _ in range(repeats):
        started = time.perf_counter()
        gx_frame = pd.DataFrame({name: quality.canonical(data.current[name]) for name in plan.gx_columns})
        quality._validate(gx_frame, quality._expectations(rules), "bench")
        canonical.append(time.perf_counter() - started)
        started = time.perf_counter()
        quality._validate(data.current, quality._expectations(rules), "bench.naive")
        naive.append(time.perf_counter() - started)
    return {
        "engine": "memory",
        "expectations": len(rules),
        "metric_results": len(results),
        "ours_median_s": _median(ours),
        "ours_s": [round(t, 3) for t in ours],
        "gx_on_canonical_frame_median_s": _median(canonical),
        "gx_on_window_frame_median_s": _median(naive),
        "ratio_vs_gx_canonical": round(statistics.median(canonical) / statistics.median(ours), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--engine", choices=("memory", "duckdb"), default="memory")
    args = parser.parse_args()
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    measured = (on_engine if args.engine == "duckdb" else in_memory)(args.rows, args.repeats)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load = os.getloadavg()[0]
    print(json.dumps({"bench": "quality", "rows": args.rows, **measured, "peak_rss_mb": round(peak), "load": load}))


if __name__ == "__main__":
    main()
