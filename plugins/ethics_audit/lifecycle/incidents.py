"""Incidents: what one window's findings say about each key, and what the incident row becomes.

Pure functions over findings, episodes and rows read as plain attributes: none of them queries
or writes. Each returns the changes to make (``{column: value}``), and
``ethics_audit.recording`` applies them inside the window's transaction. People's actions
(acknowledge, mute, resolve) are one table, ``ACTIONS``, read by ``check_action`` and
``action_updates``; every transition becomes an ``incident_events`` row with its time and actor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ethics_audit.lifecycle.episodes import (
    ACTIVE,
    SYSTEM_ACTOR,
    Change,
    Episode,
    IncidentError,
    Observation,
    incident_key,
)
from ethics_audit.results import Finding, Severity

# ------------------------------------------------------------------ a window's verdicts


@dataclass
class Verdict:
    """What this window says about a key: ``breach`` / ``clean`` with the finding, or nothing."""

    outcome: str  # breach | clean
    finding: Finding | None


@dataclass
class Touched:
    """An incident that changed in this window, with what changed (for alerts and notifications)."""

    incident: Any
    changes: list[Change]
    previous_alert_id: int | None
    new_episode: bool


def verdicts(findings: list[Finding]) -> tuple[dict[str, Finding], set[str]]:
    """Findings by incident key, and the check families that computed and did not fail."""
    by_key: dict[str, Finding] = {}
    computed: set[str] = set()
    failed: set[str] = set()
    for finding in findings:
        r = finding.result
        by_key[incident_key(r.check, r.metric, r.slice_key)] = finding
        if finding.severity is Severity.ERROR:
            failed.add(r.check)
        elif finding.severity is not Severity.INSUFFICIENT_DATA:
            computed.add(r.check)
    return by_key, computed - failed


def verdict(key: str, check: str, by_key: dict[str, Finding], ran: set[str]) -> Verdict | None:
    finding = by_key.get(key)
    if finding is not None:
        if finding.severity.is_breach:
            return Verdict("breach", finding)
        if finding.severity is Severity.OK:
            return Verdict("clean", finding)
        return None
    # the family ran and no longer reports this key (e.g. a category that disappeared): clean
    return Verdict("clean", None) if check in ran else None


def observation(row: Any) -> Observation:
    """A stored observation (or a ``Seen``) as the replay reads it."""
    return Observation(row.window_start, row.outcome == "breach", row.severity, row.value)


def same(row: Any, v: Verdict) -> bool:
    """Does the stored observation say what the verdict says (a re-run that changes nothing)?"""
    severity = v.finding.severity.value if v.finding else "ok"
    return row.outcome == v.outcome and row.severity == severity


def observation_fields(v: Verdict, run_id: int) -> dict[str, Any]:
    """The columns of the window's observation row for this verdict."""
    r = v.finding.result if v.finding else None
    return {
        "outcome": v.outcome,
        "severity": v.finding.severity.value if v.finding else "ok",
        "value": r.value if r else None,
        "ci_low": r.ci_low if r else None,
        "ci_high": r.ci_high if r else None,
        "run_id": run_id,
    }


def latest_fields(finding: Finding, run_id: int) -> dict[str, Any]:
    """The incident's "latest breach" columns, from the finding that is its newest breach."""
    r = finding.result
    return {
        "last_value": r.value,
        "last_ci_low": r.ci_low,
        "last_ci_high": r.ci_high,
        "threshold": r.threshold.to_dict() if r.threshold else None,
        "reason": finding.reason,
        "last_run_id": run_id,
    }


def refresh_fields(row: Any, incident: Any, v: Verdict, run_id: int) -> dict[str, Any]:
    """Same verdict as before (a re-run): the incident keeps the newest numbers, announces nothing."""
    if v.finding is not None and v.outcome == "breach" and incident.last_window_start == row.window_start:
        return latest_fields(v.finding, run_id)
    return {}


