"""Drift: per-column drift of the window against its reference, with Evidently's own stat tests.

Each audited column (the features, the score, the decision and the label) is compared with the
reference by the test Evidently would choose for it (by column type, reference size and number
of distinct values) or the one the spec names, and judged by that test's own rule (p-value below,
or distance at or above, its threshold). Evidently's ``DataDriftPreset`` recomputes the same
drift several times and recounts distinct values over and over; here each column is cleaned,
typed and tested once, by calling Evidently's registered stat-test objects on the column arrays,
so the scores are Evidently's. The dataset-level ``drift_share`` is the share of drifted columns.
Evidently's HTML report is rendered from a sample, only when the spec asks for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ethics_audit.data import PendingArtifact
from ethics_audit.errors import DataError, columns_withheld
from ethics_audit.results import MetricResult, Status, Threshold

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ethics_audit.data import AuditData
    from ethics_audit.spec import AuditSpec, DriftConfig

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

# How each registered Evidently stat test decides "drifted" from (score, threshold), read from
# evidently/legacy/calculations/stattests/*.py; tests/checks/test_drift.py checks every entry
# against Evidently's own verdict at the threshold's exact value.
DRIFTED_WHEN: dict[str, str] = {
    "TVD": "<",
    "anderson": "<",
    "chisquare": "<",
    "cramer_von_mises": "<=",
    "ed": ">",
    "empirical_mmd": "<",
    "es": "<",
    "fisher_exact": "<",
    "g_test": "<",
    "hellinger": ">=",
    "jensenshannon": ">=",
    "kl_div": ">=",
    "ks": "<=",
    "mannw": "<",
    "psi": ">=",
    "t_test": "<",
    "wasserstein": ">=",
    "z": "<",
}
OUTPUT_ROLES = ("score", "prediction", "label")
# Evidently's infer_column_type: an integer column with at most this many values is categorical
INTEGER_CARDINALITY_LIMIT = 10
# Tests that sort their samples first (SciPy's CDF distances, KS, Anderson-Darling, Cramer-von
# Mises): their inputs are passed sorted, which makes those sorts much cheaper; the scores agree
# with unsorted input to rounding (the reference's standard deviation is summed in another order).
_ORDER_FREE = frozenset({"wasserstein", "ks", "ed", "anderson", "cramer_von_mises"})
# Tests that seed and draw from NumPy's global random state (permutation tests): never concurrently
_GLOBAL_RANDOM = frozenset({"TVD", "empirical_mmd"})
_UNSEEDED = frozenset({"empirical_mmd"})
_PREFIX = 4096  # distinct values counted on a prefix first: enough to decide "more than 5" or "more than 10"


@dataclass(frozen=True)
class DriftColumn:
    """One audited column: its name, its role (feature or an output) and its drift type."""

    name: str
    role: str  # "feature" | "score" | "prediction" | "label"
    kind: str  # "numerical" | "categorical"
    codes: Codes | None = None  # the window's column factorized, for string columns


@dataclass(frozen=True)
class ColumnDrift:
    """What Evidently's stat test said about one column."""

    method: str
    method_display: str
    score: float
    drifted: bool
    threshold: float
    reference_n: int
    current_n: int
    chosen_by: str  # "default" (Evidently's choice) or "spec"


# --------------------------------------------------------------------------- column preparation


def audited_columns(spec: AuditSpec, config: DriftConfig) -> list[tuple[str, str]]:
    """(column, role) pairs: ``checks.drift.columns``, or the features, score, prediction, label."""
    columns = spec.columns
    roles = {getattr(columns, r): r for r in OUTPUT_ROLES if getattr(columns, r)}
    names = config.columns if config.columns is not None else columns.features + list(roles)
    return [(name, roles.get(name, "feature")) for name in dict.fromkeys(names)]


def _is_inf(value: Any) -> bool:
    try:
        return bool(value == math.inf or value == -math.inf)
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class Codes:
    """An object column factorized once: ``codes`` (-1 for missing) into ``uniques``."""

    codes: np.ndarray
    uniques: pd.Index

    @classmethod
    def of(cls, series: pd.Series) -> Codes:
        import pandas as pd

        codes, uniques = pd.factorize(series)
        return cls(codes, pd.Index(uniques, dtype=object))


