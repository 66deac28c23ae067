"""The rows behind the incident lifecycle: incidents, their per-window observations and events.

Every query and row change ``ethics_audit.recording`` needs to advance an audit's incidents
through one window (or apply a person's action), inside the caller's transaction (``session``).
What the rows should become is decided by ``ethics_audit.lifecycle``; nothing here judges.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def update_row(row: Any, updates: dict[str, Any]) -> None:
    """Set the columns ``updates`` names (the changes a lifecycle function returned)."""
    for name, value in updates.items():
        setattr(row, name, value)


def incidents_of(session: Session, audit_id: str) -> dict[str, Any]:
    """The audit's incidents by key."""
    from sqlalchemy import select

    from ethics_audit.store.models import Incident

    return {i.key: i for i in session.execute(select(Incident).where(Incident.audit_id == audit_id)).scalars()}


def incidents_by_id(session: Session, incident_ids: Sequence[int]) -> list[tuple[int, Any | None]]:
    """Each id with its incident, or None when it does not exist."""
    from ethics_audit.store.models import Incident

    return [(incident_id, session.get(Incident, incident_id)) for incident_id in incident_ids]


def add_incident(session: Session, fields: dict[str, Any]) -> Any:
    from ethics_audit.store.models import Incident

    incident = Incident(**fields)
    session.add(incident)
    return incident


def add_event(
    session: Session,
    incident: Any,
    transition: str,
    actor: str,
    at: datetime,
    window: datetime | None,
    run_id: int | None,
    note: str,
) -> Any:
    """One transition of one incident (stamped with the incident's current severity and value)."""
    from ethics_audit.store.models import IncidentEvent

    event = IncidentEvent(
        incident_id=incident.id,
        at=at,
        actor=actor,
        transition=transition,
        window_start=window,
        run_id=run_id,
        severity=incident.severity,
        value=incident.last_value,
        note=note,
    )
    session.add(event)
    return event


def add_observation(session: Session, incident_id: int, window_start: datetime, fields: dict[str, Any]) -> Any:
    """A window's verdict on an incident's key (``fields``: outcome, severity, value, interval, run)."""
    from ethics_audit.store.models import IncidentObservation

    row = IncidentObservation(incident_id=incident_id, window_start=window_start, **fields)
    session.add(row)
    return row


def remove_observation(session: Session, row: Any) -> None:
    session.delete(row)


def observations_from_episode(session: Session, audit_id: str, window: datetime) -> dict[int, dict[datetime, Any]]:
    """Observations from each incident's current episode on (all of them for a backfill before it)."""
    from sqlalchemy import or_, select

    from ethics_audit.store.models import Incident, IncidentObservation

    rows = session.execute(
        select(IncidentObservation)
        .join(Incident, Incident.id == IncidentObservation.incident_id)
        .where(Incident.audit_id == audit_id)
        .where(
            or_(
                IncidentObservation.window_start >= Incident.first_window_start,
                Incident.first_window_start > window,
            )
        )
    ).scalars()
    out: dict[int, dict[datetime, Any]] = {}
    for row in rows:
        out.setdefault(row.incident_id, {})[row.window_start] = row
    return out


def all_observations(session: Session, incident_id: int) -> dict[datetime, Any]:
    from sqlalchemy import select

    from ethics_audit.store.models import IncidentObservation

    rows = session.execute(select(IncidentObservation).where(IncidentObservation.incident_id == incident_id)).scalars()
    return {row.window_start: row for row in rows}


def manual_resolutions(session: Session, audit_id: str, system_actor: str) -> dict[int, list[datetime]]:
    """Per incident, the windows at which a person (any actor but ``system_actor``) resolved it."""
    from sqlalchemy import select

    from ethics_audit.store.models import Incident, IncidentEvent

    rows = session.execute(
        select(IncidentEvent.incident_id, IncidentEvent.window_start)
        .join(Incident, Incident.id == IncidentEvent.incident_id)
        .where(
            Incident.audit_id == audit_id,
            IncidentEvent.transition == "resolved",
            IncidentEvent.actor != system_actor,
            IncidentEvent.window_start.is_not(None),
        )
    ).all()
    out: dict[int, list[datetime]] = {}
    for incident_id, boundary in rows:
        out.setdefault(incident_id, []).append(boundary)
    return out


def has_later_window(session: Session, audit_id: str, window: datetime) -> bool:
    """Has a window after ``window`` been recorded (so recording ``window`` is a backfill)?"""
    from sqlalchemy import select

    from ethics_audit.store.models import AuditWindow

    return (
        session.execute(
            select(AuditWindow.id).where(AuditWindow.audit_id == audit_id, AuditWindow.window_start > window).limit(1)
        ).first()
        is not None
    )


def recorded_meanwhile(session: Session, row: Any, run: Any) -> bool:
    """True when the run that recorded ``row`` finished after ``run`` started: the two ran at the
    same time (two windows audited at once), so this window is as new as that one, not a backfill."""
    from ethics_audit.store.models import AuditRun

    other = session.get(AuditRun, row.run_id) if getattr(row, "run_id", None) else None
    finished = other.finished_at if other is not None else None
    return finished is not None and other.id != run.id and finished >= run.started_at


def later_results(session: Session, audit_id: str, window: datetime, checks: set[str]) -> list[Any]:
    """The current results of the windows after ``window`` for ``checks`` (window start, check,
    metric, slice key, severity, value, interval, run id), for a backfill's replay."""
    from sqlalchemy import select

    from ethics_audit.store.models import AuditWindow, MetricResultRow

    return list(
        session.execute(
            select(
                MetricResultRow.window_start,
                MetricResultRow.check,
                MetricResultRow.metric,
                MetricResultRow.slice_key,
                MetricResultRow.severity,
                MetricResultRow.value,
                MetricResultRow.ci_low,
                MetricResultRow.ci_high,
                MetricResultRow.run_id,
            )
            .join(AuditWindow, AuditWindow.current_run_id == MetricResultRow.run_id)
            .where(
                AuditWindow.audit_id == audit_id,
                AuditWindow.window_start > window,
                MetricResultRow.check.in_(checks),
            )
        ).all()
    )


def earlier_windows(session: Session, audit_id: str, before: datetime, limit: int) -> list[tuple[datetime, int]]:
    """The ``limit`` windows before ``before``, newest first, with their current run ids."""
    from sqlalchemy import select

    from ethics_audit.store.models import AuditWindow

    return [
        (start, run_id)
        for start, run_id in session.execute(
            select(AuditWindow.window_start, AuditWindow.current_run_id)
            .where(AuditWindow.audit_id == audit_id, AuditWindow.window_start < before)
            .order_by(AuditWindow.window_start.desc())
            .limit(limit)
        ).all()
    ]


def run_errored(session: Session, run_id: int, check: str) -> bool:
    """Did ``check`` fail (an ``error`` result) in the run?"""
    from sqlalchemy import select

    from ethics_audit.store.models import MetricResultRow

    return (
        session.execute(
            select(MetricResultRow.id).where(
                MetricResultRow.run_id == run_id,
                MetricResultRow.check == check,
                MetricResultRow.severity == "error",
            )
        ).first()
        is not None
    )
