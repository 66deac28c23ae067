"""Audit specs: what to audit, where the data is, who owns it, and what counts as a breach.

One YAML file per audited model. ``load_spec`` reads and validates one; ``validate_paths``
checks a whole tree and reports every problem as ``file: field.path: message (line N)``.
Unknown keys are errors everywhere, so a typo never silently disables a check. The models
here are pure pydantic: nothing heavy is imported, so DAG files can parse specs quickly.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    WithJsonSchema,
    WrapSerializer,
    field_validator,
    model_validator,
)

from ethics_audit import calendar_windows
from ethics_audit.errors import SpecError, SpecProblem
from ethics_audit.results import Threshold
from ethics_audit.windows import as_utc, format_duration, parse_duration, parse_instant

# Evidently 0.7's registered stat tests (tests/checks/test_drift_evidently.py checks them against Evidently).
EVIDENTLY_STATTESTS = (
    "TVD", "abs_text_content_drift", "anderson", "chisquare", "cramer_von_mises", "ed",
    "empirical_mmd", "es", "fisher_exact", "g_test", "hellinger", "jensenshannon", "kl_div",
    "ks", "mannw", "perc_text_content_drift", "psi", "t_test", "wasserstein", "z",
)  # fmt: skip
SCHEDULE_PRESETS = ("@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly")
PII_ENTITIES = ("email", "phone", "card", "iban", "ssn", "ipv4", "ipv6", "dob")
CONSENT_EVENTS = ("granted", "withdrawn", "objected", "erasure_requested")


class Strict(BaseModel):
    """Base of every spec model: unknown keys are errors, values are not coerced silently."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _duration(value: Any) -> timedelta:
    return parse_duration(value)


Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    Field(json_schema_extra={"type": "string", "examples": ["7d", "6h", "P7D"]}),
]
ColumnName = Annotated[str, Field(min_length=1)]
# a fixed duration (7d) or a calendar period (1mo, 1q, P1M, P3M); spelled as written in specs in JSON
WindowSize = Annotated[
    timedelta | calendar_windows.CalendarPeriod,
    BeforeValidator(calendar_windows.parse_window_size),
    # durations keep pydantic's own spelling (P7D), so existing specs keep their hashes
    WrapSerializer(lambda v, default: str(v) if isinstance(v, calendar_windows.CalendarPeriod) else default(v)),
    WithJsonSchema({"type": "string", "examples": ["7d", "1d", "P7D", "1mo", "P1M", "1q", "P3M"]}),
]


def _bound_value(value: Any) -> Any:
    """A threshold bound: a number or a ``[low, high]`` band; one clear message otherwise."""
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        return tuple(float(v) for v in value)
    raise ValueError(f"{value!r} is not a threshold: give a number, or a [low, high] band such as [0.8, 1.25]")


BoundValue = Annotated[float | tuple[float, float] | None, BeforeValidator(_bound_value)]
Scalar = str | int | float | bool


# --------------------------------------------------------------------------- thresholds


class ThresholdSpec(Strict):
    """When a metric is a breach. ``warn``/``critical`` are numbers, or ``[low, high]`` bands
    (a value outside the band is a breach). ``direction`` is inferred: a band means ``outside``,
    a number means the metric's usual direction (``above`` unless the metric says otherwise)."""

    warn: BoundValue = None
    critical: BoundValue = None
    direction: Literal["above", "below", "outside"] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ThresholdSpec:
        banded = [isinstance(b, tuple) for b in (self.warn, self.critical) if b is not None]
        if banded and len(set(banded)) > 1:
            raise ValueError("warn and critical must both be numbers or both be [low, high] bands")
        if banded and banded[0] and self.direction not in (None, "outside"):
            raise ValueError("a [low, high] band goes with direction 'outside'")
        if banded and not banded[0] and self.direction == "outside":
            raise ValueError("direction 'outside' needs [low, high] bands for warn and critical")
        for bound in (self.warn, self.critical):
            if isinstance(bound, tuple) and bound[0] > bound[1]:
                raise ValueError(f"band [{bound[0]}, {bound[1]}] has low > high")
        return self

    @property
    def is_band(self) -> bool:
        return isinstance(self.warn, tuple) or isinstance(self.critical, tuple)

    def to_threshold(self, *, default_direction: str = "above", require_significance: bool = False) -> Threshold:
        banded = isinstance(self.warn, tuple) or isinstance(self.critical, tuple)
        direction = self.direction or ("outside" if banded else default_direction)
        return Threshold(
            warn=self.warn, critical=self.critical, direction=direction, require_significance=require_significance
        )


