"""Turn confusion counts into the fairness family's ``MetricResult`` rows.

For each decision (the spec's own, then each extra score cut-off) and each attribute set (each
attribute, then each intersection): per-group metrics, the Fairlearn disparities over the
groups that meet the minimums, and the disparate impact ratio of each group against the
reference group. Bootstrap intervals come from the same per-cell resamples for every metric.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ethics_audit.checks.fairness import counts
from ethics_audit.results import MetricResult, Status, Threshold

if TYPE_CHECKING:
    from ethics_audit.checks.fairness.cells import Cells, Rule
    from ethics_audit.spec import FairnessConfig

CHECK = "fairness"
LABEL_RATES = ("true_positive_rate", "false_positive_rate", "false_negative_rate", "precision", "accuracy")
# rate -> (its denominator in counts.sizes, the spec key of the minimum that denominator needs, what it counts)
NEEDS = {
    "true_positive_rate": ("positives", "min_positives", "positive labels"),
    "false_negative_rate": ("positives", "min_positives", "positive labels"),
    "false_positive_rate": ("negatives", "min_negatives", "negative labels"),
    "precision": ("predicted_positives", "min_positives", "labelled positive decisions"),
}
DENOMINATOR = {"selection_rate": "rows", "base_rate": "labelled", "accuracy": "labelled"} | {
    rate: need[0] for rate, need in NEEDS.items()
}
# disparity -> the group rates it compares, and whether it is a difference (max - min, the pair
# combined by max) or a ratio (min / max, the pair combined by min), as in Fairlearn
DISPARITIES: dict[str, tuple[tuple[str, ...], str]] = {
    "demographic_parity_difference": (("selection_rate",), "difference"),
    "demographic_parity_ratio": (("selection_rate",), "ratio"),
    "equal_opportunity_difference": (("true_positive_rate",), "difference"),
    "equalized_odds_difference": (("true_positive_rate", "false_positive_rate"), "difference"),
    "equalized_odds_ratio": (("true_positive_rate", "false_positive_rate"), "ratio"),
}


@dataclass
class GroupSet:
    """The groups of one attribute set (or the whole window), with their tables and rates."""

    name: str  # "gender", or "age_band+gender" for an intersection (names sorted); "" for the window
    attributes: list[str]  # sorted
    slices: list[dict[str, Any]]  # one per group, e.g. {"gender": "f"}
    table: np.ndarray  # (groups, 6)
    boot: np.ndarray | None  # (R, groups, 6)
    score_sums: np.ndarray  # (groups, 2): sum of scores, rows with a score
    sizes: dict[str, np.ndarray] = field(init=False)
    observed: dict[str, np.ndarray] = field(init=False)
    sampled: dict[str, np.ndarray] | None = field(init=False)

    def __post_init__(self) -> None:
        self.sizes = counts.sizes(self.table)
        self.observed = counts.rates(self.table)
        self.sampled = None if self.boot is None else counts.rates(self.boot)

    def __len__(self) -> int:
        return len(self.slices)


def _group_set(inputs: Cells, positions: tuple[int, ...], cells: dict[str, np.ndarray | None]) -> GroupSet:
    if positions:
        group_of_cell, group_codes = counts.group_of_cells(inputs.cell_codes, positions)
    else:  # the whole window: one group
        group_of_cell, group_codes = np.zeros(len(inputs.cell_codes), dtype=np.int64), np.zeros((1, 0), dtype=int)
    order = sorted(range(len(positions)), key=lambda i: inputs.attributes[positions[i]])
    names = [inputs.attributes[positions[i]] for i in order]
    slices = [
        {inputs.attributes[positions[i]]: inputs.values[positions[i]][codes[i]] for i in order} for codes in group_codes
    ]

    def summed(values: np.ndarray | None) -> np.ndarray | None:
        return None if values is None else counts.collapse(values, group_of_cell, len(group_codes))

    return GroupSet(
        name="+".join(names),
        attributes=names,
        slices=slices,
        table=summed(cells["table"]),
        boot=summed(cells["boot"]),
        score_sums=summed(cells["scores"]),
    )


class Builder:
    """Collects the results of one run of the check."""

    def __init__(self, config: FairnessConfig, inputs: Cells):
        self.config = config
        self.inputs = inputs
        self.has_labels = inputs.has_labels
        self.results: list[MetricResult] = []
        self.suppressed: dict[str, int] = {}
        self.suppressed_rates = 0

    # ------------------------------------------------------------------ output

    def _threshold(self, metric: str) -> Threshold:
        return self.config.thresholds.get(metric, require_significance=self.config.require_significance)

    def _add(self, metric: str, value: Any, slice_: dict, *, n: int, samples: np.ndarray | None = None, **kw: Any):
        """One computed result; ``samples`` (resampled values) give a percentile interval, or pass ``ci``."""
        ci = kw.pop("ci", (None, None))
        if samples is not None:
            ci = counts.interval(samples, self.config.bootstrap.confidence)
        threshold = kw.pop("threshold", None)
        self.results.append(
            MetricResult(CHECK, metric, value, slice_, ci[0], ci[1], n=n, threshold=threshold, details=kw)
        )

    def _insufficient(self, metric: str, slice_: dict, reason: str, *, n: int, **kw: Any) -> None:
        threshold = kw.pop("threshold", None)
        details = {"reason": reason, **kw}
        self.results.append(
            MetricResult(
                CHECK, metric, None, slice_, n=n, threshold=threshold, status=Status.INSUFFICIENT_DATA, details=details
            )
        )

    def _reason(self, gs: GroupSet, metric: str, g: int) -> str | None:
        """Why group ``g``'s ``metric`` is not computed, or None when it is."""
        c, n = self.config, {k: int(v[g]) for k, v in gs.sizes.items()}
        if metric == "selection_rate":
            if n["rows"] < c.min_group_size:
                return f"{n['rows']} rows, fewer than min_group_size {c.min_group_size}"
            return None
        if n["labelled"] == 0:
            return "no labels have arrived for these rows yet"
        if n["labelled"] < c.min_group_size:
            return f"{n['labelled']} labelled rows, fewer than min_group_size {c.min_group_size}"
        if metric in NEEDS:
            key, setting, what = NEEDS[metric]
            minimum = getattr(c, setting)
            if n[key] == 0:
                return f"no {what}, so the rate is undefined"
            if n[key] < minimum:
                return f"{n[key]} {what}, fewer than {setting} {minimum}"
        return None

    def _eligible(self, gs: GroupSet, metric: str) -> np.ndarray:
        return np.array([self._reason(gs, metric, g) is None for g in range(len(gs))], dtype=bool)

    @staticmethod
    def _slice(base: dict, decisions: Rule) -> dict:
        return dict(base) if decisions.threshold is None else {**base, "decision_threshold": decisions.threshold}

    # ------------------------------------------------------------------ the run

    def run(self) -> list[MetricResult]:
        inputs, config = self.inputs, self.config
        resamples, scores = config.bootstrap.resamples, inputs.scores
        for decisions, table in zip(inputs.rules, inputs.tables, strict=True):
            boot = counts.resample_cells(table, resamples, config.bootstrap.seed) if resamples else None
            cells = {"table": table, "boot": boot, "scores": scores}
            window = _group_set(inputs, (), cells)
            if decisions.threshold is None:
                primary = window
            self._group_metrics(window, decisions)
            for positions in inputs.group_sets:
                gs = _group_set(inputs, positions, cells)
                self._group_metrics(gs, decisions)
                self._disparities(gs, decisions)
        self._window_summary(primary)
        return self.results

    def _group_metrics(self, gs: GroupSet, decisions: Rule) -> None:
        primary = decisions.threshold is None
        metrics = ["selection_rate"]
        if self.has_labels:
            metrics += (["base_rate"] if primary else []) + list(LABEL_RATES)
        confidence = self.config.bootstrap.confidence
        intervals = {m: counts.interval(gs.sampled[m], confidence) for m in metrics} if gs.sampled else {}
        for g, base in enumerate(gs.slices):
            slice_ = self._slice(base, decisions)
            small = self._reason(gs, "selection_rate", g)
            if primary:
                self._add("count", int(gs.sizes["rows"][g]), slice_, n=int(gs.sizes["rows"][g]))
                self._mean_score(gs, g, slice_)
                if small and gs.attributes:
                    self.suppressed[gs.name] = self.suppressed.get(gs.name, 0) + 1
            for metric in metrics:
                n = int(gs.sizes[DENOMINATOR[metric]][g])
                reason = self._reason(gs, metric, g)
                if reason:
                    labelled = gs.sizes["labelled"][g] > 0
                    if primary and gs.attributes and not small and labelled and metric in LABEL_RATES:
                        self.suppressed_rates += 1
                    self._insufficient(metric, slice_, reason, n=n)
                    continue
                ci = (intervals[metric][0][g], intervals[metric][1][g]) if intervals else (None, None)
                # the exact positive decisions, so reports sum counts instead of rebuilding them from rates
                exact = {"selected": int(gs.sizes["selected"][g])} if metric == "selection_rate" else {}
                self._add(metric, gs.observed[metric][g], slice_, n=n, ci=ci, **exact)

    def _mean_score(self, gs: GroupSet, g: int, slice_: dict) -> None:
        if not self.inputs.has_score:
            return
        total, scored = gs.score_sums[g]
        if scored < self.config.min_group_size:
            reason = f"{int(scored)} rows with a score, fewer than min_group_size {self.config.min_group_size}"
            self._insufficient("mean_score", slice_, reason, n=int(scored))
        else:
            self._add("mean_score", total / scored, slice_, n=int(scored))

    def _disparities(self, gs: GroupSet, decisions: Rule) -> None:
        slice_ = self._slice({"attribute": gs.name}, decisions)
        eligible = {rate: self._eligible(gs, rate) for rate in ("selection_rate", *NEEDS)}
        no_labels = int(gs.sizes["labelled"].sum()) == 0
        for metric, (rates, kind) in DISPARITIES.items():
            label_based = rates[0] != "selection_rate"
            if label_based and not self.has_labels:
                continue
            threshold = self._threshold(metric)
            compared = np.logical_or.reduce([eligible[rate] for rate in rates])
            n = int(gs.sizes["labelled" if label_based else "rows"][compared].sum())
            context: dict[str, Any] = {"groups": int(compared.sum()), "excluded_groups": int(len(gs) - compared.sum())}
            if label_based and no_labels:
                reason = "no labels have arrived for this window yet"
                self._insufficient(metric, slice_, reason, n=0, threshold=threshold, **context)
                continue
            measure = counts.difference if kind == "difference" else counts.ratio
            parts = [float(measure(gs.observed[rate], eligible[rate])) for rate in rates]
            missing = self._missing_half(gs, rates, parts, eligible)
            if missing:
                # judging equalized odds on one of its halves would call a window fair (or unfair)
                # on evidence it does not have: the other half is simply unknown
                self._insufficient(metric, slice_, missing, n=n, threshold=threshold, **context)
                continue
            value = _combine(parts, kind)
            if np.isnan(value):
                if max(int(eligible[rate].sum()) for rate in rates) < 2:
                    reason = f"{context['groups']} of {len(gs)} groups meet the minimums; a disparity needs two"
                else:
                    reason = "the rate is 0 in every compared group, so the ratio is undefined"
                self._insufficient(metric, slice_, reason, n=n, threshold=threshold, **context)
                continue
            if len(rates) == 1:
                values = np.where(eligible[rates[0]], gs.observed[rates[0]], np.nan)
                context["max_group"] = gs.slices[int(np.nanargmax(values))]
                context["min_group"] = gs.slices[int(np.nanargmin(values))]
            else:
                context.update({f"{rate}_{kind}": _num(part) for rate, part in zip(rates, parts, strict=True)})
            ci = self._disparity_interval(gs, rates, kind, eligible)
            self._add(metric, value, slice_, n=n, ci=ci, threshold=threshold, **context)
        self._impact(gs, decisions, eligible["selection_rate"])

    def _missing_half(self, gs: GroupSet, rates: tuple[str, ...], parts: list[float], eligible: dict) -> str | None:
        """Why a two-rate disparity (equalized odds) lacks one of its halves, or None when both exist."""
        if len(rates) < 2 or all(np.isnan(parts)) or not any(np.isnan(parts)):
            return None  # one rate, or nothing at all (said below), or both halves present
        rate = next(r for r, part in zip(rates, parts, strict=True) if np.isnan(part))
        denominator, setting, what = NEEDS[rate]
        half = rate.replace("_", " ")
        total = int(gs.sizes[denominator].sum())
        if total == 0:
            return f"no {what} in this window, so its {half} half is undefined and it is not judged on the other"
        groups = int(eligible[rate].sum())
        if groups < 2:
            minimum = getattr(self.config, setting)
            return (
                f"only {groups} of {len(gs)} groups have {minimum} or more {what} ({setting}), so its {half} half "
                "cannot be compared and it is not judged on the other"
            )
        return (
            f"the {half} is 0 in every compared group, so its ratio half is undefined and it is not judged on the other"
        )

    def _disparity_interval(self, gs: GroupSet, rates: tuple[str, ...], kind: str, eligible: dict) -> tuple:
        """Simultaneous bootstrap interval of the disparity (see ``counts``)."""
        if gs.sampled is None:
            return (None, None)
        parts = [(gs.observed[rate], gs.sampled[rate], eligible[rate]) for rate in rates]
        low, high = counts.disparity_interval(parts, kind, self.config.bootstrap.confidence)
        return _num(low), _num(high)

    def _reference(self, gs: GroupSet, selectable: np.ndarray) -> tuple[int | None, str]:
        """The reference group's index (None when it cannot be used) and why not.

        With ``reference_group`` naming every attribute of the set: that group. Otherwise the
        largest group that meets the minimums among those matching the named attributes.
        """
        rows = gs.sizes["rows"]
        wanted = {a: v for a, v in self.config.reference_group.items() if a in gs.attributes}
        candidates = [g for g, s in enumerate(gs.slices) if all(s[a] == v for a, v in wanted.items())]
        if len(wanted) == len(gs.attributes):
            if not candidates:
                present = sorted({repr(s[a]) for s in gs.slices for a in wanted}, key=str)[:20]
                return None, (
                    f"the reference group {', '.join(f'{a}={v!r}' for a, v in wanted.items())} has no rows in this window (groups: "
                    f"{', '.join(present)}); check checks.fairness.reference_group"
                )
            g = candidates[0]
            if not selectable[g]:
                return None, (
                    f"the reference group {_label(wanted, gs)} has {int(rows[g])} rows, "
                    f"fewer than min_group_size {self.config.min_group_size}"
                )
            return g, ""
        usable = [g for g in candidates if selectable[g]]
        if not usable:
            return None, "no group that could be the reference meets min_group_size"
        return max(usable, key=lambda g: (int(rows[g]), -g)), ""

    def _impact(self, gs: GroupSet, decisions: Rule, selectable: np.ndarray) -> None:
        metric = "disparate_impact_ratio"
        threshold = self._threshold(metric)
        ref, why = self._reference(gs, selectable)
        if ref is None:
            reference = _label({a: v for a, v in self.config.reference_group.items() if a in gs.attributes}, gs)
        else:
            reference = _label(gs.slices[ref], gs)
        rate = gs.observed["selection_rate"]
        for g, base in enumerate(gs.slices):
            if g == ref:
                continue
            slice_ = self._slice({**base, "reference": reference}, decisions)
            rows = int(gs.sizes["rows"][g])
            reason = self._reason(gs, "selection_rate", g) or why
            if not reason and rate[ref] == 0:
                reason = "the reference group's selection rate is 0, so the ratio is undefined"
            if reason:
                self._insufficient(metric, slice_, reason, n=rows, threshold=threshold)
                continue
            samples = None
            if gs.sampled is not None:
                sampled = gs.sampled["selection_rate"]
                with np.errstate(divide="ignore", invalid="ignore"):
                    samples = np.where(sampled[..., ref] > 0, sampled[..., g] / sampled[..., ref], np.nan)
            self._add(
                metric,
                rate[g] / rate[ref],
                slice_,
                n=rows + int(gs.sizes["rows"][ref]),
                samples=samples,
                threshold=threshold,
                selection_rate=float(rate[g]),
                reference_selection_rate=float(rate[ref]),
            )

    def _window_summary(self, window: GroupSet) -> None:
        with_decision = int(window.sizes["rows"][0])
        details = {
            "by_attribute_set": dict(self.suppressed),
            "label_rates_suppressed": self.suppressed_rates,
            "min_group_size": self.config.min_group_size,
            "min_positives": self.config.min_positives,
            "min_negatives": self.config.min_negatives,
            "rows_without_decision": self.inputs.rows - with_decision,
            "decision": self.inputs.rules[0].source,
        }
        self._add("suppressed_groups", sum(self.suppressed.values()), {}, n=self.inputs.rows, **details)
        if self.has_labels:
            labelled = int(window.sizes["labelled"][0])
            share = labelled / with_decision if with_decision else None
            self._add("labelled_share", share, {}, n=with_decision, labelled_rows=labelled)


def _combine(parts: list[float], kind: str) -> float:
    """Equalized odds' worst case of its TPR and FPR parts: the larger difference, the smaller ratio.

    Fairlearn applies Python's max/min to the pair, which returns NaN or the other value
    depending on which side is NaN; here a NaN part is ignored, and two NaN parts give NaN.
    """
    defined = [p for p in parts if not np.isnan(p)]
    if not defined:
        return np.nan
    return max(defined) if kind == "difference" else min(defined)


def _num(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _label(values: dict[str, Any], gs: GroupSet) -> Any:
    """The reference group as one slice value: its value, or "a=x, b=y" for an intersection."""
    if len(gs.attributes) == 1:
        return values.get(gs.attributes[0])
    return ", ".join(f"{a}={values[a]}" for a in gs.attributes if a in values)
