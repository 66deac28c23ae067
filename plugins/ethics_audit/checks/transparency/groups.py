"""Group tables for the transparency family, built on the fairness family's count machinery.

Each part of the family sorts the window's rows into a few categories (explained or not,
appealed and overturned or not, ...). One ``np.bincount`` gives a table of rows per (cell,
category), a cell being a combination of sensitive-attribute values (``fairness.inputs.
encode_groups``); every group of an attribute or intersection is a sum of cells
(``fairness.counts.collapse``) and every rate a ratio of category sums. Intervals come from the
same per-cell multinomial bootstrap (``counts.resample_cells``), group rates get percentile
intervals (``counts.interval``) and the between-group disparities the fairness family's
simultaneous intervals (``counts.disparity_interval``), judged with the same minimum sizes and
``require_significance`` rule. Only counts per cell reach this module, so it ports to any engine
that can group and count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ethics_audit.checks.fairness import counts
from ethics_audit.checks.fairness.inputs import Groups, encode_groups
from ethics_audit.errors import DataError, columns_withheld
from ethics_audit.results import MetricResult, Status, Threshold

if TYPE_CHECKING:
    import pandas as pd

    from ethics_audit.data import AuditData
    from ethics_audit.spec import TransparencyConfig

CHECK = "transparency"
WHERE = "checks.transparency"


@dataclass(frozen=True)
class GroupTable:
    """Rows per (group, category) for one attribute set; ``boot`` the resampled tables."""

    name: str  # "" for the whole window, else "gender" or "age_band+gender"
    slices: list[dict[str, Any]]
    table: np.ndarray  # (groups, k)
    boot: np.ndarray | None  # (R, groups, k)

    @property
    def is_window(self) -> bool:
        return self.name == ""


def attribute_sets(config: TransparencyConfig, data: AuditData) -> tuple[list[str], list[list[str]]]:
    """The attributes (default: the fairness family's, or columns.sensitive) and intersections."""
    fairness = data.spec.checks.fairness
    attributes = list(config.attributes or (fairness.attributes if fairness else None) or data.columns.sensitive)
    if not attributes:
        raise DataError(f"{WHERE}: no sensitive attributes; list them in columns.sensitive or {WHERE}.attributes")
    intersections = config.intersections
    if intersections is None:
        intersections = [c for c in (fairness.intersections if fairness else []) if set(c) <= set(attributes)]
    return attributes, [list(c) for c in intersections]


def encode(config: TransparencyConfig, data: AuditData) -> tuple[list[str], Groups]:
    attributes, intersections = attribute_sets(config, data)
    field = f"{WHERE}.attributes" if config.attributes else "columns.sensitive"
    return attributes, encode_groups(data.current, attributes, intersections, field=field, where=WHERE)


def cell_table(groups: Groups, category: np.ndarray, k: int) -> np.ndarray:
    """Rows per (cell, category) of the window in memory; rows with category < 0 are left out."""
    n_cells = len(groups.cell_codes)
    index = np.where(category < 0, n_cells * k, groups.cell_of_row * k + category)
    return np.bincount(index, minlength=n_cells * k + 1)[: n_cells * k].reshape(n_cells, k)


def tables_of_cells(
    attributes: list[str], groups: Groups, table: np.ndarray, config: TransparencyConfig, *, resample: bool = True
) -> list[GroupTable]:
    """The window's table, then one per attribute set, from the (cells, k) table however it was
    counted (``cell_table`` in memory, or an engine's GROUP BY: ``aggregates``)."""
    n_cells = len(groups.cell_codes)
    resamples = config.bootstrap.resamples if resample else 0
    boot = counts.resample_cells(table, resamples, config.bootstrap.seed) if resamples else None
    out = [_collapse("", [{}], np.zeros(n_cells, dtype=np.int64), table, boot)]
    for positions in groups.group_sets:
        group_of_cell, group_codes = counts.group_of_cells(groups.cell_codes, positions)
        order = sorted(range(len(positions)), key=lambda i: attributes[positions[i]])
        slices = [
            {attributes[positions[i]]: groups.values[positions[i]][codes[i]] for i in order} for codes in group_codes
        ]
        name = "+".join(attributes[positions[i]] for i in order)
        out.append(_collapse(name, slices, group_of_cell, table, boot))
    return out


def _collapse(name: str, slices: list[dict], group_of_cell: np.ndarray, table: np.ndarray, boot: np.ndarray | None):
    n = len(slices)
    return GroupTable(
        name,
        slices,
        counts.collapse(table, group_of_cell, n),
        None if boot is None else counts.collapse(boot, group_of_cell, n),
    )


def share(
    values: np.ndarray, numerator: tuple[int, ...], denominator: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Rate of ``numerator`` categories among ``denominator`` ones over the last axis, and the denominator."""
    num = values[..., list(numerator)].sum(axis=-1)
    den = values[..., list(denominator)].sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan), den


@dataclass
class Rate:
    """One rate measured over the groups of a table, with what is needed to compare them."""

    observed: np.ndarray  # (groups,)
    samples: np.ndarray | None  # (R, groups)
    denominator: np.ndarray  # (groups,)
    eligible: np.ndarray  # (groups,) bool: meets the minimum size


class Results:
    """Collects the family's results with the thresholds and intervals of the spec."""

    def __init__(self, config: TransparencyConfig):
        self.config = config
        self.out: list[MetricResult] = []

    def threshold(self, metric: str, *, interval: bool = True) -> Threshold:
        """The spec's threshold; ``require_significance`` only for metrics that carry an interval."""
        significance = self.config.require_significance and interval
        return self.config.thresholds.get(metric, require_significance=significance)

    def add(self, metric: str, value: Any, slice_: dict, *, n: int | None, threshold: Threshold | None = None,
            ci: tuple = (None, None), **details: Any) -> None:  # fmt: skip
        self.out.append(MetricResult(CHECK, metric, value, dict(slice_), ci[0], ci[1], n=n, threshold=threshold,
                                     details=details))  # fmt: skip

    def insufficient(self, metric: str, slice_: dict, reason: str, *, n: int, threshold: Threshold | None = None,
                     **details: Any) -> None:  # fmt: skip
        self.out.append(MetricResult(CHECK, metric, None, dict(slice_), n=n, threshold=threshold,
                                     status=Status.INSUFFICIENT_DATA, details={"reason": reason, **details}))  # fmt: skip

    def rate(
        self,
        metric: str,
        gt: GroupTable,
        numerator: tuple[int, ...],
        denominator: tuple[int, ...],
        *,
        what: str,
        threshold: Threshold | None = None,
        extra: dict | None = None,
    ) -> Rate:
        """Each group's rate with its percentile interval; groups below min_group_size are insufficient."""
        observed, den = share(gt.table, numerator, denominator)
        samples = None if gt.boot is None else share(gt.boot, numerator, denominator)[0]
        minimum = self.config.min_group_size
        eligible = den >= minimum
        low = high = None
        if samples is not None:
            low, high = counts.interval(samples, self.config.bootstrap.confidence)
        for g, slice_ in enumerate(gt.slices):
            n = int(den[g])
            if n < minimum:
                reason = f"{n} {what}, fewer than min_group_size {minimum}"
                self.insufficient(metric, slice_, reason, n=n, threshold=threshold)
                continue
            ci = (None, None) if low is None else (low[g], high[g])
            self.add(metric, observed[g], slice_, n=n, ci=ci, threshold=threshold, **(extra or {}))
        return Rate(observed, samples, den, eligible)

    def disparity(self, metric: str, kind: str, gt: GroupTable, rate: Rate, *, what: str) -> None:
        """Largest minus smallest (``difference``) or smallest over largest (``ratio``) rate over the
        groups that meet the minimum, with the fairness family's simultaneous interval."""
        threshold = self.threshold(metric)
        slice_ = {"attribute": gt.name}
        include = rate.eligible & ~np.isnan(rate.observed)
        n = int(rate.denominator[include].sum())
        context: dict[str, Any] = {"groups": int(include.sum()), "excluded_groups": int(len(gt.slices) - include.sum())}
        measure = counts.difference if kind == "difference" else counts.ratio
        value = float(measure(rate.observed, include))
        if np.isnan(value):
            if include.sum() < 2:
                reason = (
                    f"{context['groups']} of {len(gt.slices)} groups have at least {self.config.min_group_size} "
                    f"{what}; a disparity needs two"
                )
            else:
                reason = "the rate is 0 in every compared group, so the ratio is undefined"
            self.insufficient(metric, slice_, reason, n=n, threshold=threshold, **context)
            return
        values = np.where(include, rate.observed, np.nan)
        context["max_group"] = gt.slices[int(np.nanargmax(values))]
        context["min_group"] = gt.slices[int(np.nanargmin(values))]
        ci: tuple = (None, None)
        if rate.samples is not None:
            low, high = counts.disparity_interval(
                [(rate.observed, rate.samples, include)], kind, self.config.bootstrap.confidence
            )
            ci = (None if np.isnan(low) else float(low), None if np.isnan(high) else float(high))
        self.add(metric, value, slice_, n=n, ci=ci, threshold=threshold, **context)


def adverse_rows(config: TransparencyConfig, data: AuditData) -> np.ndarray | None:
    """True where the decision is adverse to the person (``adverse_decision``); None without decisions."""
    column = data.columns.prediction
    if column is None:
        return None
    if column not in data.current.columns:
        raise DataError(f"{WHERE}: columns.prediction names {column!r}, which is not a column of the window")
    series = data.current[column]
    return (series == config.adverse_decision).to_numpy(dtype=bool, na_value=False)


def require_columns(frame: pd.DataFrame, roles: dict[str, str], where: str, what: str, source: str) -> None:
    """Every mapped column is in ``frame``, or a ``DataError`` naming the source, the field and the fix."""
    for role, column in roles.items():
        if column is not None and column not in frame.columns:
            shown = columns_withheld(frame.columns)
            raise DataError(
                f"{where}.columns.{role}: {column!r} is not a column of the {what} ({source}; columns: {shown}); "
                f"rename the column in the source, or set {where}.columns.{role}"
            )
