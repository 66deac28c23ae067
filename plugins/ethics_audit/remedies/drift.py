"""Drift remedy section: which columns moved most, in which segments, and what to do about it.

*Share of the change*: Evidently's scores are not comparable across tests (a p-value, a
distance), so each drifted column also gets one common effect size, the Jensen-Shannon distance
between its binned reference and window distributions (numerical: ten reference-quantile bins
and two open ends; categorical: its values), and its share of the sum over drifted columns.
*Per segment*: for each value of each sensitive attribute and categorical feature (at most
``MAX_SEGMENTS`` values), the drifted column is tested again within the segment, with the same
Evidently stat test the drift family would use for it (the spec's, or Evidently's own choice for
the segment's sizes, as ``checks.drift.column_drift`` chooses),
where both sides have at least ``min_current_rows``/``min_reference_rows`` values and at least
``MIN_SEGMENT_ROWS``. To stay fast the breakdown looks at a seeded sample of ``SAMPLE_ROWS`` rows
of each side, and at most ``SEGMENT_ROWS`` of each segment; the section says so. The first window of each change comes from the history (``links``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ethics_audit.remedies import Section, Table

if TYPE_CHECKING:
    import pandas as pd

    from ethics_audit.data import AuditData
    from ethics_audit.results import Finding
    from ethics_audit.spec import DriftConfig

MAX_SEGMENTS = 12
MIN_SEGMENT_ROWS = 100
SAMPLE_ROWS = 50_000  # rows of each side the segment breakdown looks at
SEGMENT_ROWS = 5_000
MAX_COLUMNS = 3
SCREENED = 2  # categorical features tested per segment, besides every sensitive attribute
SEED = 0


def _js(reference: pd.Series, current: pd.Series, kind: str) -> float:
    """Jensen-Shannon distance (base 2) of the two binned distributions."""
    import pandas as pd

    if kind == "numerical":
        ref = reference.to_numpy(dtype=float)
        cur = current.to_numpy(dtype=float)
        edges = np.unique(np.quantile(ref, np.linspace(0.1, 0.9, 9)))
        p = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1).astype(float)
        q = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=len(edges) + 1).astype(float)
    else:
        counts = pd.concat([reference.value_counts().rename("p"), current.value_counts().rename("q")], axis=1).fillna(0)
        p, q = counts["p"].to_numpy(float), counts["q"].to_numpy(float)
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        own = a > 0
        return float((a[own] * np.log2(a[own] / m[own])).sum())

    return math.sqrt(max(0.0, (kl(p) + kl(q)) / 2))


def _codes(series: pd.Series, reference: pd.Series) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Segment codes of the window and the reference (-1: missing, or a value the other side lacks)."""
    import pandas as pd

    codes, uniques = pd.factorize(series)
    return codes, pd.Index(uniques).get_indexer(reference), [str(u) for u in uniques]


