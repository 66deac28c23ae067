"""Membership inference on an engine: the attack's statistics from the score histogram, where it lives.

Per signal (the confidence ``max(score, 1 - score)``, the loss) the engine groups the usable rows
by the signal rounded to 10 decimals, as in memory, into members and non-members per distinct
value: the histogram (mergeable: histograms of chunks add). Up to ``HISTOGRAM_IN_MEMORY``
distinct values it comes back and the in-memory arithmetic runs on it: identical results. Above,
window functions over it (cumulative sums in score order) give the Mann-Whitney count (integers,
so the AUC is exact; equal to the in-memory float sum to 1e-12), the ROC's largest TPR - FPR,
the TPR at 1% FPR and the ``MAX_BINS`` equal-count pools the bootstrap reads (identical).
The generalisation gap is one GROUP BY of correct predictions by membership.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ethics_audit.checks.privacy.aggregates import window
from ethics_audit.checks.privacy.membership import (
    DECIMALS,
    LOW_FPR,
    MAX_BINS,
    WHERE,
    AttackCounts,
    attack_results,
    auc_from_histogram,
    gap_result,
    membership_spec,
    no_score_results,
    roc_points,
    score_range_error,
)
from ethics_audit.errors import DataError, columns_withheld
from ethics_audit.results import MetricResult

if TYPE_CHECKING:
    import numpy as np

    from ethics_audit.data import AuditData
    from ethics_audit.engine import Rows
    from ethics_audit.spec import MembershipSpec, PrivacyConfig

# distinct scores whose histogram comes back to the process (24 bytes each); more stay on the engine
HISTOGRAM_IN_MEMORY = 2_000_000


@contextmanager
def temporary(rows: Rows, expr: Any) -> Iterator[Any]:
    """``expr`` computed once into a temporary table of the engine, dropped afterwards.

    Ibis 12's ``Table.cache`` and ``drop_table`` emit ``DROP TABLE IF EXISTS`` without the name
    on DuckDB 2, so the table (named here, no data in the statement) is dropped in plain SQL.
    """
    if rows.engine == "spark":  # Ibis' PySpark backend has no temporary tables: Spark recomputes it
        yield expr
        return
    name = f"_privacy_{uuid.uuid4().hex}"
    table = rows.backend.create_table(name, expr, temp=True)
    try:
        yield table
    finally:
        rows.backend.raw_sql(f'DROP TABLE IF EXISTS "{name}"')


def attack_counts(rows: Rows, signal: Any, member: Any, usable: Any) -> AttackCounts:
    """The attack's counts from the histogram of ``signal`` over the ``usable`` rows.

    The histogram (one row per distinct score) is computed once into a temporary table. Up to
    ``HISTOGRAM_IN_MEMORY`` distinct scores it comes back and ``membership.attack_counts``'s own
    arithmetic runs on it (identical to the in-memory path, bit for bit); above, window functions
    on the engine compute the statistics and only ``MAX_BINS`` pools come back.
    """
    import ibis
    import numpy as np

    # a boolean sums as a count (PostgreSQL refuses a boolean cast to bigint)
    table = rows.table.filter(usable).select(s=signal, m=member)
    hist = table.group_by("s").agg(m=ibis._.m.sum(), c=ibis._.count())
    with temporary(rows, hist) as cached:
        totals = rows.execute(cached.aggregate(members=cached.m.sum(), rows=cached.c.sum(), distinct=cached.count()))
        members, n = int(totals["members"].iloc[0] or 0), int(totals["rows"].iloc[0] or 0)
        out = AttackCounts(n, members, n - members)
        if min(out.members, out.others) == 0:
            return out
        if int(totals["distinct"].iloc[0]) <= HISTOGRAM_IN_MEMORY:
            full = rows.backend.to_pyarrow(cached)
            order = np.argsort(full.column("s").to_numpy())  # distinct values: any sort is stable
            m = full.column("m").to_numpy()[order].astype(float)
            o = full.column("c").to_numpy()[order].astype(float) - m
            return from_histogram(out, m, o)
        return on_engine(rows, cached, out, int(totals["distinct"].iloc[0]))


def from_histogram(out: AttackCounts, m: np.ndarray, o: np.ndarray) -> AttackCounts:
    """The in-memory path's arithmetic on a histogram in ascending score order."""
    import numpy as np

    fpr, tpr = roc_points(m, o)
    out.auc = float(auc_from_histogram(m, o))
    out.advantage = float(np.max(tpr - fpr))
    out.tpr_low = float(tpr[fpr <= LOW_FPR].max())
    out.members_by_bin, out.others_by_bin = m, o
    return out


