"""The transparency family: were people told why, were their choices honoured, could they contest?

Three parts, each optional and each run on its own (``checks.parts.run_parts``) so a broken
ledger does not hide the others: ``explanations`` (coverage of decisions and adverse decisions
by group, reason-code skew), ``controls`` (decisions that ignored a user's setting, as of each
prediction) and ``appeals`` (appeal and overturn rates by group and their disparities, time to
decide against the SLA), plus ``bias_audit``: selection and scoring counts per category for the
LL144 export. Group numbers rest on counts per cell and reuse the fairness family's
bootstrap and disparity intervals (``groups``). This module stays light (no numpy or pandas at
import) so reports can read ``METHODS``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ethics_audit.checks.parts import Part, run_parts

if TYPE_CHECKING:
    from ethics_audit.data import AuditData
    from ethics_audit.results import MetricResult
    from ethics_audit.spec import TransparencyConfig

METHODS: dict[str, str] = {
    "explanation_coverage": (
        "Share of the decisions (of the window or the group) that came with an explanation: a non-empty "
        "explanation column in the predictions or in the explanation log joined on the prediction id; the "
        "interval is a seeded bootstrap percentile interval, rows resampled within each cell (AI Act Art. 86)."
    ),
    "adverse_explanation_coverage": (
        "The same share over adverse decisions only (columns.prediction equal to adverse_decision): the people "
        "GDPR Art. 22(3) and AI Act Art. 86 entitle to an explanation."
    ),
    "explanation_coverage_ratio": (
        "Lowest divided by highest explanation coverage over the groups of the attribute (set) with at least "
        "min_group_size decisions, with the fairness family's simultaneous bootstrap interval."
    ),
    "adverse_explanation_coverage_ratio": "The same ratio over adverse decisions.",
    "unexplained_adverse_decisions": "Adverse decisions of the window that came without an explanation.",
    "reason_code_skew": (
        "Cramér's V of the table of reason-code citations per group (groups with min_group_size decisions): 0 when "
        "every group is cited the same mix of codes, 1 when codes identify groups. Details give the chi-square "
        "test of independence (statistic, degrees of freedom, p-value) and the code whose share differs most; "
        "the interval is a bootstrap percentile interval."
    ),
    "decisions_ignoring_controls": (
        "Decisions made while the person's latest setting of the control, as of the decision, was the rule's "
        "value, more than grace_period after they chose it, and of a kind the rule forbids (DSA Art. 38, "
        "GDPR Art. 21); counts of rows and people, never ids."
    ),
    "appeal_rate": (
        "Adverse decisions that were appealed, over adverse decisions; an appeal counts toward the window of "
        "the decision it contests, a decision appealed twice counts once (GDPR Art. 22(3), DSA Art. 20)."
    ),
    "overturn_rate": (
        "Appeals decided in the person's favour (overturned) over decided appeals: a group whose decisions "
        "are reversed more often is a group the model errs against."
    ),
    "appeal_rate_difference": (
        "Largest minus smallest appeal rate over the groups with min_group_size adverse decisions, with the "
        "fairness family's simultaneous bootstrap interval (require_significance judges it)."
    ),
    "overturn_rate_difference": (
        "Largest minus smallest overturn rate over the groups with min_group_size decided appeals, with the "
        "fairness family's simultaneous bootstrap interval."
    ),
    "overturn_rate_ratio": "Smallest divided by largest overturn rate over the same groups, with its interval.",
    "median_days_to_decide": "Median time from filing to decision of the decided appeals; beyond the SLA is critical.",
    "p90_days_to_decide": "90th percentile of the time to decide; beyond the SLA is a warning.",
    "decided_past_sla_share": "Share of decided appeals that took longer than the SLA (DSA Art. 20 'timely').",
    "open_appeals_past_sla": "Appeals still pending, older than the SLA at the audit's time: people still waiting.",
    "adverse_decisions": "Adverse decisions in the window (the denominator of the appeal rate).",
    "appeals_received": "Appeals of the window's decisions (DSA Art. 15(1)(d): complaints received).",
    "appeals_decided": "Those decided (upheld or overturned).",
    "appeals_overturned": "Those decided in the person's favour (DSA Art. 15: decisions reversed).",
    "appeals_pending": "Those not decided yet.",
    "selected_count": (
        "Rows of the group (every group, unknown category and small ones included) whose decision is not adverse; "
        "n is the group's rows with a decision. Summed over a quarter for the NYC LL144 selection rate."
    ),
    "above_median_score_count": (
        "Rows of the group whose score is above the window's median score; n is the group's scored rows. The LL144 "
        "scoring rate of score-only models."
    ),
    "check_error": "A part of the transparency check that could not run; details name the part and the fix.",
}


# the whole family computes on the engine when the window's rows stay there (``aggregates``)
READS_ROWS = True


def _parts(data: AuditData | None = None) -> list[tuple[str, Part]]:
    """The parts, in memory when the window's frame is loaded, else on its engine (``aggregates``)."""
    from ethics_audit.checks.privacy.aggregates import on_engine

    if data is not None and on_engine(data):
        from ethics_audit.checks.transparency.aggregates import appeals, bias_audit, controls, explanations
    else:
        from ethics_audit.checks.transparency import (  # type: ignore[no-redef]
            appeals,
            bias_audit,
            controls,
            explanations,
        )

    return [
        ("explanations", explanations.run),
        ("controls", controls.run),
        ("appeals", appeals.run),
        ("bias_audit", bias_audit.run),
    ]


def run(config: TransparencyConfig, data: AuditData) -> list[MetricResult]:
    if data.rows == 0:
        return []  # no decisions to explain or appeal: the runner reports the empty window (window_rows)
    return run_parts("transparency", _parts(data), config, data)