def _bins(current: pd.Series, reference: pd.Series, kind: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Each row's bin (reference deciles, or the value), -1 when missing: for the cheap screen."""
    import pandas as pd

    if kind == "numerical":
        ref = reference.to_numpy(dtype=float, na_value=np.nan)
        cur = current.to_numpy(dtype=float, na_value=np.nan)
        finite = ref[np.isfinite(ref)]
        edges = np.unique(np.quantile(finite, np.linspace(0.1, 0.9, 9))) if len(finite) else np.zeros(0)
        out = []
        for values in (cur, ref):
            b = np.searchsorted(edges, values, side="right")
            out.append(np.where(np.isfinite(values), b, -1))
        return out[0], out[1], len(edges) + 1
    codes, uniques = pd.factorize(pd.concat([current, reference], ignore_index=True))
    return codes[: len(current)], codes[len(current) :], max(1, len(uniques))


def _js_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon distance between matching rows of two count matrices."""
    with np.errstate(invalid="ignore", divide="ignore"):
        p = p / p.sum(axis=1, keepdims=True)
        q = q / q.sum(axis=1, keepdims=True)
        m = (p + q) / 2
        kl = np.nansum(np.where(p > 0, p * np.log2(p / m), 0), axis=1) + np.nansum(
            np.where(q > 0, q * np.log2(q / m), 0), axis=1
        )
    return np.sqrt(np.maximum(kl / 2, 0))


def _segment_attributes(data: AuditData, kinds: dict[str, str]) -> list[str]:
    """Sensitive attributes and categorical features: the columns whose values name segments."""
    import pandas as pd

    names = list(data.columns.sensitive) + [c for c in data.columns.features if kinds.get(c) == "categorical"]
    out = []
    for name in dict.fromkeys(names):
        if name not in data.current.columns or data.reference is None or name not in data.reference.columns:
            continue
        series = data.current[name]
        # named segments (device=android), not small integer counts that Evidently calls categorical
        if series.dtype == object or isinstance(series.dtype, pd.CategoricalDtype | pd.StringDtype):
            out.append(name)
    return out


def section(config: DriftConfig, data: AuditData, findings: list[Finding]) -> Section:
    from ethics_audit.checks.drift import prepare

    drifted = [
        f
        for f in findings
        if f.result.metric == "column_drift" and f.severity.is_breach and f.result.details.get("drifted")
    ]
    assert data.reference is not None
    kinds = {
        f.result.slice["column"]: f.result.details.get("column_type", "numerical")
        for f in findings
        if f.result.metric == "column_drift"
    }
    effects: dict[str, float] = {}
    for f in drifted:
        column = f.result.slice["column"]
        reference, current = prepare(data.reference[column], data.current[column], kinds[column])
        effects[column] = _js(reference, current, kinds[column])
    total = sum(effects.values()) or 1.0
    ranked = sorted(drifted, key=lambda f: -effects[f.result.slice["column"]])
    columns: dict[str, Any] = {}
    for f in ranked:
        column = f.result.slice["column"]
        info: dict[str, Any] = {
            "role": f.result.details.get("role"),
            "method": f.result.details.get("method"),
            "score": f.result.value,
            "severity": f.severity.value,
            "effect": effects[column],
            "share": effects[column] / total,
        }
        if kinds[column] == "categorical" and data.current[column].dtype == object:
            current = data.current[column].dropna()
            new = current[~current.isin(set(data.reference[column].dropna().unique()))]
            if len(new):
                shares = new.value_counts().head(3) / len(current)
                info["new_values"] = {str(k): float(v) for k, v in shares.items()}
        columns[column] = info
    per_segment, skipped, sampled = _per_segment(config, data, ranked[:MAX_COLUMNS], kinds, columns)
    minimum_cur = max(config.min_current_rows, MIN_SEGMENT_ROWS)
    minimum_ref = max(config.min_reference_rows, MIN_SEGMENT_ROWS)
    return _build(columns, per_segment, skipped, sampled, minimum_cur, minimum_ref)


def _per_segment(
    config: DriftConfig, data: AuditData, ranked: list[Finding], kinds: dict[str, str], columns: dict[str, Any]
) -> tuple[dict[str, list[dict[str, Any]]], int, bool]:
    """Each drifted column tested again within segments, with Evidently's test.

    Every sensitive attribute is tested (which group's distribution moved is the question a
    fairness owner asks); of the categorical features, the ``SCREENED`` whose values differ most
    in a cheap binned Jensen-Shannon screen, so the Evidently tests stay few on wide data."""
    import warnings

    from ethics_audit.checks.drift import column_drift, prepare

    assert data.reference is not None
    rng = np.random.default_rng(SEED)
    minimum_cur = max(config.min_current_rows, MIN_SEGMENT_ROWS)
    minimum_ref = max(config.min_reference_rows, MIN_SEGMENT_ROWS)
    attributes = _segment_attributes(data, kinds)
    needed = list(dict.fromkeys([*attributes, *(f.result.slice["column"] for f in ranked)]))
    # the breakdown explains a verdict taken on every row: a seeded sample of each side is enough
    current, reference = _rows(data.current, needed, rng), _rows(data.reference, needed, rng)
    sampled = len(current) < len(data.current) or len(reference) < len(data.reference)
    codes = {a: _codes(current[a], reference[a]) for a in attributes}
    sensitive = [a for a in attributes if a in data.columns.sensitive]
    per_segment: dict[str, list[dict[str, Any]]] = {}
    skipped = 0
    for f in ranked:
        column = f.result.slice["column"]
        kind = kinds[column]
        cur_bins, ref_bins, nbins = _bins(current[column], reference[column], kind)
        spread: dict[str, float] = {}
        for a in attributes:
            if a in sensitive or a == column:
                continue
            cur_codes, ref_codes, values = codes[a]
            k = len(values)
            p = _counts(cur_codes, cur_bins, k, nbins)
            q = _counts(ref_codes, ref_bins, k, nbins)
            enough = (p.sum(axis=1) >= minimum_cur) & (q.sum(axis=1) >= minimum_ref)
            js = _js_rows(p[enough], q[enough]) if enough.any() else np.zeros(0)
            spread[a] = float(js.max() - js.min()) if len(js) > 1 else 0.0
        screened = sorted(spread, key=lambda a: -spread[a])[:SCREENED]
        # the spec's test if it named one; else the test Evidently picks for the segment's own sizes
        # (K-S below 1,000 reference rows: a distance on a few hundred rows is mostly noise)
        chosen = f.result.details.get("chosen_by") == "spec"
        method = f.result.details.get("method") if chosen else None
        threshold = f.result.details.get("threshold") if chosen else None
        found = []
        for a in [*sensitive, *screened]:
            if a == column:
                continue
            cur_codes, ref_codes, values = codes[a]
            order = np.argsort(-np.bincount(cur_codes[cur_codes >= 0], minlength=len(values)))[:MAX_SEGMENTS]
            for k in order:
                cur_rows, ref_rows = np.flatnonzero(cur_codes == k), np.flatnonzero(ref_codes == k)
                if len(cur_rows) < minimum_cur or len(ref_rows) < minimum_ref:
                    skipped += 1
                    continue
                sampled = sampled or len(cur_rows) > SEGMENT_ROWS or len(ref_rows) > SEGMENT_ROWS
                cur_rows, ref_rows = _sample(cur_rows, rng), _sample(ref_rows, rng)
                ref_clean, cur_clean = prepare(reference[column].iloc[ref_rows], current[column].iloc[cur_rows], kind)
                if len(cur_clean) < minimum_cur or len(ref_clean) < minimum_ref:
                    skipped += 1
                    continue
                with warnings.catch_warnings():  # SciPy warns about empty categories; the score stands
                    warnings.simplefilter("ignore", RuntimeWarning)
                    result = column_drift(ref_clean, cur_clean, kind, method=method, threshold=threshold)
                found.append(
                    {
                        "segment": f"{a}={values[k]}",
                        "method": result.method,
                        "score": result.score,
                        "drifted": result.drifted,
                        "rows": len(cur_clean),
                    }
                )
        per_segment[column] = found
        columns[column]["segments_drifted"] = [s["segment"] for s in found if s["drifted"]]
        columns[column]["segments_stable"] = [s["segment"] for s in found if not s["drifted"]]
    return per_segment, skipped, sampled


def _rows(frame: pd.DataFrame, columns: list[str], rng: np.random.Generator) -> pd.DataFrame:
    import pandas as pd

    present = [c for c in columns if c in frame.columns]
    if len(frame) <= SAMPLE_ROWS:
        return frame[present]
    rows = np.sort(rng.choice(len(frame), SAMPLE_ROWS, replace=False))
    # column by column: a NumPy take of the sampled rows, not a copy of the frame's blocks
    return pd.DataFrame({c: frame[c].to_numpy()[rows] for c in present})


def _counts(codes: np.ndarray, bins: np.ndarray, k: int, nbins: int) -> np.ndarray:
    keep = (codes >= 0) & (bins >= 0)
    return np.bincount(codes[keep] * nbins + bins[keep], minlength=k * nbins).reshape(k, nbins).astype(float)


def _sample(rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if len(rows) <= SEGMENT_ROWS:
        return rows
    return np.sort(rng.choice(rows, SEGMENT_ROWS, replace=False))


def _telling(info: dict[str, Any]) -> list[str]:
    """The segments that moved, of the attributes where some segments moved and others did not."""
    moved, stable = info.get("segments_drifted", []), info.get("segments_stable", [])
    attributes = {s.split("=", 1)[0] for s in stable}
    return [s for s in moved if s.split("=", 1)[0] in attributes]


def _where(info: dict[str, Any]) -> str:
    moved, stable = info.get("segments_drifted", []), info.get("segments_stable", [])
    if not moved and not stable:
        return "no segment large enough to test"
    by_attribute: dict[str, list[str]] = {}
    for s in moved + stable:
        by_attribute.setdefault(s.split("=", 1)[0], [])
    # the telling attributes: those where the column moved in some segments and not in others
    telling = [
        a
        for a in by_attribute
        if any(s.startswith(a + "=") for s in moved) and any(s.startswith(a + "=") for s in stable)
    ]
    if telling:
        parts = []
        for a in telling:
            only = [s for s in moved if s.startswith(a + "=")]
            calm = [s.split("=", 1)[1] for s in stable if s.startswith(a + "=")]
            parts.append(f"in {', '.join(only)} only (not {', '.join(calm)})")
        return "; ".join(parts)
    if moved and not stable:
        return "in every segment tested"
    return "in no single segment tested (the change shows only in the whole window)"


def _build(
    columns: dict[str, Any],
    per_segment: dict[str, list[dict[str, Any]]],
    skipped: int,
    sampled: bool,
    minimum_cur: int,
    minimum_ref: int,
) -> Section:
    features = [c for c, i in columns.items() if i["role"] == "feature"]
    outputs = [c for c, i in columns.items() if i["role"] != "feature"]
    lead_column = features[0] if features else next(iter(columns), None)
    if lead_column is None:
        return Section("drift", "No drifted column to explain.")
    lead = columns[lead_column]
    headline = f"{lead_column} drifted most ({lead['share']:.0%} of the change), {_where(lead)}" + (
        f"; the outputs {', '.join(outputs)} moved with it" if outputs and features else ""
    )
    section = Section("drift", headline + ".", facts={"columns": columns, "segments": per_segment})
    for column, info in columns.items():
        text = f"{column} ({info['role']}): {info['share']:.0%} of the change (Jensen-Shannon {info['effect']:.3f}), {_where(info)}"
        if info.get("new_values"):
            text += "; values absent from the reference: " + ", ".join(
                f"{k!r} ({v:.1%} of rows)" for k, v in info["new_values"].items()
            )
        section.drivers.append(text)
    for column in features:
        info = columns[column]
        if _telling(info):
            where = ", ".join(_telling(info))
            section.fixes.append(
                f"Look at how {column} is produced for {where}: it moved there and nowhere else (a unit, logging or "
                "client change); fix it at the source rather than re-baselining."
            )
        if info.get("new_values"):
            values = ", ".join(repr(v) for v in info["new_values"])
            section.fixes.append(
                f"{column} has new values {values}: map them to known ones upstream, or if they are legitimate add "
                f"them to checks.quality.allowed_categories.{column} and re-baseline the reference."
            )
    if outputs and features:
        section.fixes.append(
            f"The {', '.join(outputs)} moved with the features: once {features[0]} is fixed they should return; "
            "retraining on the drifted data would learn the bug."
        )
    section.fixes.append(
        "If the change is real and lasting, take a new reference (reference.baseline, or "
        "reference.previous_windows) so that later windows are compared with the new normal."
    )
    rows = [[c, i["method"], f"{i['score']:.4g}", f"{i['share']:.0%}", _where(i), ""] for c, i in columns.items()]
    section.tables.append(
        Table("Drifted columns", ["column", "test", "score", "share of change", "where", "since"], rows)
    )
    section.notes.append(
        "Share of the change: each drifted column's Jensen-Shannon distance (binned) over their sum. Segments: "
        f"Evidently's test for the column (the spec's, or its default for the segment's sizes) within each value of the sensitive attributes and categorical features "
        f"with at least {minimum_cur} window and {minimum_ref} reference values"
        + (f" ({skipped} smaller segments skipped)" if skipped else "")
        + (
            f"; on a sample of {SAMPLE_ROWS:,} rows of each side, at most {SEGMENT_ROWS:,} per segment"
            if sampled
            else ""
        )
        + "."
    )
    return section
