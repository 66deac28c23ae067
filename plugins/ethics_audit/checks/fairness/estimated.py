"""Fairness before the labels arrive: error rates and their gaps estimated from the scores.

Confidence-based performance estimation, in the spirit of NannyML's CBPE: when a group's
scores are calibrated (a score of 0.3 means a 30% chance of a positive label), a row decided
positive with score p is a true positive with probability p and a false positive with 1 - p.
Summing over a group's rows gives its expected confusion counts, hence an estimated TPR, FPR and
precision, and from those the error-rate gaps Fairlearn defines (equal opportunity, equalized
odds). Rows whose labels have arrived count with their real label.

Only where the assumption is checked: each group's calibration is measured on the labelled
reference (expected calibration error over ``bins`` equal-width bins, and a Hosmer-Lemeshow test
over score deciles). A group whose error exceeds ``calibration_tolerance``, whose test rejects at
``hosmer_lemeshow_alpha``, or with fewer than ``min_reference_rows`` labelled reference rows is
refused with the reason, and so is every gap that would compare it. The interval of an estimate
is where the realised value will fall if the scores are calibrated: labels are simulated from
the scores (a normal approximation of each cell's Poisson-binomial count of positives), and the
gaps get the same simultaneous intervals as the realised ones (``counts.disparity_interval``).

Estimates are their own metrics (``estimated_*``), never a realised value: their thresholds only
warn. When a window's labels are all in, the estimate its scores give without labels is compared
with the realised value (``estimate_error``: realised minus estimated, and whether it fell inside
the interval), so every labelled window backtests the estimator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ethics_audit.checks.fairness import counts
from ethics_audit.checks.fairness.assemble import CHECK, DISPARITIES, _combine, _group_set, _label, _num
from ethics_audit.checks.fairness.inputs import NEGATIVE, POSITIVE
from ethics_audit.results import MetricResult, Status, Threshold

if TYPE_CHECKING:
    from ethics_audit.checks.fairness.assemble import GroupSet
    from ethics_audit.checks.fairness.cells import Cells
    from ethics_audit.checks.fairness.reference import OnEngine, Reference, Summary
    from ethics_audit.data import AuditData
    from ethics_audit.spec import FairnessConfig

RATES = ("true_positive_rate", "false_positive_rate", "precision")
GAPS = ("equal_opportunity_difference", "equalized_odds_difference", "equalized_odds_ratio")
PREFIX = "estimated_"


def calibration(summary: Summary) -> dict[str, float]:
    """Expected calibration error (equal-width bins) and the Hosmer-Lemeshow test (score deciles)
    of one group, from its ``reference.Summary``."""
    from scipy.stats import chi2

    rows, positives, scores = summary.bins
    ece = float(np.abs(positives - scores).sum() / summary.n)
    # Hosmer-Lemeshow over (up to) ten groups of equal size by score
    size, observed, expected = summary.deciles
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = (observed - expected) ** 2 / (expected * (1 - expected / size))
    statistic = float(np.nansum(np.where(np.isfinite(terms), terms, 0.0)))
    dof = max(len(size) - 2, 1)
    return {
        "ece": ece,
        "hl_statistic": statistic,
        "hl_p": float(chi2.sf(statistic, dof)),
        "bins_used": int((rows > 0).sum()),
    }


def _tables(inputs: Cells, use_labels: bool, resamples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Expected confusion counts per cell ``(cells, 6)`` and simulated ones ``(R, cells, 6)``."""
    n_cells = len(inputs.cell_codes)
    # rows with a label: their real category (decision * 3 + label)
    table = inputs.known.astype(np.float64) if use_labels else np.zeros((n_cells, 6))
    boot = np.broadcast_to(table, (resamples, n_cells, 6)).copy()
    rng = np.random.default_rng(seed)
    guess = inputs.guess[0 if use_labels else 1]
    for d in (0, 1):
        n, mean, var = guess[:, d, 0], guess[:, d, 1], guess[:, d, 2]
        positive, negative = d * 3 + POSITIVE, d * 3 + NEGATIVE
        table[:, positive] += mean
        table[:, negative] += n - mean
        drawn = np.clip(np.rint(rng.normal(mean, np.sqrt(var), size=(resamples, n_cells))), 0, n)
        boot[:, :, positive] += drawn
        boot[:, :, negative] += n - drawn
    return table, boot


