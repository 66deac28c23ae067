"""PII in the window: which columns hold emails, phone numbers, card numbers, IBANs, SSNs, IPs, dates of birth.

Every string column (or ``checks.privacy.pii.columns``) plus the free-text ``columns.text`` is
scanned with RE2 through pyarrow: one combined pattern first picks the candidate values, each
entity's own pattern then extracts every match from those only, and vectorised validators
(``entities``) confirm them. Low-cardinality columns are scanned once per distinct value and
the rows are counted afterwards. Per column the results give the share (or count) of rows with
a confirmed match per entity, the entity types found and at most a few masked examples: never a
raw value. Column names that suggest direct identifiers are a separate, lower-severity result.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ethics_audit.checks.privacy.entities import DATE_VALUE, ENTITIES, Entity, find_all, mask_dob, plausible_date
from ethics_audit.checks.privacy.identifiers import identifier_kind, identifier_names, normalise_name, scan_names
from ethics_audit.errors import DataError, columns_withheld
from ethics_audit.results import MetricResult

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from ethics_audit.data import AuditData
    from ethics_audit.spec import PiiSpec, PrivacyConfig

CHECK = "privacy"
# metric -> the entities it counts, in the order results are emitted
METRIC_ENTITIES = {
    "email_share": ("email",),
    "phone_share": ("phone",),
    "card_count": ("card",),
    "iban_count": ("iban",),
    "ssn_count": ("ssn",),
    "ip_share": ("ipv4", "ipv6"),
    "dob_share": ("dob",),
}
COUNT_METRICS = ("card_count", "iban_count", "ssn_count")
SAMPLE = 10_000  # values looked at to decide how to read an object column
DISTINCT_SCAN = 0.5  # scan distinct values when the sample has at most this share of them

# IPv4 detection is off in these columns: "10.0.0.1" there is a version, not an address
VERSION_NAME = re.compile(r"(^|_)(version|ver|release|build|firmware|fw)(_|$)")


# --------------------------------------------------------------------------- reading a column


@dataclass
class ColumnValues:
    """The strings to scan for one column and how to turn value indices into row counts."""

    values: pa.Array  # distinct values (or categories), or one value per row
    series: pd.Series
    codes: np.ndarray | None = None  # categorical codes when ``values`` are the categories
    distinct: bool = False
    _weights: np.ndarray | None = None

    def rows(self, value_idx: np.ndarray) -> int:
        """How many rows hold one of these values."""
        import numpy as np

        if len(value_idx) == 0:
            return 0
        if not (self.distinct or self.codes is not None):
            return len(value_idx)
        if self._weights is None:  # rows per value, counted once and only for columns with a match
            if self.codes is not None:
                codes = self.codes[self.codes >= 0]
                self._weights = np.bincount(codes, minlength=len(self.values))
            else:
                counts = self.series.value_counts(dropna=True)
                self._weights = counts.reindex(self.values.to_pylist(), fill_value=0).to_numpy()
        return int(self._weights[value_idx].sum())


def _strings(series: pd.Series) -> pa.Array:
    """Every value as an Arrow string (non-strings in a mixed column become null). Large strings:
    a column of long texts may hold more than the 2 GB that 32-bit offsets address."""
    import pyarrow as pa

    try:
        array = pa.array(series, type=pa.large_string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        array = pa.array(series.where(series.map(type).eq(str), None), type=pa.large_string(), from_pandas=True)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def is_string_column(series: pd.Series) -> bool:
    import pandas as pd

    if isinstance(series.dtype, pd.CategoricalDtype):
        return pd.api.types.is_string_dtype(series.cat.categories) or series.cat.categories.dtype == object
    if pd.api.types.is_string_dtype(series.dtype) and series.dtype != object:
        return True
    if series.dtype != object:
        return False
    sample = series.iloc[:SAMPLE].dropna()
    return any(isinstance(v, str) for v in sample.iloc[:1000]) if len(sample) else False


def column_values(series: pd.Series) -> ColumnValues:
    """Read a column for scanning: categories, distinct values (low cardinality) or every value."""
    import pandas as pd
    import pyarrow as pa

    if isinstance(series.dtype, pd.CategoricalDtype):
        categories = pd.Series(series.cat.categories)
        return ColumnValues(_strings(categories.astype(str)), series, codes=series.cat.codes.to_numpy())
    if series.dtype != object:
        return ColumnValues(_strings(series), series)
    sample = series.iloc[:SAMPLE]
    if len(sample) and sample.nunique() <= DISTINCT_SCAN * len(sample):
        distinct = set(series.to_numpy())  # a Python set is the fastest way to the distinct values
        if len(distinct) <= DISTINCT_SCAN * len(series):
            strings = sorted(v for v in distinct if isinstance(v, str))  # sorted: the same examples every run
            return ColumnValues(pa.array(strings, type=pa.string()), series, distinct=True)
    return ColumnValues(_strings(series), series)


# --------------------------------------------------------------------------- scanning


@dataclass
class Found:
    value_idx: np.ndarray  # indices into ColumnValues.values
    examples: list[str]  # masked


def scan(values: pa.Array, entities: list[Entity], *, examples: int = 3) -> dict[str, Found]:
    """Confirmed matches per entity: which values hold one, and a few masked examples."""
    import numpy as np
    import pyarrow.compute as pc

    if not entities or len(values) == 0:
        return {}
    combined = "|".join(f"(?:{e.pattern})" for e in entities)
    hit = pc.fill_null(pc.match_substring_regex(values, combined), False).to_numpy(zero_copy_only=False)
    candidates = np.flatnonzero(hit)
    if len(candidates) == 0:
        return {}
    subset = values.take(candidates)
    found: dict[str, Found] = {}
    for entity in entities:
        own = np.flatnonzero(pc.match_substring_regex(subset, entity.pattern).to_numpy(zero_copy_only=False))
        if len(own) == 0:
            continue
        matches, parents = find_all(subset.take(own), entity.pattern)
        valid = entity.validate(matches)
        if not valid.any():
            continue
        shown = list(dict.fromkeys(entity.mask(m) for m in matches.filter(valid)[: examples * 4].to_pylist()))
        found[entity.name] = Found(np.unique(candidates[own[parents[valid]]]), shown[:examples])
    return found


def scan_dates(values: pa.Array, *, examples: int = 3) -> Found | None:
    """Values that are a plausible calendar date (for columns named like a date of birth)."""
    import numpy as np
    import pyarrow.compute as pc

    looks = np.flatnonzero(
        pc.fill_null(pc.match_substring_regex(values, DATE_VALUE), False).to_numpy(zero_copy_only=False)
    )
    if len(looks) == 0:
        return None
    texts = values.take(looks).to_pylist()
    valid = np.array([plausible_date(t) for t in texts], dtype=bool)
    if not valid.any():
        return None
    shown = list(dict.fromkeys(mask_dob(t.strip()) for t, ok in zip(texts, valid, strict=True) if ok))
    return Found(looks[valid], shown[:examples])


# --------------------------------------------------------------------------- the part


def scanned_columns(spec: PiiSpec, data: AuditData, columns: list[str], is_string: Callable[[str], bool]) -> list[str]:
    """The columns read for PII: the spec's list (or every string column) plus ``columns.text``."""
    where = "checks.privacy.pii.columns"
    for name in spec.columns or []:
        if name not in columns:
            raise DataError(
                f"{where}: {name!r} is not a column of the window (columns: {columns_withheld(columns)}); fix {where}"
            )
    for name in data.columns.text:
        if name not in columns:
            raise DataError(
                f"columns.text: {name!r} is not a column of the window (columns: {columns_withheld(columns)}); "
                "fix columns.text"
            )
    chosen = list(spec.columns) if spec.columns is not None else [c for c in columns if is_string(c)]
    chosen += [c for c in data.columns.text if c not in chosen]
    excluded = set(spec.exclude_columns)
    return [c for c in chosen if c not in excluded]