def on_engine(rows: Rows, hist: Any, out: AttackCounts, distinct: int) -> AttackCounts:
    """The statistics by window functions over the histogram on the engine (the AUC from the exact
    Mann-Whitney count of integers, equal to the in-memory float to 1e-12)."""
    import ibis
    import numpy as np

    upto = ibis.cumulative_window(order_by="s")
    o = hist.c - hist.m
    hist = hist.mutate(
        o=o, below_m=hist.m.sum().over(upto) - hist.m, below_o=o.sum().over(upto) - o,
        before=hist.c.sum().over(upto) - hist.c,
    )  # fmt: skip
    if distinct <= MAX_BINS:  # the bootstrap reads the histogram itself: one pool per score
        pool = ibis.row_number().over(order_by="s")
    else:
        pool = ibis.least((hist.before * MAX_BINS / out.rows).floor().cast("int64"), MAX_BINS - 1)
    members, others = ibis.literal(out.members), ibis.literal(out.others)
    tpr = (members - hist.below_m) / members  # the ROC point at each score, from the top down
    fpr = (others - hist.below_o) / others
    # one sort: the pools with each pool's part of the Mann-Whitney count and its best ROC points
    hist = hist.mutate(pool=pool, wins=hist.m * (2 * hist.below_o + hist.o), gain=tpr - fpr,
                       tpr_low=ibis.cases((fpr <= LOW_FPR, tpr), else_=0.0))  # fmt: skip
    pooled = rows.execute(
        hist.group_by("pool").agg(
            m=hist.m.sum(), o=hist.o.sum(), wins=hist.wins.sum(), gain=hist.gain.max(), tpr_low=hist.tpr_low.max()
        )
    ).sort_values("pool")
    out.auc = int(pooled["wins"].sum()) / (2 * out.members * out.others)
    out.advantage = max(float(pooled["gain"].max()), 0.0)  # the ROC starts at (0, 0)
    out.tpr_low = max(float(pooled["tpr_low"].max()), 0.0)
    if distinct <= MAX_BINS:
        out.members_by_bin, out.others_by_bin = pooled["m"].to_numpy(float), pooled["o"].to_numpy(float)
    else:
        index = pooled["pool"].to_numpy()
        out.members_by_bin = np.bincount(index, weights=pooled["m"].astype(float), minlength=MAX_BINS)
        out.others_by_bin = np.bincount(index, weights=pooled["o"].astype(float), minlength=MAX_BINS)
    return out


def _count(rows: Rows, expr: Any) -> int:
    value = rows.execute(expr)
    return 0 if value is None or value != value else int(value)


def binary(rows: Rows, column: str) -> Any | None:
    """The column as 0/1 floats (null where missing), or None when it is not binary (as ``membership._binary``)."""
    import ibis

    value = rows.table[column]
    dtype = value.type()
    if dtype.is_string():
        value = value.try_cast("float64")
    elif dtype.is_boolean():  # spelled out: PostgreSQL refuses a boolean cast to a number
        value = ibis.cases((value, 1.0), (~value, 0.0), else_=ibis.null("float64"))
    elif dtype.is_numeric():
        value = value.cast("float64")
    else:
        return None
    odd = _count(rows, (value.notnull() & ~value.isin([0.0, 1.0])).sum())
    lost = _count(rows, rows.table[column].count()) - _count(rows, value.count())
    return None if odd or lost else value


