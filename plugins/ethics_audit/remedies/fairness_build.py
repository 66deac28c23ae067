"""The fairness remedy section from its aggregates (pure): the gap explained or not, its carriers, options.

``remedies.fairness`` reads the window into ``Aggregates``; ``build`` computes the marginal and
per-stratum gaps (Newcombe intervals), the weighted conditional gap and its verdict, the groups
that carry the shortfall, and the threshold options (``thresholds.options``), and writes them
as a ``Section``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ethics_audit.remedies import Section, Table
from ethics_audit.remedies.thresholds import FIT_ROWS, OptionInputs, options

SHOWN_STRATA = 12
SHOWN_GROUPS = 3


@dataclass
class Aggregates:
    """Counts the section is built from. ``n[s, g]``/``k[s, g]``: rows and positive decisions per
    stratum and group of the target set; ``sets``: per attribute set, its group labels, rows and
    positives (for the shortfall)."""

    target: str
    metric: str
    groups: list[str]
    n: np.ndarray
    k: np.ndarray
    factors: list[str]
    strata: list[str]
    factor_problem: str
    sets: list[tuple[str, list[str], np.ndarray, np.ndarray]]
    options: OptionInputs | None
    no_options: str
    min_size: int
    confidence: float


def wilson(k: float, n: float, z: float) -> tuple[float, float]:
    if n <= 0:
        return (math.nan, math.nan)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def newcombe(k1: float, n1: float, k2: float, n2: float, z: float) -> tuple[float, float, float]:
    """p1 - p2 with Newcombe's hybrid score interval (method 10)."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1, z)
    l2, u2 = wilson(k2, n2, z)
    d = p1 - p2
    return d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def _z(confidence: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + confidence / 2)


def _pct(x: float | None) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1%}"


def _pp(x: float) -> str:
    return f"{x * 100:+.1f} pp"


def explained(agg: Aggregates) -> dict[str, Any]:
    """The marginal gap, the per-stratum gaps, the weighted conditional gap and the verdict."""
    z = _z(agg.confidence)
    sizes, positives = agg.n.sum(axis=0), agg.k.sum(axis=0)
    eligible = sizes >= agg.min_size
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(eligible, positives / np.maximum(sizes, 1), np.nan)
    hi, lo = int(np.nanargmax(rate)), int(np.nanargmin(rate))
    gap, gap_low, gap_high = newcombe(positives[hi], sizes[hi], positives[lo], sizes[lo], z)
    out: dict[str, Any] = {
        "attribute": agg.target,
        "advantaged": agg.groups[hi],
        "disadvantaged": agg.groups[lo],
        "gap": gap,
        "gap_ci": [gap_low, gap_high],
        "rates": {agg.groups[i]: float(rate[i]) for i in np.flatnonzero(eligible)},
    }
    if not agg.strata:
        return out
    total_rows = agg.n.sum()
    strata, weights, diffs, variances, cdd = [], [], [], [], 0.0
    for s, label in enumerate(agg.strata):
        n_s = agg.n[s].sum()
        rejected, accepted = n_s - agg.k[s].sum(), agg.k[s].sum()
        # Wachter et al.'s demographic disparity of the disadvantaged group in this stratum
        dd = None
        if rejected > 0 and accepted > 0:
            dd = (agg.n[s, lo] - agg.k[s, lo]) / rejected - agg.k[s, lo] / accepted
            cdd += n_s / total_rows * dd
        row: dict[str, Any] = {"stratum": label, "rows": int(n_s), "demographic_disparity": dd}
        if min(agg.n[s, hi], agg.n[s, lo]) >= agg.min_size:
            d, d_low, d_high = newcombe(agg.k[s, hi], agg.n[s, hi], agg.k[s, lo], agg.n[s, lo], z)
            row.update(
                rate_advantaged=agg.k[s, hi] / agg.n[s, hi],
                rate_disadvantaged=agg.k[s, lo] / agg.n[s, lo],
                gap=d,
                gap_ci=[d_low, d_high],
            )
            w = agg.n[s, hi] + agg.n[s, lo]
            weights.append(w)
            diffs.append(d)
            p1, p2 = agg.k[s, hi] / agg.n[s, hi], agg.k[s, lo] / agg.n[s, lo]
            variances.append(p1 * (1 - p1) / agg.n[s, hi] + p2 * (1 - p2) / agg.n[s, lo])
        strata.append(row)
    out["strata"] = strata
    out["conditional_demographic_disparity"] = cdd
    out["strata_judged"] = len(weights)
    out["strata_too_small"] = len(strata) - len(weights)
    if not weights:
        out["verdict"] = "unknown"
        return out
    w = np.asarray(weights, dtype=float) / sum(weights)
    conditional = float(np.dot(w, diffs))
    half = z * math.sqrt(float(np.dot(w**2, variances)))
    out["conditional_gap"] = conditional
    out["conditional_gap_ci"] = [conditional - half, conditional + half]
    out["explained_share"] = 1 - conditional / gap if gap else None
    out["strata_with_gap"] = sum(1 for r in strata if r.get("gap_ci") and r["gap_ci"][0] > 0)
    if conditional + half < 0:
        out["verdict"] = "reversed"  # Simpson's paradox: within strata the other group is favoured
    elif conditional - half <= 0:
        out["verdict"] = "composition"
    elif conditional >= 0.5 * gap:
        out["verdict"] = "persists"
    else:
        out["verdict"] = "partly"
    return out


