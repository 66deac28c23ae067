"""The labelled reference rows the score estimates check calibration on, held compactly.

The Hosmer-Lemeshow test splits each group's scores into deciles by a *stable* sort, so rows
tied on a score fall into a decile by their order in the reference: the check needs those rows
in order, not an aggregate. Only what it reads is kept: each row's score (float64), whether its
label is positive, one stable sort of all scores, and each attribute as integer codes (hashed
once; every group of every attribute set is then an integer comparison). From a frame in memory,
or from a reference left on an engine (its rows come back as Arrow columns, in the file's order,
without a Python object per row).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from ethics_audit.engine import Rows


@dataclass
class Reference:
    score: np.ndarray  # (rows,) float64, labelled rows with a score only
    label: np.ndarray  # (rows,) float64: 1.0 where the label is the positive label
    codes: dict[str, tuple[np.ndarray, list[Any]]]  # attribute -> (code per row, -1 missing; values)
    order: np.ndarray = field(init=False)  # the stable ascending order of ``score``
    _masks: dict[tuple[str, Any], np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.order = np.argsort(self.score, kind="stable")

    def __len__(self) -> int:
        return len(self.score)

    def rows_with(self, attribute: str, value: Any) -> np.ndarray:
        """Where ``attribute`` is ``value`` (missing for None), as ``column == value`` says."""
        if (attribute, value) not in self._masks:
            codes, values = self.codes[attribute]
            if value is None:
                self._masks[attribute, value] = codes < 0
            else:
                self._masks[attribute, value] = np.isin(codes, [i for i, u in enumerate(values) if u == value])
        return self._masks[attribute, value]

    def group(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A group's scores and labels (in row order) and their stable order by score.

        Restricting the whole reference's stable order to the group gives the group's own stable
        order (ties stay in row order), so no group is sorted again."""
        position = np.cumsum(mask) - 1
        return self.score[mask], self.label[mask], position[self.order[mask[self.order]]]


def from_frame(frame: pd.DataFrame, score: str, label: str, attributes: list[str], positive: Any) -> Reference:
    """``frame``: the reference's labelled rows with a score (NaN already dropped)."""
    import pandas as pd

    codes = {}
    for name in attributes:
        code, uniques = pd.factorize(frame[name], use_na_sentinel=True)
        codes[name] = (code, list(uniques))
    return Reference(
        frame[score].to_numpy(dtype=np.float64), (frame[label] == positive).to_numpy(dtype=np.float64), codes
    )


def from_rows(rows: Rows, score: str, label: str, attributes: list[str], positive: Any) -> Reference:
    """The same from a reference on an engine: one filtered scan, these columns only."""
    import pyarrow.compute as pc

    t = rows.table
    s = t[score]
    keep = s.notnull() & t[label].notnull()
    if s.type().is_floating():
        keep = keep & ~s.isnan()
    picked = {"__score": s.cast("float64"), "__positive": t[label] == positive}
    picked |= {f"__a{i}": t[a] for i, a in enumerate(attributes)}
    table = rows.backend.to_pyarrow(t.filter(keep).select(**picked))
    codes = {}
    for i, name in enumerate(attributes):
        encoded = pc.dictionary_encode(table.column(f"__a{i}").combine_chunks())
        values = encoded.dictionary.to_pylist()
        code = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        nan = [j for j, v in enumerate(values) if isinstance(v, float) and v != v]  # NaN is missing, as in pandas
        if nan:
            code = np.where(np.isin(code, nan), -1, code)
        codes[name] = (code, values)
    positive_rows = table.column("__positive").to_numpy(zero_copy_only=False)
    return Reference(
        table.column("__score").to_numpy(zero_copy_only=False).astype(np.float64, copy=False),
        positive_rows.astype(np.float64),
        codes,
    )