def clean(series: pd.Series) -> pd.Series:
    """The column as Evidently tests it: ``series.replace([-inf, inf], nan).dropna()``, but
    without the slow object-dtype ``replace`` for the common dtypes. Always a new Series."""
    import numpy as np
    import pandas as pd

    kind = series.dtype.kind if isinstance(series.dtype, np.dtype) else None
    if kind in ("i", "u", "b"):
        return pd.Series(series.to_numpy(copy=True), name=series.name)
    if kind in ("f", "c"):
        values = series.to_numpy()
        return pd.Series(values[np.isfinite(values)], name=series.name)
    if kind == "O":
        codes = Codes.of(series)
        bad = [i for i, value in enumerate(codes.uniques) if _is_inf(value)]
        keep = codes.codes >= 0
        if bad:
            keep &= ~np.isin(codes.codes, bad)
        return pd.Series(series.to_numpy()[keep], name=series.name)
    return series.replace([-np.inf, np.inf], np.nan).dropna()


def shared_categories(reference: Codes, current: Codes, name: str) -> tuple[pd.Series, pd.Series]:
    """Two factorized string columns, cleaned as ``clean`` does, as categoricals over their
    shared values: the same values, hence the same test results, but counted from integer
    codes instead of hashing every string again in each step of the test."""
    import numpy as np
    import pandas as pd

    union = current.uniques.append(reference.uniques).unique()
    union = union[[not _is_inf(value) for value in union]]

    def part(side: Codes) -> pd.Series:
        lookup = np.append(union.get_indexer(side.uniques), -1)  # code -1 (missing) maps to -1
        codes = lookup[side.codes]
        codes = codes[codes >= 0]
        return pd.Series(pd.Categorical.from_codes(codes, categories=union), name=name)

    return part(reference), part(current)


def _nunique_above(series: pd.Series, limit: int) -> bool:
    """``series.nunique() > limit``, deciding from a prefix when the prefix already has more."""
    if len(series) > _PREFIX and series.iloc[:_PREFIX].nunique() > limit:
        return True
    return series.nunique() > limit


def _first_and_last(series: pd.Series) -> tuple[Any, Any] | None:
    """``series.dropna().iloc[[0, -1]]`` without scanning the whole column for missing values."""
    import pandas as pd

    def present(value: Any) -> bool:
        try:
            return not bool(pd.isna(value))
        except (TypeError, ValueError):  # list-like values: pd.isna answers element-wise
            return True

    values = series.to_numpy()
    first = next((v for v in values if present(v)), None)
    if first is None:
        return None
    last = next(v for v in values[::-1] if present(v))
    return first, last


def infer_kind(series: pd.Series, codes: Codes | None = None) -> str:
    """Evidently 0.7's ``infer_column_type`` (evidently/core/datasets.py) as a lowercase name;
    ``codes``, if given, is the column already factorized (it answers nunique and count)."""
    name = series.dtype.name
    if name.startswith("float"):
        return "numerical"
    if name.startswith("int"):
        return "numerical" if _nunique_above(series, INTEGER_CARDINALITY_LIMIT) else "categorical"
    if name in ("string", "str"):
        return "text" if series.nunique() > series.count() * 0.5 else "categorical"
    if name == "object":
        ends = _first_and_last(series)
        if ends is None:
            return "unknown"
        first, last = ends
        if isinstance(first, str) and isinstance(last, str):
            codes = codes or Codes.of(series)
            distinct, count = len(codes.uniques), int((codes.codes >= 0).sum())
            return "text" if distinct > count * 0.5 else "categorical"
        if isinstance(first, list | tuple) and isinstance(last, list | tuple):
            return "list"
        return "unknown"
    if name in ("bool", "category"):
        return "categorical"
    if name.startswith("datetime"):
        return "datetime"
    return "unknown"


def prepare(
    reference: pd.Series, current: pd.Series, kind: str, current_codes: Codes | None = None
) -> tuple[pd.Series, pd.Series]:
    """Both sides of a column cleaned for testing (see ``clean`` and ``shared_categories``)."""
    if kind == "categorical" and reference.dtype == object and current.dtype == object:
        return shared_categories(Codes.of(reference), current_codes or Codes.of(current), str(current.name))
    return clean(reference), clean(current)


