"""Time the remedy sections ("what drives it / what would fix it") on an alerting window.

One synthetic window (``bench/synthetic.py``) with a problem for every family: a gender gap in
the decisions (with ``cat_00`` as the legitimate factor), num_00 shifted and num_03 doubled in
one segment, emails in 1% of the comments, num_05 10% null. Each family's check runs once (not
timed: that is the cost the audit pays anyway); then ``remedies.explain`` is timed per family. The check's own time (one run, imports
included) is printed next to it, as a yardstick on a shared machine. One JSON line with medians::

    python bench/remedies_speed.py --rows 1000000 --repeats 3
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


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--families", default="fairness,drift,privacy,quality")
    args = parser.parse_args(argv)

    import numpy as np

    from ethics_audit import remedies
    from ethics_audit.checks.dispatch import run_check
    from ethics_audit.data import AuditData
    from ethics_audit.spec import AuditSpec

    current = frame(args.rows, seed=1, shift=0.5)
    reference = frame(min(args.rows, 200_000), seed=2)
    rng = np.random.default_rng(3)
    female = current["gender"].to_numpy() == "f"
    current["prediction"] = (current["score"] >= np.where(female, 0.62, 0.5)).astype(int)
    segment = current["cat_01"] == "v0"
    current.loc[segment, "num_03"] = current.loc[segment, "num_03"] * 2
    leak = rng.random(args.rows) < 0.01
    current.loc[leak, "comment"] = "write to jane.doe@example.com"
    current.loc[rng.random(args.rows) < 0.1, "num_05"] = np.nan

    raw = spec_dict()
    raw["checks"]["fairness"] = {"intersections": [SENSITIVE], "legitimate_factors": ["cat_00"]}
    raw["checks"]["privacy"] = {}
    spec = AuditSpec.model_validate(raw)
    start, end = window()
    data = AuditData(spec=spec, window_start=start, window_end=end, current=current, reference=reference, now=end)
    out: dict = {"rows": args.rows, "reference_rows": len(reference), "repeats": args.repeats, "seconds": {}}
    total = []
    for family in args.families.split(","):
        started = time.perf_counter()
        results = run_check(family, data)
        out.setdefault("check_seconds", {})[family] = round(time.perf_counter() - started, 3)
        seconds = []
        section = None
        for _ in range(args.repeats):
            started = time.perf_counter()
            section = remedies.explain(family, data, results)
            seconds.append(time.perf_counter() - started)
        out["seconds"][family] = round(statistics.median(seconds), 3)
        out.setdefault("headlines", {})[family] = section["headline"][:160] if section else None
        total.append(statistics.median(seconds))
    out["seconds"]["all_families"] = round(sum(total), 3)
    out["budget_s"] = 1.0  # issue 17: at most 1 s extra per alerting window at 1M rows
    out["load_average"] = round(os.getloadavg()[0], 1)
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
