"""Random windows with PII, and the same window as a frame in memory and as a parquet file on DuckDB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers import make_data

EMAILS = ["jane.doe@example.com", "sam@example.net", "a.b@mail.example.org", "icon@2x.png"]
CARDS = ["4242 4242 4242 4242", "4000-0566-5566-5556", "4242 4242 4242 4241", "5555555555554444", "1234567812345678"]
IBANS = ["GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "GB82 WEST 1234 5698 7654 33", "FR00 1234"]
OTHER = ["ssn 536-22-1234", "call +44 7700 900123", "from 203.0.113.7", "DOB: 12/03/1990", "release v10.0.0.1"]
PLAIN = ["hello world", "Order #402918374652 arrived", "meh", "", "great product"]


def pii_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """Texts mixing emails, cards (valid and invalid Luhn), IBANs (valid and not), nulls and plain text."""
    rng = np.random.default_rng(seed)
    pool = np.array(EMAILS + CARDS + IBANS + OTHER + PLAIN, dtype=object)
    picks = rng.choice(pool, rows)
    note = np.where(rng.random(rows) < 0.3, picks + " and " + rng.choice(pool, rows), picks)
    note = pd.Series(note, dtype=object).where(rng.random(rows) > 0.1, None)
    unique = [f"user{i}@example.com" if i % 5 else f"plain text {i}" for i in range(rows)]  # high cardinality
    return pd.DataFrame(
        {
            "user_id": rng.integers(0, max(rows // 4, 1), rows),
            "prediction_id": np.arange(rows),
            "ts": pd.Timestamp("2026-07-06", tz="UTC") + pd.to_timedelta(rng.integers(0, 6 * 86400, rows), unit="s"),
            "note": note,
            "contact": pd.Series(unique, dtype=object).where(rng.random(rows) > 0.05, None),
            "gender": pd.Series(rng.choice(["f", "m", "x"], rows), dtype=object).where(rng.random(rows) > 0.05, None),
            "age_band": rng.choice(["18-29", "30-44", "45-59", "60+"], rows),
            "zip": rng.choice(["10001", "10002", "94105", "60601", "73301"], rows),
            "diagnosis": pd.Series(rng.choice(["a", "b", "c"], rows), dtype=object).where(rng.random(rows) > 0.2, None),
            "label": rng.integers(0, 2, rows),
            "prediction": rng.integers(0, 2, rows),
            "score": np.round(rng.random(rows), 3),
            "member": rng.random(rows) < 0.4,
        }
    )


def on_engine(spec: Any, frame: pd.DataFrame, folder: Path, **kwargs: Any) -> Any:
    """An AuditData whose window is a parquet file read by DuckDB (no frame loaded)."""
    from ethics_audit import engine

    path = folder / "window.parquet"
    frame.to_parquet(path)
    backend = engine.duckdb_backend()
    rows = engine.Rows(backend.read_parquet(str(path)), backend)
    return make_data(spec, None, tables={"current": rows}, **kwargs)


def comparable(results: list[Any]) -> list[dict[str, Any]]:
    return [r.to_dict() if hasattr(r, "to_dict") else vars(r) for r in results]


def consent_ledger(frame: pd.DataFrame, seed: int = 0, *, as_text: bool = False) -> pd.DataFrame:
    """Random grants, withdrawals, objections and erasure requests of the window's users (and others)."""
    rng = np.random.default_rng(seed)
    users = np.unique(frame["user_id"].dropna().to_numpy())
    n = len(users) * 3
    start = pd.Timestamp("2026-05-01", tz="UTC")
    ids = np.concatenate([rng.choice(users, n), rng.integers(10**6, 10**6 + 50, 50)])
    ledger = pd.DataFrame(
        {
            "entity_id": ids.astype(str) if as_text else ids,
            "purpose": rng.choice(["ads", "ads", "ads", "analytics"], len(ids)),
            "event": rng.choice(["granted", "granted", "withdrawn", "objected", "erasure_requested"], len(ids)),
            "timestamp": start + pd.to_timedelta(rng.integers(0, 75 * 86400, len(ids)), unit="s"),
        }
    )
    # same-instant events of one entity: a grant and a withdrawal at once
    dup = ledger.iloc[:20].assign(event="withdrawn")
    return pd.concat([ledger, dup], ignore_index=True)
