"""Alerts: what people are told about. Incidents that one problem caused share one alert.

One window's announced incident changes are grouped by check family into alerts, and each
alert that changed gets one notification per routed channel: ``opened``, ``updated``,
``reopened`` or ``resolved``. An incident starting a new episode joins an active alert of its
family that still breaches in the same window (the problem spreading to more metrics), else
the alert it belonged to before (the problem came back), else a new alert. So a gender gap
that breaches parity difference, parity ratio and an intersection at once is one Slack thread,
one ticket and one page, while each key keeps its own incident. The payload carries everything
a channel renders (values, thresholds, intervals, trends, owners) and never a secret:
credentials are looked up at delivery time.

Pure functions: ``ethics_audit.recording`` reads the rows, calls these, and writes the outcome.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ethics_audit.lifecycle.episodes import ACTIVE, SYSTEM_ACTOR, incident_key, severity_rank
from ethics_audit.lifecycle.incidents import Touched
from ethics_audit.results import Finding, Severity

if TYPE_CHECKING:
    from ethics_audit.spec import AuditSpec

TREND_WINDOWS = 8
# how many incidents one notification lists in full; the rest are counted
LISTED_INCIDENTS = 20


# ------------------------------------------------------------------ grouping a window's changes


def families(touched: list[Touched]) -> list[tuple[str, list[Touched], list[Touched]]]:
    """Per check family (sorted): the announced changes, and those that need an alert to join."""
    announced = [t for t in touched if any(c.notify for c in t.changes)]
    out = []
    for check in sorted({t.incident.check for t in announced}):
        # an incident nobody was ever told about (a backfilled one) needs no news of its resolution
        group = [
            t
            for t in announced
            if t.incident.check == check and (t.incident.alert_id is not None or t.incident.status in ACTIVE)
        ]
        out.append((check, group, [t for t in group if t.new_episode or t.incident.alert_id is None]))
    return out


def alert_key(audit_id: str, check: str, window: datetime) -> str:
    return f"{audit_id}/{check}/{window:%Y%m%dT%H%M}"


def ongoing(candidates: list[Any], window: datetime, members: Callable[[Any], list[Any]]) -> Any | None:
    """The first of the family's active alerts with a member still breaching in ``window``."""
    for alert in candidates:
        if any(i.status in ACTIVE and i.last_window_start == window for i in members(alert)):
            return alert
    return None


def previous_alert(starting: list[Touched]) -> int | None:
    """The newest alert the starting incidents belonged to before (the problem came back)."""
    previous = sorted({t.previous_alert_id for t in starting if t.previous_alert_id}, reverse=True)
    return previous[0] if previous else None


def settle(
    alert: Any, items: list[Any], *, was_active: bool, created: bool, window: datetime, now: datetime
) -> tuple[dict[str, Any], str, list[Any]]:
    """The alert's new columns, the kind of change to announce, and its active members."""
    active = [i for i in items if i.status in ACTIVE]
    updates: dict[str, Any] = {}
    if active:
        updates.update(status="active", severity=max((i.severity for i in active), key=severity_rank))
        updates["resolved_at"] = None
    else:
        updates.update(status="resolved", resolved_at=now)
    updates["worst_severity"] = max([alert.worst_severity, *(i.worst_severity for i in items)], key=severity_rank)
    updates["last_window_start"] = max(alert.last_window_start, window)
    if created:
        kind = "opened"
    elif not was_active and active:
        kind = "reopened"
        updates["reopened"] = alert.reopened + 1
    elif was_active and not active:
        kind = "resolved"
    else:
        kind = "updated"
    return updates, kind, active


def audible(changes: list[Touched]) -> list[Touched]:
    """Muted incidents stay quiet, except their resolution (so tickets close and pages resolve)."""
    return [t for t in changes if t.incident.status != "muted" or t.changes[-1].transition == "resolved"]


def action_kind(kind: str, active: list[Any], alert_status: str) -> tuple[str | None, bool]:
    """How a person's ``kind`` of action is announced on its alert: the alert's kind of change
    (None: nothing to say), and whether the alert resolves with it."""
    if kind != "resolved":
        return kind, False
    if active:
        return "updated", False
    if alert_status == "active":
        return "resolved", True
    return None, False


# ------------------------------------------------------------------ payloads


def shown(changes: list[Touched]) -> list[Touched]:
    """The changes in the order a notification lists them: worst first, then by key."""
    return sorted(changes, key=lambda t: (-severity_rank(t.incident.severity), t.incident.key))


def trends(rows: list[Any], check: str, items: list[Any]) -> dict[str, list]:
    """Trend rows (``store.alerts.trend_rows``) by incident key: [window start, value, severity]."""
    keys = {i.key for i in items}
    out: dict[str, list] = {}
    for row in rows:
        key = incident_key(check, row.metric, row.slice_key)
        if key in keys:
            out.setdefault(key, []).append([row.window_start.isoformat(), row.value, row.severity])
    return out


