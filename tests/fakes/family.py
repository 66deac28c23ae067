"""A check family whose behaviour a test chooses: results, an error, a crash or a long sleep."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ethics_audit.results import MetricResult, Threshold

BEHAVIOUR: dict[str, Callable[[Any, Any], list[MetricResult]]] = {}

FAMILY_OF = {
    "QualityConfig": "quality",
    "DriftConfig": "drift",
    "FairnessConfig": "fairness",
    "PrivacyConfig": "privacy",
}


def mean_score(family: str, warn: float = 0.5, critical: float = 0.8) -> Callable[[Any, Any], list[MetricResult]]:
    """A real little check: the window's mean score against a threshold."""

    def check(config: Any, data: Any) -> list[MetricResult]:
        column = data.spec.columns.score
        return [
            MetricResult(
                family,
                "mean_score",
                float(data.current[column].mean()),
                n=len(data.current),
                threshold=Threshold(warn=warn, critical=critical),
            )
        ]

    return check


def run(config: Any, data: Any) -> list[MetricResult]:
    family = FAMILY_OF[type(config).__name__]
    if os.environ.get("FAKE_SLEEP_FAMILY") == family:
        Path(os.environ["FAKE_MARKER"]).write_text("started")
        time.sleep(60)
    return BEHAVIOUR[family](config, data)
