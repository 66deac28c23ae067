"""Seconds and peak RSS of the privacy family on DuckDB over a parquet window (no frame loaded).

Writes ``--rows`` synthetic predictions (``bench.synthetic.frame``, in chunks of 1M so the
generator stays bounded, plus a training-member flag) to a parquet file once, then runs the
privacy family on it in a fresh process per repeat: ``spec_dict``'s privacy section (PII on every
string column and the ``comment`` text, k-anonymity over three quasi-identifiers) with retention
and membership inference (200-resample bootstrap) added. Prints one JSON line: median seconds,
peak RSS of the measuring process (MB), and the results' values.

    python bench/privacy_engine.py --rows 1000000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
CHUNK = 1_000_000


def write(rows: int, path: Path) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bench.synthetic import frame

    writer = None
    for i, start in enumerate(range(0, rows, CHUNK)):
        part = frame(min(CHUNK, rows - start), seed=i)
        part["member"] = np.random.default_rng(i).random(len(part)) < 0.5
        table = pa.Table.from_pandas(part, preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()


def measure(path: Path) -> dict:
    from datetime import datetime, timezone

    from bench.synthetic import spec_dict, window
    from ethics_audit import engine
    from ethics_audit.checks import privacy
    from ethics_audit.data import AuditData
    from ethics_audit.spec import AuditSpec

    raw = spec_dict()
    raw["checks"] = {
        "privacy": {"retention": "30d", "membership": {"column": "member", "bootstrap": {"resamples": 200}}}
    }
    spec = AuditSpec.model_validate(raw)
    start, end = window()
    began = time.perf_counter()
    backend = engine.duckdb_backend()
    rows = engine.Rows(backend.read_parquet(str(path)), backend)
    data = AuditData(spec=spec, window_start=start, window_end=end, current=None, tables={"current": rows},
                     now=datetime(2026, 7, 14, tzinfo=timezone.utc))  # fmt: skip
    results = privacy.run(spec.checks.privacy, data)
    seconds = time.perf_counter() - began
    return {
        "seconds": seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "results": {f"{r.metric}{r.slice or ''}": r.value for r in results},
        "errors": [r.details for r in results if r.metric == "check_error"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/privacy_engine_bench"))
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    args.folder.mkdir(parents=True, exist_ok=True)
    path = args.folder / f"window_{args.rows}.parquet"
    if not path.exists():
        write(args.rows, path)
    runs = [
        json.loads(subprocess.run([sys.executable, __file__, "--measure", str(path)], check=True,
                                  capture_output=True, text=True).stdout)
        for _ in range(args.repeats)
    ]  # fmt: skip
    print(json.dumps({
        "rows": args.rows,
        "seconds": round(statistics.median(r["seconds"] for r in runs), 2),
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs)),
        "errors": runs[0]["errors"],
        "results": runs[0]["results"],
    }))  # fmt: skip


if __name__ == "__main__":
    main()