def dob_columns(
    spec: PiiSpec, columns: list[str], scanned: list[str], is_timestamp: Callable[[str], bool]
) -> list[str]:
    """Columns named like a date of birth that are scanned or hold timestamps."""
    excluded = set(spec.exclude_columns)
    names = identifier_names(spec.identifier_names)
    return [
        c
        for c in columns
        if c not in excluded and identifier_kind(c, names) == "dob" and (c in scanned or is_timestamp(c))
    ]


def _entities_for(column: str, enabled: list[str]) -> list[Entity]:
    version = VERSION_NAME.search(normalise_name(column)) is not None
    return [ENTITIES[e] for e in enabled if not (version and e in ("ipv4", "ipv6"))]


def column_results(
    config: PrivacyConfig, column: str, rows: int, found: dict[str, Found], counts: dict[str, int], union_rows: int
) -> list[MetricResult]:
    spec = config.pii
    thresholds = spec.thresholds
    enabled = set(spec.entities)
    results = [
        MetricResult(
            CHECK,
            "pii_share",
            union_rows / rows if rows else None,
            slice={"column": column},
            n=rows,
            threshold=thresholds.get("pii_share"),
            details={"entity_types": sorted(found), "rows_by_type": {e: counts[e] for e in sorted(found)}},
        )
    ]
    for metric, names in METRIC_ENTITIES.items():
        wanted = [e for e in names if e in enabled]
        if not wanted:
            continue
        kinds = [e for e in wanted if e in found]
        hit_rows = counts.get(metric, 0)
        details: dict[str, Any] = {"entity_types": kinds, "rows": hit_rows}
        examples = [x for e in kinds for x in found[e].examples][: spec.examples]
        if examples:
            details["examples"] = examples
        if metric in COUNT_METRICS:
            value: float | None = hit_rows
            details["share"] = hit_rows / rows if rows else None
        else:
            value = hit_rows / rows if rows else None
        results.append(
            MetricResult(
                CHECK,
                metric,
                value,
                slice={"column": column},
                n=rows,
                threshold=thresholds.get(metric),
                details=details,
            )
        )
    return results