def _merge_threshold_defaults(cls: type[BaseModel], data: Any) -> Any:
    """Let a user override only ``warn`` of a metric and keep its default ``critical``."""
    if not isinstance(data, dict):
        return data
    merged = dict(data)
    for name, value in data.items():
        field = cls.model_fields.get(name)
        if field is None or not isinstance(value, dict) or not isinstance(field.default, ThresholdSpec):
            continue
        base = field.default.model_dump(exclude_none=True)
        new_bounds = [b for k in ("warn", "critical") if (b := value.get(k)) is not None]
        if new_bounds and isinstance(new_bounds[0], list | tuple) != field.default.is_band:
            # the user switched between a number and a band: the default's other bound and
            # direction no longer fit
            base = {}
        merged[name] = {**base, **value}
    return merged


class Thresholds(Strict):
    """Base of per-family threshold tables: each field is one judged metric."""

    @model_validator(mode="before")
    @classmethod
    def _merge(cls, data: Any) -> Any:
        return _merge_threshold_defaults(cls, data)

    def get(self, metric: str, *, require_significance: bool = False) -> Threshold:
        spec: ThresholdSpec = getattr(self, metric)
        default = type(self).model_fields[metric].default
        return spec.to_threshold(
            default_direction=(default.direction or "above"), require_significance=require_significance
        )


def _t(warn: Any, critical: Any, direction: str | None = None) -> ThresholdSpec:
    return ThresholdSpec(warn=warn, critical=critical, direction=direction)


# --------------------------------------------------------------------------- sources


