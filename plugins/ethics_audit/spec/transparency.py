"""The transparency family's part of an audit spec: explanations, user controls and appeals.

``checks.transparency`` says where the explanation log, the user-controls ledger and the
appeals ledger are (each a path or a SQL query, like ``source:``), which column holds what,
which predictions a control forbids, the appeals' service-level time (``sla``) and the
thresholds. Every default is chosen so its owner can defend it; the reason sits next to it.
Like the rest of the spec these models are plain pydantic and import nothing heavy.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ethics_audit.spec.base import BootstrapSpec, ColumnName, Duration, Scalar, Strict, Thresholds, ThresholdSpec, _t
from ethics_audit.spec.sources import SourceSpec

APPEAL_OUTCOMES = ("overturned", "upheld", "pending")


class ExplanationColumns(Strict):
    """Column names, in the explanation log when ``source`` is given, else in the predictions."""

    prediction_id: ColumnName = Field("prediction_id", description="in the explanation log: the prediction explained")
    explanation: ColumnName = Field(
        "explanation_id", description="non-empty when the decision came with an explanation (an id or the text)"
    )
    reason_codes: ColumnName | None = Field(
        None, description="the reason codes cited, separated by reason_code_separator (or a list)"
    )


class ExplanationsSpec(Strict):
    """Whether each decision came with an explanation, and which reason codes it cited."""

    source: SourceSpec | None = Field(None, description="a separate explanation log joined on columns.prediction_id")
    columns: ExplanationColumns = ExplanationColumns()
    reason_code_separator: str = Field(";", min_length=1)


class ControlColumns(Strict):
    entity_id: ColumnName = "entity_id"
    control: ColumnName = "control"
    value: ColumnName = "value"
    timestamp: ColumnName = "timestamp"


class ControlRule(Strict):
    """While an entity's latest setting of ``control`` is ``value``, predictions whose columns
    hold any of the ``forbids`` values (every prediction, when ``forbids`` is empty) must not happen."""

    control: str = Field(min_length=1, description="e.g. personalised_ads")
    value: Scalar = Field(description="e.g. off (compared as lower-case text)")
    forbids: dict[ColumnName, list[Scalar]] = Field(
        default_factory=dict, description="e.g. {targeting: [personalised]}; empty: any prediction"
    )

    @field_validator("forbids")
    @classmethod
    def _values_listed(cls, forbids: dict[str, list]) -> dict[str, list]:
        empty = [column for column, values in forbids.items() if not values]
        if empty:
            raise ValueError(f"forbids.{empty[0]} lists no values: list the forbidden values, or drop the column")
        return forbids


class ControlsSpec(Strict):
    source: SourceSpec = Field(description="user-controls ledger: entity id, control, value, timestamp")
    columns: ControlColumns = ControlColumns()
    rules: list[ControlRule] = Field(min_length=1)
    # a changed setting reaches caches and ad servers within hours; a day is a delay a user can accept
    grace_period: Duration = Field(timedelta(days=1), description="time a changed setting may take to apply")


class AppealColumns(Strict):
    appeal_id: ColumnName = "appeal_id"
    prediction_id: ColumnName = Field("prediction_id", description="the decision contested (join_on: prediction_id)")
    entity_id: ColumnName = Field("entity_id", description="who appeals (join_on: entity_id)")
    filed_at: ColumnName = "filed_at"
    decided_at: ColumnName = "decided_at"
    outcome: ColumnName = Field("outcome", description="overturned, upheld or pending")


class AppealsSpec(Strict):
    """Contests of decisions. An appeal counts toward the window of the decision it contests:
    by ``prediction_id``, or with ``join_on: entity_id`` the entity's latest decision before filing."""

    source: SourceSpec = Field(
        description="appeals ledger: appeal id, prediction or entity id, filed, decided, outcome"
    )
    columns: AppealColumns = AppealColumns()
    join_on: Literal["prediction_id", "entity_id"] = "prediction_id"
    # DSA Art. 20 asks for "timely" handling without a number; a week is a common published target
    sla: Duration = Field(timedelta(days=7), description="time within which an appeal should be decided")

    @field_validator("sla")
    @classmethod
    def _positive(cls, sla: timedelta) -> timedelta:
        if sla <= timedelta(0):
            raise ValueError("sla must be positive, e.g. 7d")
        return sla


class TransparencyThresholds(Thresholds):
    # an unexplained adverse decision breaks GDPR Art. 22(3) / AI Act Art. 86 for that person: 1% is
    # already many people; 5% means the explanation path is broken
    explanation_coverage: ThresholdSpec = _t(0.99, 0.95, "below")
    adverse_explanation_coverage: ThresholdSpec = _t(0.99, 0.95, "below")
    # the four-fifths idea, stricter: explanations cost nothing per person, so a group should not get fewer
    explanation_coverage_ratio: ThresholdSpec = _t(0.95, 0.9, "below")
    adverse_explanation_coverage_ratio: ThresholdSpec = _t(0.95, 0.9, "below")
    # Cramér's V: 0.1 is a "small" association (Cohen), 0.3 "medium"
    reason_code_skew: ThresholdSpec = _t(0.1, 0.3)
    # a user's explicit choice ignored even once is a breach (DSA Art. 38, GDPR Art. 21)
    decisions_ignoring_controls: ThresholdSpec = _t(None, 0.0)
    # appeal and overturn rates use the fairness family's gaps: 10 points warn, 20 critical
    appeal_rate_difference: ThresholdSpec = _t(0.1, 0.2)
    overturn_rate_difference: ThresholdSpec = _t(0.1, 0.2)
    overturn_rate_ratio: ThresholdSpec = _t(0.8, 0.6, "below")
    # beyond the SLA: one in twenty is a warning, one in five a failing process
    decided_past_sla_share: ThresholdSpec = _t(0.05, 0.2)
    # an appeal nobody answered within the SLA is a person still waiting: any is a warning
    open_appeals_past_sla: ThresholdSpec = _t(0.0, None)


class TransparencyConfig(Strict):
    """Explanations, user controls and appeals, by group of each sensitive attribute and intersection."""

    enabled: bool = True
    attributes: list[ColumnName] | None = Field(
        None, description="default: the fairness attributes, or columns.sensitive"
    )
    intersections: list[list[ColumnName]] | None = Field(None, description="default: the fairness intersections")
    adverse_decision: Scalar = Field(0, description="the columns.prediction value that is adverse to the person")
    min_group_size: int = Field(
        30, ge=1, description="fewer decisions (decided appeals for overturn rates and times): insufficient_data"
    )
    bootstrap: BootstrapSpec = BootstrapSpec()
    require_significance: bool = Field(False, description="breach only when the whole interval is beyond a bound")
    explanations: ExplanationsSpec | None = None
    controls: ControlsSpec | None = None
    appeals: AppealsSpec | None = None
    thresholds: TransparencyThresholds = TransparencyThresholds()

    @model_validator(mode="after")
    def _something(self) -> TransparencyConfig:
        if self.enabled and not (self.explanations or self.controls or self.appeals):
            raise ValueError("configure at least one of explanations, controls or appeals (or set enabled: false)")
        for combo in self.intersections or []:
            if len(combo) < 2 or len(set(combo)) != len(combo):
                raise ValueError(f"an intersection names two or more different attributes, not {combo}")
        return self