class Estimator:
    """The estimated metrics of one window (the primary decision only)."""

    def __init__(self, config: FairnessConfig, inputs: Cells, data: AuditData, realised: list[MetricResult]):
        self.config = config
        self.spec = config.estimate
        self.inputs = inputs
        self.data = data
        self.realised = {(r.metric, r.slice_key): r for r in realised}
        self.results: list[MetricResult] = []

    # ------------------------------------------------------------------ calibration on the reference

    def _reference(self) -> tuple[Reference | OnEngine | None, str]:
        from ethics_audit.checks.fairness import reference as labelled

        reference, columns = self.data.reference, self.data.columns
        on_engine = reference is None and "reference" in self.data.tables
        if reference is None and not on_engine:
            return None, "there is no reference to check the scores' calibration on: set reference.baseline"
        needed = [columns.score, columns.label, *self.inputs.attributes]
        missing = [c for c in needed if c not in (self.data.tables["reference"] if on_engine else reference.columns)]
        if missing:
            return None, f"the reference has no column {missing[0]!r}, so calibration cannot be checked per group"
        args = (columns.score, columns.label, self.inputs.attributes, self.config.positive_label)
        if on_engine:
            found = labelled.from_rows(self.data.tables["reference"], *args)
        else:
            found = labelled.from_frame(reference[needed].dropna(subset=[columns.score, columns.label]), *args)
        if not len(found):
            return None, "the reference has no labelled rows with a score, so calibration cannot be checked"
        return found, ""

    def _calibrated(self, gs: GroupSet, reference: Reference | OnEngine | None, why: str) -> list[str | None]:
        """Per group: None when its scores are calibrated on the reference, else why not (and a result)."""
        out: list[str | None] = []
        spec = self.spec
        groups = reference.summaries(gs.slices, spec.bins) if reference is not None else []
        for g, base in enumerate(gs.slices):
            if reference is None:
                out.append(why)
                continue
            summary = groups[g]
            if summary.n < spec.min_reference_rows:
                reason = (
                    f"{summary.n} labelled reference rows, fewer than estimate.min_reference_rows "
                    f"{spec.min_reference_rows}, to check the scores' calibration"
                )
                self.results.append(
                    MetricResult(CHECK, "score_calibration_error", None, base, n=summary.n,
                                 status=Status.INSUFFICIENT_DATA, details={"reason": reason})
                )  # fmt: skip
                out.append(reason)
                continue
            if summary.low < 0 or summary.high > 1:
                out.append("the reference scores are not in [0, 1], so they are not probabilities")
                continue
            found = calibration(summary)
            reason = None
            if found["ece"] > spec.calibration_tolerance:
                reason = (
                    f"the scores are not calibrated for this group on the reference: expected calibration error "
                    f"{found['ece']:.3f} > estimate.calibration_tolerance {spec.calibration_tolerance:g}"
                )
            elif found["hl_p"] < spec.hosmer_lemeshow_alpha:
                reason = (
                    f"the scores are not calibrated for this group on the reference: Hosmer-Lemeshow p = "
                    f"{found['hl_p']:.2g} < estimate.hosmer_lemeshow_alpha {spec.hosmer_lemeshow_alpha:g}"
                )
            self.results.append(
                MetricResult(
                    CHECK, "score_calibration_error", found["ece"], base, n=summary.n,
                    details={
                        "hosmer_lemeshow_p": found["hl_p"], "hosmer_lemeshow_statistic": found["hl_statistic"],
                        "tolerance": spec.calibration_tolerance, "calibrated": reason is None,
                        "reference_rows": summary.n,
                    },
                )
            )  # fmt: skip
            out.append(reason)
        return out

    # ------------------------------------------------------------------ the estimates

    def _eligible(self, gs: GroupSet, rate: str, refused: list[str | None]) -> tuple[np.ndarray, list[str | None]]:
        """Groups whose estimated ``rate`` is given, and why each other one is not."""
        c = self.config
        need = {"true_positive_rate": ("positives", c.min_positives, "expected positive labels"),
                "false_positive_rate": ("negatives", c.min_negatives, "expected negative labels"),
                "precision": ("predicted_positives", c.min_positives, "positive decisions")}[rate]  # fmt: skip
        reasons: list[str | None] = []
        for g in range(len(gs)):
            rows = int(gs.sizes["rows"][g])
            if rows < c.min_group_size:
                reasons.append(f"{rows} rows, fewer than min_group_size {c.min_group_size}")
            elif refused[g]:
                reasons.append(refused[g])
            elif gs.sizes[need[0]][g] < max(need[1], 1e-9):
                reasons.append(f"{gs.sizes[need[0]][g]:.1f} {need[2]}, fewer than {need[1]}")
            else:
                reasons.append(None)
        return np.array([r is None for r in reasons]), reasons

    def run(self, positions_list: list[tuple[int, ...]]) -> list[MetricResult]:
        inputs = self.inputs
        if not inputs.has_score or not inputs.has_labels or not self.spec.enabled:
            return []
        primary = inputs.tables[0]
        unlabelled = int(primary[:, counts.D0_UNLABELLED].sum() + primary[:, counts.D1_UNLABELLED].sum())
        backtest = unlabelled == 0 and int(primary.sum()) > 0
        reference, why = self._reference()
        span = inputs.score_range
        if span is not None and (span[0] < 0 or span[1] > 1):
            if backtest:
                return []
            reason = "not estimated: the window's scores are not in [0, 1], so they are not probabilities"
            return [
                MetricResult(CHECK, PREFIX + metric, None, {"attribute": _group_set(inputs, p, _empty(inputs)).name},
                             status=Status.INSUFFICIENT_DATA, details={"reason": reason, "estimate": True})
                for p in positions_list for metric in GAPS
            ]  # fmt: skip
        if backtest and reference is None:
            return []  # nothing was or could be estimated, so there is nothing to backtest
        resamples = max(self.config.bootstrap.resamples, 100)
        table, boot = _tables(inputs, use_labels=not backtest, resamples=resamples, seed=self.config.bootstrap.seed)
        cells = {"table": table, "boot": boot, "scores": np.zeros((len(table), 2))}
        for positions in positions_list:
            gs = _group_set(inputs, positions, cells)
            refused = self._calibrated(gs, reference, why)
            eligible = {}
            for rate in RATES:
                eligible[rate], reasons = self._eligible(gs, rate, refused)
                if not backtest:
                    self._rates(gs, rate, reasons)
            self._gaps(gs, eligible, refused, backtest, unlabelled)
        if backtest:
            # a labelled window: only how good the estimate would have been (the calibration is context)
            self.results = [r for r in self.results if r.metric in ("estimate_error", "score_calibration_error")]
        return self.results

    def _rates(self, gs: GroupSet, rate: str, reasons: list[str | None]) -> None:
        low, high = counts.interval(gs.sampled[rate], self.config.bootstrap.confidence)
        for g, base in enumerate(gs.slices):
            n = int(np.rint(gs.sizes["rows"][g]))
            if reasons[g]:
                self.results.append(
                    MetricResult(CHECK, PREFIX + rate, None, base, n=n, status=Status.INSUFFICIENT_DATA,
                                 details={"reason": "not estimated: " + reasons[g], "estimate": True})
                )  # fmt: skip
                continue
            self.results.append(
                MetricResult(CHECK, PREFIX + rate, gs.observed[rate][g], base, low[g], high[g], n=n,
                             details={"estimate": True, "method": "confidence-based (calibrated scores)"})
            )  # fmt: skip

    def _threshold(self, metric: str) -> Threshold:
        """The realised metric's warning level, never its critical one: an estimate warns, never pages."""
        realised = self.config.thresholds.get(metric, require_significance=self.config.require_significance)
        return Threshold(
            warn=realised.warn, direction=realised.direction, require_significance=realised.require_significance
        )

    def _gaps(self, gs: GroupSet, eligible: dict, refused: list[str | None], backtest: bool, unlabelled: int) -> None:
        slice_ = {"attribute": gs.name}
        big_enough = gs.sizes["rows"] >= self.config.min_group_size
        for metric in GAPS:
            rates, kind = DISPARITIES[metric]
            threshold = self._threshold(metric)
            compared = np.logical_or.reduce([eligible[r] for r in rates])
            n = int(np.rint(gs.sizes["rows"][compared].sum()))
            blocked = [g for g in range(len(gs)) if big_enough[g] and refused[g]]
            measure = counts.difference if kind == "difference" else counts.ratio
            parts = [float(measure(gs.observed[r], eligible[r])) for r in rates]
            reason = None
            if blocked:
                first = blocked[0]
                reason = f"not estimated: {_label(gs.slices[first], gs)!s}: {refused[first]}"
                if len(blocked) > 1:
                    reason += f" (and {len(blocked) - 1} more group{'s' if len(blocked) > 2 else ''})"
            elif any(np.isnan(parts)):
                reason = f"not estimated: fewer than two groups meet the minimums for {' and '.join(rates)}"
            if reason:
                if not backtest:
                    self.results.append(
                        MetricResult(CHECK, PREFIX + metric, None, slice_, n=n, threshold=threshold,
                                     status=Status.INSUFFICIENT_DATA, details={"reason": reason, "estimate": True})
                    )  # fmt: skip
                continue
            value = _combine(parts, kind)
            interval = counts.disparity_interval(
                [(gs.observed[r], gs.sampled[r], eligible[r]) for r in rates], kind, self.config.bootstrap.confidence
            )
            low, high = _num(interval[0]), _num(interval[1])
            if backtest:
                self._error(metric, slice_, value, low, high)
                continue
            self.results.append(
                MetricResult(
                    CHECK, PREFIX + metric, value, slice_, low, high, n=n, threshold=threshold,
                    details={"estimate": True, "groups": int(compared.sum()), "unlabelled_rows": unlabelled,
                             "method": "confidence-based (calibrated scores)",
                             **{f"{r}_{kind}": _num(p) for r, p in zip(rates, parts, strict=True)}},
                )
            )  # fmt: skip

    def _error(self, metric: str, slice_: dict[str, Any], value: float, low: float | None, high: float | None) -> None:
        from ethics_audit.results import slice_key

        realised = self.realised.get((metric, slice_key(slice_)))
        if realised is None or realised.value is None:
            return
        inside = low is not None and high is not None and low <= realised.value <= high
        self.results.append(
            MetricResult(
                CHECK, "estimate_error", realised.value - value, {**slice_, "estimated": metric},
                n=realised.n,
                details={"estimated": value, "ci_low": low, "ci_high": high, "realised": realised.value,
                         "within_interval": inside},
            )
        )  # fmt: skip


def _empty(inputs: Cells) -> dict[str, np.ndarray]:
    n = len(inputs.cell_codes)
    return {"table": np.zeros((n, 6)), "boot": None, "scores": np.zeros((n, 2))}


def run(config: FairnessConfig, inputs: Cells, data: AuditData, realised: list[MetricResult]) -> list[MetricResult]:
    """Estimated error rates and gaps (windows with unlabelled rows), or the backtest (labelled ones)."""
    return Estimator(config, inputs, data, realised).run(inputs.group_sets)
