"""The fairness family: group and intersectional fairness of a model's decisions.

For every sensitive attribute, and every intersection the spec lists, it measures each group's
selection rate, base rate, error rates, precision, accuracy and mean score, and the disparities
Fairlearn defines (demographic parity, equalized odds, equal opportunity) plus the disparate
impact ratio against a reference group, with seeded bootstrap intervals. Every number is
derived from one table of confusion counts per cell (``counts``), so the check stays fast on
millions of rows; the tests prove it equals ``fairlearn.metrics`` on the same data. Groups
below the minimum sizes are reported as ``insufficient_data``, never judged.

This module stays light (no numpy or pandas at import) so reports can read ``METHODS``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ethics_audit.checks.fairness.cells import Cells
    from ethics_audit.data import AuditData
    from ethics_audit.results import MetricResult
    from ethics_audit.spec import FairnessConfig

METHODS: dict[str, str] = {
    "count": "Rows of the group that have a decision.",
    "selection_rate": (
        "Share of the group's rows with a positive decision (Fairlearn's selection_rate), over all rows, "
        "labelled or not."
    ),
    "base_rate": "Share of the group's labelled rows whose label is the positive label.",
    "true_positive_rate": "Positive decisions among the group's rows labelled positive (TP / (TP + FN)).",
    "false_positive_rate": "Positive decisions among the group's rows labelled negative (FP / (FP + TN)).",
    "false_negative_rate": "Negative decisions among the group's rows labelled positive (FN / (TP + FN)).",
    "precision": "Positive labels among the group's labelled rows with a positive decision (TP / (TP + FP)).",
    "accuracy": "Share of the group's labelled rows where the decision equals the label.",
    "mean_score": "Mean model score over the group's rows that have a score.",
    "demographic_parity_difference": (
        "Largest minus smallest selection rate over the groups of the attribute (set) that meet the minimum "
        "group size, as Fairlearn's demographic_parity_difference; the interval is a seeded bootstrap percentile "
        "interval, rows resampled within each cell."
    ),
    "demographic_parity_ratio": (
        "Smallest divided by largest selection rate over the groups that meet the minimums "
        "(Fairlearn's demographic_parity_ratio), with a bootstrap interval."
    ),
    "equalized_odds_difference": (
        "The larger of the between-group differences (max - min) of true positive rate and of false positive "
        "rate, over labelled rows of groups that meet the minimums (Fairlearn's equalized_odds_difference, "
        "agg='worst_case'), with a bootstrap interval."
    ),
    "equalized_odds_ratio": (
        "The smaller of the between-group ratios (min / max) of true positive rate and of false positive rate "
        "(Fairlearn's equalized_odds_ratio, agg='worst_case'), with a bootstrap interval."
    ),
    "equal_opportunity_difference": (
        "Largest minus smallest true positive rate over the groups with enough labelled positives "
        "(Fairlearn's equal_opportunity_difference), with a bootstrap interval."
    ),
    "disparate_impact_ratio": (
        "A group's selection rate divided by the reference group's (the largest group unless the spec names "
        "one); outside 0.8-1.25 breaches the four-fifths rule. Bootstrap interval as above."
    ),
    "suppressed_groups": (
        "Number of groups, over all attribute sets, with fewer rows than min_group_size: their metrics are "
        "stored as insufficient_data and left out of every disparity."
    ),
    "labelled_share": "Share of the window's rows whose label has arrived; label metrics use only those rows.",
    "score_calibration_error": (
        "Expected calibration error of the group's scores on the labelled reference (10 equal-width bins: the "
        "row-weighted mean |share of positive labels - mean score|), with a Hosmer-Lemeshow test over score "
        "deciles; a group above estimate.calibration_tolerance (0.05) or rejected at estimate.hosmer_lemeshow_alpha "
        "(0.001) gets no estimate."
    ),
    "estimated_true_positive_rate": (
        "An estimate while labels are late: the group's expected true positives (sum of the scores of its positive "
        "decisions) over its expected positives (sum of all its scores), counting arrived labels as they are; "
        "the interval is where the realised rate falls if the scores are calibrated (labels simulated from them)."
    ),
    "estimated_false_positive_rate": "As estimated_true_positive_rate, for false positives: sums of 1 - score.",
    "estimated_precision": "Expected true positives over the group's positive decisions, from the scores.",
    "estimated_equal_opportunity_difference": (
        "Largest minus smallest estimated true positive rate over groups whose scores are calibrated; refused when "
        "a group that meets the minimums is not. An estimate: it warns at most, never pages, and never replaces "
        "the realised value."
    ),
    "estimated_equalized_odds_difference": (
        "The larger of the estimated TPR and FPR gaps (as Fairlearn's equalized_odds_difference), with a "
        "simultaneous interval from labels simulated from the scores; warns at most."
    ),
    "estimated_equalized_odds_ratio": "The smaller of the estimated TPR and FPR ratios; warns at most.",
    "estimate_error": (
        "For a window whose labels are all in: the realised gap minus the gap its scores give without labels, and "
        "whether the realised gap fell inside the estimate's interval (how good the estimates are)."
    ),
}


# the family reads the window through ``engine.rows_of``: the runner need not load it into memory
READS_ROWS = True


def run(config: FairnessConfig, data: AuditData) -> list[MetricResult]:
    """Measure group fairness of the window's decisions; raises ``DataError`` on bad input."""
    from ethics_audit.checks.fairness import estimated
    from ethics_audit.checks.fairness.assemble import Builder

    cells = statistics(config, data)
    realised = Builder(config, cells).run()
    return realised + estimated.run(config, cells, data, realised)


def statistics(config: FairnessConfig, data: AuditData) -> Cells:
    """The window's per-cell counts, from wherever its rows are.

    The switch: a window loaded in memory (``data.current``) is encoded row by row in numpy
    (``inputs.prepare``), and the encoding is kept for the remedy section, which reads rows; a
    window left on an engine (``data.current`` None) becomes one GROUP BY there (``query``).
    Both give the same ``Cells``; ``tests/checks/test_fairness_engine.py`` holds them equal.
    """
    from ethics_audit.checks.fairness import cells, query
    from ethics_audit.checks.fairness.inputs import prepare

    if data.current is not None:
        inputs = prepare(config, data)
        data.derived["fairness.inputs"] = (config, inputs)  # the remedy section reuses the encoding
        return cells.from_inputs(inputs)
    from ethics_audit.engine import rows_of

    return query.from_rows(config, data, rows_of(data, "current"))
