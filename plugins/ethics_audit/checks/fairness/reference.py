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

    def groups(self, slices: list[dict[str, Any]]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``group`` for every group of one attribute set at once, without a pass over all rows per group.

        The rows are sorted (stably) by their group's code twice: as they are (each group's rows in
        row order) and in score order (each group's rows in its stable score order)."""
        names = sorted(slices[0]) if slices else []
        radix, gid = 1, np.zeros(len(self), dtype=np.int64)
        wanted: list[list[int]] = [[0] for _ in slices]
        for name in names:
            codes, values = self.codes[name]
            gid += (codes + 1) * radix
            for g, base in enumerate(slices):
                value = base[name]
                hits = [0] if value is None else [i + 1 for i, u in enumerate(values) if u == value]
                if len(hits) != 1:  # a value equal to two codes (1 and 1.0): the per-group masks say it
                    return [self.group(self._mask(base)) for base in slices]
                wanted[g] = [w + hits[0] * radix for w in wanted[g]]
            radix *= len(values) + 1
        # 16-bit codes sort by radix (linear); wider ones by merge sort
        gid = gid.astype(np.int16 if radix < 2**15 else np.int32 if radix < 2**31 else np.int64)
        by_row = np.argsort(gid, kind="stable")
        by_score = self.order[np.argsort(gid[self.order], kind="stable")]
        sorted_gid = gid[by_row]
        starts = np.flatnonzero(np.r_[True, sorted_gid[1:] != sorted_gid[:-1]]) if len(gid) else np.zeros(0, int)
        # each row's position among its group's rows (in row order)
        rank = np.empty(len(gid), dtype=np.int64)
        rank[by_row] = np.arange(len(gid)) - np.repeat(starts, np.diff(np.r_[starts, len(gid)]))
        out = []
        for target in wanted:
            lo, hi = np.searchsorted(sorted_gid, [target[0], target[0] + 1])
            rows = by_row[lo:hi]
            out.append((self.score[rows], self.label[rows], rank[by_score[lo:hi]]))
        return out

    def _mask(self, base: dict[str, Any]) -> np.ndarray:
        mask = np.ones(len(self), dtype=bool)
        for attribute, value in base.items():
            mask &= self.rows_with(attribute, value)
        return mask

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
