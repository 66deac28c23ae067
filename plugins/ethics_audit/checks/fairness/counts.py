"""Confusion counts per group, the rates derived from them, and Fairlearn's disparities.

The whole check rests on one table: for each cell (combination of attribute values), the
number of rows in each of six categories, decision (0/1) x label (negative, positive, not yet
labelled). One ``np.bincount`` over the rows builds it; any group (an attribute, an
intersection) is a sum of cells; every rate is a ratio of sums of the six columns. A bootstrap
resample of rows within each cell is a multinomial draw over the same six categories, so 200
resamples cost 200 small draws, not 200 passes over the rows.

Intervals: a group rate gets the percentile interval of its resamples. A disparity (max - min
or min / max over groups) does not: over many small groups the resampled spread sits above the
observed one, which sits above the true one (noise alone makes groups differ), so a percentile
interval of the statistic would declare noise significant. Instead the resamples give
simultaneous intervals for every pairwise difference (or ratio) of group rates (bootstrap
max-t, as in Tukey's procedure), and the disparity's interval is the range its value can take
given them: if every pair is inside its interval, the true disparity is inside. With two
groups that is the ordinary bootstrap-t interval; with many, it widens as multiple testing
demands. Above ``MAX_PAIRED_GROUPS`` groups, per-group simultaneous intervals (cheaper, more
conservative) replace the pairs. This interval is what ``require_significance`` judges.

Functions take arrays whose *last* axis is the category (tables) or the group (rates), so the
same code serves the observed table ``(groups, 6)`` and the resampled ones ``(R, groups, 6)``.
Undefined rates (an empty denominator) are NaN.
"""

from __future__ import annotations

import warnings

import numpy as np

# category index = decision * 3 + label state (0 negative, 1 positive, 2 not labelled)
TN, FN, D0_UNLABELLED, FP, TP, D1_UNLABELLED = range(6)
CATEGORIES = 6
# above this many compared groups, disparity intervals come from per-group bands, not pairs
MAX_PAIRED_GROUPS = 64


def confusion_table(
    cell_of_row: np.ndarray, decision: np.ndarray, label_state: np.ndarray | None, n_cells: int
) -> np.ndarray:
    """Rows per (cell, category); rows without a decision are left out. Shape ``(n_cells, 6)``."""
    labels = label_state if label_state is not None else np.full(len(decision), 2, dtype=np.int8)
    index = cell_of_row * CATEGORIES + (decision.astype(np.int64) * 3 + labels)
    # rows without a decision go to one overflow bin, dropped below
    index = np.where(decision < 0, n_cells * CATEGORIES, index)
    counts = np.bincount(index, minlength=n_cells * CATEGORIES + 1)
    return counts[: n_cells * CATEGORIES].reshape(n_cells, CATEGORIES)


