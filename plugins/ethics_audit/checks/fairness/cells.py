"""The fairness family's statistics: one small table of counts per cell, mergeable.

A *cell* is a combination of values of every audited attribute. Everything the family reports
(realised metrics, bootstrap intervals, score estimates) is computed from these per-cell arrays,
never from rows, so they can come from an engine's GROUP BY (``query.from_rows``) or from a
window already encoded in memory (``from_inputs``), and partial tables of chunks or partitions
add up with ``merge``. Cells are kept in a canonical order (each attribute's values sorted, a
missing value last; cells sorted by those codes), the order ``inputs`` encodes rows in, because
the bootstrap draws cell by cell and the order fixes its random stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ethics_audit.checks.fairness.counts import CATEGORIES
from ethics_audit.errors import DataError

if TYPE_CHECKING:
    from ethics_audit.checks.fairness.inputs import Inputs

# a sensitive attribute is categorical; thousands of values means a wrong column (an id, a raw age)
MAX_GROUPS_PER_ATTRIBUTE = 1000
UNLABELLED = 2


@dataclass(frozen=True)
class Rule:
    """How rows became decisions: the spec's own (threshold None) or a score cut-off."""

    threshold: float | None
    source: str  # e.g. "column 'shown'" or "score >= 0.5"


@dataclass
class Cells:
    """Per-cell counts of a window (or of a chunk of it).

    ``tables[d, c]``: rows of cell ``c`` per category (decision x label state) under decision rule
    ``d``. ``scores[c]``: sum of scores, rows with a score. For the score estimates, over rows with
    a score and a primary decision: ``known[c]`` the labelled ones by category, ``guess[u, c, d]``
    (count, sum of p, sum of p(1 - p)) of those with decision ``d`` that are unlabelled (``u`` 0)
    or all of them (``u`` 1, the backtest of a labelled window).
    """

    attributes: list[str]
    keys: list[tuple[Any, ...]]  # per cell, its attribute values (JSON scalars, None = missing)
    tables: np.ndarray  # (rules, cells, 6) int64
    scores: np.ndarray  # (cells, 2) float64
    known: np.ndarray  # (cells, 6) int64
    guess: np.ndarray  # (2, cells, 2, 3) float64
    rows: int  # every row, with a decision or not
    rules: list[Rule]
    has_labels: bool
    has_score: bool
    score_range: tuple[float, float] | None = None  # (min, max) of the scores present
    group_sets: list[tuple[int, ...]] = field(default_factory=list)
    values: list[list[Any]] = field(init=False, repr=False)
    cell_codes: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.values, self.cell_codes = _codes(self.keys, len(self.attributes))

    def merge(self, other: Cells) -> Cells:
        """The cells of both parts: counts and sums add, cells seen in either are kept."""
        if (self.attributes, self.rules, self.has_labels, self.has_score) != (
            other.attributes, other.rules, other.has_labels, other.has_score
        ):  # fmt: skip
            raise ValueError("cannot merge fairness cells of different attributes or decision rules")
        keys = sorted(set(self.keys) | set(other.keys), key=sort_key(self.keys + other.keys))
        where = {key: i for i, key in enumerate(keys)}

        def add(a: np.ndarray, b: np.ndarray, axis: int) -> np.ndarray:
            shape = list(a.shape)
            shape[axis] = len(keys)
            out = np.zeros(shape, dtype=np.result_type(a, b))
            for part, part_keys in ((a, self.keys), (b, other.keys)):
                index = [slice(None)] * len(shape)
                index[axis] = [where[k] for k in part_keys]
                out[tuple(index)] += part
            return out

        ranges = [r for r in (self.score_range, other.score_range) if r is not None]
        return replace(
            self,
            keys=keys,
            tables=add(self.tables, other.tables, 1),
            scores=add(self.scores, other.scores, 0),
            known=add(self.known, other.known, 0),
            guess=add(self.guess, other.guess, 1),
            rows=self.rows + other.rows,
            score_range=(min(r[0] for r in ranges), max(r[1] for r in ranges)) if ranges else None,
        )

    def validate(self, field: str, where: str = "checks.fairness") -> None:
        """The checks ``inputs`` makes on each attribute, on the whole window's cells."""
        for name, values in zip(self.attributes, self.values, strict=True):
            check_groups(name, values, field, where)


