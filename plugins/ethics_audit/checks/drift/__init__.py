"""Drift: per-column drift of the window against its reference, with Evidently's own stat tests.

Each audited column (the features, the score, the decision and the label) is compared with the
reference by the test Evidently would choose for it (by column type, reference size and number
of distinct values) or the one the spec names, and judged by that test's own rule (p-value below,
or distance at or above, its threshold). Evidently's ``DataDriftPreset`` recomputes the same
drift several times and recounts distinct values over and over; here each column is cleaned,
typed and tested once, by calling Evidently's registered stat-test objects on the column arrays,
so the scores are Evidently's. The dataset-level ``drift_share`` is the share of drifted columns.
Evidently's HTML report is rendered from a sample, only when the spec asks for it.

The package: ``columns`` prepares and types the columns, ``stattests`` runs Evidently's test on
one column, ``evidently_report`` renders the sampled HTML report; the family's ``run`` is here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ethics_audit.checks.drift.columns import (
    INTEGER_CARDINALITY_LIMIT,
    OUTPUT_ROLES,
    Codes,
    DriftColumn,
    audited_columns,
    clean,
    infer_kind,
    prepare,
    shared_categories,
)
from ethics_audit.checks.drift.evidently_report import html_report
from ethics_audit.checks.drift.stattests import (
    _GLOBAL_RANDOM,
    DRIFTED_WHEN,
    ColumnDrift,
    column_drift,
    default_stattest,
    drift_threshold,
    resolve,
)
from ethics_audit.errors import DataError, columns_withheld
from ethics_audit.results import MetricResult, Status

if TYPE_CHECKING:
    import pandas as pd

    from ethics_audit.data import AuditData
    from ethics_audit.spec import DriftConfig

__all__ = [
    "DRIFTED_WHEN",
    "INTEGER_CARDINALITY_LIMIT",
    "METHODS",
    "OUTPUT_ROLES",
    "Codes",
    "ColumnDrift",
    "DriftColumn",
    "audited_columns",
    "clean",
    "column_drift",
    "default_stattest",
    "drift_threshold",
    "html_report",
    "infer_kind",
    "prepare",
    "resolve",
    "run",
    "shared_categories",
]

METHODS: dict[str, str] = {
    "column_drift": (
        "For each audited column, Evidently's stat test compares the window's non-null, finite values with the "
        "reference's: the test Evidently chooses by default (K-S or chi-square/Z for a reference of 1,000 rows or "
        "fewer, normed Wasserstein or Jensen-Shannon above that) unless the spec names one. The value is the test's "
        "score (a p-value, or a distance) and the column drifted when the score crosses the test's threshold the "
        "way Evidently decides it."
    ),
    "drift_share": (
        "The share of audited columns that drifted, out of those with enough data in the window and the reference."
    ),
}


def _column(config: DriftConfig, name: str, role: str, series: pd.Series) -> DriftColumn:
    """The column's drift type: from the spec, else as Evidently infers it from the window."""
    codes = Codes.of(series) if series.dtype == object else None
    kind = config.column_types.get(name) or infer_kind(series, codes)
    if kind in ("numerical", "categorical"):
        return DriftColumn(name, role, kind, codes)
    what = {
        "text": "free text by Evidently's rule (more than half of its values are distinct)",
        "datetime": "timestamps",
        "list": "lists",
    }.get(kind, f"values of dtype {series.dtype} that Evidently cannot type")
    raise DataError(
        f"checks.drift: column {name!r} holds {what}; its drift is not audited: set "
        f"checks.drift.column_types.{name} (numerical or categorical), or leave it out of checks.drift.columns"
    )


def _insufficient(column: DriftColumn | None, reason: str, n: int | None = None) -> MetricResult:
    if column is None:
        return MetricResult(
            "drift", "drift_share", None, n=n, status=Status.INSUFFICIENT_DATA, details={"reason": reason}
        )
    return MetricResult(
        "drift",
        "column_drift",
        None,
        slice={"column": column.name},
        n=n,
        status=Status.INSUFFICIENT_DATA,
        details={"reason": reason, "role": column.role, "column_type": column.kind},
    )