def new_incident_fields(audit_id: str, key: str, finding: Finding, window: datetime) -> dict[str, Any]:
    """The columns of a key's first incident, opened by ``finding`` in ``window``."""
    r = finding.result
    return {
        "audit_id": audit_id,
        "key": key,
        "check": r.check,
        "metric": r.metric,
        "slice": r.slice,
        "status": "open",
        "severity": finding.severity.value,
        "worst_severity": finding.severity.value,
        "first_window_start": window,
        "last_window_start": window,
        "occurrences": 0,
        "clean_streak": 0,
        "episode": 0,
        "external": {},
        "reason": "",
    }


@dataclass(frozen=True)
class Seen:
    """A later window's verdict on a key, read from its stored results (stored only if replayed)."""

    window_start: datetime
    outcome: str
    severity: str
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    run_id: int | None = None


def later_verdicts(
    rows: Sequence[Any], incidents: Sequence[Any], loaded: dict[int, dict[datetime, Any]]
) -> dict[int, list[Seen]]:
    """For a backfill: what the already-audited later windows (their current result rows, from
    ``store.observations.later_results``) said about each incident's key, where no observation row says it (a window audited before the
    incident existed, or a clean window after it had resolved, which forward runs do not record).
    Without this, a backfilled breach could not know that later windows were clean."""
    per_window: dict[datetime, dict[str, Any]] = {}
    for row in rows:
        per_window.setdefault(row.window_start, {})[incident_key(row.check, row.metric, row.slice_key)] = row
    out: dict[int, list[Seen]] = {}
    for when, results in sorted(per_window.items()):
        computed = {r.check for r in results.values() if r.severity not in ("insufficient_data", "error")}
        ran = computed - {r.check for r in results.values() if r.severity == "error"}
        for incident in incidents:
            if when in loaded.get(incident.id, {}):
                continue
            row = results.get(incident.key)
            if row is not None and row.severity in ("warn", "critical"):
                seen = Seen(when, "breach", row.severity, row.value, row.ci_low, row.ci_high, row.run_id)
            elif (row is not None and row.severity == "ok") or (row is None and incident.check in ran):
                seen = Seen(when, "clean", "ok", row.value if row is not None else None)
            else:
                continue
            out.setdefault(incident.id, []).append(seen)
    return out


# ------------------------------------------------------------------ the incident row after a replay


def active_status(muted_until: datetime | None, acknowledged_at: datetime | None, now: datetime) -> str:
    if muted_until is not None and muted_until > now:
        return "muted"
    return "acknowledged" if acknowledged_at is not None else "open"


def expired_mute(incident: Any, now: datetime) -> str | None:
    """The status a muted incident returns to when its mute has run out (None: nothing to do)."""
    if incident.status == "muted" and incident.muted_until is not None and incident.muted_until <= now:
        return active_status(incident.muted_until, incident.acknowledged_at, now)
    return None


