"""Quality's column kinds, and the dtypes the built-in suite judges.

``kind_of`` names a column's kind (numeric, string, boolean, datetime); ``canonical`` is the
column as the built-in suite judges it: strings as pandas categoricals, time-zone aware
timestamps as naive UTC (the same values). ``frame_schema`` and ``table_schema`` describe a
window's columns (kind, dtype, and which expected kinds its type expectation accepts) from a
pandas frame or from an engine table's schema, so the plan never needs the rows themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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


@dataclass(frozen=True)
class ColumnInfo:
    """One column of a window: its kind, its dtype as pandas names it, what GX's type
    expectations observe of the canonical column (the dtype's scalar type name for a type list,
    the dtype's name for one type), and the expected kinds its type expectation passes."""

    kind: str
    dtype: str
    type_name: str
    dtype_name: str
    accepts: frozenset[str]
    timezone: str | None = None  # a timestamp column's time zone on an engine (None: naive)


def _canonical_dtype(series: pd.Series) -> Any:
    """The dtype of ``canonical(series)`` without converting the column where that is avoidable."""
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        return pd.api.types.pandas_dtype(f"datetime64[{dtype.unit}]")
    if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        if pd.api.types.infer_dtype(series, skipna=True) in ("mixed", "unknown-array"):
            return canonical(series).dtype  # may hold unhashable values: only trying tells
        return pd.CategoricalDtype()
    return canonical(series).dtype  # NumPy columns come back as they are; extension ones are converted


def frame_schema(frame: pd.DataFrame) -> dict[str, ColumnInfo]:
    """The columns of a frame in memory, judged as GX's pandas engine judges the canonical frame."""
    import numpy as np
    import pandas as pd

    schema = {}
    for name in map(str, frame.columns):
        series = frame[name]
        dtype = _canonical_dtype(series)
        accepts: set[str] = set()
        if isinstance(dtype, pd.CategoricalDtype):
            accepts.add("string")
        elif isinstance(dtype, np.dtype) and dtype == np.dtype(object):
            # GX checks an object column value by value: booleans with nulls stay objects
            values = series.dropna()
            if all(isinstance(v, bool | np.bool_) for v in values):
                accepts.add("boolean")
        else:
            for kind, names in TYPE_LISTS.items():
                if str(dtype) in names:
                    accepts.add(kind)
        schema[name] = ColumnInfo(
            kind_of(series), str(series.dtype), dtype.type.__name__, str(dtype), frozenset(accepts)
        )
    return schema


def table_schema(table: Any, pandas_dtypes: dict[str, str] | None = None) -> dict[str, ColumnInfo]:
    """The columns of an engine table, from its schema: each kind accepts itself. ``pandas_dtypes``:
    the dtypes the in-memory loader would restore (a parquet file's ``Int64``, ``string``...),
    named as the column's dtype as they would be in memory."""
    schema = {}
    for name, dtype in table.schema().items():
        try:
            pandas_dtype = dtype.to_pandas()
        except Exception:  # noqa: BLE001 - a type pandas has no name for (arrays, structs): the engine's
            pandas_dtype = None
        pandas_name = str(dtype) if pandas_dtype is None else str(pandas_dtype)
        if dtype.is_boolean():
            kind = "boolean"
        elif dtype.is_integer() or dtype.is_floating():
            kind = "numeric"
        elif dtype.is_string():
            kind = "string"
        elif dtype.is_timestamp():
            kind = "datetime"
        else:  # decimals, dates ...: pandas reads them as objects, the string kind
            kind = "string" if pandas_name == "object" and not dtype.is_null() else str(dtype)
        # what GX's pandas engine would observe of the column in memory, canonical
        if kind == "string":
            type_name, dtype_name = "CategoricalDtypeType", "category"
        elif kind == "datetime":
            type_name, dtype_name = "datetime64", "datetime64[ns]"
        elif pandas_dtype is not None and hasattr(pandas_dtype, "type"):
            type_name, dtype_name = pandas_dtype.type.__name__, pandas_name
        else:
            type_name = dtype_name = pandas_name
        timezone = getattr(dtype, "timezone", None) if dtype.is_timestamp() else None
        accepts = frozenset({kind}) if kind in TYPE_LISTS or kind == "string" else frozenset()
        pandas_name = (pandas_dtypes or {}).get(str(name), pandas_name)
        schema[str(name)] = ColumnInfo(kind, pandas_name, type_name, dtype_name, accepts, timezone)
    return schema
