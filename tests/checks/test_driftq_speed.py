"""The issue's speed targets on 1M rows (slow; the benchmarks in bench/ give the full figures):
drift on 20 features plus score, decision and label in at most 10 s, quality in at most 5 s,
library imports excluded. The best of two runs is judged, as the machine is shared."""

from __future__ import annotations

import time

import pytest
from bench.synthetic import frame, spec_dict

from ethics_audit.checks import drift, quality
from helpers import make_data, make_spec

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::RuntimeWarning")]
ROWS = 1_000_000


def best_of_two(check, config, data) -> tuple[float, list]:
    times, results = [], []
    for _ in range(2):
        data.artifacts.clear()
        started = time.perf_counter()
        results = check.run(config, data)
        times.append(time.perf_counter() - started)
    return min(times), results


def test_drift_on_a_million_rows() -> None:
    spec = make_spec(spec_dict())
    small = make_data(spec, frame(5000, seed=1), frame(5000, seed=0))
    drift.run(spec.checks.drift, small)  # imports
    data = make_data(spec, frame(ROWS, seed=1, shift=0.5), frame(ROWS, seed=0))
    seconds, results = best_of_two(drift, spec.checks.drift, data)
    assert [r.slice["column"] for r in results if r.details.get("drifted")] == ["num_00"]
    assert seconds <= 10, f"drift took {seconds:.1f} s on {ROWS:,} rows"


def test_quality_on_a_million_rows() -> None:
    spec = make_spec(spec_dict())
    reference = frame(10_000, seed=0)
    quality.run(spec.checks.quality, make_data(spec, frame(5000, seed=1), reference))  # imports
    data = make_data(spec, frame(ROWS, seed=1), reference, row_count_history=[ROWS] * 4)
    seconds, results = best_of_two(quality, spec.checks.quality, data)
    assert len(results) > 80 and all(r.status.value == "computed" for r in results)
    assert seconds <= 5, f"quality took {seconds:.1f} s on {ROWS:,} rows"