def _check_window_columns(pairs: list[tuple[str, str]], data: AuditData) -> None:
    current = data.current.columns
    missing = [name for name, _ in pairs if name not in current]
    if missing:
        raise DataError(
            f"checks.drift: {missing} not among the window's columns (columns: {columns_withheld(current)}); "
            "fix checks.drift.columns or the columns mapping"
        )


def _check_reference_columns(columns: list[DriftColumn], reference: pd.DataFrame) -> None:
    """A feature the reference lacks is a setup error; a label it lacks is only not comparable."""
    missing = [c.name for c in columns if c.name not in reference.columns and c.role != "label"]
    if missing:
        raise DataError(
            f"checks.drift: {missing} are in the window but not in the reference "
            f"(reference columns: {columns_withheld(reference.columns)}); fix the reference "
            "(reference.baseline) or leave them out of checks.drift.columns"
        )


def _column_result(config: DriftConfig, column: DriftColumn, data: AuditData) -> MetricResult:
    assert data.reference is not None
    if column.name not in data.reference.columns:
        return _insufficient(column, "the reference has no such column (labels not joined to it)")
    reference, current = prepare(data.reference[column.name], data.current[column.name], column.kind, column.codes)
    if len(reference) < config.min_reference_rows:
        return _insufficient(
            column,
            f"{len(reference)} usable reference values, fewer than min_reference_rows={config.min_reference_rows}",
            n=len(current),
        )
    if len(current) < config.min_current_rows:
        return _insufficient(
            column,
            f"{len(current)} usable values in the window, fewer than min_current_rows={config.min_current_rows}",
            n=len(current),
        )
    method, threshold, field = resolve(config, column.name, column.kind)
    drift = column_drift(reference, current, column.kind, method=method, threshold=threshold, field=field)
    severity = config.output_severity if column.role in OUTPUT_ROLES else config.column_severity
    op = DRIFTED_WHEN[drift.method]
    return MetricResult(
        "drift",
        "column_drift",
        drift.score,
        slice={"column": column.name},
        n=drift.current_n,
        threshold=drift_threshold(drift.method, drift.threshold, severity),
        details={
            "method": drift.method,
            "method_name": drift.method_display,
            "chosen_by": drift.chosen_by,
            "threshold": drift.threshold,
            "drifted_when": f"score {op} {drift.threshold:g}",
            "drifted": drift.drifted,
            "column_type": column.kind,
            "role": column.role,
            "reference_n": drift.reference_n,
        },
    )


def _threads() -> int:
    import os

    return min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _column_results(config: DriftConfig, columns: list[DriftColumn], data: AuditData) -> list[MetricResult]:
    """Every column's result, in order. Columns are independent, and the stat tests spend their
    time in NumPy sorts and searches that release the GIL, so they run on a few threads; tests
    that draw from NumPy's global random state run on this thread, one after another."""
    from concurrent.futures import ThreadPoolExecutor

    workers = min(_threads(), len(columns))
    if workers <= 1:
        return [_column_result(config, column, data) for column in columns]
    serial = {c.name for c in columns if resolve(config, c.name, c.kind)[0] in _GLOBAL_RANDOM}
    with ThreadPoolExecutor(workers, thread_name_prefix="drift") as pool:
        futures = {c.name: pool.submit(_column_result, config, c, data) for c in columns if c.name not in serial}
        return [_column_result(config, c, data) if c.name in serial else futures[c.name].result() for c in columns]


# --------------------------------------------------------------------------- the family


# the family reads the window through ``engine.rows_of``: the runner need not load it into memory
READS_ROWS = True
# windows in memory with at most this many rows keep the row path (Evidently on the columns);
# larger ones, and windows whose rows live on an engine (``data.current`` None), run on the engine
ENGINE_ROWS = 200_000


