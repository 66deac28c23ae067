"""Words and numbers for people: plain-English names of families and metrics, slices, values.

Reports are read by ethics officers, not engineers, so every metric gets a short plain name
(falling back to its snake_case name made readable), every slice reads like "gender = f", and
every number is rounded to what matters. The severity table carries, besides a colour, a
symbol and a word, so a report printed in greyscale or read by a colour-blind reader loses
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

FAMILIES: dict[str, str] = {
    "quality": "Data quality",
    "drift": "Data drift",
    "fairness": "Bias and fairness",
    "privacy": "Privacy",
    "transparency": "Transparency and appeals",
    "window": "Window",
}
FAMILY_ORDER = ("fairness", "privacy", "transparency", "drift", "quality")
FAMILY_QUESTIONS: dict[str, str] = {
    "fairness": "Does the model treat groups of people alike?",
    "privacy": "Do personal data leak, and are consent and retention respected?",
    "transparency": "Are people told why, are their choices honoured, and are their appeals answered fairly and in time?",
    "drift": "Is the model still seeing the kind of data it was built for?",
    "quality": "Is the data the audit reads complete and well-formed?",
}

# the fairness measures of a group table, in the order its columns are shown (``views.pivots``)
GROUP_METRICS: dict[str, str] = {
    "count": "Rows",
    "selection_rate": "Selection rate",
    "base_rate": "Positive outcome rate",
    "true_positive_rate": "True positive rate",
    "false_positive_rate": "False positive rate",
    "false_negative_rate": "False negative rate",
    "precision": "Precision",
    "accuracy": "Accuracy",
    "mean_score": "Mean score",
    "demographic_parity_difference": "Selection-rate gap",
    "demographic_parity_ratio": "Selection-rate ratio",
    "equalized_odds_difference": "Error-rate gap (equalized odds)",
    "equalized_odds_ratio": "Error-rate ratio (equalized odds)",
    "equal_opportunity_difference": "True-positive-rate gap (equal opportunity)",
    "disparate_impact_ratio": "Disparate impact ratio (four-fifths rule)",
}
METRICS: dict[str, str] = {
    **GROUP_METRICS,
    "suppressed_groups": "Groups too small to judge",
    "labelled_share": "Share of rows with outcome labels",
    "score_calibration_error": "Score calibration error (reference)",
    "estimated_true_positive_rate": "Estimated true positive rate (labels not in yet)",
    "estimated_false_positive_rate": "Estimated false positive rate (labels not in yet)",
    "estimated_precision": "Estimated precision (labels not in yet)",
    "estimated_equal_opportunity_difference": "Estimated true-positive-rate gap (labels not in yet)",
    "estimated_equalized_odds_difference": "Estimated error-rate gap (labels not in yet)",
    "estimated_equalized_odds_ratio": "Estimated error-rate ratio (labels not in yet)",
    "estimate_error": "Error of the estimate, once labels arrived",
    "drift_share": "Share of drifted columns",
    "column_drift": "Distribution change",
    "email_share": "Rows containing email addresses",
    "phone_share": "Rows containing phone numbers",
    "card_count": "Payment card numbers found",
    "iban_count": "Bank account numbers (IBAN) found",
    "ssn_count": "Social security numbers found",
    "ip_share": "Rows containing IP addresses",
    "dob_share": "Rows containing dates of birth",
    "identifier_column_names": "Columns named like personal identifiers",
    "name_share": "Rows containing personal names",
    "k_anonymity": "k-anonymity (smallest group of look-alike people)",
    "share_below_k": "Share of people in groups smaller than k",
    "sample_uniqueness": "Share of people unique on quasi-identifiers",
    "l_diversity": "l-diversity",
    "predictions_after_withdrawal": "Predictions after consent was withdrawn",
    "rows_past_retention": "Rows kept past the retention period",
    "entities_past_erasure_deadline": "People still present after asking for erasure",
    "attack_auc": "Membership-inference attack AUC",
    "attacker_advantage": "Membership-inference attacker advantage",
    "generalisation_gap": "Generalisation gap (members vs non-members)",
    "null_share": "Missing values",
    "row_count": "Rows audited",
    "reference_row_count": "Reference rows",
    "row_count_drop": "Drop in row count",
    "out_of_range_share": "Values out of range",
    "unexpected_category_share": "Unexpected categories",
    "duplicate_id_share": "Duplicate prediction ids",
    "outside_window_share": "Rows outside the window",
    "explanation_coverage": "Decisions with an explanation",
    "adverse_explanation_coverage": "Adverse decisions with an explanation",
    "explanation_coverage_ratio": "Explanation coverage ratio (worst / best group)",
    "adverse_explanation_coverage_ratio": "Adverse-decision explanation ratio (worst / best group)",
    "unexplained_adverse_decisions": "Adverse decisions without an explanation",
    "reason_code_skew": "Reason-code skew across groups (Cramér's V)",
    "decisions_ignoring_controls": "Decisions that ignored a user's setting",
    "appeal_rate": "Appeal rate",
    "overturn_rate": "Overturn rate",
    "appeal_rate_difference": "Appeal-rate gap",
    "overturn_rate_difference": "Overturn-rate gap",
    "overturn_rate_ratio": "Overturn-rate ratio",
    "median_days_to_decide": "Median days to decide an appeal",
    "p90_days_to_decide": "Days to decide 9 in 10 appeals",
    "decided_past_sla_share": "Appeals decided late (past the SLA)",
    "open_appeals_past_sla": "Open appeals past the SLA",
    "adverse_decisions": "Adverse decisions",
    "appeals_received": "Appeals received",
    "appeals_decided": "Appeals decided",
    "appeals_overturned": "Appeals overturned",
    "appeals_pending": "Appeals pending",
    "selected_count": "Selected (count for the LL144 table)",
    "above_median_score_count": "Scored above the median (count for the LL144 table)",
    "check_error": "The check failed",
    "window_rows": "Rows in the window",
}

_METRIC_RANK = {metric: rank for rank, metric in enumerate(METRICS)}

# metrics whose values are shares or rates in [0, 1]: shown as percentages
PERCENT_METRICS = frozenset(
    {
        "selection_rate",
        "base_rate",
        "true_positive_rate",
        "false_positive_rate",
        "false_negative_rate",
        "precision",
        "accuracy",
        "labelled_share",
        "drift_share",
        "email_share",
        "phone_share",
        "ip_share",
        "dob_share",
        "share_below_k",
        "sample_uniqueness",
        "null_share",
        "out_of_range_share",
        "unexpected_category_share",
        "duplicate_id_share",
        "outside_window_share",
        "row_count_drop",
        "explanation_coverage",
        "adverse_explanation_coverage",
        "appeal_rate",
        "overturn_rate",
        "appeal_rate_difference",
        "overturn_rate_difference",
        "decided_past_sla_share",
    }
)
COUNT_METRICS = frozenset(
    {
        "count",
        "row_count",
        "reference_row_count",
        "window_rows",
        "suppressed_groups",
        "card_count",
        "iban_count",
        "unexplained_adverse_decisions",
        "decisions_ignoring_controls",
        "open_appeals_past_sla",
        "adverse_decisions",
        "appeals_received",
        "appeals_decided",
        "appeals_overturned",
        "appeals_pending",
    }
)


@dataclass(frozen=True)
class SeverityStyle:
    word: str
    symbol: str
    css: str  # class name; colours live in the stylesheet and charts.COLOURS
    rank: int


SEVERITIES: dict[str, SeverityStyle] = {
    "critical": SeverityStyle("Critical", "▲", "sev-critical", 4),
    "error": SeverityStyle("Check failed", "■", "sev-error", 3),
    "warn": SeverityStyle("Warning", "◆", "sev-warn", 2),
    "insufficient_data": SeverityStyle("Too little data", "○", "sev-insufficient", 1),
    "ok": SeverityStyle("OK", "✓", "sev-ok", 0),
    "none": SeverityStyle("Not audited", "·", "sev-none", -1),
}


def severity(name: str | None) -> SeverityStyle:
    return SEVERITIES.get(name or "none", SEVERITIES["none"])


def family_name(family: str) -> str:
    return FAMILIES.get(family, family.replace("_", " ").capitalize())


def metric_name(metric: str) -> str:
    return METRICS.get(metric, metric.replace("_", " ").capitalize())


def slice_text(slice_: dict[str, Any] | None) -> str:
    """``{"gender": "f"}`` -> ``gender = f``; ``{"attribute": "gender"}`` -> ``across gender``."""
    if not slice_:
        return "whole window"
    parts = []
    rest = dict(slice_)
    if "attribute" in rest:
        parts.append(f"across {str(rest.pop('attribute')).replace('+', ' × ')}")
    if "column" in rest:
        parts.append(f"column {rest.pop('column')}")
    reference = rest.pop("reference", None)
    threshold = rest.pop("decision_threshold", None)
    parts += [f"{k} = {rest[k]}" for k in sorted(rest)]  # JSONB reorders keys: sort for stable text
    text = ", ".join(parts)
    if reference is not None:
        text += f" vs {reference}"
    if threshold is not None:
        text += f" (score cut-off {threshold})"
    return text


def metric_rank(metric: str) -> int:
    """Reading order: metrics in the order ``METRICS`` lists them (most telling of a family first), then the rest."""
    return _METRIC_RANK.get(metric, len(_METRIC_RANK))


def measure_text(metric: str, slice_: dict[str, Any] | None) -> str:
    """``Selection-rate gap across gender``, ``Missing values in column age``, ``Rows audited``."""
    if not slice_:
        return metric_name(metric)
    joiner = "" if "attribute" in slice_ else (" in" if "column" in slice_ else " for")
    return f"{metric_name(metric)}{joiner} {slice_text(slice_)}"


def and_join(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def is_percent(metric: str) -> bool:
    return metric in PERCENT_METRICS


def number(value: float | None, metric: str = "", *, digits: int = 3) -> str:
    """A value as people read it: percentages for shares, thousands separators for counts."""
    if value is None:
        return "–"
    if metric in COUNT_METRICS or (float(value).is_integer() and abs(value) >= 1000):
        return f"{value:,.0f}"
    if is_percent(metric):
        pct = value * 100
        if pct == 0:
            return "0%"
        if abs(pct) < 0.1:
            return f"{pct:.2g}%"
        return f"{pct:.1f}%"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def interval(low: float | None, high: float | None, metric: str = "") -> str:
    if low is None or high is None:
        return ""
    return f"{number(low, metric)} – {number(high, metric)}"


def bound_text(bound: Any, metric: str = "") -> str:
    if bound is None:
        return "–"
    if isinstance(bound, list | tuple):
        return f"outside {number(bound[0], metric)} – {number(bound[1], metric)}"
    return number(bound, metric)


def threshold_text(threshold: dict[str, Any] | None, metric: str = "") -> str:
    """``{"warn": 0.1, "critical": 0.2, "direction": "above"}`` -> ``warn above 0.1 · critical above 0.2``."""
    if not threshold:
        return ""
    direction = threshold.get("direction") or "above"
    parts = []
    for level in ("warn", "critical"):
        bound = threshold.get(level)
        if bound is None:
            continue
        word = "warning" if level == "warn" else level
        if direction == "outside" or isinstance(bound, list | tuple):
            parts.append(f"{word} {bound_text(bound, metric)}")
        else:
            parts.append(f"{word} {direction} {number(bound, metric)}")
    text = " · ".join(parts)
    if text and threshold.get("require_significance"):
        text += " (only when the whole interval is beyond)"
    return text


def day(value: datetime | None) -> str:
    return "–" if value is None else f"{value.day} {value:%b %Y}"


def short_day(value: datetime) -> str:
    return f"{value.day} {value:%b}"


def window_text(start: datetime, end: datetime) -> str:
    """``6–13 Jul 2026``; the end shown is the last day inside the window."""
    last = end - timedelta(seconds=1)
    if (start.year, start.month) == (last.year, last.month):
        if start.date() == last.date():
            return f"{start.day} {start:%b %Y}"
        return f"{start.day}–{last.day} {start:%b %Y}"
    if start.year == last.year:
        return f"{start.day} {start:%b} – {last.day} {last:%b %Y}"
    return f"{day(start)} – {day(last)}"


def duration(delta: timedelta | None) -> str:
    """``3 d 4 h``, ``45 min``, ``12 s``: two units at most."""
    if delta is None:
        return "–"
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return "–"
    if seconds < 60:
        return f"{seconds} s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 3600:
        return f"{minutes} min"
    if seconds < 86400:
        rest = minutes % 60
        return f"{hours} h" + (f" {rest} min" if rest else "")
    rest = hours % 24
    return f"{days} d" + (f" {rest} h" if rest else "")
