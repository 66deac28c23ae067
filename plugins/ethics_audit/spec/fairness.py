"""The fairness family's part of an audit spec: attributes, decisions, estimates, thresholds."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, field_validator, model_validator

from ethics_audit.spec.base import BootstrapSpec, ColumnName, Scalar, Strict, Thresholds, ThresholdSpec, _t


class EstimateSpec(Strict):
    """Error rates estimated from calibrated scores while labels are late (``checks/fairness/estimated.py``)."""

    enabled: bool = True
    calibration_tolerance: float = Field(
        0.05, gt=0, le=0.5, description="largest expected calibration error on the reference for a group's estimate"
    )
    hosmer_lemeshow_alpha: float = Field(
        0.001, ge=0, lt=1, description="a Hosmer-Lemeshow p-value below this refuses the group's estimate"
    )
    min_reference_rows: int = Field(200, ge=10, description="labelled reference rows a group needs for its calibration")
    bins: int = Field(10, ge=2, le=50, description="equal-width score bins of the expected calibration error")


class FairnessThresholds(Thresholds):
    demographic_parity_difference: ThresholdSpec = _t(0.1, 0.2)
    demographic_parity_ratio: ThresholdSpec = _t(0.8, 0.6, "below")
    equalized_odds_difference: ThresholdSpec = _t(0.1, 0.2)
    equalized_odds_ratio: ThresholdSpec = _t(0.8, 0.6, "below")
    equal_opportunity_difference: ThresholdSpec = _t(0.1, 0.2)
    disparate_impact_ratio: ThresholdSpec = _t((0.8, 1.25), (0.6, 1 / 0.6))


class FairnessConfig(Strict):
    """Group fairness of the decisions (``columns.prediction``, or ``columns.score`` cut at
    ``decision_threshold``) over each sensitive attribute and each listed intersection."""

    RESERVED: ClassVar[tuple[str, ...]] = ("attribute", "reference", "decision_threshold")

    enabled: bool = True
    attributes: list[ColumnName] | None = Field(None, description="default: columns.sensitive")
    intersections: list[list[ColumnName]] = Field(default_factory=list, description="e.g. [[gender, age_band]]")
    legitimate_factors: list[ColumnName] = Field(
        default_factory=list,
        description="columns that may legitimately explain a gap (e.g. the job category an ad was for); an "
        "alert's remedy section measures the gap within their strata",
    )
    reference_group: dict[str, Scalar] = Field(
        default_factory=dict,
        description="per attribute, the group the disparate impact ratio compares with (default: the largest)",
    )
    positive_label: Scalar = Field(1, description="the label and decision value that means the positive outcome")
    decision_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="score >= this is a positive decision; with columns.prediction it is audited as an extra threshold",
    )
    extra_decision_thresholds: list[Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=list, description="further score cut-offs to audit, each in its own slices"
    )
    min_group_size: int = Field(30, ge=1, description="fewer rows (labelled rows for label metrics): insufficient_data")
    min_positives: int = Field(5, ge=0, description="fewer positive labels: no true/false negative rate")
    min_negatives: int = Field(5, ge=0, description="fewer negative labels: no false positive rate")
    bootstrap: BootstrapSpec = BootstrapSpec()
    estimate: EstimateSpec = EstimateSpec()
    require_significance: bool = Field(
        True, description="breach only when the whole interval is beyond a bound (false: judge the point value)"
    )
    thresholds: FairnessThresholds = FairnessThresholds()

    @field_validator("intersections")
    @classmethod
    def _pairs(cls, intersections: list[list[str]]) -> list[list[str]]:
        seen: set[frozenset[str]] = set()
        for combo in intersections:
            if len(combo) < 2 or len(set(combo)) != len(combo):
                raise ValueError(f"an intersection names two or more different attributes, not {combo}")
            if frozenset(combo) in seen:
                raise ValueError(f"the intersection {combo} is listed twice")
            seen.add(frozenset(combo))
        return intersections

    @field_validator("attributes")
    @classmethod
    def _not_reserved(cls, attributes: list[str] | None) -> list[str] | None:
        for name in attributes or []:
            if name in cls.RESERVED:
                raise ValueError(f"{name!r} names a key of fairness slices; rename the column")
        if attributes is not None and len(set(attributes)) != len(attributes):
            raise ValueError("an attribute is listed twice")
        return attributes

    @model_validator(mode="after")
    def _consistent(self) -> FairnessConfig:
        extra = self.extra_decision_thresholds
        if len(set(extra)) != len(extra):
            raise ValueError("extra_decision_thresholds lists a threshold twice")
        if self.decision_threshold is not None and self.decision_threshold in extra:
            raise ValueError(f"extra_decision_thresholds repeats decision_threshold {self.decision_threshold}")
        if self.attributes is not None:
            unknown = sorted(set(self.reference_group) - set(self.attributes))
            if unknown:
                raise ValueError(f"reference_group names {unknown}, which are not among attributes {self.attributes}")
        return self