_FORMATTED_WINDOW = re.compile(
    r"\{\{[^}]*\}\}|\{[^}]*\}|%\(\s*\w+\s*\)s|%s|\$\{[^}]*\}"
    # literal dates, however quoted: '2026-07-27', "2026-07-27 00:00", '20260727', '2026/07/27'
    r"|'\s*\d{4}[-/]?\d{2}[-/]?\d{2}[^']*'|\"\s*\d{4}[-/]?\d{2}[-/]?\d{2}[^\"]*\""
)
# comments and string literals: a bind written there binds nothing
_NOT_SQL_CODE = re.compile(r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'", re.S)
_PASSWORD_IN_URL = re.compile(r"^[\w+.-]+://[^/:@]*:(?!\$\{)[^@/]+@")


class SourceSpec(Strict):
    """Where rows come from. Either a SQL ``query`` through ``url`` or an Airflow
    ``connection_id``, with ``:window_start`` and ``:window_end`` bound as parameters; or a
    parquet/CSV ``path`` (a glob is fine) filtered to the window by the timestamp column.
    ``${VAR}`` and ``${VAR:-default}`` in ``url`` and ``path`` are read from the environment."""

    query: str | None = None
    url: str | None = Field(None, description="SQLAlchemy URL; put passwords in ${ENV_VARS}")
    connection_id: str | None = Field(None, description="Airflow connection id (used under Airflow)")
    path: str | None = Field(None, description="parquet or CSV file, directory or glob")
    format: Literal["parquet", "csv"] | None = Field(None, description="default: from the file extension")
    na_values: list[str] = Field(
        default_factory=list,
        description="CSV only: cell texts that mean a missing value (e.g. [NA, null]); an empty cell is an "
        "empty string in a text column and missing in a numeric or timestamp column",
    )
    encoding: str = Field("utf-8", description="CSV only: the files' text encoding")

    @model_validator(mode="after")
    def _one_kind(self) -> SourceSpec:
        if self.path and (self.query or self.url or self.connection_id):
            raise ValueError("give either path (a file source) or query with url/connection_id (SQL), not both")
        if not self.path and not self.query:
            raise ValueError("give a path (parquet/CSV) or a SQL query with url or connection_id")
        if self.query and not (self.url or self.connection_id):
            raise ValueError("a SQL query needs url (SQLAlchemy URL) or connection_id (Airflow connection)")
        if self.query and self.url and self.connection_id:
            raise ValueError("give url or connection_id, not both")
        if self.format and not self.path:
            raise ValueError("format applies to path sources only")
        if (self.na_values or self.encoding != "utf-8") and not self.path:
            raise ValueError("na_values and encoding apply to CSV path sources only")
        return self

    @field_validator("query")
    @classmethod
    def _bound_not_formatted(cls, query: str | None) -> str | None:
        if query is None:
            return query
        bad = _FORMATTED_WINDOW.search(query)
        if bad:
            raise ValueError(
                f"the query formats a value into the SQL text ({bad.group(0)!r}); bind the window "
                "instead, e.g. WHERE ts >= :window_start AND ts < :window_end"
            )
        return query

    @field_validator("url")
    @classmethod
    def _no_literal_password(cls, url: str | None) -> str | None:
        if url and _PASSWORD_IN_URL.match(url):
            raise ValueError(
                "the URL holds a literal password; read it from the environment, e.g. "
                "postgresql+psycopg://user:${PGPASSWORD}@host/db"
            )
        return url

    @property
    def kind(self) -> str:
        return "sql" if self.query else "file"

    def describe(self) -> str:
        """A log-safe one-liner (no URL: it may carry credentials after expansion)."""
        if self.query:
            return f"SQL via {'connection ' + self.connection_id if self.connection_id else 'url'}"
        return f"{self.format or 'file'} {self.path}"


class WindowedSourceSpec(SourceSpec):
    """The predictions source: a SQL query must bind both ``:window_start`` and ``:window_end``."""

    @model_validator(mode="after")
    def _binds_window(self) -> WindowedSourceSpec:
        if self.query:
            code = _NOT_SQL_CODE.sub(" ", self.query)
            missing = [p for p in (":window_start", ":window_end") if not re.search(re.escape(p) + r"\b", code)]
            if missing:
                raise ValueError(
                    f"the query must bind {' and '.join(missing)}, e.g. WHERE ts >= :window_start AND ts < :window_end"
                )
        return self


# --------------------------------------------------------------------------- model, owners, window


class ModelInfo(Strict):
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    description: str = ""
    purpose: str | None = Field(None, description="processing purpose, matched against the consent ledger")


class Owners(Strict):
    people: list[str] = Field(default_factory=list, description="names or handles of the model's owners")
    slack_channel: str | None = Field(None, description="e.g. #ads-ml-alerts")
    ticket_project: str | None = Field(None, description="Jira project key (ADS) or GitHub repo (org/repo)")
    github_repo: str | None = Field(None, description="org/repo for GitHub Issues when ticket_project is a Jira key")
    oncall_routing_key_env: str | None = Field(
        None, description="name of the environment variable holding the PagerDuty routing key"
    )

    @field_validator("oncall_routing_key_env")
    @classmethod
    def _env_name(cls, name: str | None) -> str | None:
        # the key itself must never sit in a spec file that is committed and snapshotted
        if name is not None and not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
            raise ValueError(
                "give the NAME of an environment variable (e.g. PAGERDUTY_ROUTING_KEY_ADS), not the key itself"
            )
        return name


def _instant(value: Any) -> Any:
    """A YAML date (``2026-07-06``) or datetime, read as UTC."""
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if isinstance(value, str):
        return parse_instant(value)
    return value


class WindowSpec(Strict):
    size: WindowSize = Field(
        description="length of one audited window: a duration (7d) or a calendar period (1mo, 1q, P1M, P3M) "
        "aligned to the calendar in the spec's timezone"
    )
    lag: Duration = Field(default=timedelta(0), description="wait this long after a window ends (late data)")
    start: Annotated[datetime | None, BeforeValidator(_instant)] = Field(
        None, description="under Airflow: the first window starts here, and every window since is caught up"
    )

    @field_validator("size")
    @classmethod
    def _positive(cls, size: Any) -> Any:
        if isinstance(size, timedelta) and size <= timedelta(0):
            raise ValueError("window size must be positive")
        return size


class ReferenceSpec(Strict):
    """The data the window is compared with: a fixed ``baseline`` or the ``previous_windows``."""

    baseline: SourceSpec | None = None
    previous_windows: int | None = Field(None, ge=1, le=52)

    @model_validator(mode="after")
    def _exactly_one(self) -> ReferenceSpec:
        if (self.baseline is None) == (self.previous_windows is None):
            raise ValueError("give exactly one of baseline (a source) or previous_windows (a count)")
        return self


class Columns(Strict):
    """Which column plays which role. Names are the source's own column names."""

    entity_id: ColumnName = Field(description="the user (data subject) a prediction is about")
    timestamp: ColumnName = Field(description="when the prediction was made")
    prediction_id: ColumnName | None = None
    prediction: ColumnName | None = Field(None, description="the decision (e.g. 0/1 ad shown)")
    score: ColumnName | None = Field(None, description="model score in [0, 1]")
    label: ColumnName | None = Field(None, description="observed outcome; may arrive late")
    training_member: ColumnName | None = Field(None, description="boolean: entity was in the training set")
    features: list[ColumnName] = Field(default_factory=list)
    sensitive: list[ColumnName] = Field(default_factory=list, description="protected attributes")
    quasi_identifiers: list[ColumnName] = Field(default_factory=list)
    text: list[ColumnName] = Field(default_factory=list, description="free-text columns scanned for PII")

    ROLES: ClassVar[tuple[str, ...]] = (
        "entity_id",
        "timestamp",
        "prediction_id",
        "prediction",
        "score",
        "label",
        "training_member",
    )

    @model_validator(mode="after")
    def _each_column_once(self) -> Columns:
        seen: dict[str, str] = {}
        problems = []
        for role in self.ROLES:
            name = getattr(self, role)
            if name is None:
                continue
            if name in seen:
                problems.append(f"column {name!r} is mapped twice: as {seen[name]} and as {role}")
            seen[name] = role
        for listed in ("features", "text", "sensitive", "quasi_identifiers"):
            names = getattr(self, listed)
            for name in {n for n in names if names.count(n) > 1}:
                problems.append(f"column {name!r} is listed twice in {listed}")
            for name in names:
                if name in seen and not seen[name].startswith(("features", "text", "sensitive", "quasi")):
                    problems.append(f"column {name!r} is mapped twice: as {seen[name]} and in {listed}")
        for name in set(self.features) & set(self.text):
            problems.append(f"column {name!r} is mapped twice: in features and in text")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def all(self) -> list[str]:
        """Every mapped column, each once, in a stable order."""
        names = [getattr(self, r) for r in self.ROLES]
        names += self.features + self.sensitive + self.quasi_identifiers + self.text
        return list(dict.fromkeys(n for n in names if n))


class LabelSource(Strict):
    """Labels that arrive after the prediction, joined to it by ``join_on``."""

    source: SourceSpec
    column: ColumnName = Field(description="label column in the label source")
    join_on: list[ColumnName] = Field(
        default_factory=lambda: ["entity_id"],
        description="roles to join on: entity_id, prediction_id and/or timestamp",
    )

    @field_validator("join_on")
    @classmethod
    def _roles(cls, join_on: list[str]) -> list[str]:
        bad = [j for j in join_on if j not in ("entity_id", "prediction_id", "timestamp")]
        if bad or not join_on:
            raise ValueError("join_on lists roles from entity_id, prediction_id, timestamp")
        return join_on


# --------------------------------------------------------------------------- check families


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


class BootstrapSpec(Strict):
    resamples: int = Field(200, ge=0, le=10000, description="0 turns intervals off")
    confidence: float = Field(0.95, gt=0, lt=1)
    seed: int = 0


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


class PiiThresholds(Thresholds):
    pii_share: ThresholdSpec = _t(None, None)
    email_share: ThresholdSpec = _t(0.0, 0.001)
    phone_share: ThresholdSpec = _t(0.0, 0.001)
    card_count: ThresholdSpec = _t(None, 0.0)
    iban_count: ThresholdSpec = _t(None, 0.0)
    ssn_count: ThresholdSpec = _t(None, 0.0)
    ip_share: ThresholdSpec = _t(0.0, 0.01)
    dob_share: ThresholdSpec = _t(0.0, 0.01)
    identifier_column_names: ThresholdSpec = _t(0.0, None)
    name_share: ThresholdSpec = _t(0.0, 0.001)


class PiiSpec(Strict):
    enabled: bool = True
    columns: list[ColumnName] | None = Field(None, description="default: every string column")
    exclude_columns: list[ColumnName] = Field(default_factory=list)
    entities: list[Literal[PII_ENTITIES]] = Field(default_factory=lambda: list(PII_ENTITIES))  # type: ignore[valid-type]
    examples: int = Field(3, ge=0, le=10, description="masked examples per column and entity (0: none)")
    identifier_names: dict[str, list[str]] = Field(
        default_factory=dict,
        description="more column names per identifier kind (name, email, phone, address, dob, national_id, payment, "
        "ip, or a kind of your own), shell patterns such as '*_vorname'; added to the built-in list",
    )
    name_columns: list[ColumnName] = Field(
        default_factory=list, description="columns that hold personal names: read for name-shaped values"
    )
    thresholds: PiiThresholds = PiiThresholds()


class ReidentificationThresholds(Thresholds):
    k_anonymity: ThresholdSpec = _t(None, None, "below")
    share_below_k: ThresholdSpec = _t(0.01, 0.05)
    sample_uniqueness: ThresholdSpec = _t(0.01, 0.05)
    l_diversity: ThresholdSpec = _t(None, None, "below")


class ReidentificationSpec(Strict):
    enabled: bool = True
    k: int = Field(5, ge=2, description="k-anonymity below k warns (unless thresholds.k_anonymity sets bounds)")
    l: int | None = Field(  # noqa: E741 - the l of l-diversity
        None,
        ge=2,
        description="l-diversity below l warns (unless thresholds.l_diversity sets bounds); unset: reported only",
    )
    thresholds: ReidentificationThresholds = ReidentificationThresholds()


class ConsentColumns(Strict):
    entity_id: ColumnName = "entity_id"
    purpose: ColumnName = "purpose"
    event: ColumnName = "event"
    timestamp: ColumnName = "timestamp"


class ConsentThresholds(Thresholds):
    predictions_after_withdrawal: ThresholdSpec = _t(None, 0.0)
    rows_past_retention: ThresholdSpec = _t(0.0, None)
    entities_past_erasure_deadline: ThresholdSpec = _t(None, 0.0)
    entities_without_grant: ThresholdSpec = _t(None, None)


class ConsentSpec(Strict):
    source: SourceSpec = Field(description="consent ledger: entity id, purpose, event, timestamp")
    columns: ConsentColumns = ConsentColumns()
    purpose: str | None = Field(None, description="default: model.purpose")
    grace_period: Duration = timedelta(0)
    erasure_deadline: Duration = timedelta(days=30)
    thresholds: ConsentThresholds = ConsentThresholds()


class MembershipThresholds(Thresholds):
    attack_auc: ThresholdSpec = _t(0.6, 0.7)
    attacker_advantage: ThresholdSpec = _t(None, None)
    tpr_at_1pct_fpr: ThresholdSpec = _t(None, None)
    generalisation_gap: ThresholdSpec = _t(None, None)


class MembershipSpec(Strict):
    column: ColumnName | None = Field(None, description="boolean column: the entity was a training member")
    source: SourceSpec | None = Field(None, description="manifest of training entity ids")
    manifest_entity_column: ColumnName = "entity_id"
    min_group_size: int = Field(30, ge=1, description="fewer members or non-members: insufficient data")
    bootstrap: BootstrapSpec = BootstrapSpec()
    require_significance: bool = Field(True, description="judge attack_auc by the lower end of its interval")
    thresholds: MembershipThresholds = MembershipThresholds()

    @model_validator(mode="after")
    def _one(self) -> MembershipSpec:
        if (self.column is None) == (self.source is None):
            raise ValueError("give exactly one of column (in the predictions) or source (a manifest)")
        return self


class PrivacyConfig(Strict):
    enabled: bool = True
    pii: PiiSpec = PiiSpec()
    reidentification: ReidentificationSpec = ReidentificationSpec()
    consent: ConsentSpec | None = None
    retention: Duration | None = Field(None, description="rows older than this must not be kept")
    membership: MembershipSpec | None = None


# the fifth family's models live in their own module; it needs the base models above
from ethics_audit.spec_transparency import TransparencyConfig, transparency_problems  # noqa: E402

FAMILIES = ("quality", "drift", "fairness", "privacy", "transparency")


class ChecksConfig(Strict):
    quality: QualityConfig | None = None
    drift: DriftConfig | None = None
    fairness: FairnessConfig | None = None
    privacy: PrivacyConfig | None = None
    transparency: TransparencyConfig | None = None

    def enabled(self) -> list[str]:
        """Configured and enabled families, in the order they run."""
        return [name for name in FAMILIES if (c := getattr(self, name)) and c.enabled]


# --------------------------------------------------------------------------- incidents, notifications


CHANNELS = ("console", "slack", "slack_webhook", "jira", "github", "pagerduty", "webhook")


class Route(Strict):
    """Send alerts of these severities (and, optionally, only these check families) to these channels."""

    severities: list[Literal["warn", "critical"]] = Field(default_factory=lambda: ["warn", "critical"])
    channels: list[Literal[CHANNELS]]  # type: ignore[valid-type]
    checks: list[Literal[FAMILIES]] | None = Field(  # type: ignore[valid-type]
        None, description="only alerts of these check families (default: all)"
    )


class NotificationsSpec(Strict):
    routes: list[Route] = Field(default_factory=lambda: [Route(channels=["console"])])


class IncidentsSpec(Strict):
    resolve_after_clean_windows: int = Field(2, ge=1)
    alert_after_error_windows: int = Field(
        3, ge=0, description="tell the owners when a check family fails this many windows in a row (0: never)"
    )


# --------------------------------------------------------------------------- reports


class ReportsSpec(Strict):
    """The publishable (differentially private) quarterly report: budget and release rules."""

    dp_yearly_epsilon: float = Field(
        1.0, gt=0, le=20, description="privacy budget (epsilon) that public reports may spend per calendar year"
    )
    dp_delta: float = Field(
        1e-7, gt=0, lt=0.001, description="chance that the minimum-count rule itself reveals a small group"
    )
    dp_min_count: int = Field(50, ge=1, description="groups whose noisy count is below this are not published")
    dp_contributions_per_entity: int = Field(
        1, ge=1, description="most prediction rows one person contributes in a quarter (1: the unit is one row)"
    )


# --------------------------------------------------------------------------- the spec


class AuditSpec(Strict):
    """One audited model: the root of an ``audits/*.yaml`` file."""

    id: str = Field(description="stable id: lowercase letters, digits, _ and -; names the DAG and the history")
    model: ModelInfo
    owners: Owners = Owners()
    schedule: str = Field("@weekly", description="cron expression or preset such as @daily, @weekly")
    timezone: str = Field(
        "UTC", description="IANA time zone of calendar windows (1mo, 1q): months start at midnight here"
    )
    window: WindowSpec
    source: WindowedSourceSpec
    reference: ReferenceSpec | None = None
    labels: LabelSource | None = None
    columns: Columns
    checks: ChecksConfig = ChecksConfig()
    incidents: IncidentsSpec = IncidentsSpec()
    notifications: NotificationsSpec = NotificationsSpec()
    reports: ReportsSpec = ReportsSpec()
    staging_retention: Duration = Field(
        timedelta(days=7), description="under Airflow: keep the staged copy of a window's rows this long (raw data)"
    )

    _path: Path | None = PrivateAttr(default=None)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,99}", value):
            raise ValueError(f"{value!r} is not a valid id: use lowercase letters, digits, _ and - (e.g. ad-delivery)")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, name: str) -> str:
        calendar_windows.zone(name)  # raises ValueError naming the fix
        return name

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, schedule: str) -> str:
        if schedule in SCHEDULE_PRESETS:
            return schedule
        fields = schedule.split()
        if len(fields) != 5 or not all(re.fullmatch(r"[\d*/,\-A-Za-z?LW#]+", f) for f in fields):
            raise ValueError(
                f"{schedule!r} is not a cron expression (5 fields) or one of {', '.join(SCHEDULE_PRESETS)}"
            )
        from croniter import croniter

        if not croniter.is_valid(schedule):
            raise ValueError(f"{schedule!r} is not a valid cron expression")
        return schedule

    @property
    def path(self) -> Path | None:
        """The file this spec was loaded from (relative source paths resolve against its folder)."""
        return self._path

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def spec_hash(self) -> str:
        """Content hash: changes whenever anything that affects the audit changes."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:16]

    def describe_window(self) -> str:
        size = calendar_windows.format_size(self.window.size)
        where = f" ({self.timezone} calendar)" if isinstance(self.window.size, calendar_windows.CalendarPeriod) else ""
        return f"{size} windows{where}, lag {format_duration(self.window.lag)}"


def cross_field_problems(spec: AuditSpec) -> list[tuple[str, str]]:
    """Problems that involve several parts of a spec, as (field path, message)."""
    problems = []
    fairness = spec.checks.fairness
    if fairness and fairness.enabled:
        attributes = fairness.attributes or spec.columns.sensitive
        if not attributes:
            problems.append(("checks.fairness", "needs sensitive attributes: list them in columns.sensitive"))
        unknown = sorted(set(fairness.reference_group) - set(attributes or []))
        if unknown and fairness.attributes is None:
            problems.append(
                (
                    "checks.fairness.reference_group",
                    f"names {unknown}, which are not sensitive attributes (columns.sensitive: {attributes}); "
                    "key each reference group by a sensitive attribute",
                )
            )
        for name in sorted(set(fairness.legitimate_factors) & set(attributes)):
            problems.append(("checks.fairness.legitimate_factors", f"{name!r} is a sensitive attribute"))
        for i, combo in enumerate(fairness.intersections):
            missing = [a for a in combo if a not in attributes]
            if missing:
                problems.append((f"checks.fairness.intersections[{i}]", f"{missing} are not sensitive attributes"))
        if spec.columns.prediction is None and spec.columns.score is None:
            problems.append(("checks.fairness", "needs columns.prediction, or columns.score with decision_threshold"))
        elif spec.columns.prediction is None and fairness.decision_threshold is None:
            problems.append(("checks.fairness.decision_threshold", "is required when there is no columns.prediction"))
    drift = spec.checks.drift
    if drift and drift.enabled and spec.reference is None:
        problems.append(("checks.drift", "needs a reference: set reference.baseline or reference.previous_windows"))
    privacy = spec.checks.privacy
    if privacy and privacy.consent and not (privacy.consent.purpose or spec.model.purpose):
        problems.append(("checks.privacy.consent.purpose", "is required (or set model.purpose)"))
    problems += transparency_problems(spec)
    problems += _route_problems(spec) + _calendar_problems(spec)
    return problems


def _calendar_problems(spec: AuditSpec) -> list[tuple[str, str]]:
    """Calendar windows run at each window's end: a schedule of their own would audit other windows."""
    size = spec.window.size
    if not isinstance(size, calendar_windows.CalendarPeriod):
        return []
    problems = []
    presets = {1: "@monthly", 3: "@quarterly", 12: "@yearly"}
    fits = {calendar_windows.cron_of(size), presets.get(size.months)}
    if "schedule" in spec.model_fields_set and spec.schedule not in fits:
        problems.append(
            (
                "schedule",
                f"{spec.schedule!r} does not fit {size} windows, which are audited when each one ends; "
                f"remove schedule or write {presets.get(size.months) or calendar_windows.cron_of(size)!r}",
            )
        )
    start = spec.window.start
    if start is not None and not calendar_windows.is_boundary(start, size, spec.timezone):
        first = calendar_windows.window_containing(start, size, spec.timezone)[1]
        problems.append(
            (
                "window.start",
                f"{start.isoformat()} is not the start of a {size} window in {spec.timezone}; "
                f"write e.g. {first.isoformat()}",
            )
        )
    return problems


