"""The root of an audit spec: the model, owners, window, columns, checks, routes and reports.

``AuditSpec`` is one ``audits/*.yaml`` file. The per-family configs are in their own modules;
``ChecksConfig`` gathers them under the family names of the ``checks`` registry.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, PrivateAttr, field_validator, model_serializer, model_validator

from ethics_audit import calendar_windows
from ethics_audit.checks import FAMILIES
from ethics_audit.spec.base import ColumnName, Duration, Strict, WindowSize
from ethics_audit.spec.drift import DriftConfig
from ethics_audit.spec.engine import EngineSpec
from ethics_audit.spec.fairness import FairnessConfig
from ethics_audit.spec.privacy import PrivacyConfig
from ethics_audit.spec.quality import QualityConfig
from ethics_audit.spec.sources import LabelSource, ReferenceSpec, WindowedSourceSpec
from ethics_audit.spec.transparency import TransparencyConfig
from ethics_audit.windows import as_utc, format_duration, parse_instant

SCHEDULE_PRESETS = ("@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly")


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


# --------------------------------------------------------------------------- check families


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
    checks: list[Literal[tuple(FAMILIES)]] | None = Field(  # type: ignore[valid-type]
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
    engine: EngineSpec = EngineSpec()

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

    @model_serializer(mode="wrap")
    def _without_default_engine(self, handler: Any) -> dict[str, Any]:
        # a spec that does not choose an engine keeps the JSON (and so the hash) it always had
        out = handler(self)
        if self.engine == EngineSpec() and isinstance(out, dict):
            out.pop("engine", None)
        return out

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