def on_engine(data: AuditData) -> bool:
    return data.current is None or len(data.current) > ENGINE_ROWS


def _share(config: DriftConfig, results: list[MetricResult]) -> MetricResult:
    computed = [r for r in results if r.status is Status.COMPUTED]
    drifted = [r.slice["column"] for r in computed if r.details["drifted"]]
    if not computed:
        return _insufficient(None, "no column had enough data in both the window and the reference", n=0)
    return MetricResult(
        "drift",
        "drift_share",
        len(drifted) / len(computed),
        n=len(computed),
        threshold=config.thresholds.get("drift_share"),
        details={
            "drifted_columns": drifted,
            "columns": len(computed),
            "insufficient_columns": [r.slice["column"] for r in results if r.status is not Status.COMPUTED],
        },
    )


def _no_reference(config: DriftConfig, reference_rows: int, columns: list[DriftColumn]) -> list[MetricResult]:
    reason = (
        "there is no reference data (no baseline rows, or no earlier windows yet)"
        if reference_rows == 0
        else f"the reference has {reference_rows} rows, fewer than min_reference_rows={config.min_reference_rows}"
    )
    return [_insufficient(c, reason) for c in columns] + [_insufficient(None, reason, n=0)]


def _run_on_engine(config: DriftConfig, data: AuditData, pairs: list[tuple[str, str]]) -> list[MetricResult]:
    """``run`` from aggregates the engine computes (see ``engine_path`` for what is exact)."""
    from ethics_audit import engine
    from ethics_audit.checks.drift import engine_path

    current, reference = engine.rows_of(data, "current"), engine.rows_of(data, "reference")
    assert current is not None
    if current.engine != "duckdb" and data.current is not None:
        # the runner loaded the frames for drift (its expressions are held equal on DuckDB only):
        # query those frames on one embedded DuckDB rather than the source database
        current = engine.from_frame(data.current)
        reference = None if data.reference is None else engine.from_frame(data.reference, backend=current.backend)
    engine_path.check_columns(pairs, current)
    sides = engine_path.window_profile(current, [name for name, _ in pairs])
    columns = [engine_path.drift_column(config, sides, name, role) for name, role in pairs]
    reference_rows = 0 if reference is None or not reference.columns else reference.count()
    if reference is None or reference_rows < config.min_reference_rows:
        return _no_reference(config, reference_rows, columns)
    engine_path.check_reference(columns, reference)
    sides.with_reference(reference)
    results = engine_path.column_results(config, sides, columns, _insufficient)
    results.append(_share(config, results))
    if config.html_report.enabled:
        computed = [r for r in results[:-1] if r.status is Status.COMPUTED]
        names = [r.slice["column"] for r in computed]
        size = config.html_report.sample_size
        samples = (engine_path.sample(current, names, size), engine_path.sample(reference, names, size))
        data.artifacts.append(
            html_report(
                config, data, columns, computed, samples, (sides.cur[names[0]].rows if names else 0, reference_rows)
            )
        )
    return results


def run(config: DriftConfig, data: AuditData) -> list[MetricResult]:
    """Per-column drift of the window against ``data.reference``, and the share that drifted."""
    pairs = audited_columns(data.spec, config)
    if not pairs:
        raise DataError("checks.drift: no columns to audit; map columns.features/score/prediction/label")
    if on_engine(data):
        return _run_on_engine(config, data, pairs)
    _check_window_columns(pairs, data)
    columns = [_column(config, name, role, data.current[name]) for name, role in pairs]
    if data.reference is None or data.reference_rows < config.min_reference_rows:
        return _no_reference(config, data.reference_rows, columns)
    _check_reference_columns(columns, data.reference)
    results = _column_results(config, columns, data)
    computed = [r for r in results if r.status is Status.COMPUTED]
    results.append(_share(config, results))
    if config.html_report.enabled:
        data.artifacts.append(html_report(config, data, columns, computed))
    return results
