"""Read and validate the fairness check's inputs: groups, decisions and labels, as small codes.

Everything downstream works on integer codes: each row's *cell* (its combination of values of
every audited attribute), its decision (0/1, -1 when it has none) and its label state (0
negative, 1 positive, 2 not labelled yet). Bad input raises ``DataError`` naming the spec
field, the column and the fix; the messages carry counts and ranges, never row values other
than group names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ethics_audit.checks.fairness.cells import check_groups
from ethics_audit.errors import DataError, columns_withheld

if TYPE_CHECKING:
    from ethics_audit.data import AuditData
    from ethics_audit.spec import FairnessConfig

NEGATIVE, POSITIVE, UNLABELLED = 0, 1, 2
MISSING_DECISION = -1


@dataclass(frozen=True)
class Decisions:
    """One way of turning rows into decisions: the spec's own, or a score cut-off."""

    threshold: float | None  # None: the primary decision (slices carry no decision_threshold)
    values: np.ndarray  # int8 per row: 0, 1 or MISSING_DECISION
    source: str  # e.g. "column 'shown'" or "score >= 0.5"


@dataclass(frozen=True)
class Inputs:
    """The window, encoded. ``cell_codes[c, a]`` is attribute ``a``'s code in cell ``c``;
    ``values[a][code]`` is the group value (a JSON-safe scalar, None for a missing value)."""

    attributes: list[str]
    values: list[list[Any]]
    cell_codes: np.ndarray  # (cells, attributes), rows sorted, so cell order is stable
    cell_of_row: np.ndarray  # (rows,) int64
    decisions: list[Decisions]  # the primary first
    label_state: np.ndarray | None  # (rows,) int8, None when no label column is mapped
    score: np.ndarray | None  # (rows,) float64 with NaN, None when no score column is mapped
    group_sets: list[tuple[int, ...]]  # attribute positions: each attribute, then each intersection

    @property
    def rows(self) -> int:
        return len(self.cell_of_row)


def _column(frame: pd.DataFrame, name: str, field: str, fix: str, where: str = "checks.fairness") -> pd.Series:
    check_column(frame.columns, name, field, fix, where)
    return frame[name]


def check_column(columns: Any, name: str, field: str, fix: str, where: str = "checks.fairness") -> None:
    if name not in columns:
        raise DataError(
            f"{where}: {field} names {name!r}, which is not a column of the window "
            f"(columns: {columns_withheld(columns)}); {fix}"
        )


def json_scalar(value: Any) -> Any:
    """A group value as it goes into a slice: str/int/float/bool/None, never a numpy type."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _encode_attribute(
    series: pd.Series, name: str, field: str, where: str = "checks.fairness"
) -> tuple[np.ndarray, list[Any]]:
    """Codes 0..k-1 in sorted value order; a missing value is a group of its own (``None``)."""
    try:
        codes, uniques = pd.factorize(series, sort=True, use_na_sentinel=True)
    except TypeError:  # values of mixed types cannot be sorted
        codes, uniques = pd.factorize(series.astype(str).where(series.notna()), sort=True, use_na_sentinel=True)
    values = [json_scalar(v) for v in uniques]
    codes = codes.astype(np.int64, copy=False)
    missing = codes < 0
    if missing.any():
        codes = np.where(missing, len(values), codes)
        values.append(None)
    check_groups(name, values, field, where)
    return codes, values


def _cells(codes: list[np.ndarray], sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Each row's cell (combination of attribute codes), with cells sorted by their codes."""
    combined = codes[0]
    for code, size in zip(codes[1:], sizes[1:], strict=True):
        # factorize after each step keeps the mixed-radix code below rows * size: no overflow
        combined = pd.factorize(combined * size + code)[0].astype(np.int64)
    cell_of_row, _ = pd.factorize(combined)
    cell_of_row = cell_of_row.astype(np.int64)
    n_cells = int(cell_of_row.max()) + 1
    first_row = np.empty(n_cells, dtype=np.int64)
    first_row[cell_of_row] = np.arange(len(cell_of_row))
    cell_codes = np.stack([code[first_row] for code in codes], axis=1)
    order = np.lexsort(cell_codes.T[::-1])
    rank = np.empty(n_cells, dtype=np.int64)
    rank[order] = np.arange(n_cells)
    return cell_codes[order], rank[cell_of_row]


