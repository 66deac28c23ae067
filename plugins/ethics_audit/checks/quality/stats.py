"""Quality's statistics: the counts the built-in suite judges, computed where the window's rows are.

The built-in expectations need only counts: the window's rows, each column's nulls (NaN counts
as null, as it does for pandas and GX), the non-null values outside a range or a value set, the
non-null ids that occur more than once, and the most frequent values outside the allowed
categories (to name a few). ``QualityStats`` holds them; ``merge`` adds two of them, so a window
can be counted in chunks or partitions. One exception: a duplicated id split over two chunks is
counted by neither, so ``duplicates`` add up only over chunks split by the id (hash partitions,
as Spark's shuffle or ``hash(id) % k`` chunks make them); every other count adds over any split.

Two ways to count, one result: ``frame_stats`` for a window already in memory (pandas, the same
operations GX's pandas engine applies: a frame with odd object columns needs no conversion), and
``table_stats`` for a table on an engine (Ibis expressions: one aggregate query, a GROUP BY per
id column that has duplicates, one small GROUP BY per value set with values outside it). ``tests/checks/
test_quality_engine.py`` holds them equal on random data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from ethics_audit.checks.quality.plan import Plan, Rule
    from ethics_audit.engine import Rows

NOT_NULL = "expect_column_values_to_not_be_null"
IN_SET = "expect_column_values_to_be_in_set"
BETWEEN = "expect_column_values_to_be_between"
UNIQUE = "expect_column_values_to_be_unique"
COUNTED = (NOT_NULL, IN_SET, BETWEEN, UNIQUE)  # expectations judged from counts of values
# values outside the allowed categories kept per column, most frequent first: enough to name a
# few in a result (the count of all of them is exact in ``unexpected``)
MAX_OUTSIDE = 100


@dataclass
class QualityStats:
    """Counts of one window (or of one chunk of it) for the built-in suite.

    ``nulls``: column -> null count. ``unexpected``: rule index -> non-null values breaking the
    rule (range, value set, uniqueness). ``outside``: column -> {value: count} of the most
    frequent values outside its allowed categories.
    """

    rows: int = 0
    nulls: dict[str, int] = field(default_factory=dict)
    unexpected: dict[int, int] = field(default_factory=dict)
    outside: dict[str, dict[str, int]] = field(default_factory=dict)

    def merge(self, other: QualityStats) -> QualityStats:
        """The counts of both chunks (see the module docstring for duplicated ids)."""
        outside = {}
        for column in self.outside.keys() | other.outside.keys():
            outside[column] = _top(_add(self.outside.get(column, {}), other.outside.get(column, {})))
        return QualityStats(
            self.rows + other.rows,
            _add(self.nulls, other.nulls),
            _add(self.unexpected, other.unexpected),
            outside,
        )

    def outside_values(self, column: str, limit: int = 5) -> list[str]:
        """The most frequent values outside the column's allowed categories, cut to 40 characters."""
        return [str(v)[:40] for v in list(_top(self.outside.get(column, {})))[:limit]]


def _add(a: dict[Any, int], b: dict[Any, int]) -> dict[Any, int]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in a.keys() | b.keys()}


def _top(counts: dict[str, int]) -> dict[str, int]:
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return dict(ordered[:MAX_OUTSIDE])


def counted_rules(plan: Plan) -> list[tuple[int, Rule]]:
    return [(i, r) for i, r in enumerate(plan.rules) if not r.from_spec and r.expectation in COUNTED]


def _aware(bound: Any) -> Any:
    """A window bound as an aware UTC instant (the plan keeps naive UTC, as GX's frame has it)."""
    if isinstance(bound, datetime) and bound.tzinfo is None:
        return bound.replace(tzinfo=timezone.utc)
    return bound


# --------------------------------------------------------------------------- in memory (pandas)


def frame_stats(plan: Plan, frame: pd.DataFrame) -> QualityStats:
    """The counts of a window in memory, with pandas' own null, range, set and duplicate tests."""
    import pandas as pd

    stats = QualityStats(rows=len(frame))
    for i, rule in counted_rules(plan):
        column = rule.kwargs["column"]
        series = frame[column]
        if column not in stats.nulls:
            stats.nulls[column] = int(series.isna().sum())
        if rule.expectation == BETWEEN:
            low, high = rule.kwargs["min_value"], rule.kwargs["max_value"]
            if isinstance(series.dtype, pd.DatetimeTZDtype):
                low, high = _aware(low), _aware(high)
            above = series >= high if rule.kwargs.get("strict_max") else series > high
            # NaN and NaT compare false both ways: nulls are never counted as out of range
            stats.unexpected[i] = int((series < low).sum() + above.sum())
        elif rule.expectation == IN_SET:
            outside = series[series.notna() & ~series.isin(rule.kwargs["value_set"])]
            stats.unexpected[i] = len(outside)
            if len(outside):
                counts = outside.value_counts()
                stats.outside[column] = _top({str(v): int(n) for v, n in counts.items() if n > 0})
        elif rule.expectation == UNIQUE:
            stats.unexpected[i] = int(series.dropna().duplicated(keep=False).sum())
    return stats


