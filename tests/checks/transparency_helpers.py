"""Random windows and ledgers for the transparency family's tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from helpers import WINDOW_START, make_data, make_spec

T0 = pd.Timestamp(WINDOW_START)
DAY = pd.Timedelta(days=1)
CODES = ("interest", "activity", "location", "history")


def spec(transparency: dict[str, Any] | None = None, **columns: Any) -> Any:
    config = {
        "intersections": [["gender", "age_band"]],
        "min_group_size": 20,
        "bootstrap": {"resamples": 50, "seed": 1},
        "explanations": {"columns": {"explanation": "explanation_id", "reason_codes": "reasons"}},
        "controls": {
            "source": {"path": "controls.parquet"},
            "rules": [{"control": "personalised_ads", "value": "off", "forbids": {"targeting": ["personalised"]}}],
            "grace_period": "6h",
        },
        "appeals": {"source": {"path": "appeals.parquet"}, "sla": "5d"},
    }
    config.update(transparency or {})
    return make_spec(
        {
            "columns": {
                "prediction_id": "prediction_id",
                "prediction": "shown",
                "sensitive": ["gender", "age_band"],
                **columns,
            },
            "checks": {"transparency": config},
        }
    )


def window(rng: np.random.Generator, n: int = 3000, users: int = 400) -> pd.DataFrame:
    gender = rng.choice(["f", "m", "x"], n, p=[0.45, 0.45, 0.1])
    explained = rng.random(n) < np.where(gender == "x", 0.7, 0.95)
    reasons = [";".join(sorted(set(rng.choice(CODES, rng.integers(1, 3), p=[0.4, 0.3, 0.2, 0.1])))) for _ in range(n)]
    return pd.DataFrame(
        {
            "prediction_id": [f"p{i}" for i in range(n)],
            "user_id": [f"u{k}" for k in rng.integers(0, users, n)],
            "ts": T0 + pd.to_timedelta(np.sort(rng.integers(0, 7 * 86400, n)), unit="s"),
            "gender": gender,
            "age_band": rng.choice(["18-34", "35-54", "55+", None], n, p=[0.4, 0.35, 0.2, 0.05]),
            "shown": rng.integers(0, 2, n),
            "explanation_id": np.where(explained, [f"e{i}" for i in range(n)], None),
            "reasons": np.where(explained, reasons, None),
            "targeting": rng.choice(["personalised", "contextual"], n, p=[0.7, 0.3]),
        }
    )


def controls(rng: np.random.Generator, users: int = 400, n: int = 600) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "entity_id": [f"u{k}" for k in rng.integers(0, users, n)],
            "control": rng.choice(["personalised_ads", "non_profiling_feed"], n, p=[0.8, 0.2]),
            "value": rng.choice(["off", "on", "OFF "], n, p=[0.5, 0.4, 0.1]),
            "timestamp": T0 - 3 * DAY + pd.to_timedelta(rng.integers(0, 11 * 86400, n), unit="s"),
        }
    )


def appeals(rng: np.random.Generator, frame: pd.DataFrame, n: int = 900) -> pd.DataFrame:
    rows = rng.integers(0, len(frame), n)
    filed = frame["ts"].iloc[rows].reset_index(drop=True) + pd.to_timedelta(rng.integers(0, 5 * 86400, n), unit="s")
    outcome = rng.choice(["overturned", "upheld", "pending", "Upheld"], n, p=[0.3, 0.4, 0.2, 0.1])
    decided = filed + pd.to_timedelta(rng.integers(3600, 9 * 86400, n), unit="s")
    decided[outcome == "pending"] = pd.NaT
    out = pd.DataFrame(
        {
            "appeal_id": [f"a{i}" for i in range(n)],
            "prediction_id": frame["prediction_id"].to_numpy()[rows],
            "filed_at": filed,
            "decided_at": decided,
            "outcome": outcome,
        }
    )
    # appeals of decisions in other windows are in the ledger too
    other = out.iloc[:50].assign(prediction_id=[f"old{i}" for i in range(50)], appeal_id=[f"b{i}" for i in range(50)])
    return pd.concat([out, other], ignore_index=True)


def ledgers(rng: np.random.Generator, frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Appeals (with earlier, pending states of some: one appeal, not two) and controls."""
    ledger = appeals(rng, frame)
    states = ledger.iloc[:40].copy()
    states.loc[:, "decided_at"] = pd.NaT
    states["outcome"] = "pending"
    return {"appeals": pd.concat([states, ledger], ignore_index=True), "controls": controls(rng)}


def data(spec_: Any, frame: pd.DataFrame, **ledgers: Any) -> Any:
    return make_data(spec_, frame, now=T0 + 8 * DAY, **ledgers)