def _route_problems(spec: AuditSpec) -> list[tuple[str, str]]:
    """Channels that cannot know where to send: say which owners field they need."""
    owners, problems = spec.owners, []
    routed = {channel: i for i, route in enumerate(spec.notifications.routes) for channel in route.channels}
    if "slack" in routed and not owners.slack_channel:
        problems.append(("owners.slack_channel", "is required by the slack channel in notifications.routes"))
    if "jira" in routed and not (owners.ticket_project and re.fullmatch(r"[A-Z][A-Z0-9_]+", owners.ticket_project)):
        problems.append(("owners.ticket_project", "must be a Jira project key such as ADS for the jira channel"))
    github_repo = owners.github_repo or owners.ticket_project
    if "github" in routed and not (github_repo and re.fullmatch(r"[\w.-]+/[\w.-]+", github_repo)):
        problems.append(("owners.github_repo", "must be org/repo for the github channel (or set ticket_project to it)"))
    if "pagerduty" in routed and not owners.oncall_routing_key_env:
        problems.append(
            ("owners.oncall_routing_key_env", "names the environment variable with the PagerDuty routing key")
        )
    return problems


# --------------------------------------------------------------------------- loading


def json_schema() -> dict[str, Any]:
    return AuditSpec.model_json_schema(mode="validation")