# --------------------------------------------------------------------------- on an engine (Ibis)


def _null(column: Any) -> Any:
    """Null, or NaN for a floating column (pandas and GX count NaN as missing)."""
    if column.type().is_floating():
        return column.isnull() | column.isnan().fill_null(False)
    return column.isnull()


def _literal_set(column: Any, values: list[Any]) -> list[Any]:
    """The allowed values a column of this type can equal (pandas' ``isin`` never matches the others)."""
    dtype = column.type()
    if dtype.is_string():
        return [v for v in values if isinstance(v, str)]
    if dtype.is_boolean():
        return [bool(v) for v in values if isinstance(v, bool | int) and v in (0, 1)]
    if dtype.is_numeric():
        return [v for v in values if isinstance(v, int | float)]
    return list(values)


def table_stats(plan: Plan, rows: Rows) -> QualityStats:
    """The counts of a window on an engine: only aggregates leave it.

    One scan counts everything but duplicated ids: nulls as ``count(*) - count(column)`` (plus
    NaN for floating columns), values out of range or outside a set, and each id column's
    distinct values (on DuckDB in a second scan of their own). Only when an id column has fewer
    distinct values than non-null ones does a GROUP BY count the rows of its duplicated ids.
    """
    import ibis

    table = rows.table
    metrics: dict[str, Any] = {"rows": table.count()}
    distinct: dict[str, Any] = {}
    columns: dict[str, int] = {}
    in_set: list[tuple[int, Rule]] = []
    unique: list[tuple[int, Rule]] = []
    for i, rule in counted_rules(plan):
        name = rule.kwargs["column"]
        column = table[name]
        if name not in columns:
            k = columns[name] = len(columns)
            metrics[f"c{k}"] = column.count()  # non-null; NaN, if any, is counted apart
            if column.type().is_floating():
                metrics[f"f{k}"] = column.isnan().sum()
        present = ~_null(column)
        if rule.expectation == BETWEEN:
            low, high = rule.kwargs["min_value"], rule.kwargs["max_value"]
            if plan.schema[name].timezone:
                low, high = _aware(low), _aware(high)
            above = column >= high if rule.kwargs.get("strict_max") else column > high
            metrics[f"u{i}"] = (present & ((column < low) | above)).sum()
        elif rule.expectation == IN_SET:
            allowed = _literal_set(column, rule.kwargs["value_set"])
            inside = column.isin(allowed) if allowed else ibis.literal(False)
            metrics[f"u{i}"] = (present & ~inside).sum()
            in_set.append((i, rule))
        elif rule.expectation == UNIQUE:
            distinct[f"d{i}"] = column.nunique()
            unique.append((i, rule))
    if rows.engine == "duckdb" and distinct:
        # DuckDB shares the scan of a COUNT(DISTINCT) beside other aggregates through a
        # materialised CTE: apart, the two are cheaper (10M rows: 3.1 s together, 1.6 + 1.2 s)
        [row] = rows.execute(table.aggregate(**metrics)).to_dict("records")
        row |= rows.execute(table.aggregate(**distinct)).to_dict("records")[0]
    else:
        [row] = rows.execute(table.aggregate(**metrics, **distinct)).to_dict("records")
    value = {k: int(v) if v is not None and v == v else 0 for k, v in row.items()}
    total = value["rows"]
    stats = QualityStats(total, {name: total - value[f"c{k}"] + value.get(f"f{k}", 0) for name, k in columns.items()})
    stats.unexpected = {int(k[1:]): v for k, v in value.items() if k.startswith("u")}
    for i, rule in unique:
        name = rule.kwargs["column"]
        nan = value.get(f"f{columns[name]}", 0)
        if not nan and value[f"d{i}"] == total - stats.nulls[name]:
            stats.unexpected[i] = 0  # as many distinct values as values: no duplicates
            continue
        column = table[name]
        groups = table.filter(~_null(column)).group_by(column.name("v")).aggregate(k=ibis._.count())
        duplicated = rows.execute(groups.filter(groups.k > 1).k.sum())
        stats.unexpected[i] = int(duplicated) if duplicated is not None and duplicated == duplicated else 0
    for i, rule in in_set:
        if stats.unexpected.get(i):
            stats.outside[rule.kwargs["column"]] = _outside(rows, rule)
    return stats


def _outside(rows: Rows, rule: Rule) -> dict[str, int]:
    import ibis

    table = rows.table
    column = table[rule.kwargs["column"]]
    allowed = _literal_set(column, rule.kwargs["value_set"])
    inside = column.isin(allowed) if allowed else ibis.literal(False)
    counts = (
        table.filter(~_null(column) & ~inside)
        .group_by(column.name("v"))
        .aggregate(k=ibis._.count())
        .order_by([ibis.desc("k"), "v"])
        .limit(MAX_OUTSIDE)
    )
    return _top({str(v): int(k) for v, k in rows.execute(counts).itertuples(index=False)})