def check_groups(name: str, values: list[Any], field: str, where: str = "checks.fairness") -> None:
    """An attribute's groups (``values``, None for missing) are few, and more than one."""
    present = [v for v in values if v is not None]
    if len(present) > MAX_GROUPS_PER_ATTRIBUTE:
        raise DataError(
            f"{where}: the sensitive attribute {name!r} ({field}) has {len(present)} distinct values; "
            "a sensitive attribute must be categorical: bin it (e.g. age into bands) or remove it from "
            f"{field}"
        )
    if len(values) == 1:
        raise DataError(
            f"{where}: every row of the window has {name}={values[0]!r} ({field}), one group, so there "
            "is nothing to compare; check the source's filter, or audit attributes with two or more groups"
        )


def _value_keys(keys: list[tuple[Any, ...]]) -> list:
    """Per attribute, the sort key of its values: the values (as text if their types mix), None last."""
    out = []
    for a in range(len(keys[0]) if keys else 0):
        present = {k[a] for k in keys if k[a] is not None}
        try:
            sorted(present)
            text = False
        except TypeError:
            text = True
        out.append(lambda v, text=text: (v is None, "" if v is None else (str(v) if text else v)))
    return out


def sort_key(keys: list[tuple[Any, ...]]):
    """Order of cells: by the first attribute's value, then the second's, ..."""
    value_keys = _value_keys(keys)
    return lambda cell: tuple(f(v) for f, v in zip(value_keys, cell, strict=True))


def _codes(keys: list[tuple[Any, ...]], width: int) -> tuple[list[list[Any]], np.ndarray]:
    value_keys = _value_keys(keys)
    values = [sorted({k[a] for k in keys}, key=value_keys[a]) for a in range(len(value_keys))]
    index = [{v: i for i, v in enumerate(vals)} for vals in values]
    codes = np.array([[index[a][v] for a, v in enumerate(k)] for k in keys], dtype=np.int64).reshape(len(keys), width)
    return values, codes


def from_inputs(inputs: Inputs) -> Cells:
    """The cells of a window encoded in memory (``inputs.prepare``), by bincount over its rows."""
    n_cells = len(inputs.cell_codes)
    cell = inputs.cell_of_row
    from ethics_audit.checks.fairness.counts import confusion_table

    tables = np.stack([confusion_table(cell, d.values, inputs.label_state, n_cells) for d in inputs.decisions])
    scores = np.zeros((n_cells, 2))
    known = np.zeros((n_cells, CATEGORIES), dtype=np.int64)
    guess = np.zeros((2, n_cells, 2, 3))
    score_range = None
    if inputs.score is not None:
        score = inputs.score
        scored = ~np.isnan(score)
        scores[:, 0] = np.bincount(cell, np.where(scored, score, 0.0), n_cells)
        scores[:, 1] = np.bincount(cell, scored.astype(np.float64), n_cells)
        if scored.any():
            score_range = (float(score[scored].min()), float(score[scored].max()))
        decision = inputs.decisions[0].values
        state = inputs.label_state
        if state is None:
            state = np.full(len(decision), UNLABELLED, np.int8)
        has = (decision >= 0) & scored
        labelled = has & (state != UNLABELLED)
        index = cell[labelled] * 6 + decision[labelled].astype(np.int64) * 3 + state[labelled]
        known[:] = np.bincount(index, minlength=n_cells * 6).reshape(n_cells, 6)
        for u, rows_of in enumerate((has & ~labelled, has)):
            for d in (0, 1):
                rows = rows_of & (decision == d)
                p = score[rows]
                guess[u, :, d, 0] = np.bincount(cell[rows], minlength=n_cells)
                guess[u, :, d, 1] = np.bincount(cell[rows], p, n_cells)
                guess[u, :, d, 2] = np.bincount(cell[rows], p * (1 - p), n_cells)
    keys = [tuple(inputs.values[a][c] for a, c in enumerate(codes)) for codes in inputs.cell_codes]
    out = Cells(
        attributes=list(inputs.attributes),
        keys=keys,
        tables=tables,
        scores=scores,
        known=known,
        guess=guess,
        rows=inputs.rows,
        rules=[Rule(d.threshold, d.source) for d in inputs.decisions],
        has_labels=inputs.label_state is not None,
        has_score=inputs.score is not None,
        score_range=score_range,
        group_sets=list(inputs.group_sets),
    )
    out.values, out.cell_codes = inputs.values, inputs.cell_codes  # the encoding as inputs made it
    return out