def spec_context(spec: AuditSpec) -> dict[str, Any]:
    """What channels need from the spec. Names of environment variables, never their values."""
    owners = spec.owners
    return {
        "audit_id": spec.id,
        "model": {"name": spec.model.name, "version": spec.model.version},
        "owners": owners.model_dump(mode="json"),
    }


def payload(
    spec: AuditSpec,
    run: Any | None,
    alert: dict[str, Any],
    kind: str,
    changes: list[Touched],
    active: int,
    escalated: bool,
    *,
    briefs: dict[int, dict[str, Any]],
    trend: dict[str, list],
    actor: str = SYSTEM_ACTOR,
    note: str = "",
) -> dict[str, Any]:
    """What every channel renders for one alert's change. ``alert`` is its brief; ``briefs`` the
    briefs of the first ``LISTED_INCIDENTS`` incidents of ``shown(changes)``; ``trend`` their trends."""
    listed_changes = shown(changes)
    listed = []
    for t in listed_changes[:LISTED_INCIDENTS]:
        item = dict(briefs[t.incident.id])
        item["transition"] = t.changes[-1].transition
        item["note"] = "; ".join(c.note for c in t.changes if c.note)
        item["trend"] = trend.get(t.incident.key, [])
        listed.append(item)
    return {
        **spec_context(spec),
        "kind": kind,
        "alert": alert,
        "severity": alert["worst_severity"] if kind == "resolved" else alert["severity"],
        "escalated": escalated,
        "window": {
            "start": run.window_start.isoformat() if run is not None else alert["last_window_start"],
            "end": run.window_end.isoformat() if run is not None else None,
        },
        "run_id": run.id if run is not None else None,
        "incidents": listed,
        "more_incidents": max(0, len(listed_changes) - LISTED_INCIDENTS),
        "estimates_only": bool(listed_changes)
        and all(t.incident.metric.startswith("estimated_") for t in listed_changes),
        "active_incidents": active,
        "actor": actor,
        "note": note,
        "remedy": remedy(run, alert["check"]) if kind != "resolved" else None,
    }


def remedy(run: Any | None, check: str) -> dict[str, Any] | None:
    """The window's "what drives it / what would fix it" section for the family, without its raw
    numbers (``facts``): channels render only the words and tables."""
    section = ((run.summary or {}).get("remedies") or {}).get(check) if run is not None else None
    return {k: v for k, v in section.items() if k not in ("facts", "seconds")} if section else None


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


def pages(channel: str, payload: dict[str, Any]) -> bool:
    """Is ``channel`` told about this payload? An estimate (labels not in yet) may warn; it never
    wakes anyone up."""
    return not (channel == "pagerduty" and estimates_only(payload))


def idempotency_base(
    audit_id: str,
    alert_id: int,
    kind: str,
    *,
    digest_of: list[Touched],
    window: datetime | None = None,
    event_id: int | None = None,
) -> str:
    """The idempotency key (before ``:channel``) of an alert's notification: the alert, the kind
    of change, the window (or the person's event) and a digest of what changed, so the same
    change is never queued twice and a new change always is."""
    if event_id is not None:
        moment = f"e{event_id}"
    else:
        moment = f"{window:%Y%m%dT%H%M}" if window else "none"
    digest = _digest(
        sorted((t.incident.key, [c.transition for c in t.changes], t.incident.severity) for t in digest_of)
    )
    return f"ea:{audit_id[:60]}:a{alert_id}:{kind}:{moment}:{digest}"


def _digest(parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


# ------------------------------------------------------------------ checks that keep failing


def failing_checks(findings: list[Finding]) -> list[str]:
    """The families that failed (an ``error`` finding) in this window."""
    return sorted({f.result.check for f in findings if f.severity is Severity.ERROR})


def error_streak(errored: Iterable[bool]) -> int:
    """This window's failure plus the consecutive failed windows before it (``errored``, newest
    first; read lazily, so a caller's queries stop at the first window that did not fail)."""
    streak = 1
    for failed in errored:
        if not failed:
            break
        streak += 1
    return streak


def failing_message(spec: AuditSpec, run: Any, check: str, needed: int, findings: list[Finding]) -> dict[str, Any]:
    """The one message owners get when ``check`` has failed ``needed`` windows in a row."""
    reason = next(f.reason for f in findings if f.result.check == check and f.severity is Severity.ERROR)
    return {
        **spec_context(spec),
        "kind": "message",
        "severity": "warn",
        "title": f"{spec.id}: the {check} check has failed in {needed} windows in a row",
        "text": f"The {check} check of {spec.id} failed in each of the last {needed} windows, so the model "
        f"is not being audited for it. Latest error: {reason}",
        "window": {"start": run.window_start.isoformat(), "end": run.window_end.isoformat()},
        "run_id": run.id,
    }


def failing_key(audit_id: str, check: str, window: datetime, channel: str) -> str:
    return f"ea:{audit_id[:60]}:failing:{check}:{window:%Y%m%dT%H%M}:{channel}"
