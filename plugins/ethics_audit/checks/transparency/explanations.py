"""Explanation coverage and reason-code skew: were people told why, and told alike?

A decision is explained when its explanation column (in the predictions, or in a separate log
joined on the prediction id) is non-empty. Coverage is measured over all decisions and over
adverse ones, for the window and every group, with the worst-to-best coverage ratio per
attribute set. Reason codes (``a;b;c``) are compared across groups with a chi-square test of
independence on the table of citations per group and code, Cramér's V as the effect size and an
interval from the noncentral chi-square (a bootstrap percentile interval of V sits above V when
groups do not differ, so it would call noise significant): a code cited far more often for one
group is a lead to proxy discrimination.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ethics_audit.checks.privacy.consent import _aligned_ids
from ethics_audit.checks.transparency.groups import (
    WHERE,
    GroupTable,
    Results,
    adverse_rows,
    cell_table,
    encode,
    require_columns,
    tables_of_cells,
)
from ethics_audit.errors import DataError

if TYPE_CHECKING:
    from ethics_audit.checks.fairness.inputs import Groups
    from ethics_audit.data import AuditData
    from ethics_audit.results import MetricResult
    from ethics_audit.spec import ExplanationsSpec, TransparencyConfig

PART = f"{WHERE}.explanations"
# categories: adverse * 2 + explained
NOT_EXPLAINED, EXPLAINED, ADVERSE_NOT_EXPLAINED, ADVERSE_EXPLAINED = range(4)
MAX_CODES = 200  # reason codes are a vocabulary; thousands means the column holds free text


def _present(series: pd.Series) -> np.ndarray:
    """Non-null and, for text, non-blank."""
    present = series.notna().to_numpy()
    if series.dtype == object or pd.api.types.is_string_dtype(series):
        blank = series.astype("string").str.strip().eq("").to_numpy(dtype=bool, na_value=False)
        present &= ~blank
    return present


def require_window_columns(spec: ExplanationsSpec, window_columns: Any) -> None:
    """Without a separate log, the explanation (and reason codes) are columns of the window."""
    for role in ("explanation", "reason_codes"):
        name = getattr(spec.columns, role)
        if name is not None and name not in window_columns:
            raise DataError(
                f"{PART}.columns.{role}: {name!r} is not a column of the window (the predictions); map the column "
                f"that holds it, or give {PART}.source for a separate explanation log"
            )


def read_log(spec: ExplanationsSpec, data: AuditData) -> pd.DataFrame:
    """The explanation log, with the columns the spec maps (or a ``DataError`` naming the source)."""
    assert spec.source is not None
    if data.explanations is None:
        raise DataError(f"{PART}.source: the explanation log was not loaded; check the source")
    columns = spec.columns
    roles = {"prediction_id": columns.prediction_id, "explanation": columns.explanation}
    if columns.reason_codes:
        roles["reason_codes"] = columns.reason_codes
    require_columns(data.explanations, roles, PART, "explanation log", spec.source.describe())
    return data.explanations


def explanation_columns(spec: ExplanationsSpec, data: AuditData) -> tuple[np.ndarray, pd.Series | None]:
    """Per window row: explained or not, and its reason codes (text or lists) when mapped."""
    columns = spec.columns
    frame = data.current
    if spec.source is None:
        require_window_columns(spec, frame.columns)
        codes = frame[columns.reason_codes] if columns.reason_codes else None
        return _present(frame[columns.explanation]), codes
    log = read_log(spec, data)
    log_ids, window_ids = _aligned_ids(log[columns.prediction_id], frame[data.columns.prediction_id])
    # the log covers every window: keep this window's decisions before any per-row work
    mine = (log_ids.isin(window_ids) & log[columns.explanation].notna()).to_numpy()
    log, log_ids = log[mine], log_ids[mine]
    # a decision logged twice is one explanation; the last logged wins
    last = ~log_ids.duplicated(keep="last").to_numpy()
    log, log_ids = log[last], log_ids[last]
    position = pd.Index(log_ids).get_indexer(window_ids)
    found = position >= 0
    explained = found.copy()
    explained[found] = _present(log[columns.explanation]).astype(bool)[position[found]]
    codes = None
    if columns.reason_codes:
        values = log[columns.reason_codes].to_numpy(dtype=object)
        codes = pd.Series(np.where(found, values[np.where(found, position, 0)], None), dtype=object)
    return explained, codes


def normal_codes(value: Any, separator: str) -> str:
    """A row's cited codes as one text: distinct, stripped, cut to 40 characters, sorted ("" for none)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    parts = value if isinstance(value, list | tuple | np.ndarray) else str(value).split(separator)
    return separator.join(sorted({str(p).strip()[:40] for p in parts if str(p).strip()}))


