"""Drift check speed against Evidently's DataDriftPreset, on the same data in the same run.

    python bench/drift_speed.py --rows 1000000 --repeats 3

Builds a window and a reference of ``--rows`` rows each with ``bench/synthetic.py`` (20
features, score, prediction, label; ``num_00`` shifted by 0.5 sd in the window), times
``checks.drift.run`` and ``Report([DataDriftPreset(columns=...)]).run`` on the same columns,
checks that both give the same per-column scores, and prints one JSON line with the medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

from bench.synthetic import audit_data, frame  # noqa: E402


def time_ours(data, repeats: int) -> tuple[list[float], dict[str, float]]:
    from ethics_audit.checks import drift

    times, scores = [], {}
    for _ in range(repeats):
        started = time.perf_counter()
        results = drift.run(data.spec.checks.drift, data)
        times.append(time.perf_counter() - started)
        scores = {r.slice["column"]: r.value for r in results if r.metric == "column_drift"}
    return times, scores


def time_preset(data, columns: list[str], repeats: int) -> tuple[list[float], dict[str, float]]:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    current, reference = data.current[columns], data.reference[columns]
    times, scores = [], {}
    for _ in range(repeats):
        started = time.perf_counter()
        snapshot = Report([DataDriftPreset(columns=columns)]).run(current, reference)
        times.append(time.perf_counter() - started)
        scores = {
            m["config"]["column"]: m["value"]
            for m in snapshot.dict()["metrics"]
            if m["config"]["type"] == "evidently:metric_v2:ValueDrift"
        }
    return times, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-repeats", type=int, default=None, help="default: --repeats")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    data = audit_data(frame(args.rows, seed=1, shift=0.5), frame(args.rows, seed=0))
    from ethics_audit.checks import drift

    columns = [name for name, _ in drift.audited_columns(data.spec, data.spec.checks.drift)]
    started = time.perf_counter()
    import evidently.legacy.calculations.stattests  # noqa: F401 - the import both sides pay once

    import_s = time.perf_counter() - started
    first = time.perf_counter()
    time_ours(data, 1)
    first_s = time.perf_counter() - first
    ours, our_scores = time_ours(data, args.repeats)
    preset, their_scores = time_preset(data, columns, args.baseline_repeats or args.repeats)
    diff = max(abs(our_scores[c] - their_scores[c]) for c in columns)
    print(
        json.dumps(
            {
                "bench": "drift",
                "rows": args.rows,
                "columns": len(columns),
                "threads": drift._threads(),
                "evidently_import_s": round(import_s, 2),
                "ours_first_run_s": round(first_s, 3),
                "ours_median_s": round(statistics.median(ours), 3),
                "ours_s": [round(t, 3) for t in ours],
                "preset_median_s": round(statistics.median(preset), 3),
                "preset_s": [round(t, 3) for t in preset],
                "ratio": round(statistics.median(preset) / statistics.median(ours), 1),
                "max_abs_score_diff": diff,
            }
        )
    )


if __name__ == "__main__":
    main()
