"""Alerts: what people are told about. Incidents that one problem caused share one alert.

``route`` groups one window's announced incident changes by check family into alerts and
writes one outbox row per routed channel for each alert that changed: ``opened``,
``updated``, ``reopened`` or ``resolved``. An incident starting a new episode joins an active
alert of its family that still breaches in the same window (the problem spreading to more
metrics), else the alert it belonged to before (the problem came back), else a new alert.
So a gender gap that breaches parity difference, parity ratio and an intersection at once is
one Slack thread, one ticket and one page, while each key keeps its own incident. The
payload carries everything a channel renders (values, thresholds, intervals, trends, owners)
and never a secret: credentials are looked up at delivery time.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ethics_audit.incidents import ACTIVE, SYSTEM_ACTOR, Change, Touched, incident_brief, incident_key, severity_rank
from ethics_audit.results import Finding, Severity

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ethics_audit.spec import AuditSpec
    from ethics_audit.store.models import Alert, AuditRun, Incident

log = logging.getLogger(__name__)

TREND_WINDOWS = 8
# how many incidents one notification lists in full; the rest are counted
LISTED_INCIDENTS = 20


def route(
    session: Session, spec: AuditSpec, run: AuditRun, touched: list[Touched], now: datetime
) -> list[dict[str, Any]]:
    """Group the announced changes into alerts (one per problem) and write their notifications.

    A new episode joins an active alert of the same check family that is still breaching in
    this window (the same problem spreading to more metrics); otherwise it revives the alert
    it belonged to before (the problem came back); otherwise it starts a new alert.
    """
    from sqlalchemy import select

    from ethics_audit.store.models import Alert, Incident

    announced = [t for t in touched if any(c.notify for c in t.changes)]
    if not announced:
        return []
    window = run.window_start
    members_cache: dict[int, list[Incident]] = {}

    def members(alert: Alert) -> list[Incident]:
        if alert.id not in members_cache:
            members_cache[alert.id] = list(
                session.execute(select(Incident).where(Incident.alert_id == alert.id)).scalars()
            )
        return members_cache[alert.id]

    state: dict[int, dict[str, Any]] = {}  # alert id -> {"alert", "was_active", "created", "changes"}

    def track(alert: Alert, created: bool = False) -> dict[str, Any]:
        if alert.id not in state:
            state[alert.id] = {
                "alert": alert,
                "was_active": alert.status == "active" and not created,
                "was_severity": alert.severity,
                "created": created,
                "changes": [],
            }
        return state[alert.id]

    for check in sorted({t.incident.check for t in announced}):
        # an incident nobody was ever told about (a backfilled one) needs no news of its resolution
        group = [
            t
            for t in announced
            if t.incident.check == check and (t.incident.alert_id is not None or t.incident.status in ACTIVE)
        ]
        starting = [t for t in group if t.new_episode or t.incident.alert_id is None]
        if starting:
            target = _ongoing_alert(session, spec.id, check, window, members)
            if target is None:
                previous = sorted({t.previous_alert_id for t in starting if t.previous_alert_id}, reverse=True)
                target = session.get(Alert, previous[0]) if previous else None
            created = False
            if target is None:
                target, created = _alert_for(session, spec.id, check, window)
            track(target, created)
            for t in starting:
                t.incident.alert_id = target.id
                members_cache.pop(target.id, None)
        for t in group:
            alert = session.get(Alert, t.incident.alert_id)
            track(alert)["changes"].append(t)
    session.flush()
    summary = []
    for info in state.values():
        alert: Alert = info["alert"]
        items = members(alert)
        active = [i for i in items if i.status in ACTIVE]
        if active:
            alert.status = "active"
            alert.severity = max((i.severity for i in active), key=severity_rank)
            alert.resolved_at = None
        else:
            alert.status = "resolved"
            alert.resolved_at = now
        alert.worst_severity = max([alert.worst_severity, *(i.worst_severity for i in items)], key=severity_rank)
        alert.last_window_start = max(alert.last_window_start, window)
        if info["created"]:
            kind = "opened"
        elif not info["was_active"] and active:
            kind = "reopened"
            alert.reopened += 1
        elif info["was_active"] and not active:
            kind = "resolved"
        else:
            kind = "updated"
        # muted incidents stay quiet, except their resolution (so tickets close and pages resolve)
        changes = [t for t in info["changes"] if t.incident.status != "muted" or t.changes[-1].transition == "resolved"]
        if not changes:
            continue
        escalated = severity_rank(alert.severity) > severity_rank(info["was_severity"]) and info["was_active"]
        payload = _payload(session, spec, run, alert, kind, changes, active, escalated)
        written = enqueue_for_alert(session, spec, alert, kind, payload, digest_of=changes, window=window)
        summary.append({"alert_id": alert.id, "kind": kind, "check": alert.check, "notifications": written})
    return summary


def _ongoing_alert(session: Session, audit_id: str, check: str, window: datetime, members: Any) -> Alert | None:
    from sqlalchemy import select

    from ethics_audit.store.models import Alert

    candidates = session.execute(
        select(Alert)
        .where(Alert.audit_id == audit_id, Alert.check == check, Alert.status == "active")
        .order_by(Alert.id.desc())
    ).scalars()
    for alert in candidates:
        if any(i.status in ACTIVE and i.last_window_start == window for i in members(alert)):
            return alert
    return None


def _alert_for(session: Session, audit_id: str, check: str, window: datetime) -> tuple[Alert, bool]:
    from sqlalchemy import select

    from ethics_audit.store.models import Alert

    key = f"{audit_id}/{check}/{window:%Y%m%dT%H%M}"
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


def _trends(session: Session, audit_id: str, check: str, window: datetime, items: list[Incident]) -> dict[str, list]:
    """The last windows' values of each incident's key, oldest first: [window start, value, severity]."""
    from sqlalchemy import select, tuple_

    from ethics_audit.results import slice_key
    from ethics_audit.store.models import AuditWindow, MetricResultRow

    starts = list(
        session.execute(
            select(AuditWindow.window_start)
            .where(AuditWindow.audit_id == audit_id, AuditWindow.window_start <= window)
            .order_by(AuditWindow.window_start.desc())
            .limit(TREND_WINDOWS)
        ).scalars()
    )
    if not starts:
        return {}
    rows = session.execute(
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
    keys = {i.key for i in items}
    out: dict[str, list] = {}
    for row in rows:
        key = incident_key(check, row.metric, row.slice_key)
        if key in keys:
            out.setdefault(key, []).append([row.window_start.isoformat(), row.value, row.severity])
    return out


def alert_brief(alert: Alert) -> dict[str, Any]:
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


def _spec_context(spec: AuditSpec) -> dict[str, Any]:
    """What channels need from the spec. Names of environment variables, never their values."""
    owners = spec.owners
    return {
        "audit_id": spec.id,
        "model": {"name": spec.model.name, "version": spec.model.version},
        "owners": owners.model_dump(mode="json"),
    }


def _payload(
    session: Session,
    spec: AuditSpec,
    run: AuditRun | None,
    alert: Alert,
    kind: str,
    changes: list[Touched],
    active: list[Incident],
    escalated: bool,
    *,
    actor: str = SYSTEM_ACTOR,
    note: str = "",
) -> dict[str, Any]:
    window = run.window_start if run is not None else alert.last_window_start
    shown = sorted(changes, key=lambda t: (-severity_rank(t.incident.severity), t.incident.key))
    trends = _trends(session, spec.id, alert.check, window, [t.incident for t in shown[:LISTED_INCIDENTS]])
    listed = []
    for t in shown[:LISTED_INCIDENTS]:
        item = incident_brief(t.incident)
        item["transition"] = t.changes[-1].transition
        item["note"] = "; ".join(c.note for c in t.changes if c.note)
        item["trend"] = trends.get(t.incident.key, [])
        listed.append(item)
    return {
        **_spec_context(spec),
        "kind": kind,
        "alert": alert_brief(alert),
        "severity": alert.worst_severity if kind == "resolved" else alert.severity,
        "escalated": escalated,
        "window": {
            "start": window.isoformat(),
            "end": run.window_end.isoformat() if run is not None else None,
        },
        "run_id": run.id if run is not None else None,
        "incidents": listed,
        "more_incidents": max(0, len(shown) - LISTED_INCIDENTS),
        "estimates_only": bool(shown) and all(t.incident.metric.startswith("estimated_") for t in shown),
        "active_incidents": len(active),
        "actor": actor,
        "note": note,
        "remedy": _remedy(run, alert.check) if kind != "resolved" else None,
    }


def _remedy(run: AuditRun | None, check: str) -> dict[str, Any] | None:
    """The window's "what drives it / what would fix it" section for the family, without its raw
    numbers (``facts``): channels render only the words and tables."""
    section = ((run.summary or {}).get("remedies") or {}).get(check) if run is not None else None
    return {k: v for k, v in section.items() if k not in ("facts", "seconds")} if section else None


def _digest(parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def enqueue_for_alert(
    session: Session,
    spec: AuditSpec,
    alert: Alert,
    kind: str,
    payload: dict[str, Any],
    *,
    digest_of: list[Touched] | None = None,
    window: datetime | None = None,
    event_id: int | None = None,
) -> int:
    """One outbox row per channel the spec routes this alert's severity to. Returns rows written.

    The idempotency key names the alert, the kind of change, the window (or the person's event)
    and a digest of what changed: the same change is never queued twice, a new change always is.
    """
    from ethics_audit.notify.routing import channels_for
    from ethics_audit.store.outbox import enqueue

    if event_id is not None:
        moment = f"e{event_id}"
    else:
        moment = f"{window:%Y%m%dT%H%M}" if window else "none"
    digest = _digest(
        sorted((t.incident.key, [c.transition for c in t.changes], t.incident.severity) for t in digest_of or [])
    )
    base = f"ea:{spec.id[:60]}:a{alert.id}:{kind}:{moment}:{digest}"
    written = 0
    for channel in channels_for(spec, payload["severity"], alert.check):
        if channel == "pagerduty" and estimates_only(payload):
            continue  # an estimate (labels not in yet) may warn; it never wakes anyone up
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


def estimates_only(payload: dict[str, Any]) -> bool:
    """Is every incident of this alert about an estimated metric (``estimated_*``)?"""
    if "estimates_only" in payload:
        return bool(payload["estimates_only"])
    items = payload.get("incidents") or []
    return (
        bool(items)
        and not payload.get("more_incidents")
        and all(str(i.get("metric", "")).startswith("estimated_") for i in items)
    )


def announce_failing_checks(session: Session, spec: AuditSpec, run: AuditRun, findings: list[Finding]) -> list[str]:
    """Errors never open incidents, but a family that fails window after window leaves the model
    unaudited: after ``alert_after_error_windows`` consecutive failed windows, tell the owners once."""
    needed = spec.incidents.alert_after_error_windows
    failing = sorted({f.result.check for f in findings if f.severity is Severity.ERROR})
    if not needed or not failing:
        return []
    from sqlalchemy import select

    from ethics_audit.notify.routing import channels_for
    from ethics_audit.store.models import AuditWindow, MetricResultRow
    from ethics_audit.store.outbox import enqueue

    later = session.execute(
        select(AuditWindow.id).where(AuditWindow.audit_id == spec.id, AuditWindow.window_start > run.window_start)
    ).first()
    if later is not None:  # a backfill: the newest windows speak for the audit's health
        return []
    earlier = list(
        session.execute(
            select(AuditWindow.window_start, AuditWindow.current_run_id)
            .where(AuditWindow.audit_id == spec.id, AuditWindow.window_start < run.window_start)
            .order_by(AuditWindow.window_start.desc())
            .limit(needed)
        ).all()
    )
    announced = []
    for check in failing:
        streak = 1
        for _start, run_id in earlier:
            errored = session.execute(
                select(MetricResultRow.id).where(
                    MetricResultRow.run_id == run_id,
                    MetricResultRow.check == check,
                    MetricResultRow.severity == "error",
                )
            ).first()
            if errored is None:
                break
            streak += 1
        if streak != needed:  # exactly when the streak reaches the limit: once per streak
            continue
        reason = next(f.reason for f in findings if f.result.check == check and f.severity is Severity.ERROR)
        payload = {
            **_spec_context(spec),
            "kind": "message",
            "severity": "warn",
            "title": f"{spec.id}: the {check} check has failed in {needed} windows in a row",
            "text": f"The {check} check of {spec.id} failed in each of the last {needed} windows, so the model "
            f"is not being audited for it. Latest error: {reason}",
            "window": {"start": run.window_start.isoformat(), "end": run.window_end.isoformat()},
            "run_id": run.id,
        }
        for channel in channels_for(spec, "warn", check, chat_only=True):
            enqueue(
                session,
                audit_id=spec.id,
                channel=channel,
                idempotency_key=f"ea:{spec.id[:60]}:failing:{check}:{run.window_start:%Y%m%dT%H%M}:{channel}",
                payload=payload,
                kind="message",
            )
        announced.append(check)
    return announced


def _spec_of(session: Session, audit_id: str) -> AuditSpec | None:
    """The spec in force for the audit's newest window (for routing a person's action)."""
    from sqlalchemy import select

    from ethics_audit.spec import AuditSpec
    from ethics_audit.store.models import AuditRun, AuditWindow, SpecSnapshot

    spec_hash = session.execute(
        select(AuditRun.spec_hash)
        .join(AuditWindow, AuditWindow.current_run_id == AuditRun.id)
        .where(AuditWindow.audit_id == audit_id)
        .order_by(AuditWindow.window_start.desc())
        .limit(1)
    ).scalar_one_or_none()
    snapshot = session.get(SpecSnapshot, spec_hash) if spec_hash else None
    if snapshot is None:
        return None
    try:
        return AuditSpec.model_validate(snapshot.spec)
    except Exception:  # noqa: BLE001 - an old snapshot that no longer validates routes nowhere
        log.warning("the stored spec of %s no longer validates; people's actions are not announced", audit_id)
        return None


def announce_action(
    session: Session, incidents: list[Incident], kind: str, actor: str, note: str, events: dict[int, Any], now: datetime
) -> int:
    """Tell each affected alert's channels what a person did (and resolve the alert if it is done)."""
    from sqlalchemy import select

    from ethics_audit.store.models import Alert, Incident

    written = 0
    by_alert: dict[int, list[Incident]] = {}
    for incident in incidents:
        if incident.alert_id is not None:
            by_alert.setdefault(incident.alert_id, []).append(incident)
    session.flush()
    for alert_id, changed in by_alert.items():
        alert = session.get(Alert, alert_id)
        spec = _spec_of(session, alert.audit_id) if alert is not None else None
        if alert is None or spec is None:
            continue
        members = list(session.execute(select(Incident).where(Incident.alert_id == alert.id)).scalars())
        active = [i for i in members if i.status in ACTIVE]
        alert_kind = kind
        if kind == "resolved":
            if active:
                alert_kind = "updated"
            elif alert.status == "active":
                alert.status, alert.resolved_at = "resolved", now
            else:
                continue
        touched = [Touched(i, [Change(kind, True, note)], alert.id, False) for i in changed]
        payload = _payload(session, spec, None, alert, alert_kind, touched, active, False, actor=actor, note=note)
        written += enqueue_for_alert(
            session, spec, alert, alert_kind, payload, digest_of=touched, event_id=events[changed[0].id].id
        )
    return written
