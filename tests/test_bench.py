"""The throughput benchmark's peak memory: the audit's own exact peak plus the processes it starts
(Spark's JVM), measured without polling the audit's own process (which took CPU from it)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from bench import audit_throughput as bench

MB = 2**20


def _allocates(folder: str, queue: Any, own_mb: int, child_mb: int) -> None:  # spawned: importable
    held = b"\x01" * (own_mb * MB)  # written, so resident
    if child_mb:
        code = f"import time; x = b'\\x01' * {child_mb * MB}; time.sleep(1.0)"
        subprocess.run([sys.executable, "-c", code], check=True)
    queue.put({"peak_rss_mb": bench._peak_rss_mb(), "held": len(held)})


def test_the_peak_is_the_audits_own_plus_its_childrens(tmp_path) -> None:
    alone = bench._child(_allocates, str(tmp_path), 200, 0)
    assert alone["own_peak_rss_mb"] >= 200
    assert alone["peak_rss_mb"] == alone["own_peak_rss_mb"]  # no child: nothing added

    with_child = bench._child(_allocates, str(tmp_path), 200, 300)
    assert with_child["own_peak_rss_mb"] >= 200
    # the child's 300 MB, sampled while it held them (it holds them a second; sampled every 0.1 s)
    assert with_child["peak_rss_mb"] - with_child["own_peak_rss_mb"] >= 300
    assert with_child["peak_rss_mb"] - with_child["own_peak_rss_mb"] < 400
