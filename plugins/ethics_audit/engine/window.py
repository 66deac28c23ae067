"""One audit window on the engine: its rows, late labels and reference as ``Rows``, not frames.

``load_window`` is ``sources.load_window`` for ``engine: {kind: duckdb}``: the window's rows,
its late labels (joined on DuckDB) and its reference stay where DuckDB scans them, and
``AuditData.current`` is None. The small ledgers (consent, training manifest, transparency) are
read as ``sources`` reads them. A family or remedy section that has no statistics on the engine
yet asks ``materialise`` for the frames, which loads them once and logs who asked. With
``engine: {kind: spark}`` the same runs on a SparkSession (``engine.spark``) instead of DuckDB.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ethics_audit.data import AuditData
from ethics_audit.errors import DataError, columns_withheld
from ethics_audit.windows import as_utc

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd

    from ethics_audit.spec import AuditSpec

log = logging.getLogger(__name__)


def uses_engine(spec: AuditSpec) -> bool:
    """Whether the window's rows stay on DuckDB or Spark: the spec asks for it and the source is
    files (a SQL source is still read into memory until its statistics are pushed down to it)."""
    return spec.engine.kind in ("duckdb", "spark") and spec.source.kind == "file"


def load_window(
    spec: AuditSpec,
    window_start: datetime,
    window_end: datetime,
    *,
    row_count_history: list[int] | None = None,
    now: datetime | None = None,
    backend: Any | None = None,
) -> AuditData:
    """Everything the checks need for one window, with the rows on DuckDB, or on Spark when
    ``backend`` is Ibis' PySpark backend (``current`` is None)."""
    from ethics_audit.engine import Rows, cache, duckdb_backend
    from ethics_audit.engine.files import in_utc, pandas_dtypes, source_table
    from ethics_audit.sources import require_entity_column, where_of

    if backend is None and spec.engine.kind == "spark":
        from ethics_audit.engine import spark

        backend = spark.backend(spec.engine, app=f"ethics-audit {spec.id}", where=where_of(spec, "engine"))
    backend = backend or duckdb_backend(limit=spec.engine.memory_limit)
    engine = "spark" if backend.name == "pyspark" else "duckdb"
    start, end = as_utc(window_start), as_utc(window_end)
    ts = spec.columns.timestamp
    current = source_table(spec.source, spec, "source", backend, timestamp=ts, start=start, end=end)
    require_entity_column(spec, list(current.columns))
    if spec.labels is not None:
        current = join_labels(current, spec, start, end, backend)
    tables = {"current": Rows(current, backend, engine, pandas_dtypes=pandas_dtypes(spec.source, spec, "source"))}

    if spec.reference is not None and spec.reference.baseline is not None:
        reference = source_table(spec.reference.baseline, spec, "reference.baseline", backend)
        if ts in reference.columns:
            reference = in_utc(reference, ts, where_of(spec, "reference.baseline"), backend)
        extras = pandas_dtypes(spec.reference.baseline, spec, "reference.baseline")
        kept = cache.for_reference(reference, spec.reference.baseline, spec, "reference.baseline")
        tables["reference"] = Rows(reference, backend, engine, pandas_dtypes=extras, kept=kept)
    elif spec.reference is not None and spec.reference.previous_windows:
        from ethics_audit.calendar_windows import shift

        ref_start = shift(start, spec.window.size, -spec.reference.previous_windows, spec.timezone)
        reference = source_table(spec.source, spec, "source", backend, timestamp=ts, start=ref_start, end=start)
        if spec.labels is not None:
            reference = join_labels(reference, spec, ref_start, start, backend)
        tables["reference"] = Rows(reference, backend, engine, pandas_dtypes=tables["current"].pandas_dtypes)

    return on_engine(spec, start, end, tables, row_count_history=row_count_history, now=now)


def on_engine(
    spec: AuditSpec,
    start: datetime,
    end: datetime,
    tables: dict[str, Any],
    *,
    row_count_history: list[int] | None,
    now: datetime | None,
) -> AuditData:
    """The ``AuditData`` of a window whose rows are ``tables`` (``current`` None), with the
    small ledgers read as ``sources`` reads them."""
    from ethics_audit.sources import window_data

    return window_data(spec, start, end, current=None, tables=tables, row_count_history=row_count_history, now=now)


def join_labels(current: ir.Table, spec: AuditSpec, start: datetime, end: datetime, backend: Any) -> ir.Table:
    """``sources``' late-label join, run by DuckDB: a left join on the ``join_on`` roles; a
    label already in the predictions wins over the late one."""
    import ibis

    from ethics_audit.engine.files import source_table
    from ethics_audit.sources import where_of

    assert spec.labels is not None
    labels_spec = spec.labels
    where = where_of(spec, "labels")
    labels = source_table(labels_spec.source, spec, "labels.source", backend, start=start, end=end)
    keys = [getattr(spec.columns, role) for role in labels_spec.join_on]
    if None in keys:
        raise DataError(f"{where}.join_on: map every join role in columns (got {labels_spec.join_on})")
    for column in keys + [labels_spec.column]:
        if column not in labels.columns:
            raise DataError(
                f"{where}: column {column!r} is not in the label source; columns: {columns_withheld(labels.columns)}"
            )
    labels = labels.select(*keys, __label__=labels[labels_spec.column])
    repeats = labels.group_by(keys).aggregate(n=labels.count()).filter(lambda t: t.n > 1)
    # the sum of no rows is NULL (Spark hands it back as NaN): none repeated
    duplicated = int(backend.execute(ibis.coalesce((repeats.n - 1).sum(), 0)))
    if duplicated:
        raise DataError(f"{where}: {duplicated} label rows repeat a key of {keys}; keep one label per prediction")
    for key in keys:
        if key not in current.columns:
            raise DataError(f"{where}.join_on: column {key!r} is not in the predictions")
        if current[key].type() != labels[key].type():
            labels = labels.mutate(**{key: labels[key].cast(current[key].type())})
    merged = current.left_join(labels, keys)
    merged = merged.select(*current.columns, "__label__")
    target = spec.columns.label or labels_spec.column
    if target in current.columns:
        return merged.mutate(**{target: ibis.coalesce(merged[target], merged["__label__"])}).drop("__label__")
    return merged.rename({target: "__label__"})