def code_matrix(sets: Any, separator: str) -> tuple[list[str], np.ndarray]:
    """The codes cited by ``sets`` (normalised texts) and a (sets, codes) 0/1 matrix; raises
    ``DataError`` when the column holds free text rather than a vocabulary of codes."""
    vocabulary = sorted({c for s in sets for c in s.split(separator) if c})
    if len(vocabulary) > MAX_CODES:
        raise DataError(
            f"{PART}.columns.reason_codes: {len(vocabulary)} distinct reason codes; reason codes are a fixed "
            "vocabulary (e.g. 'interest_careers'): map the column of codes, not free-text explanations"
        )
    index = {c: i for i, c in enumerate(vocabulary)}
    matrix = np.zeros((len(sets), len(vocabulary)), dtype=np.int64)
    for s, text_set in enumerate(sets):
        for code in text_set.split(separator):
            if code:
                matrix[s, index[code]] = 1
    return vocabulary, matrix


def _code_sets(codes: pd.Series, separator: str, rows: np.ndarray) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Each row's set of cited codes as a category (-1: none), the codes, and a (sets, codes) 0/1 matrix."""
    text = pd.Series(codes.to_numpy(dtype=object)).map(lambda v: normal_codes(v, separator))
    text[~rows] = ""
    set_of_row, sets = pd.factorize(text)
    vocabulary, matrix = code_matrix(sets, separator)
    empty = [s for s, t in enumerate(sets) if t == ""]
    category = set_of_row.astype(np.int64)
    if empty:
        category = np.where(category == empty[0], -1, category)
    return category, vocabulary, matrix


