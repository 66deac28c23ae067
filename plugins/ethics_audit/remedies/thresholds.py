"""Threshold options for a fairness gap: Fairlearn's ``ThresholdOptimizer`` fitted on the window's scores.

For a window with labels, ``ThresholdOptimizer`` is fitted for each constraint in
``CONSTRAINTS`` (objective: accuracy) on the window's scores, through ``ScoreAsPrediction``, a
prefit estimator whose prediction *is* the score. To stay fast on millions of rows it is fitted
on a stratified sample (group x label) of at most ``FIT_ROWS`` labelled rows, with scores in
``SCORE_BINS`` quantile bins, each bin represented by its upper edge: a rule "binned score > t"
is then exactly "score > (the bin edge below t)" on the raw scores, so the per-group thresholds
are stated on the raw score. The predicted effect (selection rate, error rates, accuracy and the
disparities they leave) is the expectation of Fairlearn's randomised rule over *all* the window's
labelled rows, computed from counts per (group, score bin, label). Without labels only a
demographic-parity option is possible: per-group score quantiles that give every group the
window's overall selection rate; its accuracy cost is unknown, and the section says so.
Options are stated, never applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

CONSTRAINTS = ("demographic_parity", "equalized_odds", "true_positive_rate_parity")
FIT_ROWS = 10_000
SCORE_BINS = 128
EDGE_ROWS = 100_000


@cache
def _estimator_class() -> type:
    from sklearn.base import BaseEstimator

    class ScoreAsPrediction(BaseEstimator):
        """A prefit estimator whose prediction is the model's score (column 0 of X)."""

        def fit(self, X: Any = None, y: Any = None) -> ScoreAsPrediction:
            self.fitted_ = True
            return self

        def predict(self, X: Any) -> np.ndarray:
            return np.asarray(X, dtype=np.float64)[:, 0]

    return ScoreAsPrediction


def score_estimator() -> Any:
    """What ``ThresholdOptimizer(estimator=..., prefit=True, predict_method="predict")`` needs."""
    return _estimator_class()().fit()


