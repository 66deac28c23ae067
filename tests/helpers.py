"""Small builders shared by tests: specs from dicts, AuditData from frames."""

from __future__ import annotations

import copy
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

WINDOW_START = datetime(2026, 7, 6, tzinfo=timezone.utc)
WINDOW_END = datetime(2026, 7, 13, tzinfo=timezone.utc)

BASE_SPEC: dict[str, Any] = {
    "id": "test-model",
    "model": {"name": "test-model", "version": "1"},
    "window": {"size": "7d"},
    "source": {"path": "data/*.parquet"},
    "columns": {"entity_id": "user_id", "timestamp": "ts"},
}


def make_spec(overrides: dict[str, Any] | None = None, *, path: Path | None = None) -> Any:
    """An AuditSpec from BASE_SPEC deep-merged with ``overrides``; written to ``path`` if given."""
    from ethics_audit.spec import load_spec, parse_spec

    data = copy.deepcopy(BASE_SPEC)
    _merge(data, overrides or {})
    text = yaml.safe_dump(data, sort_keys=False)
    if path is None:
        return parse_spec(text, "test.yaml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return load_spec(path)


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def make_data(spec: Any, current: Any, reference: Any = None, **kwargs: Any) -> Any:
    from ethics_audit.data import AuditData

    return AuditData(
        spec=spec, window_start=WINDOW_START, window_end=WINDOW_END, current=current, reference=reference, **kwargs
    )


def fresh_python(probe: str) -> str:
    """Run ``probe`` in a new interpreter that sees only this checkout's package; its stdout.

    For what a plain ``import`` loads: the test process has long imported everything.
    """
    import subprocess
    import sys

    plugins = Path(__file__).resolve().parents[1] / "plugins"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env={"PYTHONPATH": str(plugins)}
    )
    return done.stdout


def close(a: Any, b: Any) -> bool:
    """Equal, floats to their last bits or so: a double sum on an engine that splits the scan over
    threads (DuckDB) adds in an order of its own, so two runs of one window may differ in the last ulp.
    Counts and everything that is not a float stay exactly equal."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)
    return a == b
