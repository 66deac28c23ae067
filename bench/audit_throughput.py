"""Throughput of one full audit against the naive baseline a user would write, in one run.

    python bench/audit_throughput.py --rows 100000 [--repeats 3] [--json]

Generates N current and N reference rows (20 features, 2 sensitive attributes, label, score,
a text column; ``bench/synthetic.py``), writes them as parquet, then times in fresh child
processes, alternating, ``--repeats`` times each:

- the project: ``runner.audit_window`` with every check family on, reading the parquet files and
  recording into a SQLite results store;
- the baseline: ``pd.read_parquet`` + Evidently ``Report([DataDriftPreset()])`` + Fairlearn
  ``MetricFrame`` (selection rate, TPR, FPR, accuracy) over gender x age_band.

Prints one JSON line: rows, seconds and baseline_seconds (medians), ratio = seconds /
baseline_seconds (lower is better), speedup = its inverse, peak_rss_mb (the project's child,
median), the per-family seconds of the project, and every repeat's figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
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
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def project(folder: str, queue: Any) -> None:
    """One full audit of the window, in a fresh process (imports warmed first, not timed)."""
    _env()
    os.environ["ETHICS_AUDIT_HOME"] = str(Path(folder) / "home")
    import yaml

    from bench.synthetic import spec_dict, window
    from ethics_audit import checks
    from ethics_audit.runner import audit_window
    from ethics_audit.spec import load_spec
    from ethics_audit.store import Store

    spec_path = Path(folder) / "bench.yaml"
    spec_path.write_text(yaml.safe_dump(spec_dict()))
    spec = load_spec(spec_path)
    for family in checks.available():  # cold library imports are not the audit's work
        __import__(checks.CHECKS[family])
    _warm_imports()
    store = Store(f"sqlite:///{Path(folder) / 'results.db'}")
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
        }
    )


def _warm_imports() -> None:
    import evidently  # noqa: F401
    import fairlearn.metrics  # noqa: F401
    import great_expectations  # noqa: F401


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


def _child(target: Any, folder: str) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(folder, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    parser.add_argument("--skip-baseline", action="store_true", help="time the project only")
    args = parser.parse_args()
    _env()
    from bench.synthetic import frame

    with tempfile.TemporaryDirectory(prefix="ea-bench-") as folder:
        frame(args.rows, seed=1).to_parquet(Path(folder) / "current.parquet")
        frame(args.rows, seed=2).to_parquet(Path(folder) / "reference.parquet")
        ours, theirs = [], []
        for i in range(args.repeats):
            ours.append(_child(project, folder))
            if not args.skip_baseline:
                theirs.append(_child(baseline, folder))
            if not args.json:
                line = f"repeat {i + 1}: project {ours[-1]['seconds']:.2f} s"
                if theirs:
                    line += f", baseline {theirs[-1]['seconds']:.2f} s"
                print(line, file=sys.stderr)
    seconds = statistics.median(r["seconds"] for r in ours)
    baseline_seconds = statistics.median(r["seconds"] for r in theirs) if theirs else None
    families = {
        name: round(statistics.median(r["families"].get(name, 0.0) for r in ours), 3) for name in ours[0]["families"]
    }
    result = {
        "rows": args.rows,
        "seconds": round(seconds, 3),
        "baseline_seconds": round(baseline_seconds, 3) if baseline_seconds else None,
        "ratio": round(seconds / baseline_seconds, 4) if baseline_seconds else None,
        "speedup": round(baseline_seconds / seconds, 2) if baseline_seconds else None,
        "peak_rss_mb": round(statistics.median(r["peak_rss_mb"] for r in ours), 1),
        "baseline_peak_rss_mb": round(statistics.median(r["peak_rss_mb"] for r in theirs), 1) if theirs else None,
        "families": families,
        "status": ours[-1]["status"],
        "errors": ours[-1]["errors"],
        "repeats": {
            "project": [round(r["seconds"], 3) for r in ours],
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
