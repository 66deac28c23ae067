"""The rows behind alerts: an alert's member incidents, the active alerts of a family, the trend
of a key's values, and the spec an action is announced under.

Queries for ``ethics_audit.recording`` inside its transaction (``session``); the grouping of
incidents into alerts and the payloads are ``ethics_audit.lifecycle.alerts``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def get_alert(session: Session, alert_id: int) -> Any | None:
    from ethics_audit.store.models import Alert

    return session.get(Alert, alert_id)


def members(session: Session, alert_id: int) -> list[Any]:
    """The incidents that belong to the alert."""
    from sqlalchemy import select

    from ethics_audit.store.models import Incident

    return list(session.execute(select(Incident).where(Incident.alert_id == alert_id)).scalars())


def active_alerts(session: Session, audit_id: str, check: str) -> list[Any]:
    """The family's active alerts, newest first."""
    from sqlalchemy import select

    from ethics_audit.store.models import Alert

    return list(
        session.execute(
            select(Alert)
            .where(Alert.audit_id == audit_id, Alert.check == check, Alert.status == "active")
            .order_by(Alert.id.desc())
        ).scalars()
    )


def alert_for(session: Session, audit_id: str, key: str, check: str, window: datetime) -> tuple[Any, bool]:
    """The alert with ``key``, or a new active one opened in ``window``; True when it is new."""
    from sqlalchemy import select

    from ethics_audit.store.models import Alert

    existing = session.execute(select(Alert).where(Alert.audit_id == audit_id, Alert.key == key)).scalar_one_or_none()
    if existing is not None:
        return existing, False
    alert = Alert(
        audit_id=audit_id,
        key=key,
        check=check,
        status="active",
        severity="warn",
        worst_severity="warn",
        opened_window_start=window,
        last_window_start=window,
        reopened=0,
        external={},
    )
    session.add(alert)
    session.flush()
    return alert, True


def trend_rows(
    session: Session, audit_id: str, check: str, window: datetime, items: list[Any], windows: int
) -> list[Any]:
    """The current results (window start, metric, slice key, value, severity) of the incidents'
    keys in the ``windows`` windows up to ``window``, oldest first."""
    from sqlalchemy import select, tuple_

    from ethics_audit.results import slice_key
    from ethics_audit.store.models import AuditWindow, MetricResultRow

    starts = list(
        session.execute(
            select(AuditWindow.window_start)
            .where(AuditWindow.audit_id == audit_id, AuditWindow.window_start <= window)
            .order_by(AuditWindow.window_start.desc())
            .limit(windows)
        ).scalars()
    )
    if not starts:
        return []
    return list(
        session.execute(
            select(
                MetricResultRow.window_start,
                MetricResultRow.metric,
                MetricResultRow.slice_key,
                MetricResultRow.value,
                MetricResultRow.severity,
            )
            .join(AuditWindow, AuditWindow.current_run_id == MetricResultRow.run_id)
            .where(
                AuditWindow.audit_id == audit_id,
                AuditWindow.window_start.in_(starts),
                MetricResultRow.check == check,
                # only the listed incidents' metrics and slices (a family may report thousands of rows)
                tuple_(MetricResultRow.metric, MetricResultRow.slice_key).in_(
                    sorted({(i.metric, slice_key(i.slice or {})) for i in items})
                ),
            )
            .order_by(MetricResultRow.window_start)
        ).all()
    )


def newest_spec(session: Session, audit_id: str) -> dict[str, Any] | None:
    """The stored spec of the audit's newest window (None when nothing was recorded)."""
    from sqlalchemy import select

    from ethics_audit.store.models import AuditRun, AuditWindow, SpecSnapshot

    spec_hash = session.execute(
        select(AuditRun.spec_hash)
        .join(AuditWindow, AuditWindow.current_run_id == AuditRun.id)
        .where(AuditWindow.audit_id == audit_id)
        .order_by(AuditWindow.window_start.desc())
        .limit(1)
    ).scalar_one_or_none()
    snapshot = session.get(SpecSnapshot, spec_hash) if spec_hash else None
    return None if snapshot is None else snapshot.spec