def group_of_cells(cell_codes: np.ndarray, positions: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """For an attribute set: each cell's group index, and each group's attribute codes (sorted)."""
    keys = cell_codes[:, list(positions)]
    group_codes, group_of_cell = np.unique(keys, axis=0, return_inverse=True)
    return group_of_cell.reshape(-1), group_codes


def collapse(cell_values: np.ndarray, group_of_cell: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum per-cell values into groups. ``cell_values``: ``(..., cells, k)`` -> ``(..., groups, k)``."""
    indicator = np.zeros((len(group_of_cell), n_groups), dtype=cell_values.dtype)
    indicator[np.arange(len(group_of_cell)), group_of_cell] = 1
    return np.swapaxes(np.swapaxes(cell_values, -1, -2) @ indicator, -1, -2)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)


def sizes(table: np.ndarray) -> dict[str, np.ndarray]:
    """The denominators (and counts) every rate needs, from a table ``(..., 6)``."""
    t = table
    return {
        "rows": t.sum(axis=-1),
        "labelled": t[..., TN] + t[..., FN] + t[..., FP] + t[..., TP],
        "positives": t[..., FN] + t[..., TP],
        "negatives": t[..., TN] + t[..., FP],
        "predicted_positives": t[..., FP] + t[..., TP],
        "selected": t[..., FP] + t[..., TP] + t[..., D1_UNLABELLED],
    }


def rates(table: np.ndarray) -> dict[str, np.ndarray]:
    """Selection rate over all rows; the label rates over labelled rows. NaN when undefined."""
    t = table
    n = sizes(table)
    return {
        "selection_rate": _ratio(n["selected"], n["rows"]),
        "base_rate": _ratio(n["positives"], n["labelled"]),
        "true_positive_rate": _ratio(t[..., TP], n["positives"]),
        "false_positive_rate": _ratio(t[..., FP], n["negatives"]),
        "false_negative_rate": _ratio(t[..., FN], n["positives"]),
        "precision": _ratio(t[..., TP], n["predicted_positives"]),
        "accuracy": _ratio(t[..., TP] + t[..., TN], n["labelled"]),
    }


def _quiet(function, values: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN row gives NaN, as wanted
        return function(values, axis=-1)


def difference(values: np.ndarray, include: np.ndarray) -> np.ndarray:
    """Fairlearn's ``between_groups`` difference: max - min over the included groups.

    ``values``: ``(..., groups)``; NaN groups are skipped (as pandas' max/min do in Fairlearn);
    fewer than two groups gives NaN.
    """
    v = np.where(include, values, np.nan)
    defined = np.sum(~np.isnan(v), axis=-1)
    out = _quiet(np.nanmax, v) - _quiet(np.nanmin, v)
    return np.where(defined >= 2, out, np.nan)


def ratio(values: np.ndarray, include: np.ndarray) -> np.ndarray:
    """Fairlearn's ``between_groups`` ratio: min / max over the included groups (NaN if max is 0)."""
    v = np.where(include, values, np.nan)
    defined = np.sum(~np.isnan(v), axis=-1)
    out = _ratio(_quiet(np.nanmin, v), _quiet(np.nanmax, v))
    return np.where(defined >= 2, out, np.nan)


def resample_cells(cell_table: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """Bootstrap tables ``(resamples, cells, 6)``: rows redrawn with replacement within each cell.

    Redrawing a cell's n rows with replacement and counting categories is exactly a multinomial
    draw with the cell's category shares, so this equals the row bootstrap stratified by cell.
    """
    rng = np.random.default_rng(seed)
    n = cell_table.sum(axis=-1)
    shares = cell_table / np.where(n > 0, n, 1)[:, None]
    shares[n == 0, TN] = 1.0  # an empty cell draws nothing anyway; keep pvals valid
    return rng.multinomial(n, shares, size=(resamples, len(n)))


def interval(samples: np.ndarray, confidence: float, *, min_defined: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over axis 0, ignoring undefined (NaN) resamples.

    When fewer than ``min_defined`` of the resamples give a value, the interval is NaN: the
    statistic is too unstable to bound.
    """
    tail = (1 - confidence) / 2 * 100
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(samples, [tail, 100 - tail], axis=0)
    enough = np.mean(~np.isnan(samples), axis=0) >= min_defined
    return np.where(enough, low, np.nan), np.where(enough, high, np.nan)


def simultaneous_band(
    observed: np.ndarray, samples: np.ndarray, include: np.ndarray, confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    """A band that holds every included group's true rate at once with ``confidence``.

    ``observed``: ``(groups,)``, ``samples``: ``(R, groups)``. Each rate gets ``observed +- c *
    se``, ``se`` its bootstrap standard deviation and ``c`` the ``confidence`` quantile of the
    largest standardised deviation over the groups in each resample (the bootstrap max-t band).
    Rates are clipped to [0, 1]; groups not included get NaN.
    """
    c, se = _max_t(np.where(include, observed, np.nan), samples, confidence)
    low = np.where(include, np.clip(observed - c * se, 0, 1), np.nan)
    high = np.where(include, np.clip(observed + c * se, 0, 1), np.nan)
    return low, high


def difference_bounds(low: np.ndarray, high: np.ndarray) -> tuple[float, float]:
    """Bounds of max - min over a band: [max low - min high (at least 0), max high - min low]."""
    if np.sum(~np.isnan(low)) < 2:
        return np.nan, np.nan
    return max(float(np.nanmax(low) - np.nanmin(high)), 0.0), float(np.nanmax(high) - np.nanmin(low))


def ratio_bounds(low: np.ndarray, high: np.ndarray) -> tuple[float, float]:
    """Bounds of min / max over a band: [min low / max high, min high / max low (at most 1)]."""
    if np.sum(~np.isnan(low)) < 2:
        return np.nan, np.nan
    top_high, top_low = float(np.nanmax(high)), float(np.nanmax(low))
    lower = float(np.nanmin(low)) / top_high if top_high > 0 else np.nan
    upper = min(float(np.nanmin(high)) / top_low, 1.0) if top_low > 0 else 1.0
    return lower, upper


def _max_t(estimates: np.ndarray, samples: np.ndarray, confidence: float) -> tuple[float, np.ndarray]:
    """Bootstrap max-t: the ``confidence`` quantile of the largest standardised deviation, and each se.

    A statistic that never varies (se 0) keeps its point value; undefined resamples are skipped.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        se = np.nanstd(samples, axis=0)
        use = np.isfinite(estimates) & (se > 0)
        c = 0.0
        if use.any():
            t = np.abs(samples[:, use] - estimates[use]) / se[use]
            c = float(np.nanquantile(np.nanmax(t, axis=1), confidence))
    return c, np.nan_to_num(se)


def _pairs(observed: np.ndarray, samples: np.ndarray, include: np.ndarray, kind: str):
    """Pairwise differences (unordered) or ratios (ordered, non-zero denominator) of included rates."""
    idx = np.flatnonzero(include & ~np.isnan(observed))
    if kind == "difference":
        i, j = np.triu_indices(len(idx), 1)
    else:
        i, j = np.nonzero(~np.eye(len(idx), dtype=bool))
    a, b = idx[i], idx[j]
    if kind == "difference":
        return observed[a] - observed[b], samples[:, a] - samples[:, b]
    keep = observed[b] > 0
    a, b = a[keep], b[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        boot = np.where(samples[:, b] > 0, samples[:, a] / samples[:, b], np.nan)
    return observed[a] / observed[b], boot


def disparity_interval(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], kind: str, confidence: float
) -> tuple[float, float]:
    """Interval of a disparity: max - min (``kind`` "difference") or min / max ("ratio") of one
    rate over groups, or for two rates (equalized odds) the larger difference / smaller ratio.

    ``parts``: per rate, ``(observed (groups,), samples (R, groups), include (groups,))``.
    """
    if any(int(include.sum()) > MAX_PAIRED_GROUPS for _, _, include in parts):
        return _band_interval(parts, kind, confidence)
    pairs = [_pairs(observed, samples, include, kind) for observed, samples, include in parts]
    if not any(len(est) for est, _ in pairs):
        return np.nan, np.nan
    c, se = _max_t(np.concatenate([e for e, _ in pairs]), np.concatenate([s for _, s in pairs], axis=1), confidence)
    lows, highs, start = [], [], 0
    for est, _ in pairs:
        margin = c * se[start : start + len(est)]
        start += len(est)
        if not len(est):
            continue
        if kind == "difference":
            lows.append(max(float(np.max(np.abs(est) - margin)), 0.0))
            highs.append(float(np.max(np.abs(est) + margin)))
        else:
            lows.append(max(float(np.min(est - margin)), 0.0))
            highs.append(min(float(np.min(est + margin)), 1.0))
    combine = max if kind == "difference" else min
    return combine(lows), combine(highs)


def _band_interval(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], kind: str, confidence: float):
    """The per-group fallback: one simultaneous band over every compared rate, then the range."""
    observed = np.concatenate([o for o, _, _ in parts])
    samples = np.concatenate([s for _, s, _ in parts], axis=-1)
    include = np.concatenate([i for _, _, i in parts])
    low, high = simultaneous_band(observed, samples, include, confidence)
    bounds = difference_bounds if kind == "difference" else ratio_bounds
    pieces = [bounds(lo, hi) for lo, hi in zip(np.split(low, len(parts)), np.split(high, len(parts)), strict=True)]
    pieces = [p for p in pieces if not np.isnan(p[0])]
    if not pieces:
        return np.nan, np.nan
    combine = max if kind == "difference" else min
    return combine(p[0] for p in pieces), combine(p[1] for p in pieces)
