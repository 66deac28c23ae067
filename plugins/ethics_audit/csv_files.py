"""Read CSV files so that they mean what the same data means in parquet.

pandas reads an empty cell as a missing value by default, so a text column of a clean week
(``profile_bio`` with empty bios) looks full of nulls when the week comes from CSV. Here every
cell is read as written (``keep_default_na=False``); only the spec's ``na_values`` mean missing,
and an empty cell is missing only in a column whose other cells are all numbers (or that is
empty throughout). Each file is
read on its own, so an encoding or parse error names that file, its line where pandas says it,
and the fix, and never quotes the file's content.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from ethics_audit.errors import SourceError

if TYPE_CHECKING:
    import pandas as pd

_LINE = re.compile(r"line (\d+)")


def read_csv_files(files: list[Path], where: str, *, na_values: list[str], encoding: str = "utf-8") -> pd.DataFrame:
    """The rows of every file, one frame; ``where`` names the spec field in errors."""
    import pandas as pd

    frames = [_read_one(path, where, na_values, encoding) for path in files]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = _numbers_with_gaps(frame[column])
    return frame


def _read_one(path: Path, where: str, na_values: list[str], encoding: str) -> pd.DataFrame:
    import pandas as pd

    try:
        return pd.read_csv(path, keep_default_na=False, na_values=na_values or None, encoding=encoding)
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{where}: {path} is not {encoding} text (a byte at position {exc.start} cannot be decoded); "
            f"save it as UTF-8, or set encoding: (e.g. latin-1) on the source"
        ) from None
    except LookupError:
        raise SourceError(
            f"{where}.encoding: {encoding!r} is not a text encoding Python knows; use e.g. utf-8"
        ) from None
    except pd.errors.EmptyDataError:
        raise SourceError(
            f"{where}: {path} is empty (not even a header line); write the header, or remove the file"
        ) from None
    except pd.errors.ParserError as exc:
        line = _LINE.search(str(exc))
        at = f" at line {line.group(1)}" if line else ""
        raise SourceError(
            f"{where}: {path} is not valid CSV{at} (a row has more fields than the header, or a quote is not "
            "closed); fix that row, or quote fields that contain commas"
        ) from None
    except OSError as exc:
        raise SourceError(
            f"{where}: cannot read {path} ({type(exc).__name__}); check that it exists and is readable"
        ) from None


def _numbers_with_gaps(series: pd.Series) -> pd.Series:
    """A column of numbers with some empty cells: the empty cells are missing numbers. A column
    with any other text stays as written, empty strings included."""
    import pandas as pd

    empty = series == ""
    if not empty.any():
        return series
    if empty.all():  # nothing written at all (late labels, say): missing, as parquet would have it
        return pd.Series(float("nan"), index=series.index)
    numbers = pd.to_numeric(series[~empty], errors="coerce")
    if numbers.isna().any():
        return series
    return pd.to_numeric(series.where(~empty, None), errors="coerce")
