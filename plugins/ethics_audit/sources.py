"""Read one audit window, its reference, late labels, the consent ledger, training manifest and transparency ledgers.

SQL sources run the spec's query through SQLAlchemy with ``:window_start``/``:window_end``
bound as parameters. File sources read parquet or CSV (a glob or a directory is fine) and keep
the rows whose timestamp falls in ``[window_start, window_end)``; parquet filters are pushed
down to pyarrow so a large history is not loaded to read one week. Every failure is an
``AuditError`` naming the spec file, the field and what to do.
"""

from __future__ import annotations

import glob
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ethics_audit.data import AuditData
from ethics_audit.errors import DataError, SourceError, columns_withheld
from ethics_audit.settings import extra_data_roots, home
from ethics_audit.windows import as_utc

if TYPE_CHECKING:
    import pandas as pd

    from ethics_audit.spec import AuditSpec, SourceSpec

_ENV = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def expand(text: str, where: str) -> str:
    """Replace ``${VAR}`` / ``${VAR:-default}`` from the environment (ETHICS_AUDIT_HOME is absolute)."""

    def value(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name == "ETHICS_AUDIT_HOME":
            return str(home())
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise SourceError(f"{where}: environment variable {name} is not set; export it or give ${{{name}:-default}}")

    return _ENV.sub(value, text)


def where_of(spec: AuditSpec, field: str) -> str:
    return f"{spec.path or spec.id}: {field}"


def data_roots(spec: AuditSpec) -> list[Path]:
    """The folders file sources may read: the spec's own folder (the working directory for a
    spec that is not a file), ``$ETHICS_AUDIT_HOME`` and each folder in ``ETHICS_AUDIT_DATA_ROOTS``
    (separated by ``os.pathsep``). Everything is compared after resolving symlinks and ``..``."""
    roots = [spec.path.parent if spec.path is not None else Path.cwd(), home()]
    roots += extra_data_roots()
    return [r.resolve() for r in roots]


def _inside(path: Path, roots: list[Path]) -> bool:
    resolved = path.resolve()
    return any(resolved == root or resolved.is_relative_to(root) for root in roots)


def _fixed_part(path: Path) -> Path:
    """The folder a glob starts from (its parts before the first wildcard)."""
    parts = []
    for part in path.parts:
        if glob.has_magic(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")


def resolve_files(source: SourceSpec, spec: AuditSpec, field: str) -> list[Path]:
    where = where_of(spec, field + ".path")
    pattern = expand(source.path or "", where)
    path = Path(pattern)
    if not path.is_absolute() and spec.path is not None:
        path = spec.path.parent / path
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in (".parquet", ".csv") and p.is_file())
    else:
        files = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
    roots = data_roots(spec)
    outside = [p for p in files if not _inside(p, roots)]
    if outside or (not files and not _inside(_fixed_part(path), roots)):
        raise SourceError(
            f"{where}: {source.path!r} is outside the folders an audit may read (the spec's folder, "
            "$ETHICS_AUDIT_HOME and the folders in ETHICS_AUDIT_DATA_ROOTS); move the data there or add "
            "its folder to ETHICS_AUDIT_DATA_ROOTS"
        )
    if not files:
        raise SourceError(
            f"{where}: no files match {str(path)!r}; check the path "
            "(relative paths are read from the spec file's folder)"
        )
    return files


def format_of(source: SourceSpec, files: list[Path], spec: AuditSpec, field: str) -> str:
    if source.format:
        return source.format
    suffixes = {p.suffix.lower() for p in files}
    if suffixes <= {".parquet", ".pq"}:
        return "parquet"
    if suffixes <= {".csv"}:
        return "csv"
    raise SourceError(
        f"{where_of(spec, field + '.format')}: cannot tell the format of {sorted(suffixes)}; set format: parquet or csv"
    )


def to_utc(frame: pd.DataFrame, column: str, where: str) -> pd.DataFrame:
    import pandas as pd

    series = frame[column]
    if not pd.api.types.is_datetime64_any_dtype(series):
        try:
            series = pd.to_datetime(series, utc=True, format="ISO8601")
        except (ValueError, TypeError):
            # pandas' message quotes the value: count the bad ones instead
            parsed = pd.to_datetime(series, utc=True, format="ISO8601", errors="coerce")
            bad = int((parsed.isna() & series.notna()).sum())
            raise DataError(
                f"{where}: column {column!r} has {bad} of {len(series)} values that are not timestamps; "
                "store ISO 8601 timestamps such as 2026-07-06T12:00:00Z"
            ) from None
    elif series.dt.tz is None:
        series = series.dt.tz_localize("UTC")
    else:
        series = series.dt.tz_convert("UTC")
    frame[column] = series
    return frame


def _read_files(
    source: SourceSpec,
    spec: AuditSpec,
    field: str,
    timestamp: str | None,
    start: datetime | None,
    end: datetime | None,
) -> pd.DataFrame:

    files = resolve_files(source, spec, field)
    fmt = format_of(source, files, spec, field)
    where = where_of(spec, field)
    if fmt == "csv":
        from ethics_audit.csv_files import read_csv_files

        frame = read_csv_files(files, where, na_values=source.na_values, encoding=source.encoding)
    else:
        try:
            frame = _read_parquet(files, timestamp, start, end, where)
        except (OSError, ValueError) as exc:
            if isinstance(exc, DataError):
                raise
            raise SourceError(
                f"{where}: cannot read parquet from {files[0].parent} ({type(exc).__name__}); check that every file "
                "there is a complete parquet file (an interrupted copy leaves a truncated one)"
            ) from None
    if timestamp is not None and (start is not None or end is not None):
        if timestamp not in frame.columns:
            raise DataError(
                f"{where}: the timestamp column {timestamp!r} (columns.timestamp) is not in the data; "
                f"columns: {columns_withheld(frame.columns)}"
            )
        frame = to_utc(frame, timestamp, where)
        mask = True
        if start is not None:
            mask = frame[timestamp] >= as_utc(start)
        if end is not None:
            mask = mask & (frame[timestamp] < as_utc(end))
        frame = frame.loc[mask].reset_index(drop=True)
    return frame


def _read_parquet(
    files: list[Path], timestamp: str | None, start: datetime | None, end: datetime | None, where: str
) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    dataset = ds.dataset([str(p) for p in files], format="parquet")
    filter_ = None
    if timestamp is not None and (start is not None or end is not None):
        if timestamp not in dataset.schema.names:
            raise DataError(
                f"{where}: the timestamp column {timestamp!r} (columns.timestamp) is not in the data; "
                f"columns: {columns_withheld(dataset.schema.names)}"
            )
        kind = dataset.schema.field(timestamp).type
        if pa.types.is_timestamp(kind):
            # compare in the column's own unit and zone so the filter is pushed down
            def scalar(t: datetime) -> Any:
                value = as_utc(t) if kind.tz else as_utc(t).replace(tzinfo=None)
                return pa.scalar(value, type=kind)

            if start is not None:
                filter_ = pc.field(timestamp) >= scalar(start)
            if end is not None:
                upper = pc.field(timestamp) < scalar(end)
                filter_ = upper if filter_ is None else filter_ & upper
    return dataset.to_table(filter=filter_).to_pandas()


def sql_url(source: SourceSpec, spec: AuditSpec, field: str) -> str:
    if source.url:
        return expand(source.url, where_of(spec, field + ".url"))
    from ethics_audit.connections import sqlalchemy_url

    return sqlalchemy_url(source.connection_id or "", where=where_of(spec, field + ".connection_id"))


# A database's own error can quote a row's value (PostgreSQL: ``invalid input syntax for type
# integer: "jane@example.com"``), and the error is stored with the run: literals in single quotes
# and a value quoted at the end after a colon are withheld. Names (``relation "predictions"``) stay.
_QUOTED_LITERAL = re.compile(r"'(?:[^']|'')*'")
_TRAILING_VALUE = re.compile(r':\s*"[^"]*"\s*$')


def withhold_values(message: str) -> str:
    message = _QUOTED_LITERAL.sub("'<value withheld>'", message)
    return _TRAILING_VALUE.sub(': "<value withheld>"', message)


def _read_sql(source: SourceSpec, spec: AuditSpec, field: str, params: dict[str, Any]) -> pd.DataFrame:
    import pandas as pd
    import sqlalchemy as sa

    query = sa.text(source.query or "")
    wanted = {k: v for k, v in params.items() if f":{k}" in (source.query or "")}
    url = sql_url(source, spec, field)
    where = where_of(spec, field)
    try:
        engine = sa.create_engine(url)
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises many types for bad URLs
        raise SourceError(
            f"{where}: cannot use the database URL ({type(exc).__name__}); check url/connection"
        ) from None
    try:
        with engine.connect() as conn:
            return pd.read_sql(query, conn, params=wanted)
    except sa.exc.SQLAlchemyError as exc:
        detail = withhold_values(str(getattr(exc, "orig", None) or exc).splitlines()[0])
        raise SourceError(f"{where}: the query failed: {detail}") from None
    finally:
        engine.dispose()


def read_source(
    source: SourceSpec,
    spec: AuditSpec,
    field: str,
    *,
    timestamp: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pd.DataFrame:
    """Read a source; with ``timestamp`` and a range, only the rows in ``[start, end)``."""
    if source.kind == "sql":
        params = {"window_start": as_utc(start) if start else None, "window_end": as_utc(end) if end else None}
        frame = _read_sql(source, spec, field, params)
        if timestamp is not None and timestamp in frame.columns:
            frame = to_utc(frame, timestamp, where_of(spec, field))
        return frame
    return _read_files(source, spec, field, timestamp, start, end)


def _join_labels(current: pd.DataFrame, spec: AuditSpec, start: datetime, end: datetime) -> pd.DataFrame:
    assert spec.labels is not None
    labels_spec = spec.labels
    where = where_of(spec, "labels")
    labels = read_source(labels_spec.source, spec, "labels.source", start=start, end=end)
    keys = [getattr(spec.columns, role) for role in labels_spec.join_on]
    if None in keys:
        raise DataError(f"{where}.join_on: map every join role in columns (got {labels_spec.join_on})")
    for column in keys + [labels_spec.column]:
        if column not in labels.columns:
            raise DataError(
                f"{where}: column {column!r} is not in the label source; columns: {columns_withheld(labels.columns)}"
            )
    labels = labels[keys + [labels_spec.column]]
    duplicated = int(labels.duplicated(subset=keys).sum())
    if duplicated:
        raise DataError(f"{where}: {duplicated} label rows repeat a key of {keys}; keep one label per prediction")
    target = spec.columns.label or labels_spec.column
    labels = labels.rename(columns={labels_spec.column: "__label__"})
    for key in keys:
        if key not in current.columns:
            raise DataError(f"{where}.join_on: column {key!r} is not in the predictions")
        if current[key].dtype != labels[key].dtype:
            labels[key] = labels[key].astype(current[key].dtype)
    merged = current.merge(labels, on=keys, how="left")
    if target in merged.columns:
        merged[target] = merged[target].where(merged[target].notna(), merged["__label__"])
        return merged.drop(columns="__label__")
    return merged.rename(columns={"__label__": target})


def _transparency_ledgers(spec: AuditSpec, start: datetime, end: datetime) -> dict[str, pd.DataFrame]:
    """The explanation log, controls ledger (up to the window end) and the whole appeals ledger:
    appeals of the window's decisions are filed after it. SQL sources get the window bound."""
    config = spec.checks.transparency
    if config is None or not config.enabled:
        return {}
    field = "checks.transparency"
    out = {}
    if config.explanations is not None and config.explanations.source is not None:
        where = f"{field}.explanations.source"
        out["explanations"] = read_source(config.explanations.source, spec, where, start=start, end=end)
    if config.controls is not None:
        out["controls"] = read_source(config.controls.source, spec, f"{field}.controls.source", start=start, end=end)
    if config.appeals is not None:
        out["appeals"] = read_source(config.appeals.source, spec, f"{field}.appeals.source", start=start, end=end)
    return out


def load_window(
    spec: AuditSpec,
    window_start: datetime,
    window_end: datetime,
    *,
    row_count_history: list[int] | None = None,
    now: datetime | None = None,
) -> AuditData:
    """Everything the checks need for one window, read from the spec's sources."""
    start, end = as_utc(window_start), as_utc(window_end)
    ts = spec.columns.timestamp
    current = read_source(spec.source, spec, "source", timestamp=ts, start=start, end=end)
    require_entity_column(spec, list(current.columns))
    if spec.labels is not None and len(current):
        current = _join_labels(current, spec, start, end)

    reference = None
    if spec.reference is not None and spec.reference.baseline is not None:
        reference = read_source(spec.reference.baseline, spec, "reference.baseline")
        if ts in reference.columns:
            reference = to_utc(reference, ts, where_of(spec, "reference.baseline"))
    elif spec.reference is not None and spec.reference.previous_windows:
        from ethics_audit.calendar_windows import shift

        ref_start = shift(start, spec.window.size, -spec.reference.previous_windows, spec.timezone)
        reference = read_source(spec.source, spec, "source", timestamp=ts, start=ref_start, end=start)
        if spec.labels is not None and len(reference):
            reference = _join_labels(reference, spec, ref_start, start)

    return window_data(
        spec, start, end, current=current, reference=reference, row_count_history=row_count_history, now=now
    )


def window_data(
    spec: AuditSpec,
    start: datetime,
    end: datetime,
    *,
    row_count_history: list[int] | None,
    now: datetime | None,
    **rows: Any,
) -> AuditData:
    """The ``AuditData`` of a window: its rows (``current`` and ``reference`` frames, or ``tables``
    on an engine) and the small ledgers ``side_frames`` reads."""
    return AuditData(
        spec=spec,
        window_start=start,
        window_end=end,
        **rows,
        **side_frames(spec, start, end),
        row_count_history=list(row_count_history or []),
        # fixed once, so every check (and every Airflow task) judges retention against the same time
        now=as_utc(now) if now else datetime.now(timezone.utc),
    )


def require_entity_column(spec: AuditSpec, columns: list[str]) -> None:
    if spec.columns.entity_id not in columns and columns:
        raise DataError(
            f"{where_of(spec, 'columns.entity_id')}: column {spec.columns.entity_id!r} is not in the data; "
            f"columns: {columns_withheld(columns)}"
        )


def side_frames(spec: AuditSpec, start: datetime, end: datetime) -> dict[str, pd.DataFrame | None]:
    """The window's ledgers besides its rows: consent (up to the window end), the training
    manifest and the transparency ledgers, as ``AuditData`` keyword arguments."""
    consent = members = None
    privacy = spec.checks.privacy
    if privacy is not None and privacy.enabled and privacy.consent is not None:
        consent = read_source(privacy.consent.source, spec, "checks.privacy.consent.source", end=end)
    if privacy is not None and privacy.enabled and privacy.membership is not None and privacy.membership.source:
        members = read_source(privacy.membership.source, spec, "checks.privacy.membership.source")
    return {"consent": consent, "training_members": members, **_transparency_ledgers(spec, start, end)}
