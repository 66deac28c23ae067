"""SQLAlchemy 2.0 models of the results store.

``audit_runs`` keeps every attempt to audit a window; ``audit_windows`` points at the one run
whose results are current for that window, so re-running replaces results atomically and a
failed attempt leaves the previous results in place. ``metric_results`` is long form: one row
per (run, check, metric, slice). Incidents, their events and the notification outbox live
here too, so results and the alerts they cause commit in one transaction.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JsonType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class AuditRun(Base):
    __tablename__ = "audit_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    audit_id: Mapped[str] = mapped_column(String(100))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    spec_hash: Mapped[str] = mapped_column(String(64))
    # running | succeeded | partial | empty | failed | abandoned
    status: Mapped[str] = mapped_column(String(20))
    trigger: Mapped[str] = mapped_column(String(40), default="cli")
    rows: Mapped[int | None] = mapped_column(Integer)
    reference_rows: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_s: Mapped[float | None] = mapped_column(Float)
    timings: Mapped[dict] = mapped_column(JsonType, default=dict)
    summary: Mapped[dict] = mapped_column(JsonType, default=dict)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_audit_runs_audit_window", "audit_id", "window_start"),)


class AuditWindow(Base):
    """One row per audited window: which run's results are current."""

    __tablename__ = "audit_windows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    audit_id: Mapped[str] = mapped_column(String(100))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    current_run_id: Mapped[int | None] = mapped_column(ForeignKey("audit_runs.id"))
    status: Mapped[str] = mapped_column(String(20))
    worst_severity: Mapped[str] = mapped_column(String(20), default="ok")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("audit_id", "window_start", "window_end", name="uq_audit_windows_window"),)


class MetricResultRow(Base):
    __tablename__ = "metric_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("audit_runs.id", ondelete="CASCADE"))
    audit_id: Mapped[str] = mapped_column(String(100))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    check: Mapped[str] = mapped_column("check_name", String(40))  # CHECK is a SQL keyword
    metric: Mapped[str] = mapped_column(String(100))
    slice: Mapped[dict] = mapped_column(JsonType, default=dict)
    slice_key: Mapped[str] = mapped_column(String(500))
    value: Mapped[float | None] = mapped_column(Float)
    ci_low: Mapped[float | None] = mapped_column(Float)
    ci_high: Mapped[float | None] = mapped_column(Float)
    n: Mapped[int | None] = mapped_column(Integer)
    threshold: Mapped[dict | None] = mapped_column(JsonType)
    severity: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict] = mapped_column(JsonType, default=dict)

    __table_args__ = (
        Index("ix_metric_results_run", "run_id"),
        Index("ix_metric_results_trend", "audit_id", "check_name", "metric", "window_start"),
    )


class SpecSnapshot(Base):
    """Each distinct spec version that audited something, for reports on what was in force."""

    __tablename__ = "spec_snapshots"

    spec_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    audit_id: Mapped[str] = mapped_column(String(100))
    spec: Mapped[dict] = mapped_column(JsonType)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Artifact(Base):
    """A file a run produced (Evidently HTML, GX result JSON, run report, staged parquet)."""

    __tablename__ = "artifacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("audit_runs.id", ondelete="CASCADE"))
    audit_id: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    uri: Mapped[str] = mapped_column(Text)
    bytes: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    details: Mapped[dict] = mapped_column(JsonType, default=dict)