def scan_column(
    series: pd.Series, entities: list[Entity], *, dob_values: bool, examples: int
) -> tuple[dict[str, Found], dict[str, int], int]:
    """Scan one column: confirmed matches per entity, rows per metric, rows with any PII."""
    import numpy as np
    import pandas as pd

    if dob_values and pd.api.types.is_datetime64_any_dtype(series):
        # a timestamp column named like a date of birth: every value is one
        rows = int(series.notna().sum())
        found = {"dob": Found(np.zeros(0, np.int64), ["****-**-**"])} if rows else {}
        return found, {"dob": rows, "dob_share": rows}, rows
    values = column_values(series)
    found = scan(values.values, entities, examples=examples)
    if dob_values:
        dates = scan_dates(values.values, examples=examples)
        if dates is not None:
            merged = np.union1d(found["dob"].value_idx, dates.value_idx) if "dob" in found else dates.value_idx
            shown = (found["dob"].examples if "dob" in found else []) + dates.examples
            found["dob"] = Found(merged, shown[:examples])
    counts: dict[str, int] = {name: values.rows(f.value_idx) for name, f in found.items()}
    for metric, names in METRIC_ENTITIES.items():
        hit = [found[e].value_idx for e in names if e in found]
        counts[metric] = values.rows(np.unique(np.concatenate(hit))) if hit else 0
    every = [f.value_idx for f in found.values()]
    union_rows = values.rows(np.unique(np.concatenate(every))) if every else 0
    return found, counts, union_rows


def identifier_names_result(config: PrivacyConfig, data: AuditData, columns: list[str]) -> MetricResult:
    """Columns whose names suggest direct identifiers (columns mapped to a role are expected)."""
    roles = {getattr(data.columns, r) for r in data.columns.ROLES} - {None}
    excluded = set(config.pii.exclude_columns)
    checked = [c for c in columns if c not in roles and c not in excluded]
    names = identifier_names(config.pii.identifier_names)
    flagged = {str(c): kind for c in checked if (kind := identifier_kind(c, names))}
    return MetricResult(
        CHECK,
        "identifier_column_names",
        len(flagged),
        n=len(checked),
        threshold=config.pii.thresholds.get("identifier_column_names"),
        details={"columns": flagged},
    )


def name_columns(spec: PiiSpec, data: AuditData, columns: list[str]) -> list[str]:
    """Columns read for personal names: those the spec marks, and those named like a name."""
    for name in spec.name_columns:
        if name not in columns:
            raise DataError(
                f"checks.privacy.pii.name_columns: {name!r} is not a column of the window "
                f"(columns: {columns_withheld(columns)}); fix checks.privacy.pii.name_columns"
            )
    roles = {getattr(data.columns, r) for r in data.columns.ROLES} - {None}
    names = identifier_names(spec.identifier_names)
    excluded = set(spec.exclude_columns)
    named = [c for c in columns if c not in roles and identifier_kind(c, names) == "name"]
    return [c for c in dict.fromkeys([*spec.name_columns, *named]) if c not in excluded]


def name_result(spec: PiiSpec, column: str, window_rows: int, rows: int, examples: list[str]) -> MetricResult:
    """Share of rows holding a name-shaped value in one name column, with masked examples."""
    marked = "checks.privacy.pii.name_columns" if column in spec.name_columns else "its name"
    details: dict[str, Any] = {"rows": rows, "why_read": marked}
    if examples:
        details["examples"] = examples
    return MetricResult(
        CHECK,
        "name_share",
        rows / window_rows if window_rows else None,
        slice={"column": str(column)},
        n=window_rows,
        threshold=spec.thresholds.get("name_share"),
        details=details,
    )


def run(config: PrivacyConfig, data: AuditData) -> list[MetricResult]:
    import pandas as pd

    spec = config.pii
    if not spec.enabled:
        return []
    frame = data.current
    columns = list(frame.columns)
    scanned = scanned_columns(spec, data, columns, lambda c: is_string_column(frame[c]))
    dated = (
        dob_columns(spec, columns, scanned, lambda c: pd.api.types.is_datetime64_any_dtype(frame[c]))
        if "dob" in spec.entities
        else []
    )
    results = [identifier_names_result(config, data, columns)]
    rows = data.rows
    for column in list(dict.fromkeys(scanned + dated)):
        series = frame[column]
        if column in scanned and not is_string_column(series):
            series = series.where(series.isna(), series.astype(str))
        found, counts, union_rows = scan_column(
            series,
            _entities_for(str(column), list(spec.entities)),
            dob_values=column in dated,
            examples=spec.examples,
        )
        results += column_results(config, str(column), rows, found, counts, union_rows)
    for column in name_columns(spec, data, columns):
        hits, examples = scan_names(frame[column], examples=spec.examples)
        results.append(name_result(spec, column, rows, hits, examples))
    return results
