"""``explanations`` on an engine: coverage and reason-code citations per cell in one GROUP BY.

Explained is a non-null, non-blank explanation (blank: only spaces, tabs and line breaks, as
Ibis' ``strip`` trims them); with a separate explanation log, the log's last non-null explanation
of each prediction id goes to the engine as a memtable and the window is left-joined with it on
the prediction id, so a window row's explanation is the one the memory path finds. Reason codes
come back as distinct raw values per cell (a vocabulary's sets, a few hundred) and are
normalised in Python as in memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ethics_audit.checks.transparency import explanations as pure
from ethics_audit.checks.transparency.aggregates import adverse, attribute_check, group_cells, window

if TYPE_CHECKING:
    from ethics_audit.data import AuditData
    from ethics_audit.engine import Rows
    from ethics_audit.results import MetricResult
    from ethics_audit.spec import ExplanationsSpec, TransparencyConfig

ADVERSE, EXPLAINED, CODES = "__adverse", "__explained", "__codes"


def present(value: Any) -> Any:
    """Non-null and, for text, non-blank; NaN is missing."""
    kind = value.type()
    if kind.is_string():
        return value.notnull() & (value.strip().length() > 0)
    if kind.is_floating():
        return value.notnull() & ~value.isnan()
    return value.notnull()


def _with_log(spec: ExplanationsSpec, data: AuditData, rows: Rows) -> Any:
    """The window left-joined with the explanation log: ``__explained`` and ``__codes`` per row."""
    import ibis
    import pandas as pd

    from ethics_audit.checks.privacy.aggregates.consent import aligned_ids

    columns = spec.columns
    log = pure.read_log(spec, data)
    wid, log_ids = aligned_ids(rows, data.columns.prediction_id, log[columns.prediction_id])
    # the last logged non-null explanation of a decision wins, as in memory
    mine = log[columns.explanation].notna().to_numpy() & log_ids.notna().to_numpy()
    log, log_ids = log[mine], log_ids[mine]
    last = ~log_ids.duplicated(keep="last").to_numpy()
    log, log_ids = log[last], log_ids[last]
    frame = pd.DataFrame({"lid": log_ids.to_numpy(), "present": pure._present(log[columns.explanation]).astype(bool)})
    if columns.reason_codes:
        separator = spec.reason_code_separator
        frame["codes"] = [pure.normal_codes(v, separator) for v in log[columns.reason_codes].to_numpy(dtype=object)]
    else:
        frame["codes"] = pd.Series([""] * len(frame), dtype=object)
    right = ibis.memtable(frame)
    right = right.mutate(lid=right.lid.cast(wid.type()), present=right.present.cast("boolean"))
    right = right.mutate(codes=right.codes.cast("string"))
    t = rows.table.mutate(__wid=wid)
    joined = t.left_join(right, t["__wid"] == right.lid)
    return joined.mutate(**{EXPLAINED: joined.present.fill_null(False), CODES: joined.codes}).drop(
        "__wid", "lid", "present", "codes"
    )


def run(config: TransparencyConfig, data: AuditData) -> list[MetricResult]:
    import ibis

    spec = config.explanations
    if spec is None:
        return []
    rows = window(data)
    attribute_check(config, data, rows)
    columns = spec.columns
    if spec.source is None:
        pure.require_window_columns(spec, rows.columns)
        t = rows.table
        explained = present(t[columns.explanation])
        codes = t[columns.reason_codes] if columns.reason_codes else None
    else:
        t = _with_log(spec, data, rows)
        explained = t[EXPLAINED]
        codes = t[CODES] if columns.reason_codes else None
    is_adverse = adverse(config, data, rows, t)
    keys = {EXPLAINED: explained, ADVERSE: ibis.literal(False) if is_adverse is None else is_adverse}
    if codes is not None:
        # codes of unexplained rows are not cited: no need to group by them
        keys[CODES] = ibis.ifelse(explained, codes, ibis.null(codes.type()))
    grouped = group_cells(config, data, rows, keys, t)
    got = grouped.columns
    is_explained = np.asarray(got[EXPLAINED], dtype=bool)
    category = np.asarray(got[ADVERSE], dtype=np.int64) * 2 + is_explained
    coverage = grouped.table(category, 4)
    citations = None
    if codes is not None:
        separator = spec.reason_code_separator
        text = [pure.normal_codes(v, separator) if e else "" for v, e in zip(got[CODES], is_explained, strict=True)]
        sets = sorted(set(text) - {""})
        vocabulary, matrix = pure.code_matrix(sets, separator)
        index = {s: i for i, s in enumerate(sets)}
        code_set = np.array([index.get(s, -1) for s in text], dtype=np.int64)
        citations = (grouped.table(code_set, len(sets)), vocabulary, matrix)
    return pure.report(config, grouped.attributes, grouped.groups, coverage, is_adverse is not None, citations)