def _is_positive(series: pd.Series, positive: Any, column: str, field: str) -> np.ndarray:
    """Validate a binary column (label or decision); True where it equals the positive value.

    With ``positive_label`` 0 or 1 the values must be 0/1 (booleans count); with another
    positive label (e.g. "yes") the column holds that value and at most one other.
    """
    check_binary(pd.unique(series.dropna()), positive, column, field)
    return (series == positive).to_numpy(dtype=bool, na_value=False)


def check_binary(uniques: Any, positive: Any, column: str, field: str) -> None:
    """A label or decision column holds 0/1, or ``positive`` and at most one other value."""
    numeric_positive = not isinstance(positive, str) and positive in (0, 1)
    if numeric_positive:
        bad = [v for v in uniques if isinstance(v, str) or v not in (0, 1)]
        if bad:
            shown = sorted({json_scalar(v) for v in bad[:5]}, key=str)
            raise DataError(
                f"checks.fairness: column {column!r} ({field}) has values other than 0/1, e.g. {shown}; map it "
                "to 0/1, or set checks.fairness.positive_label to the value that means the positive outcome"
            )
    else:
        others = [v for v in uniques if v != positive]
        if len(others) > 1:
            shown = sorted({json_scalar(v) for v in others[:5]}, key=str)
            raise DataError(
                f"checks.fairness: column {column!r} ({field}) is not binary: besides positive_label "
                f"{positive!r} it holds {shown}; map it to two values, or fix checks.fairness.positive_label"
            )


def _label_state(frame: pd.DataFrame, data: AuditData, config: FairnessConfig) -> np.ndarray | None:
    column = data.columns.label
    if column is None:
        return None
    fix = "map columns.label to the outcome column, or add a labels source that provides it"
    series = _column(frame, column, "columns.label", fix)
    positive = _is_positive(series, config.positive_label, column, "columns.label")
    state = positive.astype(np.int8)
    state[series.isna().to_numpy()] = UNLABELLED
    return state


def _scores(frame: pd.DataFrame, data: AuditData) -> np.ndarray | None:
    column = data.columns.score
    if column is None or column not in frame.columns:
        return None
    series = frame[column]
    if not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)):
        raise DataError(
            f"checks.fairness: column {column!r} (columns.score) is not numeric ({series.dtype}); "
            "map columns.score to the model's score in [0, 1]"
        )
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def _cut(score: np.ndarray | None, threshold: float, data: AuditData, field: str) -> Decisions:
    column = data.columns.score
    present = np.empty(0) if score is None else score[~np.isnan(score)]
    check_cut(column, score is not None, (present.min(), present.max()) if len(present) else None, field)
    values = np.where(np.isnan(score), MISSING_DECISION, score >= threshold).astype(np.int8)
    return Decisions(threshold, values, f"{column} >= {threshold:g}")


def check_cut(column: str | None, have_scores: bool, span: tuple[float, float] | None, field: str) -> None:
    """A score cut-off needs scores, in [0, 1] (``span``: their min and max, None when there is none)."""
    if column is None or not have_scores:
        where = "columns.score is not mapped" if column is None else f"column {column!r} is not in the window"
        raise DataError(f"checks.fairness: {field} needs scores, but {where}; map columns.score or remove {field}")
    if span is not None and (span[0] < 0 or span[1] > 1):
        raise DataError(
            f"checks.fairness: column {column!r} (columns.score) has values outside [0, 1] "
            f"(min {span[0]:.4g}, max {span[1]:.4g}), so {field} cannot cut it into decisions; "
            "rescale the scores to [0, 1], or map columns.prediction to the decisions"
        )