def default_stattest(reference: pd.Series, current: pd.Series, kind: str) -> str:
    """The test Evidently 0.7 picks when none is named (legacy/calculations/stattests/registry.py
    ``_get_default_stattest``), from the cleaned columns."""
    import pandas as pd

    both = pd.concat([reference, current], ignore_index=True)
    if len(reference) <= 1000:
        if kind == "numerical" and _nunique_above(both, 5):
            return "ks"
        return "chisquare" if _nunique_above(both, 2) else "z"
    if kind == "numerical":
        return "wasserstein" if _nunique_above(both, 5) else "jensenshannon"
    return "jensenshannon"


def resolve(config: DriftConfig, column: str, kind: str) -> tuple[str | None, float | None, str]:
    """(stattest, threshold, spec field) from the spec: per column, else per type, else for all
    columns, each of the two independently, as Evidently's ``resolve_stattest_threshold`` does."""
    method = threshold = None
    field = "checks.drift.stattest"
    for where, spec in (
        ("checks.drift.stattest", config.stattest),
        (f"checks.drift.per_type.{kind}", config.per_type.get(kind)),
        (f"checks.drift.per_column.{column}", config.per_column.get(column)),
    ):
        if spec is None:
            continue
        if spec.stattest is not None:
            method, field = spec.stattest, where
        if spec.threshold is not None:
            threshold = spec.threshold
    return method, threshold, field


def drift_threshold(method: str, threshold: float, severity: str) -> Threshold:
    """A ``Threshold`` whose strict comparison is exactly Evidently's verdict for ``method``."""
    op = DRIFTED_WHEN[method]
    if op in ("<", "<="):
        bound = threshold if op == "<" else math.nextafter(threshold, math.inf)
        return Threshold(**{severity: bound}, direction="below")
    bound = threshold if op == ">" else math.nextafter(threshold, -math.inf)
    return Threshold(**{severity: bound}, direction="above")


# --------------------------------------------------------------------------- one column


def column_drift(
    reference: pd.Series,
    current: pd.Series,
    kind: str,
    *,
    method: str | None = None,
    threshold: float | None = None,
    field: str = "checks.drift.stattest",
) -> ColumnDrift:
    """Drift of one column with Evidently's stat test: ``method`` or Evidently's default choice.

    ``reference`` and ``current`` must already be cleaned (see ``prepare``) and non-empty.
    """
    import numpy as np
    import pandas as pd
    from evidently.legacy.calculations.stattests.registry import (
        StatTestInvalidFeatureTypeError,
        _registered_stat_tests,
        get_registered_stattest,
    )
    from evidently.legacy.core import ColumnType

    column_type = ColumnType.Numerical if kind == "numerical" else ColumnType.Categorical
    if kind == "numerical" and not (
        pd.api.types.is_numeric_dtype(reference) and pd.api.types.is_numeric_dtype(current)
    ):
        raise DataError(
            f"checks.drift: column {reference.name!r} is treated as numerical but holds non-numbers; "
            f"set checks.drift.column_types.{reference.name}: categorical, or fix the data"
        )
    if method is None:
        # Evidently's own choice is not held to the test's declared column types (it picks
        # chi-square for a numerical column of at most 5 values): take the test as it does
        name, chosen_by = default_stattest(reference, current, kind), "default"
        stattest = next(iter(_registered_stat_tests[name].values()))
    else:
        name, chosen_by = method, "spec"
        try:
            stattest = get_registered_stattest(name, column_type)
        except StatTestInvalidFeatureTypeError:
            raise DataError(
                f"{field}: Evidently's {name!r} does not apply to {kind} column {reference.name!r}; "
                f"choose a {kind} test in checks.drift.per_column.{reference.name}, or set its column_types"
            ) from None
    if name in _ORDER_FREE:
        reference = pd.Series(np.sort(reference.to_numpy()), name=reference.name)
        current = pd.Series(np.sort(current.to_numpy()), name=current.name)
    if name in _UNSEEDED:
        # Evidently's MMD permutes with NumPy's global random state without seeding it; seed it
        # as Evidently's permutation tests do, so a re-run of a window gives the same p-value
        np.random.seed(0)
    try:
        result = stattest(reference, current, column_type, threshold)
    except (ValueError, TypeError, ZeroDivisionError) as exc:
        message = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise DataError(
            f"{field}: Evidently's {name!r} test failed on column {reference.name!r}: {message}; "
            f"choose another test in checks.drift.per_column.{reference.name}"
        ) from None
    return ColumnDrift(
        method=name,
        method_display=stattest.display_name,
        score=float(result.drift_score),
        drifted=bool(result.drifted),
        threshold=float(result.actual_threshold),
        reference_n=len(reference),
        current_n=len(current),
        chosen_by=chosen_by,
    )


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