# a remedy section that has no statistics on the engine reads at most about this many rows a side
REMEDY_ROWS = 1_000_000

# the family modules whose whole ``run`` reads the engine when ``data.current`` is None, held
# equal to the in-memory path by tests/engine/test_families_on_engine.py; a module may also say
# so itself with ``READS_ROWS = True``. Every other family gets the frames loaded (``frames_for``).
ON_ENGINE = frozenset({"ethics_audit.checks.quality", "ethics_audit.checks.privacy"})
# pushed down into PostgreSQL and run on Spark: the families held equal to the memory path on
# each (tests/engine/test_pushdown*.py, tests/engine/test_spark*.py); READS_ROWS speaks for DuckDB
PUSHED_DOWN = frozenset(
    {
        "ethics_audit.checks.quality",
        "ethics_audit.checks.drift",
        "ethics_audit.checks.fairness",
        "ethics_audit.checks.privacy",
        "ethics_audit.checks.transparency",
    }
)


def reads_rows(family: str, engine: str = "duckdb") -> bool:
    """Whether ``family`` computes from ``engine.rows_of`` on ``engine`` without a frame in memory."""
    import importlib

    from ethics_audit import checks

    module = checks.CHECKS.get(family)
    if module is None:
        return True  # dispatch says it is not available; nothing to load for it
    if engine in ("postgres", "spark"):
        return module in PUSHED_DOWN
    return module in ON_ENGINE or bool(getattr(importlib.import_module(module), "READS_ROWS", False))


def frames_for(family: str, data: AuditData) -> None:
    """The fallback of the engine path: a family that cannot compute on the engine yet gets the
    window's frames loaded, once per window, and the log says which family forced it."""
    if data.current is None and "current" in data.tables:
        if not reads_rows(family, data.tables["current"].engine):
            materialise(data, f"the {family} check")


def materialise(data: AuditData, who: str, *, columns: list[str] | None = None) -> None:
    """Load the window's frames from the engine for ``who`` (a family or remedy section that has
    no statistics on the engine yet): once per window, logged, so a slow run says why."""
    if data.current is not None or "current" not in data.tables:
        return
    log.warning(
        "%s: %s has no statistics on the engine yet: loading the window's %d rows into memory for it",
        data.spec.id,
        who,
        data.rows,
    )
    data.current = frame_of(data.tables["current"], columns)
    if "reference" in data.tables:
        data.reference = frame_of(data.tables["reference"], columns)
    data.derived.setdefault("engine.loaded_for", []).append(who)


def for_remedy(data: AuditData, who: str) -> tuple[AuditData, str | None]:
    """The window for ``who``, a remedy section with no statistics on the engine: a copy of
    ``data`` with frames, so the families still to run stay on the engine. Past ``REMEDY_ROWS``
    rows a side is a seeded sample of about that many rows, and the second value is the note
    the section carries to say so (None when it read every row)."""
    import dataclasses

    if data.current is not None or "current" not in data.tables:
        return data, None
    frames, sampled = {}, []
    for name in ("current", "reference"):
        if name in data.tables:
            rows = data.tables[name]
            total = rows.count()
            table = rows.table
            if total > REMEDY_ROWS:
                table = table.sample(REMEDY_ROWS / total, seed=0)
                sampled.append(f"{name} {total:,}")
            frames[name] = as_loaded(rows.backend.to_pyarrow(table).to_pandas(), rows.pandas_dtypes)
    log.warning(
        "%s: %s has no statistics on the engine yet: loading %s of the window's %d rows into memory for it",
        data.spec.id,
        who,
        "a sample" if sampled else "all",
        data.rows,
    )
    # a sample's own encodings, never the check's of every row
    derived = {} if sampled else data.derived
    view = dataclasses.replace(data, current=frames["current"], reference=frames.get("reference"), derived=derived)
    view.tables = {k: v for k, v in data.tables.items() if k not in frames}
    data.derived.setdefault("engine.loaded_for", []).append(who)
    if not sampled:
        return view, None
    kept = len(view.current)
    return view, (
        f"computed on a seeded sample of {kept:,} window rows (of {data.rows:,}; {', '.join(sampled)} rows "
        f"sampled to about {REMEDY_ROWS:,} each): the check's own results above count every row"
    )


def frame_of(rows: Any, columns: list[str] | None = None) -> pd.DataFrame:
    """A table's rows as pandas, with timestamps in the zone ``UTC`` as ``sources`` gives them."""

    table = rows.table if columns is None else rows.table.select(*[c for c in columns if c in rows.table.columns])
    return as_loaded(rows.backend.to_pyarrow(table).to_pandas(), rows.pandas_dtypes)


def as_loaded(frame: pd.DataFrame, dtypes: dict[str, str]) -> pd.DataFrame:
    """``frame`` with the dtypes the in-memory loader gives: timestamps in ``UTC`` and the
    source's pandas extension dtypes restored."""
    import pandas as pd

    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.DatetimeTZDtype) and str(frame[name].dt.tz) != "UTC":
            frame[name] = frame[name].dt.tz_convert("UTC")
        elif name in dtypes and str(frame[name].dtype) != dtypes[name]:
            frame[name] = frame[name].astype(dtypes[name])
    return frame
