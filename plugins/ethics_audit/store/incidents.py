"""Incidents and alerts as the CLI, the UI and reports read them (the lifecycle that writes them
is ``ethics_audit.lifecycle``, applied by ``ethics_audit.recording``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ethics_audit.store.engine import StoreBase


class IncidentsStore(StoreBase):
    """Read-only queries over incidents, their events and observations, and alerts."""

    def incidents(
        self, *, audit_id: str | None = None, statuses: list[str] | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        """Incidents as dicts, newest breach first."""
        from sqlalchemy import select

        from ethics_audit.store.models import Incident

        query = select(Incident).order_by(Incident.last_window_start.desc(), Incident.id).limit(limit)
        if audit_id is not None:
            query = query.where(Incident.audit_id == audit_id)
        if statuses:
            query = query.where(Incident.status.in_(statuses))
        with self.session() as s:
            return [incident_brief(i) for i in s.execute(query).scalars()]

    def incident(self, incident_id: int) -> dict[str, Any] | None:
        """One incident with its transitions, the windows it was judged in, and its alert."""
        from sqlalchemy import select

        from ethics_audit.store.models import Alert, Incident, IncidentEvent, IncidentObservation

        with self.session() as s:
            incident = s.get(Incident, incident_id)
            if incident is None:
                return None
            events = s.execute(
                select(IncidentEvent).where(IncidentEvent.incident_id == incident_id).order_by(IncidentEvent.id)
            ).scalars()
            windows = s.execute(
                select(IncidentObservation)
                .where(IncidentObservation.incident_id == incident_id)
                .order_by(IncidentObservation.window_start)
            ).scalars()
            alert = s.get(Alert, incident.alert_id) if incident.alert_id else None
            return {
                **incident_brief(incident),
                "opened_at": incident.opened_at.isoformat(),
                "acknowledged_at": incident.acknowledged_at.isoformat() if incident.acknowledged_at else None,
                "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
                "alert": alert_brief(alert) | {"external": alert.external} if alert is not None else None,
                "events": [
                    {
                        "at": e.at.isoformat(),
                        "actor": e.actor,
                        "transition": e.transition,
                        "window_start": e.window_start.isoformat() if e.window_start else None,
                        "run_id": e.run_id,
                        "severity": e.severity,
                        "value": e.value,
                        "note": e.note,
                    }
                    for e in events
                ],
                "windows": [
                    {
                        "window_start": w.window_start.isoformat(),
                        "outcome": w.outcome,
                        "severity": w.severity,
                        "value": w.value,
                        "ci_low": w.ci_low,
                        "ci_high": w.ci_high,
                        "run_id": w.run_id,
                    }
                    for w in windows
                ],
            }

    def alerts(self, *, audit_id: str | None = None) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from ethics_audit.store.models import Alert, Incident

        query = select(Alert).order_by(Alert.id)
        if audit_id is not None:
            query = query.where(Alert.audit_id == audit_id)
        with self.session() as s:
            out = []
            for alert in s.execute(query).scalars():
                members = s.execute(select(Incident.id).where(Incident.alert_id == alert.id)).scalars()
                out.append({"audit_id": alert.audit_id, **alert_brief(alert), "incidents": sorted(members)})
            return out

    def alert_with_incidents(self, alert_id: int) -> dict[str, Any] | None:
        """One alert with its audit, Slack thread and incidents (as ``incident_brief`` dicts), or None."""
        from sqlalchemy import select

        from ethics_audit.store.models import Alert, Incident

        with self.session() as s:
            alert = s.get(Alert, alert_id)
            if alert is None:
                return None
            members = s.execute(select(Incident).where(Incident.alert_id == alert_id).order_by(Incident.id)).scalars()
            return {
                **alert_brief(alert),
                "audit_id": alert.audit_id,
                "external": alert.external or {},
                "incidents": [incident_brief(i) for i in members],
            }

    def incidents_between(
        self, start: datetime, end: datetime, *, audit_ids: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Incidents live at any time in ``[start, end)`` (by the windows they cover), with their events.

        Each incident is a dict of every mapped column (so columns added later come along) plus
        ``events``, oldest first; ``breach_windows``, the starts of the windows that breached its
        key, oldest first; and ``alert``, its alert's columns (or None), so a report can group
        the incidents one problem caused.
        """
        from sqlalchemy import inspect, or_, select

        from ethics_audit.store.models import Alert, Incident, IncidentEvent, IncidentObservation

        query = (
            select(Incident)
            .where(Incident.first_window_start < end)
            .where(
                or_(
                    Incident.status != "resolved",
                    Incident.last_window_start >= start,
                    Incident.resolved_at >= start,
                )
            )
            .order_by(Incident.first_window_start, Incident.id)
        )
        if audit_ids is not None:
            query = query.where(Incident.audit_id.in_(audit_ids))
        incident_cols = [c.key for c in inspect(Incident).column_attrs]
        event_cols = [c.key for c in inspect(IncidentEvent).column_attrs]
        alert_cols = [c.key for c in inspect(Alert).column_attrs]
        with self.session() as s:
            incidents = [{k: getattr(i, k) for k in incident_cols} for i in s.execute(query).scalars()]
            ids = [i["id"] for i in incidents]
            events: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
            breaches: dict[int, list[datetime]] = {i: [] for i in ids}
            alerts: dict[int, dict[str, Any]] = {}
            if ids:
                for e in s.execute(
                    select(IncidentEvent)
                    .where(IncidentEvent.incident_id.in_(ids))
                    .order_by(IncidentEvent.at, IncidentEvent.id)
                ).scalars():
                    events[e.incident_id].append({k: getattr(e, k) for k in event_cols})
                for incident_id, window_start in s.execute(
                    select(IncidentObservation.incident_id, IncidentObservation.window_start)
                    .where(IncidentObservation.incident_id.in_(ids), IncidentObservation.outcome == "breach")
                    .order_by(IncidentObservation.window_start)
                ):
                    breaches[incident_id].append(window_start)
                alert_ids = sorted({i["alert_id"] for i in incidents if i["alert_id"] is not None})
                if alert_ids:
                    for a in s.execute(select(Alert).where(Alert.id.in_(alert_ids))).scalars():
                        alerts[a.id] = {k: getattr(a, k) for k in alert_cols}
        for incident in incidents:
            incident["events"] = events[incident["id"]]
            incident["breach_windows"] = breaches[incident["id"]]
            incident["alert"] = alerts.get(incident["alert_id"])
        return incidents