def _decisions(
    frame: pd.DataFrame, data: AuditData, config: FairnessConfig, score: np.ndarray | None
) -> list[Decisions]:
    column = data.columns.prediction
    out: list[Decisions] = []
    extra = list(config.extra_decision_thresholds)
    if column is not None:
        fix = "map columns.prediction to the decision column"
        series = _column(frame, column, "columns.prediction", fix)
        values = _is_positive(series, config.positive_label, column, "columns.prediction").astype(np.int8)
        values[series.isna().to_numpy()] = MISSING_DECISION
        out.append(Decisions(None, values, f"column {column!r}"))
        if config.decision_threshold is not None:
            extra.insert(0, config.decision_threshold)
    else:
        if config.decision_threshold is None:
            raise DataError(
                "checks.fairness: there is no decision: map columns.prediction, or columns.score "
                "with checks.fairness.decision_threshold"
            )
        primary = _cut(score, config.decision_threshold, data, "checks.fairness.decision_threshold")
        out.append(Decisions(None, primary.values, primary.source))
    for threshold in extra:
        cut = _cut(score, threshold, data, "checks.fairness.extra_decision_thresholds")
        out.append(cut)
    return out


def attribute_field(config: FairnessConfig) -> str:
    return "checks.fairness.attributes" if config.attributes else "columns.sensitive"


def prepare(config: FairnessConfig, data: AuditData) -> Inputs:
    """Validate the window against the spec and encode it; raises ``DataError`` on bad input."""
    frame = data.current
    field, attributes = audited(config, data)
    groups = encode_groups(frame, attributes, config.intersections, field=field)
    score = _scores(frame, data)
    decisions = _decisions(frame, data, config, score)
    label_state = _label_state(frame, data, config)
    return Inputs(
        attributes=attributes,
        values=groups.values,
        cell_codes=groups.cell_codes,
        cell_of_row=groups.cell_of_row,
        decisions=decisions,
        label_state=label_state,
        score=score,
        group_sets=groups.group_sets,
    )


def audited(config: FairnessConfig, data: AuditData) -> tuple[str, list[str]]:
    """The spec field that names the attributes, and the attributes; checks the spec against itself."""
    field = attribute_field(config)
    attributes = list(config.attributes or data.columns.sensitive)
    if not attributes:
        raise DataError("checks.fairness: no sensitive attributes; list them in columns.sensitive")
    for name in attributes:
        if name in config.RESERVED:
            raise DataError(f"checks.fairness: {field}: {name!r} names a key of fairness slices; rename the column")
    for combo in config.intersections:
        missing = [a for a in combo if a not in attributes]
        if missing:
            raise DataError(f"checks.fairness.intersections: {missing} are not among the attributes {attributes}")
    unknown = sorted(set(config.reference_group) - set(attributes))
    if unknown:
        raise DataError(f"checks.fairness.reference_group: {unknown} are not among the attributes {attributes}")
    return field, attributes


@dataclass(frozen=True)
class Groups:
    """Each row's cell (combination of attribute values) and the attribute sets to report."""

    values: list[list[Any]]
    cell_codes: np.ndarray
    cell_of_row: np.ndarray
    group_sets: list[tuple[int, ...]]


def encode_groups(
    frame: pd.DataFrame,
    attributes: list[str],
    intersections: list[list[str]],
    *,
    field: str,
    where: str = "checks.fairness",
) -> Groups:
    """Encode the sensitive attributes of ``frame`` as cells; the transparency family uses it too."""
    fix = f"fix {field} or the source"
    codes, values = [], []
    for name in attributes:
        code, vals = _encode_attribute(_column(frame, name, field, fix, where), name, field, where)
        codes.append(code)
        values.append(vals)
    cell_codes, cell_of_row = _cells(codes, [len(v) for v in values])
    return Groups(values, cell_codes, cell_of_row, group_sets(attributes, intersections))


def group_sets(attributes: list[str], intersections: list[list[str]]) -> list[tuple[int, ...]]:
    """Attribute positions to report: each attribute, then each intersection."""
    out: list[tuple[int, ...]] = [(i,) for i in range(len(attributes))]
    for combo in intersections:
        out.append(tuple(sorted(attributes.index(a) for a in combo)))
    return out
