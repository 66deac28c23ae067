"""Drift computed on the engine: per column, the aggregates its test needs, then the test from them.

Where the switch from exact to approximate is (everything is exact unless named here):

- categorical columns, and numbers with few values: value counts of both sides, every
  categorical test exact (chi-square, Z, Jensen-Shannon, PSI, KL, Hellinger);
- Jensen-Shannon, PSI and KL of numbers with more than 20 reference values: exact, from counts on
  Evidently's own Sturges edges (computed from the joint range and size, as NumPy does);
- K-S: exact while the reference has at most ``KS_EXACT_VALUES`` distinct values (Evidently
  picks K-S only for references of at most 1,000 rows): the window counted on those values;
- normed Wasserstein: exact while both sides have at most ``EXACT_VALUES`` distinct values;
  beyond, **approximate** from ``FINE_BINS`` equal bins of the reference's range, extended by
  whole bins to the window's (``_Sides.grid``; the bins that carry most of the bound counted
  again finer when it is not small), with a proven bound in ``details["error_bound"]``;
- the t-test: from counts, means and sample variances (exact to rounding);
- any other test (Anderson, Cramer-von Mises, Mann-Whitney, energy, Epps-Singleton,
  MMD, TVD, Fisher, G-test, Hellinger of numbers): Evidently on the column's values, pulled
  from the engine only while both sides hold at most ``ROW_TEST_VALUES`` values, else a DataError.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ethics_audit.checks.drift import aggregates as agg
from ethics_audit.checks.drift import from_counts as fc
from ethics_audit.checks.drift import histograms
from ethics_audit.checks.drift.columns import INTEGER_CARDINALITY_LIMIT, OUTPUT_ROLES, DriftColumn
from ethics_audit.checks.drift.stattests import DRIFTED_WHEN, drift_threshold, resolve
from ethics_audit.errors import DataError, columns_withheld
from ethics_audit.results import MetricResult

if TYPE_CHECKING:
    from ethics_audit.engine import Rows
    from ethics_audit.spec import DriftConfig

KS_EXACT_VALUES = 100_000
EXACT_VALUES = 100_000
FINE_BINS = 8192
# how far (in bins) the window may reach past the reference's range on the reference's grid
EXTEND_BINS = 3 * FINE_BINS
# a binned Wasserstein whose bound exceeds this share of its threshold counts the REFINED_BINS
# bins that carry most of the bound again, each in REFINED_PARTS equal parts (one more pass)
REFINE_BELOW = 0.02
REFINED_BINS = 512
REFINED_PARTS = 64
ROW_TEST_VALUES = 2_000_000
PREFETCH_VALUES = 1000


def kind_on_engine(config: DriftConfig, name: str, profile: agg.ColumnProfile) -> str:
    """``columns.infer_kind`` from the window's profile (Evidently's ``infer_column_type``)."""
    if name in config.column_types:
        return config.column_types[name]
    if profile.dtype == "float":
        return "numerical"
    if profile.dtype == "int":
        return "numerical" if profile.nunique > INTEGER_CARDINALITY_LIMIT else "categorical"
    if profile.dtype == "string":
        return "text" if profile.nunique > profile.n * 0.5 else "categorical"
    if profile.dtype == "bool":
        return "categorical"
    if profile.dtype.startswith("timestamp") or profile.dtype.startswith("date"):
        return "datetime"
    return "unknown"


def check_columns(pairs: list[tuple[str, str]], current: Rows) -> None:
    missing = [name for name, _ in pairs if name not in current]
    if missing:
        raise DataError(
            f"checks.drift: {missing} not among the window's columns (columns: {columns_withheld(current.columns)}); "
            "fix checks.drift.columns or the columns mapping"
        )


def check_reference(columns: list[DriftColumn], reference: Rows) -> None:
    missing = [c.name for c in columns if c.name not in reference and c.role != "label"]
    if missing:
        raise DataError(
            f"checks.drift: {missing} are in the window but not in the reference "
            f"(reference columns: {columns_withheld(reference.columns)}); fix the reference "
            "(reference.baseline) or leave them out of checks.drift.columns"
        )


class _Sides:
    """Both sides of the audit on the engine, with each aggregate computed at most once."""

    def __init__(self, current: Rows, names: list[str]) -> None:
        self.current, self.names = current, names
        # the window's floats have their values counted only where the reference's are few
        # enough for the count to decide a test (``with_reference``): on floats of a million
        # values each, that estimate was a third of the window's pass
        floats = [n for n in names if current.table[n].type().is_floating()]
        self.cur = agg.profiles(current, names, distinct=[n for n in names if n not in floats])
        self.reference: Rows = current  # set by with_reference
        self.ref: dict[str, agg.ColumnProfile] = {}
        self._counts: dict[tuple[str, str], agg.ValueCounts] = {}
        self._histograms: dict[tuple[str, str], histograms.FineHistogram] = {}
        self.binned: list[str] = []  # the columns whose normed Wasserstein is binned (see ``plan``)

    def with_reference(self, reference: Rows) -> _Sides:
        self.reference = reference
        self.ref = agg.profiles(reference, [n for n in self.names if n in reference])
        # past EXACT_VALUES of the reference's, no test reads the window's number of values
        uncounted = [n for n in self.ref if self.cur[n].nunique is None and self.ref[n].nunique <= EXACT_VALUES]
        self.cur.update(agg.profiles(self.current, uncounted) if uncounted else {})
        # the columns with few values on both sides: their value counts in one query per side and type
        few = [n for n in self.ref if self.ref[n].nunique <= PREFETCH_VALUES and self.cur[n].nunique <= PREFETCH_VALUES]
        for side, rows, profiled in (("cur", self.current, self.cur), ("ref", self.reference, self.ref)):
            self._counts.update({(side, n): p.counts for n, p in profiled.items() if p.counts is not None})
            # those the profiles did not count (PostgreSQL's booleans, counted exactly without their
            # values, or an estimate far off)
            uncounted = [n for n in few if (side, n) not in self._counts]
            for name, counts in agg.value_counts_of(rows, uncounted).items() if uncounted else ():
                self._counts[side, name] = counts
        return self

    def counts(self, side: str, name: str) -> agg.ValueCounts:
        if (side, name) not in self._counts:
            self._counts[side, name] = agg.value_counts(self.current if side == "cur" else self.reference, name)
        return self._counts[side, name]

    def grid(self, name: str) -> tuple[tuple[float, float, int], tuple[float, float, int], int]:
        """(the reference's grid, the grid both sides are compared on, where the first starts in
        the second). The reference's grid is ``FINE_BINS`` equal bins of its own range, so its
        histogram is the same every window (and kept, see ``engine.cache``); the window's grid
        extends it by whole bins to the window's range. A window reaching more than
        ``EXTEND_BINS`` bins past the reference's range (or a reference of one value) is compared
        on ``FINE_BINS`` bins of the joint range instead."""
        ref, cur = self.ref[name], self.cur[name]
        lo, hi = ref.minimum, ref.maximum
        joint = (min(lo, cur.minimum), max(hi, cur.maximum), FINE_BINS)
        if not hi > lo:
            return joint, joint, 0
        width = (hi - lo) / FINE_BINS
        below = max(0, math.ceil((lo - cur.minimum) / width))
        above = max(0, math.ceil((cur.maximum - hi) / width))
        if below + above > EXTEND_BINS:
            return joint, joint, 0
        return (lo, hi, FINE_BINS), (lo - below * width, hi + above * width, FINE_BINS + below + above), below

    def histogram(self, side: str, name: str) -> histograms.FineHistogram:
        """The column's fine histogram on the compared grid, computed with those of every column
        ``binned`` lists, in one query per side (the reference's on its own grid, then placed)."""
        if (side, name) not in self._histograms:
            names = dict.fromkeys([*self.binned, name])
            grids = {n: self.grid(n) for n in names if (side, n) not in self._histograms}
            if side == "cur":
                for n, histogram in histograms.fine_histograms(
                    self.current, {n: g[1] for n, g in grids.items()}
                ).items():
                    self._histograms[side, n] = histogram
            else:
                own = histograms.fine_histograms(self.reference, {n: g[0] for n, g in grids.items()}, moments=True)
                for n, histogram in own.items():
                    self._histograms["own", n] = histogram
                    self._histograms[side, n] = histogram.placed(*grids[n][1], grids[n][2])
        return self._histograms[side, name]

    def refined(
        self, name: str, chosen: list[int], parts: int
    ) -> tuple[histograms.FineHistogram, histograms.FineHistogram]:
        """Both sides' ``chosen`` bins of the compared grid counted again in ``parts``: each side
        on the grid its first count used, so every value stays in the bin it was counted in."""
        own, compared, offset = self.grid(name)
        ref_grid, cur_grid = self._histograms["own", name], self._histograms["cur", name]
        mine = [k - offset for k in chosen if 0 <= k - offset < own[2]]
        ref_fine = histograms.refined_histogram(ref_grid, self.reference, name, mine, parts)
        ref_fine = ref_fine.placed(compared[0], compared[1], compared[2] * parts, offset * parts)
        return ref_fine, histograms.refined_histogram(cur_grid, self.current, name, chosen, parts)

    def union_above(self, name: str, limit: int) -> bool:
        """More than ``limit`` distinct values in both sides together (``_nunique_above(both)``)."""
        if self.ref[name].nunique > limit or self.cur[name].nunique > limit:  # (the reference's first: see __init__)
            return True
        return len(set(self.counts("cur", name).counts) | set(self.counts("ref", name).counts)) > limit

    def values(self, name: str) -> tuple[Any, Any]:
        """The column's usable values on both sides, as Series (for the tests without aggregates)."""
        import pandas as pd

        out = []
        for rows in (self.reference, self.current):
            column = rows.table[name]
            frame = rows.execute(rows.table.filter(agg.usable(column)).select(column))
            out.append(pd.Series(frame[name].to_numpy(), name=name))
        return out[0], out[1]


def default_method(sides: _Sides, column: DriftColumn) -> str:
    """``stattests.default_stattest`` from the profiles."""
    if sides.ref[column.name].n <= 1000:
        if column.kind == "numerical" and sides.union_above(column.name, 5):
            return "ks"
        return "chisquare" if sides.union_above(column.name, 2) else "z"
    if column.kind == "numerical":
        return "wasserstein" if sides.union_above(column.name, 5) else "jensenshannon"
    return "jensenshannon"


def _stattest(name: str, kind: str, chosen_by: str, field: str, column: str) -> Any:
    from evidently.legacy.calculations.stattests.registry import (
        StatTestInvalidFeatureTypeError,
        _registered_stat_tests,
        get_registered_stattest,
    )
    from evidently.legacy.core import ColumnType

    if chosen_by == "default":
        return next(iter(_registered_stat_tests[name].values()))
    try:
        return get_registered_stattest(name, ColumnType.Numerical if kind == "numerical" else ColumnType.Categorical)
    except StatTestInvalidFeatureTypeError:
        raise DataError(
            f"{field}: Evidently's {name!r} does not apply to {kind} column {column!r}; "
            f"choose a {kind} test in checks.drift.per_column.{column}, or set its column_types"
        ) from None


def score(sides: _Sides, column: DriftColumn, method: str, threshold: float, field: str) -> fc.Score:
    """The column's score from the engine's aggregates (the module docstring lists the routes)."""
    name = column.name
    ref, cur = sides.ref[name], sides.cur[name]
    if column.kind == "numerical" and method in ("jensenshannon", "psi", "kl_div") and ref.nunique > fc.BINNED_ABOVE:
        integer = ref.dtype == cur.dtype == "int"
        lo, hi = min(ref.minimum, cur.minimum), max(ref.maximum, cur.maximum)
        edges = fc.sturges_edges(lo, hi, ref.n + cur.n, integer)
        r = agg.cumulative_counts(sides.reference, {name: edges})[name]
        c = agg.cumulative_counts(sides.current, {name: edges})[name]
        ref_p, cur_p = fc.binned_percents(r, c, feel_zeroes=method != "jensenshannon")
        return fc.from_percents(method, ref_p, cur_p, threshold)
    small = ref.nunique <= EXACT_VALUES and cur.nunique <= EXACT_VALUES
    if method in fc.CATEGORICAL_TESTS and (column.kind == "categorical" or method != "hellinger") and small:
        return fc.categorical(method, sides.counts("ref", name), sides.counts("cur", name), threshold)
    if method == "ks" and ref.nunique <= KS_EXACT_VALUES:
        reference = sides.counts("ref", name)
        on_values = agg.counts_on_values(sides.current, name, sorted(reference.counts))
        return fc.ks(reference, on_values, threshold)
    if method == "t_test" and column.kind == "numerical":
        return fc.t_test(agg.moments(sides.reference, name), agg.moments(sides.current, name), threshold)
    if method == "wasserstein" and small:
        reference = sides.counts("ref", name)
        return fc.wasserstein_exact(reference, sides.counts("cur", name), fc.std_of(reference), threshold)
    if method == "wasserstein":
        r, c = sides.histogram("ref", name), sides.histogram("cur", name)
        first = fc.wasserstein_binned(r, c, r.std, threshold)  # (the reference's values' std: its moments)
        if first.error_bound <= REFINE_BELOW * threshold:
            return first
        chosen = fc.refine_bins(r, c, REFINED_BINS)
        r_fine, c_fine = sides.refined(name, chosen, REFINED_PARTS)
        return fc.wasserstein_binned(r, c, r.std, threshold, (chosen, REFINED_PARTS, r_fine, c_fine))
    if ref.n + cur.n > ROW_TEST_VALUES:
        raise DataError(
            f"{field}: Evidently's {method!r} needs the rows of column {name!r} ({ref.n + cur.n:,} values, more than "
            f"{ROW_TEST_VALUES:,}); choose a test computed from aggregates (wasserstein, ks, jensenshannon, psi, "
            f"kl_div, chisquare, z, t_test) in checks.drift.per_column.{name}"
        )
    from ethics_audit.checks.drift.stattests import column_drift

    reference, current = sides.values(name)
    drift = column_drift(reference, current, column.kind, method=method, threshold=threshold, field=field)
    return fc.Score(drift.score, drift.drifted, "rows: Evidently on the column's values")


def _prepare(config: DriftConfig, sides: _Sides, column: DriftColumn, insufficient: Any) -> Any:
    """The column's insufficient-data result, or (test, threshold, spec field, chosen_by, stattest)."""
    name = column.name
    if name not in sides.ref:
        return insufficient(column, "the reference has no such column (labels not joined to it)")
    ref, cur = sides.ref[name], sides.cur[name]
    if ref.n < config.min_reference_rows:
        return insufficient(
            column,
            f"{ref.n} usable reference values, fewer than min_reference_rows={config.min_reference_rows}",
            n=cur.n,
        )
    if cur.n < config.min_current_rows:
        return insufficient(
            column,
            f"{cur.n} usable values in the window, fewer than min_current_rows={config.min_current_rows}",
            n=cur.n,
        )
    if column.kind == "numerical" and "string" in (ref.dtype, cur.dtype):
        raise DataError(
            f"checks.drift: column {name!r} is treated as numerical but holds non-numbers; "
            f"set checks.drift.column_types.{name}: categorical, or fix the data"
        )
    method, threshold, field = resolve(config, name, column.kind)
    chosen_by = "spec" if method is not None else "default"
    method = method or default_method(sides, column)
    stattest = _stattest(method, column.kind, chosen_by, field, name)
    threshold = float(stattest.default_threshold if threshold is None else threshold)
    return method, threshold, field, chosen_by, stattest


def column_results(
    config: DriftConfig, sides: _Sides, columns: list[DriftColumn], insufficient: Any
) -> list[MetricResult]:
    """Every column's result: the tests chosen first, so the fine histograms of all binned
    columns are counted together (one query per side), then each column scored."""
    prepared = [_prepare(config, sides, column, insufficient) for column in columns]
    for column, plan in zip(columns, prepared, strict=True):
        if isinstance(plan, tuple) and plan[0] == "wasserstein":
            ref, cur = sides.ref[column.name], sides.cur[column.name]
            if not (ref.nunique <= EXACT_VALUES and cur.nunique <= EXACT_VALUES):
                sides.binned.append(column.name)
    return [
        plan if isinstance(plan, MetricResult) else column_result(config, sides, column, plan)
        for column, plan in zip(columns, prepared, strict=True)
    ]


def column_result(config: DriftConfig, sides: _Sides, column: DriftColumn, plan: tuple[Any, ...]) -> MetricResult:
    name = column.name
    ref, cur = sides.ref[name], sides.cur[name]
    method, threshold, field, chosen_by, stattest = plan
    result = score(sides, column, method, threshold, field)
    severity = config.output_severity if column.role in OUTPUT_ROLES else config.column_severity
    return MetricResult(
        "drift",
        "column_drift",
        result.value,
        slice={"column": name},
        n=cur.n,
        threshold=drift_threshold(method, threshold, severity),
        details={
            "method": method,
            "method_name": stattest.display_name,
            "chosen_by": chosen_by,
            "threshold": threshold,
            "drifted_when": f"score {DRIFTED_WHEN[method]} {threshold:g}",
            "drifted": bool(result.drifted),
            "column_type": column.kind,
            "role": column.role,
            "reference_n": ref.n,
            "computation": result.computation,
            "error_bound": result.error_bound,
            "current_nulls": cur.nulls,
            "reference_nulls": ref.nulls,
        },
    )


def window_profile(current: Rows, names: list[str]) -> _Sides:
    """The window's side profiled (one pass); ``with_reference`` adds the reference's."""
    return _Sides(current, names)


_NOT_TYPED = {
    "text": "free text by Evidently's rule (more than half of its values are distinct)",
    "datetime": "timestamps",
    "list": "lists",
}


def drift_column(config: DriftConfig, sides: _Sides, name: str, role: str) -> DriftColumn:
    """``drift._column`` on the engine: the column's drift type, or the same DataError."""
    profile = sides.cur[name]
    kind = kind_on_engine(config, name, profile)
    if kind in ("numerical", "categorical"):
        return DriftColumn(name, role, kind)
    what = _NOT_TYPED.get(kind, f"values of type {profile.dtype} that Evidently cannot type")
    raise DataError(
        f"checks.drift: column {name!r} holds {what}; its drift is not audited: set "
        f"checks.drift.column_types.{name} (numerical or categorical), or leave it out of checks.drift.columns"
    )


def sample(rows: Rows, names: list[str], size: int) -> Any:
    """At most ``size`` rows of ``names`` for the HTML report: all of them when there are no more,
    else a seeded Bernoulli sample on the engine of about twice ``size`` rows, cut to ``size``."""
    total = rows.count()
    table = rows.table.select(names)
    if total > size:
        table = table.sample(min(1.0, 2.0 * size / total), seed=0).limit(size)
    return rows.execute(table)
