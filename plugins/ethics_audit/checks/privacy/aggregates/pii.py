"""PII on an engine: the engine filters candidate values with RE2, the process confirms them.

Per scanned column one query returns the distinct values that match any enabled entity's scan
pattern (Ibis ``re_search``, RE2 on DuckDB) with their row counts, sorted, in batches. The
validators (Luhn and issuer ranges, IBAN mod 97, the SSA rules ...) confirm the candidates in
process exactly as the in-memory path does (``pii.scan``), and each value's row count weights
it. The result per column is a ``ColumnCounts``: rows per entity, per metric and with any PII,
plus masked examples; counts add, so counts over chunks or partitions merge. Raw candidates
live only inside ``column_counts``: only masked examples enter a result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ethics_audit.checks.privacy.aggregates import batches, is_timestamp, window, window_rows
from ethics_audit.checks.privacy.entities import DATE_VALUE, Entity
from ethics_audit.checks.privacy.identifiers import is_name_shaped, mask_name
from ethics_audit.checks.privacy.pii import (
    DISTINCT_SCAN,
    METRIC_ENTITIES,
    Found,
    _entities_for,
    column_results,
    dob_columns,
    identifier_names_result,
    name_columns,
    name_result,
    scan,
    scan_dates,
    scanned_columns,
)

if TYPE_CHECKING:
    from ethics_audit.data import AuditData
    from ethics_audit.engine import Rows
    from ethics_audit.results import MetricResult
    from ethics_audit.spec import PrivacyConfig


@dataclass
class ColumnCounts:
    """Rows with confirmed PII in one column: mergeable (counts add, examples concatenate)."""

    by_entity: dict[str, int] = field(default_factory=dict)  # only entities with a confirmed match
    by_metric: dict[str, int] = field(default_factory=dict)
    any_pii: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)  # masked
    limit: int = 3

    def merge(self, other: ColumnCounts) -> ColumnCounts:
        def add(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
            return {k: a.get(k, 0) + b.get(k, 0) for k in dict.fromkeys([*a, *b])}

        shown = {
            e: list(dict.fromkeys(self.examples.get(e, []) + other.examples.get(e, [])))[: self.limit]
            for e in dict.fromkeys([*self.examples, *other.examples])
        }
        return ColumnCounts(
            add(self.by_entity, other.by_entity),
            add(self.by_metric, other.by_metric),
            self.any_pii + other.any_pii,
            shown,
            self.limit,
        )

    def found(self) -> dict[str, Found]:
        """The shape ``pii.column_results`` reads (entity -> examples)."""
        import numpy as np

        return {e: Found(np.zeros(0, np.int64), self.examples.get(e, [])) for e in self.by_entity}

    def counts(self) -> dict[str, int]:
        return {**self.by_entity, **self.by_metric}


def confirm(values, weights, entities: list[Entity], *, dob_values: bool, examples: int) -> ColumnCounts:
    """Confirm a batch of distinct candidate values (Arrow strings) weighted by their row counts."""
    import numpy as np

    found = scan(values, entities, examples=examples)
    if dob_values:
        dates = scan_dates(values, examples=examples)
        if dates is not None:
            merged = np.union1d(found["dob"].value_idx, dates.value_idx) if "dob" in found else dates.value_idx
            shown = (found["dob"].examples if "dob" in found else []) + dates.examples
            found["dob"] = Found(merged, shown[:examples])
    out = ColumnCounts(limit=examples)
    out.by_entity = {name: int(weights[f.value_idx].sum()) for name, f in found.items()}
    out.examples = {name: f.examples for name, f in found.items()}
    for metric, names in METRIC_ENTITIES.items():
        hit = [found[e].value_idx for e in names if e in found]
        out.by_metric[metric] = int(weights[np.unique(np.concatenate(hit))].sum()) if hit else 0
    every = [f.value_idx for f in found.values()]
    out.any_pii = int(weights[np.unique(np.concatenate(every))].sum()) if every else 0
    return out


def column_counts(
    rows: Rows,
    column: str,
    entities: list[Entity],
    *,
    dob_values: bool,
    examples: int,
    as_text: bool = True,
    few_values: bool = False,
) -> ColumnCounts:
    """Scan one column on the engine: candidate values come back with their counts, are confirmed here.

    ``as_text``: the column was chosen for scanning (a non-string one is read as text);
    otherwise it is a timestamp column named like a date of birth, and every value is one.
    ``few_values``: the column has few distinct values, so they are counted before matching.
    """
    import ibis

    from ethics_audit.engine.regex import for_engine

    table = rows.table
    value = table[column]
    if dob_values and not as_text:
        present = int(rows.execute(value.count()))
        shown = {"dob": ["****-**-**"]} if present else {}
        return ColumnCounts({"dob": present} if present else {}, {"dob_share": present}, present, shown, examples)
    if not value.type().is_string():
        value = value.cast("string")
    patterns = [f"(?:{e.pattern})" for e in entities] + ([f"(?:{DATE_VALUE})"] if dob_values else [])
    if not patterns:
        return ColumnCounts(limit=examples)
    pattern = for_engine("|".join(patterns), rows.engine)  # PostgreSQL's regex: widened, confirmed here
    if few_values:
        # count the values first and match each distinct value once; the condition on the count
        # keeps the engine from pushing the pattern below the GROUP BY onto every row
        counted = table.select(v=value).group_by("v").agg(n=ibis._.count())
        candidates = counted.filter(ibis.cases((counted.n > 0, counted.v.re_search(pattern)), else_=False))
    else:
        candidates = table.select(v=value).filter(ibis._.v.re_search(pattern)).group_by("v").agg(n=ibis._.count())
    candidates = candidates.order_by("v")
    total = ColumnCounts(limit=examples)
    for batch in batches(rows, candidates):
        weights = batch.column("n").to_numpy(zero_copy_only=False)
        total = total.merge(confirm(batch.column("v"), weights, entities, dob_values=dob_values, examples=examples))
    return total


def few_values(rows: Rows, columns: list[str], n: int) -> set[str]:
    """The columns with at most ``DISTINCT_SCAN`` distinct values per row (one approximate count each,
    in one pass): only the speed of the scan depends on it, never its counts."""
    if not columns or not n:
        return set()
    table = rows.table
    approx = rows.execute(table.aggregate(**{f"c{i}": table[c].approx_nunique() for i, c in enumerate(columns)}))
    return {c for i, c in enumerate(columns) if int(approx[f"c{i}"].iloc[0]) <= DISTINCT_SCAN * n}


def name_counts(rows: Rows, column: str, *, examples: int) -> tuple[int, list[str]]:
    """Rows with a name-shaped value and masked examples, from the column's value counts."""
    import ibis

    value = rows.table[column]
    if not value.type().is_string():
        value = value.cast("string")
    counts = (
        rows.table.select(v=value).filter(ibis._.v.notnull()).group_by("v").agg(n=ibis._.count())
        .order_by([ibis.desc("n"), "v"])
    )  # fmt: skip
    hits, shown = 0, []
    for batch in batches(rows, counts):
        for v, n in zip(batch.column("v").to_pylist(), batch.column("n").to_pylist(), strict=True):
            if is_name_shaped(v):
                hits += n
                if len(shown) < examples * 4:
                    shown.append(mask_name(v))
    return hits, list(dict.fromkeys(shown))[:examples]


def run(config: PrivacyConfig, data: AuditData) -> list[MetricResult]:
    spec = config.pii
    if not spec.enabled:
        return []
    rows = window(data)
    schema = rows.table.schema()
    columns = list(schema.names)
    scanned = scanned_columns(spec, data, columns, lambda c: schema[c].is_string())
    dated = dob_columns(spec, columns, scanned, lambda c: is_timestamp(schema[c])) if "dob" in spec.entities else []
    results = [identifier_names_result(config, data, columns)]
    n = window_rows(data, rows)
    few = few_values(rows, scanned, n)
    for column in list(dict.fromkeys(scanned + dated)):
        counts = column_counts(
            rows,
            column,
            _entities_for(str(column), list(spec.entities)),
            dob_values=column in dated,
            examples=spec.examples,
            as_text=column in scanned,
            few_values=column in few,
        )
        results += column_results(config, str(column), n, counts.found(), counts.counts(), counts.any_pii)
    for column in name_columns(spec, data, columns):
        hits, examples = name_counts(rows, column, examples=spec.examples)
        results.append(name_result(spec, column, n, hits, examples))
    return results