def carriers(agg: Aggregates) -> list[dict[str, Any]]:
    """Per attribute set, the groups short of the overall rate, with their share of the shortfall."""
    out = []
    for name, labels, rows, positive in agg.sets:
        overall = positive.sum() / rows.sum()
        ok = rows >= agg.min_size
        shortfall = np.where(ok, rows * overall - positive, 0.0)
        total = shortfall[shortfall > 0].sum()
        order = [i for i in np.argsort(-shortfall) if shortfall[i] > 0][:SHOWN_GROUPS]
        out.append(
            {
                "attribute": name,
                "overall_rate": float(overall),
                "groups": [
                    {
                        "group": labels[i],
                        "rows": int(rows[i]),
                        "rate": float(positive[i] / rows[i]),
                        "shortfall": float(shortfall[i]),
                        "share": float(shortfall[i] / total) if total else None,
                    }
                    for i in order
                ],
                "too_small": int((~ok).sum()),
            }
        )
    return out


VERDICTS = {
    "persists": "the gap is NOT explained by {factors}: it persists within strata",
    "partly": "the gap is partly explained by {factors}: a smaller gap persists within strata",
    "composition": "the gap is explained by {factors}: within strata it is not significant (a composition effect)",
    "reversed": "the gap reverses within strata of {factors} (Simpson's paradox): it comes from composition",
    "unknown": "no stratum of {factors} has both groups at min_group_size; the gap cannot be conditioned",
}


def build(agg: Aggregates) -> Section:
    gap = explained(agg)
    where = carriers(agg)
    hi, lo = gap["advantaged"], gap["disadvantaged"]
    lead = (
        f"{agg.target}: {lo} are selected at {_pct(gap['rates'][lo])} vs {_pct(gap['rates'][hi])} for {hi} "
        f"(gap {_pp(gap['gap'])}, 95% [{_pp(gap['gap_ci'][0])}, {_pp(gap['gap_ci'][1])}])"
    )
    section = Section("fairness", lead, facts={"metric": agg.metric, "explained": gap, "carriers": where})
    factors = ", ".join(agg.factors)
    if agg.factor_problem:
        section.notes.append(agg.factor_problem)
    elif not agg.factors:
        section.drivers.append(
            "not conditioned: the spec lists no checks.fairness.legitimate_factors (e.g. the job category), "
            "so it cannot tell a gap explained by them from one that is not"
        )
    elif "verdict" in gap:
        sentence = VERDICTS[gap["verdict"]].format(factors=factors)
        if "conditional_gap" in gap:
            low, high = gap["conditional_gap_ci"]
            sentence += (
                f" (weighted conditional gap {_pp(gap['conditional_gap'])}, 95% [{_pp(low)}, {_pp(high)}], vs "
                f"{_pp(gap['gap'])} overall; significant in {gap['strata_with_gap']} of {gap['strata_judged']} strata; "
                f"conditional demographic disparity {gap['conditional_demographic_disparity']:+.3f})"
            )
        section.headline = f"{lead}; {sentence}."
        section.drivers.append(sentence[0].upper() + sentence[1:])
        section.facts["verdict"] = gap["verdict"]
        rows = []
        for r in sorted(gap["strata"], key=lambda r: -r["rows"])[:SHOWN_STRATA]:
            if "gap" in r:
                rows.append(
                    [
                        r["stratum"],
                        r["rows"],
                        _pct(r["rate_advantaged"]),
                        _pct(r["rate_disadvantaged"]),
                        f"{_pp(r['gap'])} [{_pp(r['gap_ci'][0])}, {_pp(r['gap_ci'][1])}]",
                        "–" if r["demographic_disparity"] is None else f"{r['demographic_disparity']:+.3f}",
                    ]
                )
            else:
                rows.append([r["stratum"], r["rows"], "–", "–", "too small", "–"])
        section.tables.append(
            Table(
                f"The gap within each stratum of {factors} (largest strata first)",
                [factors, "rows", f"rate {hi}", f"rate {lo}", "gap, 95% interval", "demographic disparity"],
                rows,
            )
        )
        if len(gap["strata"]) > SHOWN_STRATA:
            section.notes.append(f"{len(gap['strata']) - SHOWN_STRATA} smaller strata are not shown")
        if gap["strata_too_small"]:
            section.notes.append(
                f"{gap['strata_too_small']} strata have fewer than {agg.min_size} rows of {hi} or {lo} and are not judged"
            )
    for entry in where:
        named = [
            f"{g['group']} ({_pct(g['rate'])}, {g['shortfall']:.0f} selections short"
            + (f", {g['share']:.0%} of the shortfall)" if g["share"] is not None else ")")
            for g in entry["groups"]
        ]
        if named:
            section.drivers.append(
                f"Carried by {agg.target if entry['attribute'] == agg.target else entry['attribute']} groups: "
                + "; ".join(named)
                + f" (window rate {_pct(entry['overall_rate'])})"
            )
    _add_options(section, agg)
    return section


