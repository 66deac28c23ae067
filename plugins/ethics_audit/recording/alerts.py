"""Alerts and their notifications, inside the recording's transaction.

``route`` groups one window's announced incident changes into alerts (``lifecycle.alerts``)
and queues one outbox row per routed channel for each alert that changed;
``announce_failing_checks`` tells the owners once when a family keeps failing;
``announce_action`` tells an alert's channels what a person did. Rows are read and written
through ``store.alerts``, ``store.observations`` and ``store.outbox``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ethics_audit.lifecycle import alerts as alerting
from ethics_audit.lifecycle.episodes import ACTIVE, SYSTEM_ACTOR, Change, severity_rank
from ethics_audit.lifecycle.incidents import Touched
from ethics_audit.store import alerts as alert_rows
from ethics_audit.store import observations as obs

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ethics_audit.results import Finding
    from ethics_audit.spec import AuditSpec

log = logging.getLogger(__name__)


def route(session: Session, spec: AuditSpec, run: Any, touched: list[Touched], now: datetime) -> list[dict[str, Any]]:
    """Group the announced changes into alerts (one per problem) and write their notifications.

    A new episode joins an active alert of the same check family that is still breaching in
    this window (the same problem spreading to more metrics); otherwise it revives the alert
    it belonged to before (the problem came back); otherwise it starts a new alert.
    """
    groups = alerting.families(touched)
    if not groups:
        return []
    window = run.window_start
    members_cache: dict[int, list[Any]] = {}

    def members(alert: Any) -> list[Any]:
        if alert.id not in members_cache:
            members_cache[alert.id] = alert_rows.members(session, alert.id)
        return members_cache[alert.id]

    state: dict[int, dict[str, Any]] = {}  # alert id -> {"alert", "was_active", "created", "changes"}

    def track(alert: Any, created: bool = False) -> dict[str, Any]:
        if alert.id not in state:
            state[alert.id] = {
                "alert": alert,
                "was_active": alert.status == "active" and not created,
                "was_severity": alert.severity,
                "created": created,
                "changes": [],
            }
        return state[alert.id]

    for check, group, starting in groups:
        if starting:
            target = alerting.ongoing(alert_rows.active_alerts(session, spec.id, check), window, members)
            if target is None:
                previous = alerting.previous_alert(starting)
                target = alert_rows.get_alert(session, previous) if previous else None
            created = False
            if target is None:
                key = alerting.alert_key(spec.id, check, window)
                target, created = alert_rows.alert_for(session, spec.id, key, check, window)
            track(target, created)
            for t in starting:
                t.incident.alert_id = target.id
                members_cache.pop(target.id, None)
        for t in group:
            track(alert_rows.get_alert(session, t.incident.alert_id))["changes"].append(t)
    session.flush()
    summary = []
    for info in state.values():
        alert = info["alert"]
        updates, kind, active = alerting.settle(
            alert, members(alert), was_active=info["was_active"], created=info["created"], window=window, now=now
        )
        obs.update_row(alert, updates)
        changes = alerting.audible(info["changes"])
        if not changes:
            continue
        escalated = severity_rank(alert.severity) > severity_rank(info["was_severity"])
        payload = _payload(session, spec, run, alert, kind, changes, active, escalated and info["was_active"])
        written = _enqueue_for_alert(session, spec, alert, kind, payload, digest_of=changes, window=window)
        summary.append({"alert_id": alert.id, "kind": kind, "check": alert.check, "notifications": written})
    return summary


def _payload(
    session: Session,
    spec: AuditSpec,
    run: Any | None,
    alert: Any,
    kind: str,
    changes: list[Touched],
    active: list[Any],
    escalated: bool,
    *,
    actor: str = SYSTEM_ACTOR,
    note: str = "",
) -> dict[str, Any]:
    from ethics_audit.store.incidents import alert_brief, incident_brief

    window = run.window_start if run is not None else alert.last_window_start
    listed = [t.incident for t in alerting.shown(changes)[: alerting.LISTED_INCIDENTS]]
    rows = alert_rows.trend_rows(session, spec.id, alert.check, window, listed, alerting.TREND_WINDOWS)
    return alerting.payload(
        spec,
        run,
        alert_brief(alert),
        kind,
        changes,
        len(active),
        escalated,
        briefs={i.id: incident_brief(i) for i in listed},
        trend=alerting.trends(rows, alert.check, listed),
        actor=actor,
        note=note,
    )


def _enqueue_for_alert(
    session: Session,
    spec: AuditSpec,
    alert: Any,
    kind: str,
    payload: dict[str, Any],
    *,
    digest_of: list[Touched],
    window: datetime | None = None,
    event_id: int | None = None,
) -> int:
    """One outbox row per channel the spec routes this alert's severity to. Returns rows written."""
    from ethics_audit.notify.routing import channels_for
    from ethics_audit.store.outbox import enqueue

    base = alerting.idempotency_base(spec.id, alert.id, kind, digest_of=digest_of, window=window, event_id=event_id)
    written = 0
    for channel in channels_for(spec, payload["severity"], alert.check):
        if not alerting.pages(channel, payload):
            continue
        written += enqueue(
            session,
            audit_id=spec.id,
            channel=channel,
            idempotency_key=f"{base}:{channel}",
            payload=payload,
            alert_id=alert.id,
            kind=kind,
        )
    return written


