"""The quality family's part of an audit spec: required columns, types, ranges, expectations."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ethics_audit.spec.base import ColumnName, Scalar, Strict, Thresholds, ThresholdSpec, _t


class QualityThresholds(Thresholds):
    null_share: ThresholdSpec = _t(0.01, 0.05)
    row_count_drop: ThresholdSpec = _t(0.3, 0.5)
    out_of_range_share: ThresholdSpec = _t(0.0, 0.01)
    unexpected_category_share: ThresholdSpec = _t(0.0, 0.01)
    duplicate_id_share: ThresholdSpec = _t(0.0, 0.001)
    outside_window_share: ThresholdSpec = _t(0.0, 0.01)
    type_mismatch: ThresholdSpec = _t(None, 0.0)


QUALITY_TYPES = ("numeric", "string", "boolean", "datetime")


class ExpectationSpec(Strict):
    """Any further Great Expectations expectation, by its snake_case name and arguments."""

    expectation: str = Field(pattern=r"^expect_[a-z0-9_]+$", description="e.g. expect_column_values_to_match_regex")
    kwargs: dict[str, Any] = Field(default_factory=dict)
    severity: Literal["warn", "critical"] = "warn"
    blocking: bool = Field(False, description="a failure skips the window's other checks (needs severity critical)")

    @model_validator(mode="after")
    def _blocking_is_critical(self) -> ExpectationSpec:
        if self.blocking and self.severity != "critical":
            raise ValueError("a blocking expectation must have severity: critical")
        return self


class QualityConfig(Strict):
    enabled: bool = True
    required_columns: list[ColumnName] | None = Field(None, description="default: every mapped column")
    column_types: dict[ColumnName, Literal[QUALITY_TYPES]] = Field(  # type: ignore[valid-type]
        default_factory=dict,
        description="expected kind per column; default: score numeric, timestamp datetime, "
        "other mapped columns (except the label) the kind they have in the reference",
    )
    allowed_categories: dict[ColumnName, list[Scalar]] = Field(default_factory=dict)
    score_range: tuple[float, float] = (0.0, 1.0)
    min_rows: int = Field(1, ge=0)
    row_count_history_windows: int = Field(4, ge=1, description="median of the last N windows")
    null_share_per_column: dict[ColumnName, ThresholdSpec] = Field(
        default_factory=dict, description="replaces thresholds.null_share for these columns (the label is unchecked)"
    )
    expectations: list[ExpectationSpec] = Field(default_factory=list)
    thresholds: QualityThresholds = QualityThresholds()

    @field_validator("score_range")
    @classmethod
    def _ordered(cls, score_range: tuple[float, float]) -> tuple[float, float]:
        if score_range[0] > score_range[1]:
            raise ValueError(f"score_range [{score_range[0]}, {score_range[1]}] has low > high")
        return score_range
