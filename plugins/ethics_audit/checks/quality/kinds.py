"""Quality's column kinds, and the frame Great Expectations sees.

``kind_of`` names a column's kind (numeric, string, boolean, datetime); ``canonical`` is the
column as the built-in suite validates it: strings as pandas categoricals, time-zone aware
timestamps as naive UTC (the same values, much cheaper for GX to filter and hash).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

NUMERIC_DTYPES = [f"{k}{b}" for k in ("int", "uint") for b in (8, 16, 32, 64)] + ["float16", "float32", "float64"]
TYPE_LISTS = {
    "numeric": NUMERIC_DTYPES,
    "boolean": ["bool"],
    "datetime": ["datetime64[ns]", "datetime64[us]", "datetime64[ms]", "datetime64[s]"],
}


def kind_of(series: pd.Series) -> str:
    """numeric, string, boolean, datetime, or the dtype's name for anything else."""
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if (
        pd.api.types.is_object_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(dtype)
    ):
        return "string"
    return str(dtype)


def canonical(series: pd.Series) -> pd.Series:
    """The column as the built-in suite sees it: strings as a categorical, time-zone-aware
    timestamps as naive UTC, pandas nullable numbers and booleans as NumPy ones. Values, nulls
    and their order are unchanged."""
    import numpy as np
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return series
    if isinstance(dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        try:
            return series.astype("category")
        except TypeError:  # unhashable values (lists, dicts): leave them as they are
            return series
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_bool_dtype(dtype):
        return series.astype(object) if series.hasnans else series.astype(bool)
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_numeric_dtype(dtype):
        if series.hasnans:
            return pd.Series(series.to_numpy(dtype=float, na_value=np.nan), index=series.index, name=series.name)
        return series.astype(dtype.numpy_dtype)
    return series