def run(config: DriftConfig, data: AuditData) -> list[MetricResult]:
    """Per-column drift of the window against ``data.reference``, and the share that drifted."""
    pairs = audited_columns(data.spec, config)
    if not pairs:
        raise DataError("checks.drift: no columns to audit; map columns.features/score/prediction/label")
    _check_window_columns(pairs, data)
    columns = [_column(config, name, role, data.current[name]) for name, role in pairs]
    if data.reference is None or data.reference_rows < config.min_reference_rows:
        reason = (
            "there is no reference data (no baseline rows, or no earlier windows yet)"
            if data.reference_rows == 0
            else f"the reference has {data.reference_rows} rows, fewer than min_reference_rows="
            f"{config.min_reference_rows}"
        )
        return [_insufficient(c, reason) for c in columns] + [_insufficient(None, reason, n=0)]
    _check_reference_columns(columns, data.reference)
    results = _column_results(config, columns, data)
    computed = [r for r in results if r.status is Status.COMPUTED]
    drifted = [r.slice["column"] for r in computed if r.details["drifted"]]
    if computed:
        share = MetricResult(
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
    else:
        share = _insufficient(None, "no column had enough data in both the window and the reference", n=0)
    results.append(share)
    if config.html_report.enabled:
        data.artifacts.append(html_report(config, data, columns, computed))
    return results


# --------------------------------------------------------------------------- Evidently's HTML report


def _sample(frame: pd.DataFrame, columns: list[str], size: int) -> pd.DataFrame:
    part = frame[columns]
    return part if len(part) <= size else part.sample(n=size, random_state=0)


def html_report(
    config: DriftConfig, data: AuditData, columns: list[DriftColumn], computed: list[MetricResult]
) -> PendingArtifact:
    """Evidently's drift report on a sample, with the methods the full-data check used."""
    import html

    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    assert data.reference is not None
    used = {r.slice["column"]: r.details for r in computed}
    names = [c.name for c in columns if c.name in used]
    size = config.html_report.sample_size
    definition = DataDefinition(
        numerical_columns=[c.name for c in columns if c.name in used and c.kind == "numerical"],
        categorical_columns=[c.name for c in columns if c.name in used and c.kind == "categorical"],
    )
    current = _sample(data.current, names, size)
    reference = _sample(data.reference, names, size)
    report = Report(
        [
            DataDriftPreset(
                columns=names,
                per_column_method={n: used[n]["method"] for n in names},
                per_column_threshold={n: used[n]["threshold"] for n in names},
            )
        ]
    )
    snapshot = report.run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    page = snapshot.get_html_str(as_iframe=False)
    note = (
        '<div style="background:#fff3cd;border:1px solid #e0c36a;padding:10px 14px;margin:8px;'
        'font:14px sans-serif">'
        f"<b>Sampled report.</b> Evidently computed this report on a random sample of {len(current):,} of the "
        f"window's {data.rows:,} rows and {len(reference):,} of the reference's {data.reference_rows:,} rows "
        f"({html.escape(data.window_start.isoformat())} to {html.escape(data.window_end.isoformat())}). "
        "Its scores differ from the audit's drift results, which ethics-audit computed on all rows with the "
        "same tests and thresholds.</div>"
    )
    at = page.find("<body")
    at = page.find(">", at) + 1 if at >= 0 else 0
    page = page[:at] + note + page[at:]
    return PendingArtifact(
        "evidently_drift_html",
        "drift.html",
        page,
        details={"sampled": True, "current_rows": len(current), "reference_rows": len(reference)},
    )