def _safe_loader() -> Any:
    """libyaml's safe loader when PyYAML has it: ~8x faster, and the DAG processor parses every spec."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _yaml_lines(text: str) -> tuple[dict[tuple, int], list[tuple[tuple, int]]]:
    """Map each key path to its 1-based line, and list duplicate keys (YAML would drop one)."""
    import yaml

    lines: dict[tuple, int] = {}
    duplicates: list[tuple[tuple, int]] = []

    def walk(node: Any, path: tuple) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key, value in node.value:
                name = key.value
                if name in seen:
                    duplicates.append((path + (name,), key.start_mark.line + 1))
                seen.add(name)
                lines[path + (name,)] = key.start_mark.line + 1
                walk(value, path + (name,))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, path + (i,))

    root = yaml.compose(text, Loader=_safe_loader())
    if root is not None:
        walk(root, ())
    return lines, duplicates


def _dotted(loc: tuple) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts)


def _line_of(loc: tuple, lines: dict[tuple, int]) -> int | None:
    """The line of the deepest part of ``loc`` that the YAML has (a missing key: its parent's)."""
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return None


def _problems_from(exc: ValidationError, file: str, lines: dict[tuple, int]) -> list[SpecProblem]:
    problems = []
    for error in exc.errors():
        # pydantic puts union/tagged branch names and validator names in loc: keep only real keys
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; `ethics-audit schema` lists the keys)"
        elif error["type"] == "missing":
            message = "required field is missing"
        problems.append(SpecProblem(file=file, field=_dotted(loc), message=message, line=_line_of(loc, lines)))
    unique = list(dict.fromkeys(problems))
    return unique