class Incident(Base):
    """One per (audit, check, metric, slice): opened by a breach, resolved after clean windows."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    audit_id: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(700))
    check: Mapped[str] = mapped_column("check_name", String(40))  # CHECK is a SQL keyword
    metric: Mapped[str] = mapped_column(String(100))
    slice: Mapped[dict] = mapped_column(JsonType, default=dict)
    # open | acknowledged | muted | resolved
    status: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(20))
    worst_severity: Mapped[str] = mapped_column(String(20))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    first_window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    last_window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    last_value: Mapped[float | None] = mapped_column(Float)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    clean_streak: Mapped[int] = mapped_column(Integer, default=0)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    muted_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    external: Mapped[dict] = mapped_column(JsonType, default=dict)
    # added by 0002_incidents: the alert (one per problem) this incident's notifications go to
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"))
    episode: Mapped[int] = mapped_column(Integer, default=1)  # 1 + times reopened
    latest_window_start: Mapped[datetime | None] = mapped_column(UTCDateTime)  # newest window applied
    last_run_id: Mapped[int | None] = mapped_column(Integer)
    last_ci_low: Mapped[float | None] = mapped_column(Float)
    last_ci_high: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[dict | None] = mapped_column(JsonType)
    reason: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("audit_id", "key", name="uq_incidents_key"),)


class Alert(Base):
    """What people are told about: the incidents one problem caused in one check family.

    A fairness problem breaches several keys at once (parity difference, ratio, a group's
    disparate impact); they share one alert, so one Slack thread, one ticket and one page.
    ``key`` is derived from the data (audit, check, first window), so it is stable even if the
    results database is rebuilt, and it is what tickets and PagerDuty deduplicate on.
    """

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    audit_id: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(300))
    check: Mapped[str] = mapped_column("check_name", String(40))
    # active | resolved
    status: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(20))
    worst_severity: Mapped[str] = mapped_column(String(20))
    opened_window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    last_window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    # what the channels created for it: Slack channel + thread ts, Jira key, GitHub issue number
    external: Mapped[dict] = mapped_column(JsonType, default=dict)

    __table_args__ = (UniqueConstraint("audit_id", "key", name="uq_alerts_key"),)


class IncidentObservation(Base):
    """What one window said about one incident's key: ``breach`` or ``clean``.

    The incident's state is a replay of these in window order, so re-running a window replaces
    its observation instead of counting it twice, and backfilling an old window cannot reopen
    an incident that later windows resolved.
    """

    __tablename__ = "incident_windows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(10))  # breach | clean
    severity: Mapped[str] = mapped_column(String(20))
    value: Mapped[float | None] = mapped_column(Float)
    ci_low: Mapped[float | None] = mapped_column(Float)
    ci_high: Mapped[float | None] = mapped_column(Float)
    run_id: Mapped[int | None] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("incident_id", "window_start", name="uq_incident_windows_window"),)


class IncidentEvent(Base):
    """Every incident transition, with time and actor."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    transition: Mapped[str] = mapped_column(String(40))
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    run_id: Mapped[int | None] = mapped_column(Integer)
    severity: Mapped[str | None] = mapped_column(String(20))
    value: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_incident_events_incident", "incident_id"),)


class Notification(Base):
    """The outbox: written with the results, delivered after the commit, retried until sent."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
    event_id: Mapped[int | None] = mapped_column(Integer)
    audit_id: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(40))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    payload: Mapped[dict] = mapped_column(JsonType, default=dict)
    # pending | sent | failed (permanent)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    external_ref: Mapped[dict] = mapped_column(JsonType, default=dict)
    # added by 0002_incidents
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20), default="message")  # opened | updated | resolved | ...
    # a sender holds the row until then; a crashed sender's claim simply expires
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_notifications_pending", "status", "next_attempt_at"),)


class PrivacyBudgetEntry(Base):
    """Differential-privacy budget spent by published reports."""

    __tablename__ = "privacy_budget_ledger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    audit_id: Mapped[str] = mapped_column(String(100))
    year: Mapped[int] = mapped_column(Integer)
    epsilon: Mapped[float] = mapped_column(Float)
    purpose: Mapped[str] = mapped_column(String(200))
    spent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    details: Mapped[dict] = mapped_column(JsonType, default=dict)


class ActionClaim(Base):
    """A person's action from outside the CLI (a Slack button), claimed once by its key.

    Added by 0003_slack_actions. The unique key makes a replayed request, or a double click that
    finds the same incidents in the same state, apply nothing the second time."""

    __tablename__ = "action_claims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(20))  # slack
    action: Mapped[str] = mapped_column(String(40))
    alert_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(20), default="claimed")  # claimed | applied | refused | failed
    detail: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerEntry(Base):
    """One append-only ledger entry (ethics_audit.ledger; the format is docs/ledger.md).

    ``payload`` is the canonical JSON that was hashed, kept verbatim; ``entry_hash`` is
    SHA-256(previous entry's hash || payload). ``evidence`` is the zlib-compressed results
    document a window entry's digest covers, so a superseded window stays verifiable and a
    verifier can name the row and field that changed.
    """

    __tablename__ = "ledger_entries"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(20))  # window | incident_event | dp_spend | report
    audit_id: Mapped[str | None] = mapped_column(String(100))
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    run_id: Mapped[int | None] = mapped_column(Integer)  # no foreign key: deleting a run must not delete this
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
    evidence: Mapped[bytes | None] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_ledger_entries_window", "audit_id", "window_start", "window_end"),)


class LedgerCheckpoint(Base):
    """A signed tree head over the first ``tree_size`` ledger entries."""

    __tablename__ = "ledger_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tree_size: Mapped[int] = mapped_column(Integer)
    root_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    key_id: Mapped[str | None] = mapped_column(String(64))
    public_key: Mapped[str | None] = mapped_column(String(64))  # hex of the raw Ed25519 public key
    signature: Mapped[str | None] = mapped_column(String(200))  # base64; None when no key was configured
    note: Mapped[str] = mapped_column(Text, default="")
