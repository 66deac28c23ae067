"""Builders for the fairness tests: frames from hand-written confusion counts, and result lookup."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from helpers import WINDOW_START, make_data, make_spec

COLUMNS = {"prediction": "pred", "label": "label", "score": None, "sensitive": ["gender"]}


def frame_from(cells: list[tuple[dict[str, Any], int, Any, int]], *, seed: int = 0) -> pd.DataFrame:
    """One row per unit of ``count`` for each ``(attributes, decision, label, count)``, shuffled."""
    parts = []
    for attributes, decision, label, count in cells:
        part = {name: [value] * count for name, value in attributes.items()}
        part["pred"] = [decision] * count
        part["label"] = [np.nan if label is None else label] * count
        parts.append(pd.DataFrame(part))
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    frame.insert(0, "user_id", [f"u{i}" for i in range(len(frame))])
    frame.insert(1, "ts", pd.Timestamp(WINDOW_START))
    return frame


def spec_for(fairness: dict[str, Any] | None = None, **columns: Any) -> Any:
    cols = {k: v for k, v in {**COLUMNS, **columns}.items() if v is not None}
    return make_spec({"columns": cols, "checks": {"fairness": fairness or {}}})


def run(spec: Any, frame: pd.DataFrame) -> dict[tuple[str, str], Any]:
    """Findings of the fairness check keyed by (metric, canonical slice)."""
    from ethics_audit.checks import fairness
    from ethics_audit.evaluate import judge_all
    from ethics_audit.results import slice_key

    results = fairness.run(spec.checks.fairness, make_data(spec, frame))
    keyed = {(r.metric, slice_key(r.slice)): f for r, f in zip(results, judge_all(results), strict=True)}
    assert len(keyed) == len(results), "a (metric, slice) pair was emitted twice"
    return keyed


def get(findings: dict, metric: str, **slice_: Any) -> Any:
    from ethics_audit.results import slice_key

    return findings[(metric, slice_key(slice_))]
