"""Drift on the engine: seconds and peak RSS of ``checks.drift.run`` over parquet files on DuckDB.

    python bench/drift_engine.py --rows 1000000 --repeats 3

Writes a window and a reference of ``--rows`` rows each with ``bench/synthetic.py`` (in chunks
of a million rows, so the generator stays bounded; ``num_00`` shifted by 0.5 sd in the window)
to ``--folder`` unless they are there already, then runs the drift family on them in a fresh
process, the rows left on DuckDB (``AuditData.current`` None), and prints one JSON line: the
median seconds (imports excluded), the process's peak RSS, and the drifted columns.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

CHUNK = 1_000_000


def write(path: Path, rows: int, seed: int, shift: float) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bench.synthetic import frame

    writer = None
    for i, start in enumerate(range(0, rows, CHUNK)):
        part = pa.Table.from_pandas(
            frame(min(CHUNK, rows - start), seed=seed * 1000 + i, shift=shift), preserve_index=False
        )
        writer = writer or pq.ParquetWriter(path, part.schema)
        writer.write_table(part)
    assert writer is not None
    writer.close()


def measure(folder: str, repeats: int, queue: multiprocessing.Queue) -> None:
    import resource

    warnings.simplefilter("ignore")
    from bench.synthetic import audit_data
    from ethics_audit import engine
    from ethics_audit.checks import drift

    backend = engine.duckdb_backend()
    tables = {
        n: engine.Rows(backend.read_parquet(Path(folder) / f"{n}.parquet"), backend) for n in ("current", "reference")
    }
    times, drifted = [], []
    for _ in range(repeats + 1):  # the first run pays for the imports (Evidently, SciPy): not counted
        data = audit_data(None, None, tables=dict(tables))
        started = time.perf_counter()
        results = drift.run(data.spec.checks.drift, data)
        times.append(time.perf_counter() - started)
        drifted = [r.slice["column"] for r in results if r.details.get("drifted")]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(
        {"seconds": statistics.median(times[1:]), "runs": times[1:], "peak_rss_mb": round(peak), "drifted": drifted}
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--folder", default=None, help="where the parquet files are kept (default: /tmp/drift-<rows>)")
    args = parser.parse_args()
    folder = Path(args.folder or f"/tmp/drift-{args.rows}")
    folder.mkdir(parents=True, exist_ok=True)
    for name, seed, shift in (("current", 1, 0.5), ("reference", 2, 0.0)):
        if not (folder / f"{name}.parquet").exists():
            write(folder / f"{name}.parquet", args.rows, seed, shift)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=measure, args=(str(folder), args.repeats, queue))
    child.start()
    out = queue.get()
    child.join()
    print(json.dumps({"rows": args.rows, **out}))


if __name__ == "__main__":
    main()
