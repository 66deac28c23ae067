"""The input fingerprint of a window: row counts and one aggregate digest per column.

Each column's digest is SHA-256 over ``name|dtype|rows|nulls|sum`` where ``sum`` is the sum,
modulo 2**64, of pandas' 64-bit hash of every value (``pandas.util.hash_pandas_object`` with
``index=False``): it does not depend on row order, changes when any value changes, and keeps
no value itself, so whoever holds the source data can recompute it and nobody else learns
anything from it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ethics_audit.ledger import canonical

if TYPE_CHECKING:
    import pandas as pd


def of_frame(frame: pd.DataFrame) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    columns = {}
    for name in frame.columns:
        column = frame[name]
        try:
            hashed = pd.util.hash_pandas_object(column, index=False).to_numpy(dtype=np.uint64)
        except TypeError:  # unhashable cells (lists, dicts): hash their text
            hashed = pd.util.hash_pandas_object(column.astype(str), index=False).to_numpy(dtype=np.uint64)
        total = int(hashed.sum(dtype=np.uint64))  # wraps modulo 2**64, as documented
        nulls = int(column.isna().sum())
        text = f"{name}|{column.dtype}|{len(column)}|{nulls}|{total}"
        columns[str(name)] = canonical.sha256(text)
    return {"rows": len(frame), "columns": dict(sorted(columns.items()))}


def of_window(current: pd.DataFrame, reference: pd.DataFrame | None) -> dict[str, Any]:
    """What the window entry records about its input data."""
    return {"current": of_frame(current), "reference": None if reference is None else of_frame(reference)}