def members_of(rows: Rows, spec: MembershipSpec, data: AuditData) -> tuple[Any, Any, str]:
    """Membership and whether it is known, as Ibis expressions over the window, and its source."""
    import ibis
    import pandas as pd

    if spec.source is not None:
        from ethics_audit.checks.privacy.aggregates.consent import aligned_ids
        from ethics_audit.checks.privacy.membership import manifest_ids

        wid, ids = aligned_ids(rows, data.columns.entity_id, manifest_ids(spec, data))
        known_ids = ibis.memtable(pd.DataFrame({"mid": pd.unique(ids.dropna().to_numpy())}))
        return wid.isin(known_ids.mid).fill_null(False), wid.notnull(), "manifest"
    assert spec.column is not None
    privacy = data.spec.checks.privacy
    field = f"{WHERE}.column" if privacy and privacy.membership else "columns.training_member"
    if spec.column not in rows:
        raise DataError(
            f"{field}: {spec.column!r} is not a column of the window "
            f"(columns: {columns_withheld(rows.columns)}); fix {field}"
        )
    value = rows.table[spec.column]
    dtype = value.type()
    if dtype.is_boolean():
        return value.fill_null(False), value.notnull(), "column"
    if not dtype.is_numeric() or _count(rows, (value.notnull() & ~value.isin([0, 1])).sum()):
        raise DataError(
            f"{field}: column {spec.column!r} is not boolean (dtype {dtype}, "
            f"{_count(rows, value.nunique())} distinct values); it must say True/False (or 1/0) for each row: "
            "store a boolean membership flag, or give a manifest of training ids as membership.source"
        )
    return (value == 1).fill_null(False), value.notnull(), "column"


def generalisation_gap(rows: Rows, data: AuditData, spec: MembershipSpec, labels: Any, member: Any, known: Any,
                       score: Any | None) -> MetricResult:  # fmt: skip
    import ibis

    columns = data.columns
    predicted_from: str | None = f"columns.prediction ({columns.prediction})"
    predicted = binary(rows, columns.prediction) if columns.prediction and columns.prediction in rows else None
    if predicted is None and score is not None:
        predicted = ibis.cases((score.isnull(), ibis.null("float64")), (score >= 0.5, 1.0), else_=0.0)
        predicted_from = "score >= 0.5"
    if predicted is None:
        return gap_result(spec, None, (0, 0), (0, 0))
    usable = known & labels.notnull() & predicted.notnull()
    table = rows.table.filter(usable).select(member=member, correct=predicted == labels)
    counts = rows.execute(table.group_by("member").agg(n=table.count(), correct=table.correct.sum()))
    by = {bool(m): (int(n), int(c)) for m, n, c in zip(counts["member"], counts["n"], counts["correct"], strict=True)}
    return gap_result(spec, predicted_from, by.get(True, (0, 0)), by.get(False, (0, 0)))


def run(config: PrivacyConfig, data: AuditData) -> list[MetricResult]:
    import ibis

    spec = membership_spec(config, data)
    if spec is None:
        return []
    rows = window(data)
    member, known, source = members_of(rows, spec, data)
    columns = data.columns
    extra = {"membership_from": source, "rows_with_unknown_membership": _count(rows, (~known).sum())}
    score = None
    results: list[MetricResult] = []
    if columns.score and columns.score in rows:
        raw = rows.table[columns.score]
        score = raw.try_cast("float64") if raw.type().is_string() else raw.cast("float64")
        bounds = rows.execute(rows.table.aggregate(low=score.min(), high=score.max()))
        low, high = bounds["low"].iloc[0], bounds["high"].iloc[0]
        if low == low and low is not None and (low < 0 or high > 1):
            raise score_range_error(columns.score)
        confidence = ibis.greatest(score, 1 - score).round(DECIMALS)
        results += attack_results(
            spec, attack_counts(rows, confidence, member, known & score.notnull()), "confidence", extra
        )
    else:
        results += no_score_results()
    labels = binary(rows, columns.label) if columns.label and columns.label in rows else None
    if labels is not None and score is not None:
        true_class = ibis.cases((labels == 1, score), else_=1 - score).round(DECIMALS)
        usable = known & score.notnull() & labels.notnull()
        results += attack_results(spec, attack_counts(rows, true_class, member, usable), "loss", extra)
    if labels is not None:
        results.append(generalisation_gap(rows, data, spec, labels, member, known, score))
    return results