def incident_brief(incident: Any) -> dict[str, Any]:
    """The JSON shape of an incident in notifications, the CLI and reports."""
    return {
        "id": incident.id,
        "audit_id": incident.audit_id,
        "key": incident.key,
        "check": incident.check,
        "metric": incident.metric,
        "slice": incident.slice or {},
        "status": incident.status,
        "severity": incident.severity,
        "worst_severity": incident.worst_severity,
        "value": incident.last_value,
        "ci_low": incident.last_ci_low,
        "ci_high": incident.last_ci_high,
        "threshold": incident.threshold,
        "reason": incident.reason,
        "occurrences": incident.occurrences,
        "clean_streak": incident.clean_streak,
        "episode": incident.episode,
        "first_window_start": incident.first_window_start.isoformat(),
        "last_window_start": incident.last_window_start.isoformat(),
        "alert_id": incident.alert_id,
        "external": incident.external or {},  # its alert's Slack thread and tickets
        "acknowledged_by": incident.acknowledged_by,
        "muted_until": incident.muted_until.isoformat() if incident.muted_until else None,
        "resolved_by": incident.resolved_by,
    }


def alert_brief(alert: Any) -> dict[str, Any]:
    return {
        "id": alert.id,
        "key": alert.key,
        "check": alert.check,
        "status": alert.status,
        "severity": alert.severity,
        "worst_severity": alert.worst_severity,
        "opened_window_start": alert.opened_window_start.isoformat(),
        "last_window_start": alert.last_window_start.isoformat(),
        "reopened": alert.reopened,
    }