def bin_edges(scores: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """Upper edges of ``SCORE_BINS`` quantile bins (distinct, ascending; the last is the maximum),
    the quantiles taken on at most ``EDGE_ROWS`` scores: the bins only need to be a fine grid."""
    sample = scores
    if len(scores) > EDGE_ROWS:
        sample = np.random.default_rng(seed).choice(scores, EDGE_ROWS, replace=False)
    edges = np.quantile(sample, np.linspace(0, 1, SCORE_BINS + 1)[1:-1], method="inverted_cdf")
    return np.unique(np.append(edges, scores.max()))


def bin_of(scores: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of each score: edges[b-1] < score <= edges[b] (scores above the last edge: the last bin)."""
    return np.minimum(np.searchsorted(edges, scores, side="left"), len(edges) - 1)


def stratified_sample(strata: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Row indices: from each stratum its share of ``size`` (at least one row), without replacement."""
    n = len(strata)
    if n <= size:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    counts = np.bincount(strata)
    # the same stable order, but NumPy radix-sorts integers of 16 bits or less (strata are few)
    order = np.argsort(strata.astype(np.uint16) if len(counts) <= 1 << 16 else strata, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    picked = []
    for stratum, count in enumerate(counts):
        if count == 0:
            continue
        take = max(1, round(count * size / n))
        rows = order[starts[stratum] : starts[stratum] + count]
        picked.append(rng.choice(rows, min(take, count), replace=False))
    return np.sort(np.concatenate(picked))


@dataclass
class OptionInputs:
    """What the options need from the window (the aggregates ``gather`` reads).

    ``counts[g, b, y]``: labelled rows with a score per group, score bin and label.
    ``current[g, y, d]``: the same rows by their current decision. ``sample_*``: the fit sample.
    ``quantile_thresholds``/``quantile_rates``: the label-free option (per-group score cut-offs
    giving the overall rate, and the rates they reach), when there are too few labels.
    """

    groups: list[str]
    labelled: bool
    why_unlabelled: str = ""
    edges: np.ndarray | None = None
    counts: np.ndarray | None = None
    current: np.ndarray | None = None
    sample_group: np.ndarray | None = None
    sample_bin: np.ndarray | None = None
    sample_label: np.ndarray | None = None
    labelled_rows: int = 0
    target_rate: float | None = None
    quantile_thresholds: list[float | None] | None = None
    quantile_rates: list[float] | None = None
    seed: int = 0


def fit(inputs: OptionInputs, constraint: str) -> Any:
    """Fairlearn's ThresholdOptimizer, fitted on the sample's binned scores (objective: accuracy)."""
    from fairlearn.postprocessing import ThresholdOptimizer

    assert inputs.edges is not None and inputs.sample_bin is not None and inputs.sample_group is not None
    optimizer = ThresholdOptimizer(
        estimator=score_estimator(),
        constraints=constraint,
        objective="accuracy_score",
        prefit=True,
        predict_method="predict",
    )
    X = inputs.edges[inputs.sample_bin].reshape(-1, 1)
    groups = np.asarray(inputs.groups, dtype=object)[inputs.sample_group]
    optimizer.fit(X, inputs.sample_label, sensitive_features=groups)
    return optimizer


def _raw_cut(edges: np.ndarray, operator: str, threshold: float) -> str:
    """The rule on binned scores, stated on the raw score."""
    if operator == ">":
        first = int(np.searchsorted(edges, threshold, side="right"))
        if first == 0:
            return "every score"
        if first >= len(edges):
            return "no score"
        return f"score > {edges[first - 1]:.4g}"
    last = int(np.searchsorted(edges, threshold, side="left"))
    if last == 0:
        return "no score"
    if last >= len(edges):
        return "every score"
    return f"score <= {edges[last - 1]:.4g}"


def selection_probability(rule: Any, edges: np.ndarray) -> np.ndarray:
    """P(selected) per score bin under one group's interpolated rule (as Fairlearn's ``_pmf_predict``)."""
    values = edges
    p = rule.p0 * rule.operation0(values) + rule.p1 * rule.operation1(values)
    if "p_ignore" in rule:
        p = rule.p_ignore * rule.prediction_constant + (1 - rule.p_ignore) * p
    return np.asarray(p, dtype=np.float64)


def rule_text(rule: Any, edges: np.ndarray) -> str:
    """``score > 0.4351 for 86% of rows, > 0.5408 for 14%``: Fairlearn's rule mixes two cut-offs at random."""
    parts = [
        (float(p), _raw_cut(edges, op.operator, op.threshold))
        for p, op in ((rule.p0, rule.operation0), (rule.p1, rule.operation1))
        if p >= 0.005
    ]
    if len(parts) == 2 and parts[0][1] == parts[1][1]:
        parts = [(1.0, parts[0][1])]
    parts.sort(key=lambda part: -part[0])
    if not parts:
        text = "no score"
    elif len(parts) == 1:
        text = parts[0][1]
    else:
        (p1, cut1), (p2, cut2) = parts
        text = f"{cut1} for {p1:.0%} of rows, {cut2.removeprefix('score ')} for {p2:.0%}"
    if "p_ignore" in rule and rule.p_ignore >= 0.005:
        text += f"; {rule.p_ignore:.0%} of rows instead get a {rule.prediction_constant:.0%} chance"
    return text


def rates(probability: np.ndarray, counts: np.ndarray) -> dict[str, Any]:
    """Expected rates from P(selected) per (group, bin) and counts per (group, bin, label)."""
    neg, pos = counts[..., 0].astype(float), counts[..., 1].astype(float)
    n = neg + pos
    selected = (probability * n).sum(axis=1)
    tp, fp = (probability * pos).sum(axis=1), (probability * neg).sum(axis=1)
    return _summary(n.sum(axis=1), selected, tp, fp, pos.sum(axis=1), neg.sum(axis=1))


def current_rates(current: np.ndarray) -> dict[str, Any]:
    """The same rates for today's decisions; ``current[g, y, d]``."""
    current = current.astype(float)
    pos, neg = current[:, 1, :].sum(axis=1), current[:, 0, :].sum(axis=1)
    tp, fp = current[:, 1, 1], current[:, 0, 1]
    return _summary(pos + neg, tp + fp, tp, fp, pos, neg)


def _summary(
    n: np.ndarray, selected: np.ndarray, tp: np.ndarray, fp: np.ndarray, pos: np.ndarray, neg: np.ndarray
) -> dict[str, Any]:
    with np.errstate(invalid="ignore", divide="ignore"):
        sel, tpr, fpr = selected / n, tp / pos, fp / neg
    total = n.sum()
    correct = tp.sum() + (neg.sum() - fp.sum())
    return {
        "selection_rate": [float(x) for x in sel],
        "true_positive_rate": [float(x) for x in tpr],
        "false_positive_rate": [float(x) for x in fpr],
        "overall": {
            "accuracy": float(correct / total),
            "selection_rate": float(selected.sum() / total),
            "false_positive_rate": float(fp.sum() / neg.sum()) if neg.sum() else None,
            "false_negative_rate": float(1 - tp.sum() / pos.sum()) if pos.sum() else None,
        },
        "demographic_parity_difference": float(np.nanmax(sel) - np.nanmin(sel)),
        "true_positive_rate_difference": float(np.nanmax(tpr) - np.nanmin(tpr)),
        "equalized_odds_difference": float(max(np.nanmax(tpr) - np.nanmin(tpr), np.nanmax(fpr) - np.nanmin(fpr))),
    }


def options(inputs: OptionInputs) -> dict[str, Any]:
    """Every option with its per-group rules and predicted effect, and today's numbers to compare."""
    if not inputs.labelled:
        return _label_free(inputs)
    assert inputs.counts is not None and inputs.current is not None and inputs.edges is not None
    out: dict[str, Any] = {"labelled": True, "current": current_rates(inputs.current), "options": []}
    for constraint in CONSTRAINTS:
        optimizer = fit(inputs, constraint)
        rules = optimizer.interpolated_thresholder_.interpolation_dict
        probability = np.stack([selection_probability(rules[g], inputs.edges) for g in inputs.groups])
        out["options"].append(
            {
                "constraint": constraint,
                "rules": {g: rule_text(rules[g], inputs.edges) for g in inputs.groups},
                "predicted": rates(probability, inputs.counts),
            }
        )
    return out


def _label_free(inputs: OptionInputs) -> dict[str, Any]:
    if inputs.quantile_thresholds is None or inputs.quantile_rates is None:
        return {"labelled": False, "why": inputs.why_unlabelled, "options": []}
    rates_ = inputs.quantile_rates
    return {
        "labelled": False,
        "why": inputs.why_unlabelled,
        "options": [
            {
                "constraint": "demographic_parity",
                "rules": {
                    g: "every score" if t is None else f"score > {t:.4g}"
                    for g, t in zip(inputs.groups, inputs.quantile_thresholds, strict=True)
                },
                "predicted": {
                    "selection_rate": rates_,
                    "overall": {"selection_rate": inputs.target_rate},
                    "demographic_parity_difference": float(max(rates_) - min(rates_)),
                },
            }
        ],
    }