def announce_failing_checks(session: Session, spec: AuditSpec, run: Any, findings: list[Finding]) -> list[str]:
    """Errors never open incidents, but a family that fails window after window leaves the model
    unaudited: after ``alert_after_error_windows`` consecutive failed windows, tell the owners once."""
    needed = spec.incidents.alert_after_error_windows
    failing = alerting.failing_checks(findings)
    if not needed or not failing:
        return []
    from ethics_audit.notify.routing import channels_for
    from ethics_audit.store.outbox import enqueue

    if obs.has_later_window(session, spec.id, run.window_start):  # a backfill: the newest windows speak
        return []
    earlier = obs.earlier_windows(session, spec.id, run.window_start, needed)
    announced = []
    for check in failing:
        streak = alerting.error_streak(obs.run_errored(session, run_id, check) for _start, run_id in earlier)
        if streak != needed:  # exactly when the streak reaches the limit: once per streak
            continue
        payload = alerting.failing_message(spec, run, check, needed, findings)
        for channel in channels_for(spec, "warn", check, chat_only=True):
            key = alerting.failing_key(spec.id, check, run.window_start, channel)
            enqueue(session, audit_id=spec.id, channel=channel, idempotency_key=key, payload=payload, kind="message")
        announced.append(check)
    return announced


def _spec_of(session: Session, audit_id: str) -> AuditSpec | None:
    """The spec in force for the audit's newest window (for routing a person's action)."""
    from ethics_audit.spec import AuditSpec

    stored = alert_rows.newest_spec(session, audit_id)
    if stored is None:
        return None
    try:
        return AuditSpec.model_validate(stored)
    except Exception:  # noqa: BLE001 - an old snapshot that no longer validates routes nowhere
        log.warning("the stored spec of %s no longer validates; people's actions are not announced", audit_id)
        return None


def announce_action(
    session: Session, incidents: list[Any], kind: str, actor: str, note: str, events: dict[int, Any], now: datetime
) -> int:
    """Tell each affected alert's channels what a person did (and resolve the alert if it is done)."""
    written = 0
    by_alert: dict[int, list[Any]] = {}
    for incident in incidents:
        if incident.alert_id is not None:
            by_alert.setdefault(incident.alert_id, []).append(incident)
    session.flush()
    for alert_id, changed in by_alert.items():
        alert = alert_rows.get_alert(session, alert_id)
        spec = _spec_of(session, alert.audit_id) if alert is not None else None
        if alert is None or spec is None:
            continue
        active = [i for i in alert_rows.members(session, alert.id) if i.status in ACTIVE]
        alert_kind, resolves = alerting.action_kind(kind, active, alert.status)
        if alert_kind is None:
            continue
        if resolves:
            alert.status, alert.resolved_at = "resolved", now
        touched = [Touched(i, [Change(kind, True, note)], alert.id, False) for i in changed]
        payload = _payload(session, spec, None, alert, alert_kind, touched, active, False, actor=actor, note=note)
        written += _enqueue_for_alert(
            session, spec, alert, alert_kind, payload, digest_of=touched, event_id=events[changed[0].id].id
        )
    return written
