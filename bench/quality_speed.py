"""Quality check speed, and the same GX suite run naively on the window's frame as loaded.

    python bench/quality_speed.py --rows 1000000 --repeats 3

Builds a window of ``--rows`` rows with ``bench/synthetic.py`` (30 columns, 28 of them mapped),
times ``checks.quality.run`` (GX imported beforehand: its cold import is reported on its own) and,
in the same run, GX validating the same built-in suite on the window's own frame (object-dtype
strings, every column, time-zone-aware timestamps), and prints one JSON line with the medians,
where our time goes (building the frame GX sees vs GX's validation), and the ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

from bench.synthetic import audit_data, frame  # noqa: E402


def cold_import_seconds() -> float:
    code = "import time; t = time.perf_counter(); import great_expectations; print(time.perf_counter() - t)"
    env = {"GX_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import os

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    import_s = cold_import_seconds()
    import great_expectations  # noqa: F401 - excluded from the timings, as the issue asks
    import pandas as pd

    from ethics_audit.checks import quality

    data = audit_data(frame(args.rows, seed=1), frame(10_000, seed=0), row_count_history=[args.rows] * 4)
    warm = audit_data(frame(1000, seed=1), frame(1000, seed=0))
    quality.run(warm.spec.checks.quality, warm)  # GX's lazy first-use work, also excluded
    ours, frames_s, gx_s = [], [], []
    for _ in range(args.repeats):
        data.artifacts.clear()
        started = time.perf_counter()
        results = quality.run(data.spec.checks.quality, data)
        ours.append(time.perf_counter() - started)
        # the same steps, split: the plan and the frame GX sees, then GX's validation
        started = time.perf_counter()
        plan = quality.build_plan(data.spec.checks.quality, data)
        gx_frame = pd.DataFrame({name: quality.canonical(data.current[name]) for name in plan.gx_columns})
        frames_s.append(time.perf_counter() - started)
        rules = [(i, r) for i, r in enumerate(plan.rules) if not r.from_spec]
        started = time.perf_counter()
        quality._validate(gx_frame, quality._expectations(rules), "bench")
        gx_s.append(time.perf_counter() - started)
    naive = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        quality._validate(data.current, quality._expectations(rules), "bench.naive")
        naive.append(time.perf_counter() - started)
    print(
        json.dumps(
            {
                "bench": "quality",
                "rows": args.rows,
                "columns": len(data.current.columns),
                "expectations": len(rules),
                "metric_results": len(results),
                "gx_cold_import_s": round(import_s, 2),
                "ours_median_s": round(statistics.median(ours), 3),
                "ours_s": [round(t, 3) for t in ours],
                "of_which_plan_and_frame_median_s": round(statistics.median(frames_s), 3),
                "of_which_gx_validate_median_s": round(statistics.median(gx_s), 3),
                "naive_gx_on_window_frame_median_s": round(statistics.median(naive), 3),
                "naive_s": [round(t, 3) for t in naive],
                "ratio": round(statistics.median(naive) / statistics.median(ours), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