def cramers_v(citations: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chi-square statistic of independence, its degrees of freedom and Cramér's V of a
    ``(..., groups, codes)`` table of counts (empty rows and columns already dropped)."""
    total = citations.sum(axis=(-1, -2), keepdims=True)
    expected = (
        citations.sum(axis=-1, keepdims=True) * citations.sum(axis=-2, keepdims=True) / np.where(total > 0, total, 1)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = np.where(expected > 0, (citations - expected) ** 2 / np.where(expected > 0, expected, 1), 0).sum(
            axis=(-1, -2)
        )
    g, k = citations.shape[-2:]
    dof = (g - 1) * (k - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.sqrt(chi2 / (total[..., 0, 0] * (min(g, k) - 1)))
    return chi2, np.asarray(dof), v


def noncentrality_bounds(chi2: float, dof: int, confidence: float) -> tuple[float, float]:
    """Interval of the noncentrality of a chi-square statistic, by inverting the noncentral
    chi-square distribution (Smithson 2003). The lower end is 0 unless the test of independence
    rejects at the interval's one-sided level, so ``require_significance`` judges the effect only
    where the association is real; the upper end is returned with the degrees of freedom added
    back, so the interval covers the observed Cramér's V."""
    from scipy.optimize import brentq
    from scipy.stats import chi2 as central
    from scipy.stats import ncx2

    tail = (1 - confidence) / 2

    def solve(target: float) -> float:
        # the CDF at the observed statistic falls as the noncentrality grows
        if central.cdf(chi2, dof) <= target:
            return 0.0
        top = max(chi2, 1.0)
        while ncx2.cdf(chi2, dof, top) > target:
            top *= 2
        return float(brentq(lambda lam: ncx2.cdf(chi2, dof, lam) - target, 0.0, top, xtol=1e-10))

    return solve(1 - tail), solve(tail)


def _skew(results: Results, gt: GroupTable, matrix: np.ndarray, vocabulary: list[str]) -> None:
    metric = "reason_code_skew"
    config = results.config
    threshold = results.threshold(metric)
    rows = gt.table.sum(axis=-1)
    include = rows >= config.min_group_size
    slice_ = {"attribute": gt.name}
    citations = gt.table[include] @ matrix
    used = citations.sum(axis=0) > 0
    citations = citations[:, used]
    codes = [c for c, u in zip(vocabulary, used, strict=True) if u]
    if include.sum() < 2 or len(codes) < 2:
        reason = (
            f"{int(include.sum())} groups have at least {config.min_group_size} decisions citing reason codes; "
            "the test needs two"
            if include.sum() < 2
            else "fewer than two reason codes were cited"
        )
        results.insufficient(metric, slice_, reason, n=int(rows[include].sum()), threshold=threshold)
        return
    from scipy.stats import chi2 as chi2_dist

    chi2, dof, v = cramers_v(citations.astype(float))
    scale = float(citations.sum()) * (min(citations.shape) - 1)
    low, high = noncentrality_bounds(float(chi2), int(dof), config.bootstrap.confidence)
    ci = (float(np.sqrt(low / scale)), float(np.sqrt((high + dof) / scale)))
    shares = citations / rows[include][:, None]
    spread = shares.max(axis=0) - shares.min(axis=0)
    top = int(np.argmax(spread))
    slices = [s for s, keep in zip(gt.slices, include, strict=True) if keep]
    results.add(
        metric,
        float(v),
        slice_,
        n=int(rows[include].sum()),
        ci=ci,
        threshold=threshold,
        chi2=round(float(chi2), 4),
        dof=int(dof),
        p_value=float(chi2_dist.sf(chi2, dof)),
        codes=len(codes),
        groups=int(include.sum()),
        top_code=codes[top],
        top_code_max_share=round(float(shares[:, top].max()), 4),
        top_code_min_share=round(float(shares[:, top].min()), 4),
        top_code_max_group=slices[int(np.argmax(shares[:, top]))],
        top_code_min_group=slices[int(np.argmin(shares[:, top]))],
    )


def run(config: TransparencyConfig, data: AuditData) -> list[MetricResult]:
    spec = config.explanations
    if spec is None:
        return []
    attributes, groups = encode(config, data)
    explained, codes = explanation_columns(spec, data)
    adverse = adverse_rows(config, data)
    adverse_i = np.zeros(len(explained), dtype=np.int64) if adverse is None else adverse.astype(np.int64)
    coverage = cell_table(groups, adverse_i * 2 + explained.astype(np.int64), 4)
    citations = None
    if codes is not None:
        code_set, vocabulary, matrix = _code_sets(codes, spec.reason_code_separator, explained)
        citations = (cell_table(groups, code_set, len(matrix)), vocabulary, matrix)
    return report(config, attributes, groups, coverage, adverse is not None, citations)


def report(
    config: TransparencyConfig,
    attributes: list[str],
    groups: Groups,
    coverage: np.ndarray,
    has_decisions: bool,
    citations: tuple[np.ndarray, list[str], np.ndarray] | None,
) -> list[MetricResult]:
    """The part's results from counts per cell: ``coverage`` (cells, 4) by adverse * 2 + explained,
    and ``citations``: rows per (cell, set of codes), the codes and the (sets, codes) matrix."""
    results = Results(config)
    for gt in tables_of_cells(attributes, groups, coverage, config):
        coverage_rate = results.rate(
            "explanation_coverage", gt, (EXPLAINED, ADVERSE_EXPLAINED), (0, 1, 2, 3), what="decisions",
            threshold=results.threshold("explanation_coverage"),
        )  # fmt: skip
        if not gt.is_window:
            results.disparity("explanation_coverage_ratio", "ratio", gt, coverage_rate, what="decisions")
        if not has_decisions:
            continue
        adverse_coverage = results.rate(
            "adverse_explanation_coverage", gt, (ADVERSE_EXPLAINED,), (ADVERSE_NOT_EXPLAINED, ADVERSE_EXPLAINED),
            what="adverse decisions", threshold=results.threshold("adverse_explanation_coverage"),
        )  # fmt: skip
        if not gt.is_window:
            results.disparity(
                "adverse_explanation_coverage_ratio", "ratio", gt, adverse_coverage, what="adverse decisions"
            )
        else:
            results.add(
                "unexplained_adverse_decisions", int(gt.table[0, ADVERSE_NOT_EXPLAINED]), {},
                n=int(gt.table[0, 2:].sum()),
            )  # fmt: skip
    if citations is not None:
        table, vocabulary, matrix = citations
        for gt in tables_of_cells(attributes, groups, table, config, resample=False)[1:]:
            _skew(results, gt, matrix, vocabulary)
    return results.out
