"""Evidently's stat tests computed from aggregates instead of rows (pure functions, no I/O).

Each function reproduces one test of ``evidently/legacy/calculations/stattests`` step by step
from what the engine counted: the same keys, percentages, zero filling and SciPy calls, so the
score is Evidently's (to the rounding of a sum taken in another order). K-S is exact from the
window's counts on the reference's distinct values; normed Wasserstein is exact from two sets
of value counts, or bounded from a fine histogram: ``wasserstein_binned`` returns the interval
the true distance must lie in, since within a bin both CDFs stay between their values at the
bin's edges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from ethics_audit.checks.drift.aggregates import CountsOnValues, CumulativeCounts, ValueCounts
    from ethics_audit.checks.drift.histograms import FineHistogram

# tests that compare value counts (Evidently's categorical branch, or numbers with few values)
CATEGORICAL_TESTS = frozenset({"chisquare", "z", "jensenshannon", "psi", "kl_div", "hellinger"})
# numbers with more than this many reference values are binned on Sturges edges (utils.get_binned_data)
BINNED_ABOVE = 20


@dataclass(frozen=True)
class Score:
    """A test's score, Evidently's verdict on it, and how it was computed."""

    value: float
    drifted: bool
    computation: str
    error_bound: float = 0.0


def _keys(reference: ValueCounts, current: ValueCounts) -> list[Any]:
    # get_unique_not_nan_values_list_from_series: list(set(reference) | set(current))
    return list(set(reference.counts) | set(current.counts))


def _percents(reference: ValueCounts, current: ValueCounts, feel_zeroes: bool) -> tuple[np.ndarray, np.ndarray]:
    """``get_binned_data``'s categorical branch and zero filling, from value counts."""
    import numpy as np

    keys = _keys(reference, current)
    n_ref, n_cur = reference.n, current.n
    ref = np.array([reference.counts.get(key, 0) / n_ref for key in keys])
    cur = np.array([current.counts.get(key, 0) / n_cur for key in keys])
    return _feel_zeroes(ref, cur) if feel_zeroes else (ref, cur)


