"""Fairness remedy section: is the gap explained, who carries it, which thresholds would close it.

*Explained or not*: the gap between the most and the least selected group of the breaching
attribute (set) is measured again within each stratum of ``checks.fairness.legitimate_factors``
(e.g. the job category an ad was for), each with a Newcombe 95% interval, and combined into the
weighted conditional gap (strata weighted by their rows of the two groups; normal interval).
Next to it, the conditional demographic disparity of Wachter et al. (2021): per stratum, the
group's share among rejected minus its share among accepted, weighted by stratum size. A
conditional gap whose interval excludes zero and that keeps at least half of the overall gap
*persists within strata*; one whose interval covers zero is a *composition effect*; one that
changes sign is Simpson's paradox. *Where*: per group of each attribute set, the positive
decisions it is short of the window's overall rate, and its share of all that shortfall.
*Options*: ``thresholds``. Strata and groups below ``min_group_size`` are left out and counted.
This module reads the window into ``Aggregates``; ``fairness_build`` turns them into the section.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ethics_audit.remedies.fairness_build import Aggregates, build, newcombe, wilson
from ethics_audit.remedies.thresholds import (
    FIT_ROWS,
    OptionInputs,
    bin_edges,
    bin_of,
    stratified_sample,
)

if TYPE_CHECKING:
    from ethics_audit.checks.fairness.inputs import Inputs
    from ethics_audit.data import AuditData
    from ethics_audit.remedies import Section
    from ethics_audit.results import Finding
    from ethics_audit.spec import FairnessConfig

DISPARITIES = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "equal_opportunity_difference",
)
MAX_STRATA = 500


def section(config: FairnessConfig, data: AuditData, findings: list[Finding]) -> Section:
    from ethics_audit.checks.fairness.inputs import prepare

    cached = data.derived.get("fairness.inputs")
    inputs = cached[1] if cached is not None and cached[0] is config else prepare(config, data)
    return build(gather(config, data, inputs, findings))


# --------------------------------------------------------------------------- reading the window


def _target(findings: list[Finding], inputs: Inputs) -> tuple[tuple[int, ...], str]:
    """The attribute set whose disparity breaches worst (single attributes before intersections)."""
    candidates = [
        f
        for f in findings
        if f.severity.is_breach
        and f.result.metric in DISPARITIES
        and "attribute" in f.result.slice
        and "decision_threshold" not in f.result.slice
    ]
    if not candidates:  # only impact ratios breach: their group names the attribute
        for f in findings:
            if f.severity.is_breach and f.result.metric == "disparate_impact_ratio":
                names = sorted(k for k in f.result.slice if k not in ("reference", "decision_threshold"))
                return tuple(sorted(inputs.attributes.index(a) for a in names)), "disparate_impact_ratio"
        return (0,), "demographic_parity_difference"
    best = max(
        candidates,
        key=lambda f: (f.severity.rank, "+" not in f.result.slice["attribute"], -DISPARITIES.index(f.result.metric)),
    )
    names = best.result.slice["attribute"].split("+")
    return tuple(sorted(inputs.attributes.index(a) for a in names)), best.result.metric


def _label(inputs: Inputs, positions: tuple[int, ...], codes: np.ndarray) -> str:
    if len(positions) == 1:
        return str(inputs.values[positions[0]][codes[0]])
    return ", ".join(f"{inputs.attributes[p]}={inputs.values[p][c]}" for p, c in zip(positions, codes, strict=True))


def _groups(inputs: Inputs, positions: tuple[int, ...]) -> tuple[np.ndarray, list[str]]:
    from ethics_audit.checks.fairness.counts import group_of_cells

    group_of_cell, group_codes = group_of_cells(inputs.cell_codes, positions)
    return group_of_cell[inputs.cell_of_row], [_label(inputs, positions, c) for c in group_codes]


def _strata(data: AuditData, factors: list[str]) -> tuple[np.ndarray | None, list[str], str]:
    """Each row's stratum (a combination of the factors' values) and the strata's labels."""
    import pandas as pd

    frame = data.current
    missing = [f for f in factors if f not in frame.columns]
    if missing:
        return (
            None,
            [],
            (
                f"checks.fairness.legitimate_factors names {missing}, not columns of the window; "
                "fix the spec or the source"
            ),
        )
    codes = np.zeros(len(frame), dtype=np.int64)
    labels = [""]
    for factor in factors:
        own, uniques = pd.factorize(frame[factor], sort=True, use_na_sentinel=False)
        names = [str(u) for u in uniques]
        if len(labels) == 1:  # the first factor: its codes are already dense and sorted
            codes, combined = own, np.arange(len(names))
        else:  # mixed radix, refactorized at each step so the code stays below rows x values
            codes, combined = pd.factorize(codes * len(names) + own, sort=True)
        labels = [
            f"{labels[c // len(names)]}, {names[c % len(names)]}" if labels[c // len(names)] else names[c % len(names)]
            for c in combined
        ]
        codes = codes.astype(np.int64)
        if len(labels) > MAX_STRATA:
            return (
                None,
                [],
                (
                    f"checks.fairness.legitimate_factors {factors} make more than {MAX_STRATA} strata; "
                    "bin them into fewer categories"
                ),
            )
    return codes, labels, ""


def gather(config: FairnessConfig, data: AuditData, inputs: Inputs, findings: list[Finding]) -> Aggregates:
    positions, metric = _target(findings, inputs)
    group, groups = _groups(inputs, positions)
    decision = inputs.decisions[0].values
    decided = decision >= 0
    factors = list(config.legitimate_factors)
    strata_codes, strata, problem = _strata(data, factors) if factors else (None, [], "")
    n_groups = len(groups)
    s = strata_codes if strata_codes is not None else np.zeros(len(group), dtype=np.int64)
    n_strata = max(1, len(strata))
    index = (s * n_groups + group)[decided]
    n = np.bincount(index, minlength=n_strata * n_groups).reshape(n_strata, n_groups)
    k = np.bincount(index, weights=decision[decided], minlength=n_strata * n_groups).reshape(n_strata, n_groups)
    sets = []
    target_attrs = set(positions)
    for set_positions in inputs.group_sets:
        if not target_attrs & set(set_positions):
            continue
        set_group, labels = _groups(inputs, set_positions)
        rows = np.bincount(set_group[decided], minlength=len(labels))
        positive = np.bincount(set_group[decided], weights=decision[decided], minlength=len(labels))
        name = "+".join(sorted(inputs.attributes[p] for p in set_positions))
        sets.append((name, labels, rows, positive))
    option_inputs, no_options = _option_inputs(config, inputs, group, groups, decision, n.sum(axis=0))
    return Aggregates(
        target="+".join(sorted(inputs.attributes[p] for p in positions)),
        metric=metric,
        groups=groups,
        n=n,
        k=k,
        factors=factors,
        strata=strata if strata_codes is not None else [],
        factor_problem=problem,
        sets=sets,
        options=option_inputs,
        no_options=no_options,
        min_size=config.min_group_size,
        confidence=config.bootstrap.confidence,
    )


def _option_inputs(
    config: FairnessConfig,
    inputs: Inputs,
    group: np.ndarray,
    groups: list[str],
    decision: np.ndarray,
    sizes: np.ndarray,
) -> tuple[OptionInputs | None, str]:
    if inputs.score is None:
        return None, "no threshold options: columns.score is not mapped, and they are cut-offs on the score"
    eligible = np.flatnonzero(sizes >= config.min_group_size)
    if len(eligible) < 2:
        return None, "no threshold options: fewer than two groups meet min_group_size"
    keep = np.full(len(groups), -1, dtype=np.int64)
    keep[eligible] = np.arange(len(eligible))
    g = keep[group]
    scored = (g >= 0) & ~np.isnan(inputs.score) & (decision >= 0)
    names = [groups[i] for i in eligible]
    state = inputs.label_state
    labelled = scored & (state < 2) if state is not None else np.zeros(len(g), dtype=bool)
    why = ""
    if state is None:
        why = "the spec maps no columns.label"
    else:
        lab_g, lab_y = g[labelled], state[labelled].astype(np.int64)
        per = np.bincount(lab_g * 2 + lab_y, minlength=2 * len(names)).reshape(len(names), 2)
        short = [
            names[i]
            for i in range(len(names))
            if per[i].sum() < config.min_group_size
            or per[i, 1] < max(1, config.min_positives)
            or per[i, 0] < max(1, config.min_negatives)
        ]
        if short:
            why = f"too few labels have arrived for {', '.join(short)} (min_group_size, min_positives, min_negatives)"
    if why:
        score = inputs.score[scored]
        rate = float(decision[scored].mean()) if scored.any() else 0.0
        thresholds, reached = [], []
        for i in range(len(names)):
            own = score[g[scored] == i]
            cut = float(np.quantile(own, 1 - rate)) if rate < 1 else None
            thresholds.append(cut)
            reached.append(float((own > cut).mean()) if cut is not None else 1.0)
        return OptionInputs(
            names, False, why, target_rate=rate, quantile_thresholds=thresholds, quantile_rates=reached
        ), ""
    score, lab_g, lab_y = inputs.score[labelled], g[labelled], state[labelled].astype(np.int64)
    edges = bin_edges(score, seed=config.bootstrap.seed)
    bins = bin_of(score, edges)
    nb = len(edges)
    counts = np.bincount((lab_g * nb + bins) * 2 + lab_y, minlength=len(names) * nb * 2).reshape(len(names), nb, 2)
    current = np.bincount(
        (lab_g * 2 + lab_y) * 2 + decision[labelled].astype(np.int64), minlength=len(names) * 4
    ).reshape(len(names), 2, 2)
    sample = stratified_sample(lab_g * 2 + lab_y, FIT_ROWS, config.bootstrap.seed)
    return OptionInputs(
        names,
        True,
        edges=edges,
        counts=counts,
        current=current,
        sample_group=lab_g[sample],
        sample_bin=bins[sample],
        sample_label=lab_y[sample],
        labelled_rows=int(labelled.sum()),
        seed=config.bootstrap.seed,
    ), ""


__all__ = ["Aggregates", "build", "gather", "newcombe", "section", "wilson"]