def _add_options(section: Section, agg: Aggregates) -> None:
    if agg.options is None:
        section.notes.append(agg.no_options)
        return
    found = options(agg.options)
    section.facts["options"] = found
    groups = agg.options.groups
    if not found["labelled"]:
        section.notes.append(
            f"Without labels ({found['why']}) only the demographic-parity option is possible, and its cost in "
            "accuracy and error rates cannot be estimated; Fairlearn's ThresholdOptimizer needs labels."
        )
    else:
        section.notes.append(
            "Options from Fairlearn's ThresholdOptimizer (objective: accuracy), fitted on a stratified sample of "
            f"at most {FIT_ROWS:,} of the window's {agg.options.labelled_rows:,} labelled rows with scores in "
            "quantile bins; predicted rates are the expected rates of its randomised rule on all labelled rows. "
            "Options only: nothing is applied."
        )
    current = found.get("current")
    header = ["option", "per-group rule", "DP diff", "EO diff", "TPR diff", "accuracy", "selection rate", "FPR", "FNR"]
    rows = []
    if current:
        rows.append(_option_row("today", "the current decisions", current))
    for option in found["options"]:
        rule = "; ".join(f"{g}: {option['rules'][g]}" for g in groups)
        rows.append(_option_row(option["constraint"].replace("_", " "), rule, option["predicted"]))
        predicted = option["predicted"]
        change = [f"parity gap {_pp(predicted['demographic_parity_difference']).lstrip('+')}"]
        if "equalized_odds_difference" in predicted:
            change.append(f"equalized odds gap {_pp(predicted['equalized_odds_difference']).lstrip('+')}")
        change.append(f"selection rate {_pct(predicted['overall']['selection_rate'])}")
        if current:
            was = current["overall"]["accuracy"]
            now = predicted["overall"]["accuracy"]
            change.append(f"accuracy {_pct(was)} -> {_pct(now)} ({_pp(now - was)})")
            change.append(
                f"FPR {_pct(current['overall']['false_positive_rate'])} -> "
                f"{_pct(predicted['overall']['false_positive_rate'])}, FNR "
                f"{_pct(current['overall']['false_negative_rate'])} -> {_pct(predicted['overall']['false_negative_rate'])}"
            )
        section.fixes.append(
            f"Option, {option['constraint'].replace('_', ' ')}: {', '.join(change)}; per-group cut-offs: {rule}."
        )
    section.tables.append(Table("Threshold options (stated, never applied)", header, rows))


def _option_row(name: str, rule: str, numbers: dict[str, Any]) -> list[Any]:
    overall = numbers.get("overall", {})

    def pp(key: str) -> str:
        return _pp(numbers[key]).lstrip("+") if numbers.get(key) is not None else "–"

    return [
        name,
        rule,
        pp("demographic_parity_difference"),
        pp("equalized_odds_difference"),
        pp("true_positive_rate_difference"),
        _pct(overall.get("accuracy")),
        _pct(overall.get("selection_rate")),
        _pct(overall.get("false_positive_rate")),
        _pct(overall.get("false_negative_rate")),
    ]
