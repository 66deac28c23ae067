"""The drift family's part of an audit spec: audited columns, Evidently stat tests, thresholds."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from ethics_audit.spec.base import ColumnName, Strict, Thresholds, ThresholdSpec, _t

# Evidently 0.7's registered stat tests (tests/checks/test_drift_evidently.py checks them against Evidently).
EVIDENTLY_STATTESTS = (
    "TVD", "abs_text_content_drift", "anderson", "chisquare", "cramer_von_mises", "ed",
    "empirical_mmd", "es", "fisher_exact", "g_test", "hellinger", "jensenshannon", "kl_div",
    "ks", "mannw", "perc_text_content_drift", "psi", "t_test", "wasserstein", "z",
)  # fmt: skip

# Evidently 0.7's column types per registered stat test (tests check this against Evidently's registry).
STATTEST_TYPES: dict[str, tuple[str, ...]] = {
    "TVD": ("categorical",),
    "abs_text_content_drift": ("text",),
    "anderson": ("numerical",),
    "chisquare": ("categorical",),
    "cramer_von_mises": ("numerical",),
    "ed": ("numerical",),
    "empirical_mmd": ("numerical",),
    "es": ("numerical",),
    "fisher_exact": ("categorical",),
    "g_test": ("categorical",),
    "hellinger": ("categorical", "numerical"),
    "jensenshannon": ("categorical", "numerical"),
    "kl_div": ("categorical", "numerical"),
    "ks": ("numerical",),
    "mannw": ("numerical",),
    "perc_text_content_drift": ("text",),
    "psi": ("categorical", "numerical"),
    "t_test": ("numerical",),
    "wasserstein": ("numerical",),
    "z": ("categorical",),
}


class StatTestSpec(Strict):
    """A drift method: any Evidently stat test by its registered name, and/or its threshold
    (a p-value for tests, a distance for distances; default: the test's own default)."""

    stattest: Literal[EVIDENTLY_STATTESTS] | None = None  # type: ignore[valid-type]
    threshold: float | None = Field(None, ge=0)

    @field_validator("stattest")
    @classmethod
    def _not_text(cls, stattest: str | None) -> str | None:
        if stattest is not None and STATTEST_TYPES.get(stattest) == ("text",):
            raise ValueError(f"{stattest!r} is for free-text columns, which checks.drift does not audit")
        return stattest


class DriftThresholds(Thresholds):
    drift_share: ThresholdSpec = _t(0.25, 0.5)


class HtmlReportSpec(Strict):
    enabled: bool = False
    sample_size: int = Field(5000, ge=100, description="rows sampled from the window and from the reference")


class DriftConfig(Strict):
    enabled: bool = True
    columns: list[ColumnName] | None = Field(None, description="default: features, score, prediction, label")
    column_types: dict[ColumnName, Literal["numerical", "categorical"]] = Field(
        default_factory=dict, description="default: Evidently's inference from the window's column"
    )
    stattest: StatTestSpec = StatTestSpec()
    per_type: dict[Literal["numerical", "categorical"], StatTestSpec] = Field(default_factory=dict)
    per_column: dict[ColumnName, StatTestSpec] = Field(default_factory=dict)
    min_reference_rows: int = Field(30, ge=1, description="fewer non-null reference values: insufficient_data")
    min_current_rows: int = Field(30, ge=1, description="fewer non-null window values: insufficient_data")
    column_severity: Literal["warn", "critical"] = "warn"
    output_severity: Literal["warn", "critical"] = Field("critical", description="for score/prediction/label")
    html_report: HtmlReportSpec = HtmlReportSpec()
    thresholds: DriftThresholds = DriftThresholds()

    @model_validator(mode="after")
    def _methods_fit_types(self) -> DriftConfig:
        problems = []
        for kind, method in self.per_type.items():
            if method.stattest and kind not in STATTEST_TYPES[method.stattest]:
                problems.append(f"per_type.{kind}.stattest: {method.stattest!r} does not apply to {kind} columns")
        for column, method in self.per_column.items():
            kind = self.column_types.get(column)
            if method.stattest and kind and kind not in STATTEST_TYPES[method.stattest]:
                problems.append(
                    f"per_column.{column}.stattest: {method.stattest!r} does not apply to {kind} columns "
                    f"(column_types.{column})"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self
