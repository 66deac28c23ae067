"""Time the fairness check against the naive Fairlearn baseline on the same synthetic rows.

The check: ``checks.fairness.run`` with the bench spec (gender, age_band and their 12-group
intersection, 200-resample bootstrap). The baseline: one Fairlearn ``MetricFrame`` with
selection rate, true and false positive rate and accuracy over the 12 intersectional groups,
no bootstrap at all. Both run in this process on the same frame; one JSON line with medians::

    python bench/fairness_speed.py --rows 1000000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

from bench.synthetic import SENSITIVE, frame, spec_dict, window  # noqa: E402


def _timed(function, repeats: int) -> tuple[list[float], object]:
    seconds, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - started)
    return seconds, result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-repeats", type=int, default=None, help="default: --repeats")
    parser.add_argument("--resamples", type=int, default=200)
    args = parser.parse_args(argv)

    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
    from sklearn.metrics import accuracy_score

    from ethics_audit.checks import fairness
    from ethics_audit.data import AuditData
    from ethics_audit.spec import AuditSpec

    rows = frame(args.rows)
    raw = spec_dict()
    raw["checks"] = {"fairness": {"intersections": [SENSITIVE], "bootstrap": {"resamples": args.resamples}}}
    spec = AuditSpec.model_validate(raw)
    start, end = window()
    data = AuditData(spec=spec, window_start=start, window_end=end, current=rows)

    check_s, results = _timed(lambda: fairness.run(spec.checks.fairness, data), args.repeats)

    def baseline() -> MetricFrame:
        return MetricFrame(
            metrics={
                "selection_rate": selection_rate,
                "true_positive_rate": true_positive_rate,
                "false_positive_rate": false_positive_rate,
                "accuracy": accuracy_score,
            },
            y_true=rows["label"],
            y_pred=rows["prediction"],
            sensitive_features=rows[SENSITIVE],
        )

    baseline_s, frame_ = _timed(baseline, args.baseline_repeats or args.repeats)
    check, base = statistics.median(check_s), statistics.median(baseline_s)
    out = {
        "bench": "fairness",
        "rows": args.rows,
        "groups": len(frame_.by_group),
        "resamples": args.resamples,
        "results": len(results),
        "check_median_s": round(check, 4),
        "check_runs_s": [round(s, 4) for s in check_s],
        "fairlearn_metricframe_median_s": round(base, 4),
        "fairlearn_runs_s": [round(s, 4) for s in baseline_s],
        "speedup": round(base / check, 1),
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
