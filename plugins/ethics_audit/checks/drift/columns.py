"""Drift's column preparation: which columns are audited, their drift type, their cleaned values.

Each column is cleaned as Evidently cleans it (infinite and missing values dropped) and typed as
Evidently 0.7 types it, but string columns are factorized once (``Codes``) and compared as
categoricals over their shared values, so the tests count integer codes instead of strings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ethics_audit.spec import AuditSpec, DriftConfig

OUTPUT_ROLES = ("score", "prediction", "label")
# Evidently's infer_column_type: an integer column with at most this many values is categorical
INTEGER_CARDINALITY_LIMIT = 10
# Tests that sort their samples first (SciPy's CDF distances, KS, Anderson-Darling, Cramer-von
_PREFIX = 4096  # distinct values counted on a prefix first: enough to decide "more than 5" or "more than 10"


@dataclass(frozen=True)
class DriftColumn:
    """One audited column: its name, its role (feature or an output) and its drift type."""

    name: str
    role: str  # "feature" | "score" | "prediction" | "label"
    kind: str  # "numerical" | "categorical"
    codes: Codes | None = None  # the window's column factorized, for string columns


def audited_columns(spec: AuditSpec, config: DriftConfig) -> list[tuple[str, str]]:
    """(column, role) pairs: ``checks.drift.columns``, or the features, score, prediction, label."""
    columns = spec.columns
    roles = {getattr(columns, r): r for r in OUTPUT_ROLES if getattr(columns, r)}
    names = config.columns if config.columns is not None else columns.features + list(roles)
    return [(name, roles.get(name, "feature")) for name in dict.fromkeys(names)]


def _is_inf(value: Any) -> bool:
    try:
        return bool(value == math.inf or value == -math.inf)
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class Codes:
    """An object column factorized once: ``codes`` (-1 for missing) into ``uniques``."""

    codes: np.ndarray
    uniques: pd.Index

    @classmethod
    def of(cls, series: pd.Series) -> Codes:
        import pandas as pd

        codes, uniques = pd.factorize(series)
        return cls(codes, pd.Index(uniques, dtype=object))


def clean(series: pd.Series) -> pd.Series:
    """The column as Evidently tests it: ``series.replace([-inf, inf], nan).dropna()``, but
    without the slow object-dtype ``replace`` for the common dtypes. Always a new Series."""
    import numpy as np
    import pandas as pd

    kind = series.dtype.kind if isinstance(series.dtype, np.dtype) else None
    if kind in ("i", "u", "b"):
        return pd.Series(series.to_numpy(copy=True), name=series.name)
    if kind in ("f", "c"):
        values = series.to_numpy()
        return pd.Series(values[np.isfinite(values)], name=series.name)
    if kind == "O":
        codes = Codes.of(series)
        bad = [i for i, value in enumerate(codes.uniques) if _is_inf(value)]
        keep = codes.codes >= 0
        if bad:
            keep &= ~np.isin(codes.codes, bad)
        return pd.Series(series.to_numpy()[keep], name=series.name)
    return series.replace([-np.inf, np.inf], np.nan).dropna()


def shared_categories(reference: Codes, current: Codes, name: str) -> tuple[pd.Series, pd.Series]:
    """Two factorized string columns, cleaned as ``clean`` does, as categoricals over their
    shared values: the same values, hence the same test results, but counted from integer
    codes instead of hashing every string again in each step of the test."""
    import numpy as np
    import pandas as pd

    union = current.uniques.append(reference.uniques).unique()
    union = union[[not _is_inf(value) for value in union]]

    def part(side: Codes) -> pd.Series:
        lookup = np.append(union.get_indexer(side.uniques), -1)  # code -1 (missing) maps to -1
        codes = lookup[side.codes]
        codes = codes[codes >= 0]
        return pd.Series(pd.Categorical.from_codes(codes, categories=union), name=name)

    return part(reference), part(current)


def _nunique_above(series: pd.Series, limit: int) -> bool:
    """``series.nunique() > limit``, deciding from a prefix when the prefix already has more."""
    if len(series) > _PREFIX and series.iloc[:_PREFIX].nunique() > limit:
        return True
    return series.nunique() > limit


def _first_and_last(series: pd.Series) -> tuple[Any, Any] | None:
    """``series.dropna().iloc[[0, -1]]`` without scanning the whole column for missing values."""
    import pandas as pd

    def present(value: Any) -> bool:
        try:
            return not bool(pd.isna(value))
        except (TypeError, ValueError):  # list-like values: pd.isna answers element-wise
            return True

    values = series.to_numpy()
    first = next((v for v in values if present(v)), None)
    if first is None:
        return None
    last = next(v for v in values[::-1] if present(v))
    return first, last


def infer_kind(series: pd.Series, codes: Codes | None = None) -> str:
    """Evidently 0.7's ``infer_column_type`` (evidently/core/datasets.py) as a lowercase name;
    ``codes``, if given, is the column already factorized (it answers nunique and count)."""
    name = series.dtype.name
    if name.startswith("float"):
        return "numerical"
    if name.startswith("int"):
        return "numerical" if _nunique_above(series, INTEGER_CARDINALITY_LIMIT) else "categorical"
    if name in ("string", "str"):
        return "text" if series.nunique() > series.count() * 0.5 else "categorical"
    if name == "object":
        ends = _first_and_last(series)
        if ends is None:
            return "unknown"
        first, last = ends
        if isinstance(first, str) and isinstance(last, str):
            codes = codes or Codes.of(series)
            distinct, count = len(codes.uniques), int((codes.codes >= 0).sum())
            return "text" if distinct > count * 0.5 else "categorical"
        if isinstance(first, list | tuple) and isinstance(last, list | tuple):
            return "list"
        return "unknown"
    if name in ("bool", "category"):
        return "categorical"
    if name.startswith("datetime"):
        return "datetime"
    return "unknown"


def prepare(
    reference: pd.Series, current: pd.Series, kind: str, current_codes: Codes | None = None
) -> tuple[pd.Series, pd.Series]:
    """Both sides of a column cleaned for testing (see ``clean`` and ``shared_categories``)."""
    if kind == "categorical" and reference.dtype == object and current.dtype == object:
        return shared_categories(Codes.of(reference), current_codes or Codes.of(current), str(current.name))
    return clean(reference), clean(current)