def parse_spec(text: str, file: str = "<spec>") -> AuditSpec:
    """Validate YAML text; raise ``SpecError`` listing every problem."""
    import yaml

    try:
        lines, duplicates = _yaml_lines(text)
        data = yaml.load(text, Loader=_safe_loader())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise SpecError([SpecProblem(file, "", f"not valid YAML: {reason}", line)]) from None
    problems = [
        SpecProblem(file, _dotted(p), "duplicate key (YAML keeps only the last one)", ln) for p, ln in duplicates
    ]
    if not isinstance(data, dict):
        problems.append(
            SpecProblem(file, "", "an audit spec is a YAML mapping with id, model, window, source, columns")
        )
        raise SpecError(problems)
    try:
        spec = AuditSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(problems + _problems_from(exc, file, lines)) from None
    for field, message in cross_field_problems(spec):
        path = tuple(int(p) if p.isdigit() else p for p in re.split(r"[.\[\]]+", field) if p)
        problems.append(SpecProblem(file, field, message, _line_of(path, lines)))
    if problems:
        raise SpecError(problems)
    return spec


def load_spec(path: str | Path) -> AuditSpec:
    """Read and validate one spec file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError([SpecProblem(str(path), "", f"cannot read the file: {exc.strerror or exc}")]) from None
    spec = parse_spec(text, str(path))
    spec._path = path.resolve()
    return spec


def spec_files(paths: list[str | Path]) -> list[Path]:
    """Expand files and directories (recursively) into the sorted list of YAML specs."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
        else:
            found.append(path)
    return found


def validate_paths(paths: list[str | Path]) -> tuple[list[AuditSpec], list[SpecProblem]]:
    """Validate every spec under ``paths``: the good specs, and every problem of the bad ones.

    Two files with the same ``id`` are a problem too: ids name DAGs and history.
    """
    specs: list[AuditSpec] = []
    problems: list[SpecProblem] = []
    ids: dict[str, Path] = {}
    files = spec_files(paths)
    if not files:
        problems.append(SpecProblem(", ".join(map(str, paths)), "", "no .yaml or .yml spec files found"))
    for file in files:
        try:
            spec = load_spec(file)
        except SpecError as exc:
            problems += exc.problems
            continue
        if spec.id in ids:
            problems.append(SpecProblem(str(file), "id", f"id {spec.id!r} is already used by {ids[spec.id]}"))
            continue
        ids[spec.id] = file
        specs.append(spec)
    return specs, problems