def _feel_zeroes(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    for side in (ref, cur):
        smallest = min(side[side != 0])
        np.place(side, side == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001)
    return ref, cur


def sturges_edges(lo: float, hi: float, n: int, integer: bool) -> np.ndarray:
    """``np.histogram_bin_edges(values, bins="sturges")`` of ``n`` values spanning [lo, hi]."""
    import numpy as np
    from numpy.lib import _histograms_impl as impl

    a = np.array([lo, hi], dtype=np.int64 if integer else np.float64)
    first, last = impl._get_outer_edges(a, None)
    width = impl._unsigned_subtract(a.max(), a.min()) / (np.log2(n) + 1.0)
    if width:
        if integer and width < 1:
            width = 1
        bins = int(np.ceil(impl._unsigned_subtract(last, first) / width))
    else:
        bins = 1
    kind = np.result_type(first, last, a)
    if np.issubdtype(kind, np.integer):
        kind = np.result_type(kind, float)
    return np.linspace(first, last, bins + 1, endpoint=True, dtype=kind)


def binned_percents(
    reference: CumulativeCounts, current: CumulativeCounts, feel_zeroes: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``get_binned_data``'s numerical branch from cumulative counts on the Sturges edges."""
    ref = reference.histogram() / reference.n
    cur = current.histogram() / current.n
    return _feel_zeroes(ref, cur) if feel_zeroes else (ref, cur)


def from_percents(method: str, ref: np.ndarray, cur: np.ndarray, threshold: float) -> Score:
    import numpy as np
    from scipy import stats
    from scipy.spatial import distance

    if method == "jensenshannon":
        value = float(distance.jensenshannon(ref, cur, None))
    elif method == "psi":
        value = float(np.sum((ref - cur) * np.log(ref / cur)))
    elif method == "kl_div":
        value = float(stats.entropy(ref, cur))
    else:
        raise ValueError(method)
    return Score(value, value >= threshold, "exact: counts on Evidently's bins")


def categorical(method: str, reference: ValueCounts, current: ValueCounts, threshold: float) -> Score:
    """A categorical test of Evidently from the two sides' value counts."""
    exact = "exact: value counts"
    if method == "chisquare":
        from scipy.stats import chisquare

        keys = _keys(reference, current)
        k_norm = current.n / reference.n
        f_exp = [reference.counts.get(key, 0) * k_norm for key in keys]
        f_obs = [current.counts.get(key, 0) for key in keys]
        p = float(chisquare(f_obs, f_exp)[1])
        return Score(p, p < threshold, exact)
    if method == "z":
        return _z(reference, current, threshold)
    if method == "hellinger":
        total = 0.0
        for key in _keys(reference, current):
            total += math.sqrt(
                float(reference.counts.get(key, 0) / reference.n) * float(current.counts.get(key, 0) / current.n)
            )
        value = math.sqrt(1 - min(max(total, 0.0), 1.0))
        return Score(value, value >= threshold, exact)
    ref, cur = _percents(reference, current, feel_zeroes=method != "jensenshannon")
    score = from_percents(method, ref, cur, threshold)
    return Score(score.value, score.drifted, exact)


def _z(reference: ValueCounts, current: ValueCounts, threshold: float) -> Score:
    import numpy as np
    from scipy.stats import norm

    if len(reference.counts) == 1 and len(current.counts) == 1 and set(reference.counts) == set(current.counts):
        p = 1.0
    else:
        key = sorted(_keys(reference, current))[0]
        n1, n2 = reference.n, current.n
        p1 = float(n1 - reference.counts.get(key, 0)) / n1
        p2 = float(n2 - current.counts.get(key, 0)) / n2
        pooled = float(p1 * n1 + p2 * n2) / (n1 + n2)
        z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
        p = float(2 * (1 - norm.cdf(np.abs(z))))
    return Score(p, p < threshold, "exact: value counts")


def ks(reference: ValueCounts, current: CountsOnValues, threshold: float) -> Score:
    """``ks_2samp(reference, current)``: the statistic from the window's counts on the reference's
    distinct values (the largest CDF gap lies at a reference value or just before the next one),
    the p-value as SciPy computes it from (D, n1, n2)."""
    import numpy as np
    from scipy.stats import distributions
    from scipy.stats._stats_py import _attempt_exact_2kssamp

    points = sorted(reference.counts)
    n1, n2 = reference.n, current.before + sum(current.equal) + sum(current.after)
    gaps = [0.0 - current.before / n2] if current.before else []
    ref_below = cur_below = 0
    cur_below = current.before
    for i, point in enumerate(points):
        ref_below += reference.counts[point]
        cur_below += current.equal[i]
        gaps.append(ref_below / n1 - cur_below / n2)  # at the reference value
        if current.after[i]:
            cur_below += current.after[i]
            gaps.append(ref_below / n1 - cur_below / n2)  # at the window's last value before the next
    d = float(max(max(gaps), min(max(-min(gaps), 0.0), 1.0)))
    g = math.gcd(n1, n2)
    prob = -np.inf
    mode = "exact" if max(n1, n2) <= 10000 else "asymp"
    if mode == "exact":
        success, d, prob = _attempt_exact_2kssamp(n1, n2, g, d, "two-sided")
        if not success:
            mode = "asymp"
    if mode == "asymp":
        m, n = sorted([float(n1), float(n2)], reverse=True)
        prob = distributions.kstwo.sf(d, np.round(m * n / (m + n)))
    p = float(np.clip(prob, 0, 1))
    return Score(p, p <= threshold, "exact: window counted on the reference's distinct values")


def t_test(reference: tuple[int, float, float], current: tuple[int, float, float], threshold: float) -> Score:
    """``ttest_ind(reference, current)`` (Student's, equal variances) from (n, mean, sample std)."""
    from scipy.stats import ttest_ind_from_stats

    (n1, m1, s1), (n2, m2, s2) = reference, current
    p = float(ttest_ind_from_stats(m1, s1, n1, m2, s2, n2, equal_var=True)[1])
    return Score(p, p < threshold, "exact to rounding: counts, means and variances")


def _norm(std: float) -> float:
    return max(float(std), 0.001)


def std_of(counts: ValueCounts) -> float:
    """``np.std`` (ddof=0) of the values ``counts`` counts."""
    import numpy as np

    values = np.fromiter((float(v) for v in counts.counts), np.float64, len(counts.counts))
    weights = np.fromiter(counts.counts.values(), np.float64, len(counts.counts))
    mean = float(np.dot(weights, values) / weights.sum())
    return float(np.sqrt(np.dot(weights, (values - mean) ** 2) / weights.sum()))


def wasserstein_exact(reference: ValueCounts, current: ValueCounts, std: float, threshold: float) -> Score:
    """``wasserstein_distance(reference, current) / max(std, 0.001)`` from both sides' value counts."""
    import numpy as np

    values = np.array(sorted(set(reference.counts) | set(current.counts)), dtype=np.float64)
    ref = np.cumsum([reference.counts.get(v, 0) for v in values.tolist()]) / reference.n
    cur = np.cumsum([current.counts.get(v, 0) for v in values.tolist()]) / current.n
    value = float(np.sum(np.abs(ref[:-1] - cur[:-1]) * np.diff(values))) / _norm(std)
    return Score(value, value >= threshold, "exact: value counts")


def _w1_interval(widths: np.ndarray, ref: np.ndarray, cur: np.ndarray) -> tuple[float, float, float, np.ndarray]:
    """(estimate, low, high, per-bin slack) of the W1 distance of two histograms on bins of
    ``widths``: the CDFs interpolated linearly inside each bin for the estimate; [low, high]
    holds the true distance since inside a bin both CDFs lie between their edge values."""
    import numpy as np

    fr = np.concatenate([[0.0], np.cumsum(ref) / ref.sum()])
    fc = np.concatenate([[0.0], np.cumsum(cur) / cur.sum()])
    r0, r1, c0, c1 = fr[:-1], fr[1:], fc[:-1], fc[1:]
    upper = np.maximum(np.abs(r1 - c0), np.abs(r0 - c1)) * widths
    lower = np.maximum(0.0, np.maximum(r0 - c1, c0 - r1)) * widths
    d0, d1 = r0 - c0, r1 - c1
    span = np.abs(d0) + np.abs(d1)
    crossing = np.divide(d0**2 + d1**2, 2 * span, out=np.zeros_like(span), where=span > 0)
    estimate = np.where(np.sign(d0) * np.sign(d1) >= 0, span / 2, crossing) * widths
    return float(estimate.sum()), float(lower.sum()), float(upper.sum()), upper - lower


def refine_bins(reference: FineHistogram, current: FineHistogram, budget: int) -> list[int]:
    """The bins (at most ``budget``) that carry most of the bound, worth counting again finer."""
    import numpy as np

    widths = np.full(reference.bins, (reference.hi - reference.lo) / reference.bins)
    slack = _w1_interval(widths, reference.dense(), current.dense())[3]
    order = np.argsort(slack)[::-1][:budget]
    return sorted(int(k) for k in order if slack[k] > 0)


def wasserstein_binned(
    reference: FineHistogram,
    current: FineHistogram,
    std: float,
    threshold: float,
    refined: tuple[list[int], int, FineHistogram, FineHistogram] | None = None,
) -> Score:
    """Normed Wasserstein from two histograms on one grid of equal bins,
    ``refined`` (chosen bins, parts, and both sides' counts of those bins in parts) counting the
    bins that carried most of the bound again in ``parts`` equal sub-bins. The value lies inside
    [low, high] (see ``_w1_interval``): the bound is max(value - low, high - value), plus a relative
    slack of 1e-9 for the rounding of bin assignment and of the engine's standard deviation."""
    import numpy as np

    h = (reference.hi - reference.lo) / reference.bins
    ref, cur = reference.dense(), current.dense()
    widths = np.full(reference.bins, h)
    how = f"binned: {reference.bins} equal bins of width {h:.6g}"
    if refined:
        chosen, parts, ref_fine, cur_fine = refined
        keep = np.ones(reference.bins, dtype=bool)
        keep[chosen] = False
        fine = np.array([k * parts + j for k in chosen for j in range(parts)], dtype=np.int64)
        position = np.concatenate([np.flatnonzero(keep) * parts, fine])
        order = np.argsort(position, kind="stable")
        ref = np.concatenate([ref[keep], ref_fine.dense()[fine]])[order]
        cur = np.concatenate([cur[keep], cur_fine.dense()[fine]])[order]
        widths = np.concatenate([widths[keep], np.full(len(fine), h / parts)])[order]
        how += f", the {len(chosen)} bins carrying most of the bound counted again in {parts} parts"
    estimate, low, high, _ = _w1_interval(widths, ref, cur)
    norm = _norm(std)
    bound = max(estimate - low, high - estimate) / norm + 1e-9 * (high / norm + 1.0)
    value = estimate / norm
    return Score(value, value >= threshold, how, bound)