def incident_updates(
    incident: Any,
    before: list[Episode],
    after: list[Episode],
    rows: dict[datetime, Any],
    v: Verdict | None,
    window: datetime,
    run_id: int,
    now: datetime,
) -> tuple[dict[str, Any], bool]:
    """What the incident row must say so it says what the replay ``after`` says, and whether a new
    episode began."""
    updates: dict[str, Any] = {}

    def get(name: str) -> Any:
        return updates[name] if name in updates else getattr(incident, name)

    old = before[-1] if before else None
    new = after[-1] if after else None
    updates["latest_window_start"] = max(rows, default=None)
    updates["updated_at"] = now
    if new is None:
        if incident.status in ACTIVE:
            updates.update(status="resolved", resolved_at=now, resolved_by=SYSTEM_ACTOR)
        updates.update(occurrences=0, clean_streak=0)
        return updates, False
    new_episode = new.active and (old is None or not old.active)
    updates.update(
        first_window_start=new.start,
        last_window_start=new.last_breach.window_start,
        severity=new.last_breach.severity,
        worst_severity=new.worst,
        occurrences=len(new.breaches),
        clean_streak=new.clean_streak,
    )
    last = rows.get(new.last_breach.window_start)
    if v is not None and v.finding is not None and new.last_breach.window_start == window:
        updates.update(latest_fields(v.finding, run_id))
    elif last is not None:
        updates.update(last_value=last.value, last_ci_low=last.ci_low, last_ci_high=last.ci_high)
    if new.active:
        if new_episode:
            updates["episode"] = get("episode") + 1
            updates["opened_at"] = now
            # an acknowledgement or a mute was about the last episode: a breach that returns is news
            updates.update(acknowledged_at=None, acknowledged_by=None, muted_until=None)
            updates.update(resolved_at=None, resolved_by=None)
        updates["status"] = active_status(get("muted_until"), get("acknowledged_at"), now)
    elif incident.status in ACTIVE or incident.resolved_at is None:
        updates["episode"] = max(get("episode"), 1)  # a backfilled breach that later windows had resolved
        updates["status"] = "resolved"
        updates["resolved_at"] = now
        updates["resolved_by"] = SYSTEM_ACTOR if new.resolved_by == "clean" else (get("resolved_by") or SYSTEM_ACTOR)
    return updates, bool(new_episode)


def announced(touched: list[Touched]) -> dict[str, list[int]]:
    """The ids of the incidents each transition touched, for the window's summary."""
    return {
        name: sorted(t.incident.id for t in touched if any(c.transition == name for c in t.changes))
        for name in ("opened", "updated", "reopened", "resolved")
    }


# ------------------------------------------------------------------ people's actions


@dataclass(frozen=True)
class Action:
    """One kind of manual action: the transition it records, and why a resolved incident refuses it."""

    transition: str
    refuse: str


ACTIONS = {
    # someone is on it: the incident stays open (updates still arrive), PagerDuty stops paging
    "acknowledge": Action("acknowledged", "resolved; there is nothing to acknowledge"),
    # no updates until ``until`` (a resolution is still announced, so tickets close)
    "mute": Action("muted", "resolved; there is nothing to mute"),
    # resolved by hand: the next breach in a window after the newest one seen reopens it
    "resolve": Action("resolved", "already resolved"),
}


def check_until(action: str, until: datetime | None, now: datetime) -> None:
    """A mute needs an ``until`` in the future (checked before the incidents are looked up)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    if action == "mute" and (until is None or until <= now):
        shown = until.isoformat() if until is not None else "(none)"
        raise IncidentError(f"--until {shown} is in the past; give a later date or a duration such as 7d")


def check_action(action: str, incidents: Sequence[Any]) -> None:
    """Refuse the whole action when any of its incidents is resolved."""
    for incident in incidents:
        if incident.status == "resolved":
            raise IncidentError(f"incident {incident.id} is {ACTIONS[action].refuse}")


def action_note(action: str, note: str, until: datetime | None) -> str:
    """The note its events carry (a mute names its end)."""
    if action == "mute" and until is not None:
        return f"muted until {until:%Y-%m-%d %H:%M} UTC" + (f": {note}" if note else "")
    return note


def action_updates(action: str, incident: Any, *, actor: str, now: datetime, until: datetime | None) -> dict[str, Any]:
    """The incident's new columns after a person's action."""
    if action == "acknowledge":
        out: dict[str, Any] = {"acknowledged_at": now, "acknowledged_by": actor}
        if incident.status != "muted":
            out["status"] = "acknowledged"
        return out
    if action == "mute":
        return {"muted_until": until, "status": "muted"}
    return {"status": "resolved", "resolved_at": now, "resolved_by": actor}


def seen_window(incident: Any) -> datetime:
    """The newest window seen: a manual resolution ends the episode there (see ``replay``)."""
    return incident.latest_window_start or incident.last_window_start
