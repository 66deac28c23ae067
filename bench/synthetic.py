"""Synthetic benchmark data: N rows with 20 features, 2 sensitive attributes, label, score, text.

Used by ``bench/audit_throughput.py`` and the per-family speed benchmarks, so every figure is
measured on the same shape of data. Seeded: the same ``rows`` and ``seed`` give the same frame.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd

START = datetime(2026, 7, 6, tzinfo=timezone.utc)
NUMERIC = [f"num_{i:02d}" for i in range(14)]
CATEGORICAL = [f"cat_{i:02d}" for i in range(6)]
FEATURES = NUMERIC + CATEGORICAL
SENSITIVE = ["gender", "age_band"]  # 3 x 4 = 12 intersectional groups
TEXTS = np.array(
    [
        "great product, would buy again",
        "shipping took too long",
        "release v10.0.0.1 fixed the crash",
        "order 402918374652 arrived",
        "meh",
        "love the new colours this season",
    ]
)


def frame(
    rows: int,
    *,
    seed: int = 0,
    shift: float = 0.0,
    start: datetime = START,
    users: int | None = None,
    first_id: int | None = None,
) -> pd.DataFrame:
    """``rows`` predictions over one week from ``start``; ``shift`` moves num_00 by that many sds.
    ``users`` (default ``rows // 3``) and ``first_id`` let ``write_parquet`` make one chunk of a
    larger window."""
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {
        "prediction_id": np.arange(rows) + (seed * 10_000_000 if first_id is None else first_id),
        "user_id": rng.integers(0, max((rows // 3) if users is None else users, 1), rows),
        "ts": pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, 7 * 86400, rows), unit="s"),
        "gender": rng.choice(["f", "m", "x"], rows, p=[0.48, 0.47, 0.05]),
        "age_band": rng.choice(["18-29", "30-44", "45-59", "60+"], rows, p=[0.3, 0.3, 0.25, 0.15]),
        "region": rng.choice(["north", "south", "east", "west"], rows),
    }
    for i, name in enumerate(NUMERIC):
        data[name] = rng.normal(i, 1 + i / 10, rows)
    data["num_00"] = data["num_00"] + shift
    for i, name in enumerate(CATEGORICAL):
        data[name] = rng.choice([f"v{j}" for j in range(3 + i)], rows)
    logit = 0.8 * data["num_01"] - 0.5 * (data["num_02"] - 2) + rng.normal(0, 1, rows) - 1.5
    score = 1 / (1 + np.exp(-logit))
    data["score"] = score
    data["prediction"] = (score >= 0.5).astype(int)
    data["label"] = (rng.random(rows) < score).astype(int)
    data["comment"] = rng.choice(TEXTS, rows)
    return pd.DataFrame(data)


def write_parquet(
    path: Any,
    rows: int,
    *,
    seed: int = 0,
    shift: float = 0.0,
    chunk_rows: int = 1_000_000,
    row_group_rows: int | None = None,
) -> None:
    """``rows`` predictions written to one parquet file ``chunk_rows`` at a time, so generating
    100M rows needs the memory of one chunk. Up to ``chunk_rows`` it is exactly ``frame(rows)``;
    beyond, chunk ``i`` is seeded ``seed * 1000 + i`` and ids continue across chunks. Row groups
    are ``row_group_rows`` rows (default: one a chunk, pyarrow's own default size)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if rows <= chunk_rows:
        frame(rows, seed=seed, shift=shift).to_parquet(path, row_group_size=row_group_rows)
        return
    writer = None
    try:
        for i, first in enumerate(range(0, rows, chunk_rows)):
            size = min(chunk_rows, rows - first)
            part = frame(size, seed=seed * 1000 + i, shift=shift, users=rows // 3, first_id=seed * 10**10 + first)
            table = pa.Table.from_pandas(part, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(str(path), table.schema)
            writer.write_table(table.cast(writer.schema), row_group_size=row_group_rows)
    finally:
        if writer is not None:
            writer.close()


def spec_dict(path: str = "current.parquet", reference: str = "reference.parquet") -> dict[str, Any]:
    """An audit spec over the synthetic frame with every check family on."""
    return {
        "id": "bench",
        "model": {"name": "bench", "version": "1"},
        "window": {"size": "7d"},
        "source": {"path": path},
        "reference": {"baseline": {"path": reference}},
        "columns": {
            "entity_id": "user_id",
            "prediction_id": "prediction_id",
            "timestamp": "ts",
            "prediction": "prediction",
            "score": "score",
            "label": "label",
            "features": FEATURES,
            "sensitive": SENSITIVE,
            "quasi_identifiers": ["gender", "age_band", "region"],
            "text": ["comment"],
        },
        "checks": {
            "quality": {},
            "drift": {},
            "fairness": {"intersections": [SENSITIVE]},
            "privacy": {},
        },
    }


def window() -> tuple[datetime, datetime]:
    return START, START + timedelta(days=7)


def audit_data(current: pd.DataFrame, reference: pd.DataFrame | None = None, **kwargs: Any) -> Any:
    """An ``AuditData`` of the synthetic spec over frames in memory (no files read)."""
    from ethics_audit.data import AuditData
    from ethics_audit.spec import AuditSpec

    start, end = window()
    spec = AuditSpec.model_validate(spec_dict())
    return AuditData(spec=spec, window_start=start, window_end=end, current=current, reference=reference, **kwargs)
