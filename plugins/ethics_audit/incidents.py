"""The breach lifecycle: findings become incidents, incidents become alerts, alerts become outbox rows.

One incident per (audit, check, metric, slice) key. Its state is a pure function of what the
windows said about the key, replayed in window order (``replay``): a breach opens an episode,
later breaches update it, ``resolve_after_clean_windows`` clean windows resolve it, and a
breach after that reopens it. Re-running a window replaces that window's observation, so it
never counts twice; a backfilled old window is replayed in its place, so it cannot reopen an
incident that later windows resolved. ``advance`` applies one window's findings inside the
store's transaction and writes the notifications the changes need to the outbox. Incidents of
one check family that start together share an *alert* (one Slack thread, one ticket, one
page), so one real problem that breaches several metrics is announced once. People can
acknowledge, mute or resolve incidents by hand; every transition is an ``incident_events`` row
with its time and actor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ethics_audit.errors import AuditError
from ethics_audit.results import Finding, Severity

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ethics_audit.spec import AuditSpec
    from ethics_audit.store.models import AuditRun, Incident


SYSTEM_ACTOR = "ethics-audit"
ACTIVE = ("open", "acknowledged", "muted")


class IncidentError(AuditError):
    """An incident command that cannot be applied (unknown id, already resolved, bad date)."""


def incident_key(check: str, metric: str, slice_key: str) -> str:
    return f"{check}/{metric}/{slice_key}"


def severity_rank(severity: str | None) -> int:
    return Severity(severity).rank if severity else -1


# --------------------------------------------------------------------------- the pure state machine


@dataclass(frozen=True)
class Observation:
    """What one window said about one key: a breach (warn/critical) or clean."""

    window_start: datetime
    breach: bool
    severity: str = "ok"
    value: float | None = None


@dataclass
class Episode:
    """From the breach that opens an incident to the window that resolves it (or until now)."""

    start: datetime
    breaches: list[Observation] = field(default_factory=list)
    clean_streak: int = 0
    resolved_window: datetime | None = None
    resolved_by: str | None = None  # "clean" (automatic) | "manual"

    @property
    def active(self) -> bool:
        return self.resolved_by is None

    @property
    def last_breach(self) -> Observation:
        return self.breaches[-1]

    @property
    def worst(self) -> str:
        return max((b.severity for b in self.breaches), key=severity_rank)

    def signature(self) -> tuple:
        return (self.start, tuple((b.window_start, b.severity) for b in self.breaches), self.resolved_window)


def replay(
    observations: Iterable[Observation], *, clean_to_resolve: int, manual_resolutions: Iterable[datetime] = ()
) -> list[Episode]:
    """The episodes a key went through, replaying its observations in window order.

    ``manual_resolutions`` are the windows that were the newest seen when a person resolved the
    incident by hand: the episode open at that point ends there, and only a breach in a later
    window starts a new one. Windows without a verdict (insufficient data, a failed check) have
    no observation: they neither count as clean nor break a clean streak.
    """
    boundaries = sorted(manual_resolutions)
    episodes: list[Episode] = []
    current: Episode | None = None

    def close_by_hand(before: datetime | None) -> None:
        if current is None or not current.active:
            return
        for boundary in boundaries:
            if boundary >= current.start and (before is None or boundary < before):
                current.resolved_window, current.resolved_by = boundary, "manual"
                return

    for obs in sorted(observations, key=lambda o: o.window_start):
        close_by_hand(obs.window_start)
        if obs.breach:
            if current is None or not current.active:
                current = Episode(start=obs.window_start)
                episodes.append(current)
            current.breaches.append(obs)
            current.clean_streak = 0
        elif current is not None and current.active:
            current.clean_streak += 1
            if current.clean_streak >= clean_to_resolve:
                current.resolved_window, current.resolved_by = obs.window_start, "clean"
    close_by_hand(None)
    return episodes


@dataclass(frozen=True)
class Change:
    """One transition of one incident caused by one window (or a person)."""

    transition: str  # opened | updated | reopened | resolved | backfilled
    notify: bool
    note: str = ""


def diff(
    before: Sequence[Episode], after: Sequence[Episode], window: datetime, latest: datetime | None
) -> list[Change]:
    """The transitions that turn the replay ``before`` into ``after`` when ``window`` changed.

    Only a change of the *current* state is announced: an incident that opens, reopens, gets a
    new breach in the newest window, or resolves. A backfilled window that only rewrites
    history is recorded (``backfilled``) but not announced.
    """
    old = before[-1] if before else None
    new = after[-1] if after else None
    forward = latest is None or window >= latest
    where = "" if forward else f" (backfill of the window starting {window:%Y-%m-%d %H:%M})"
    if new is None:
        if old is not None and old.active:
            return [Change("resolved", True, f"the re-run of the window starting {window:%Y-%m-%d} no longer breaches")]
        return []
    if new.active:
        if old is None:
            return [Change("opened", True, where.strip(" ()"))]
        if not old.active:
            return [Change("reopened", True, "the breach returned" + where)]
        if new.signature() == old.signature():
            return []
        if any(b.window_start == window for b in new.breaches):
            was = {b.window_start: b.severity for b in old.breaches}.get(window)
            now = next(b.severity for b in new.breaches if b.window_start == window)
            note = "breached again" if was is None else f"severity {was} → {now}"
            return [Change("updated", forward, note + where)]
        return [Change("updated", forward, f"the window starting {window:%Y-%m-%d} no longer breaches" + where)]
    if old is not None and old.active:
        how = f"{new.clean_streak} clean windows in a row" if new.resolved_by == "clean" else "resolved by hand"
        return [Change("resolved", True, how + where)]
    if old is None:
        return [
            Change("opened", False, f"backfill: breached in the window starting {new.start:%Y-%m-%d}"),
            Change("resolved", False, f"backfill: later windows were clean up to {new.resolved_window:%Y-%m-%d}"),
        ]
    if [e.signature() for e in before] != [e.signature() for e in after]:
        return [Change("backfilled", False, f"history rewritten by the window starting {window:%Y-%m-%d}")]
    return []


# --------------------------------------------------------------------------- applying a window


@dataclass
class _Verdict:
    """What this window says about a key: ``breach`` / ``clean`` with the finding, or nothing."""

    outcome: str  # breach | clean
    finding: Finding | None


@dataclass
class Touched:
    """An incident that changed in this window, with what changed (for alerts and notifications)."""

    incident: Incident
    changes: list[Change]
    previous_alert_id: int | None
    new_episode: bool


def _verdicts(findings: list[Finding]) -> tuple[dict[str, Finding], set[str]]:
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


def _verdict(key: str, check: str, by_key: dict[str, Finding], ran: set[str]) -> _Verdict | None:
    finding = by_key.get(key)
    if finding is not None:
        if finding.severity.is_breach:
            return _Verdict("breach", finding)
        if finding.severity is Severity.OK:
            return _Verdict("clean", finding)
        return None
    # the family ran and no longer reports this key (e.g. a category that disappeared): clean
    return _Verdict("clean", None) if check in ran else None


def _obs(row: Any) -> Observation:
    return Observation(row.window_start, row.outcome == "breach", row.severity, row.value)


def advance(
    session: Session, spec: AuditSpec, run: AuditRun, findings: list[Finding], *, now: datetime | None = None
) -> dict[str, Any]:
    """Apply one window's findings to the audit's incidents and fill the outbox.

    Runs inside ``Store.record_window``'s transaction, after the results are written: results,
    incident changes and notifications commit together or not at all. Returns what changed.
    """
    from sqlalchemy import select

    from ethics_audit.store.models import AuditWindow, Incident, utcnow

    now = now or utcnow()
    window = run.window_start
    clean_to_resolve = spec.incidents.resolve_after_clean_windows
    by_key, ran = _verdicts(findings)
    incidents = {i.key: i for i in session.execute(select(Incident).where(Incident.audit_id == spec.id)).scalars()}
    for key, finding in by_key.items():
        if finding.severity.is_breach and key not in incidents:
            incidents[key] = _new_incident(spec.id, key, finding, window)
            session.add(incidents[key])
    session.flush()
    _expire_mutes(session, incidents.values(), now)

    loaded = _load_observations(session, spec.id, window)
    boundaries = _manual_boundaries(session, spec.id)
    backfill = (
        session.execute(
            select(AuditWindow.id).where(AuditWindow.audit_id == spec.id, AuditWindow.window_start > window).limit(1)
        ).first()
        is not None
    )
    later = _later_windows(session, spec.id, incidents.values(), loaded, window) if backfill else {}
    touched: list[Touched] = []
    for key, incident in incidents.items():
        rows = loaded.get(incident.id, {})
        for seen in later.get(incident.id, []):
            rows[seen.window_start] = seen
        verdict = _verdict(key, incident.check, by_key, ran)
        old_row = rows.get(window)
        if old_row is None and verdict is None:
            continue
        if old_row is None and not backfill and incident.status == "resolved" and verdict.outcome == "clean":
            continue  # a clean window after the resolution, and nothing after it: nothing can change
        if old_row is not None and verdict is not None and _same(old_row, verdict):
            _refresh(old_row, incident, verdict, run.id)
            continue
        for when, seen in list(rows.items()):
            if isinstance(seen, _Seen):  # this replay may rest on it: later replays must see it too
                rows[when] = _persist(session, incident.id, seen)
        latest = max(rows, default=None)
        if latest is not None and latest > window and _recorded_meanwhile(session, rows[latest], run):
            latest = None  # a later window recorded while this run was under way: news, not a backfill
        before = replay(
            [_obs(r) for r in rows.values()],
            clean_to_resolve=clean_to_resolve,
            manual_resolutions=boundaries.get(incident.id, []),
        )
        if verdict is None:
            session.delete(old_row)
            del rows[window]
        elif old_row is None:
            rows[window] = _observation_row(incident.id, window, verdict, run.id)
            session.add(rows[window])
        else:
            _fill_observation(old_row, verdict, run.id)
        after = replay(
            [_obs(r) for r in rows.values()],
            clean_to_resolve=clean_to_resolve,
            manual_resolutions=boundaries.get(incident.id, []),
        )
        changes = diff(before, after, window, latest)
        if not after:  # the re-run withdrew every breach loaded: the state is that of the episodes before
            rows = _all_observations(session, incident.id)
            after = replay(
                [_obs(r) for r in rows.values()],
                clean_to_resolve=clean_to_resolve,
                manual_resolutions=boundaries.get(incident.id, []),
            )
        previous_alert = incident.alert_id
        new_episode = _apply(incident, before, after, rows, verdict, window, run.id, now)
        if not changes:
            continue
        for change in changes:
            _event(session, incident, change.transition, SYSTEM_ACTOR, now, window, run.id, change.note)
        touched.append(Touched(incident, changes, previous_alert, new_episode))
    session.flush()
    from ethics_audit import alerts as alerting

    alerts = alerting.route(session, spec, run, touched, now)
    return {
        "window_start": window.isoformat(),
        **{
            name: sorted(t.incident.id for t in touched if any(c.transition == name for c in t.changes))
            for name in ("opened", "updated", "reopened", "resolved")
        },
        "alerts": alerts,
        "errors_announced": alerting.announce_failing_checks(session, spec, run, findings),
    }


def _new_incident(audit_id: str, key: str, finding: Finding, window: datetime) -> Incident:
    from ethics_audit.store.models import Incident

    r = finding.result
    return Incident(
        audit_id=audit_id,
        key=key,
        check=r.check,
        metric=r.metric,
        slice=r.slice,
        status="open",
        severity=finding.severity.value,
        worst_severity=finding.severity.value,
        first_window_start=window,
        last_window_start=window,
        occurrences=0,
        clean_streak=0,
        episode=0,
        external={},
        reason="",
    )


def _same(row: Any, verdict: _Verdict) -> bool:
    severity = verdict.finding.severity.value if verdict.finding else "ok"
    return row.outcome == verdict.outcome and row.severity == severity


def _fill_observation(row: Any, verdict: _Verdict, run_id: int) -> None:
    r = verdict.finding.result if verdict.finding else None
    row.outcome = verdict.outcome
    row.severity = verdict.finding.severity.value if verdict.finding else "ok"
    row.value = r.value if r else None
    row.ci_low = r.ci_low if r else None
    row.ci_high = r.ci_high if r else None
    row.run_id = run_id


def _observation_row(incident_id: int, window: datetime, verdict: _Verdict, run_id: int) -> Any:
    from ethics_audit.store.models import IncidentObservation

    row = IncidentObservation(incident_id=incident_id, window_start=window)
    _fill_observation(row, verdict, run_id)
    return row


def _refresh(row: Any, incident: Incident, verdict: _Verdict, run_id: int) -> None:
    """Same verdict as before (a re-run): keep the newest numbers, announce nothing."""
    _fill_observation(row, verdict, run_id)
    if verdict.finding is not None and verdict.outcome == "breach" and incident.last_window_start == row.window_start:
        _copy_latest(incident, verdict.finding, run_id)


def _copy_latest(incident: Incident, finding: Finding, run_id: int) -> None:
    r = finding.result
    incident.last_value = r.value
    incident.last_ci_low = r.ci_low
    incident.last_ci_high = r.ci_high
    incident.threshold = r.threshold.to_dict() if r.threshold else None
    incident.reason = finding.reason
    incident.last_run_id = run_id


def _apply(
    incident: Incident,
    before: list[Episode],
    after: list[Episode],
    rows: dict[datetime, Any],
    verdict: _Verdict | None,
    window: datetime,
    run_id: int,
    now: datetime,
) -> bool:
    """Make the incident row say what the replay ``after`` says. True if a new episode began."""
    old = before[-1] if before else None
    new = after[-1] if after else None
    incident.latest_window_start = max(rows, default=None)
    incident.updated_at = now
    if new is None:
        if incident.status in ACTIVE:
            incident.status, incident.resolved_at, incident.resolved_by = "resolved", now, SYSTEM_ACTOR
        incident.occurrences, incident.clean_streak = 0, 0
        return False
    new_episode = new.active and (old is None or not old.active)
    incident.first_window_start = new.start
    incident.last_window_start = new.last_breach.window_start
    incident.severity = new.last_breach.severity
    incident.worst_severity = new.worst
    incident.occurrences = len(new.breaches)
    incident.clean_streak = new.clean_streak
    last = rows.get(new.last_breach.window_start)
    if verdict is not None and verdict.finding is not None and new.last_breach.window_start == window:
        _copy_latest(incident, verdict.finding, run_id)
    elif last is not None:
        incident.last_value, incident.last_ci_low, incident.last_ci_high = last.value, last.ci_low, last.ci_high
    if new.active:
        if new_episode:
            incident.episode += 1
            incident.opened_at = now
            # an acknowledgement or a mute was about the last episode: a breach that returns is news
            incident.acknowledged_at = incident.acknowledged_by = incident.muted_until = None
            incident.resolved_at = incident.resolved_by = None
        incident.status = _active_status(incident, now)
    elif incident.status in ACTIVE or incident.resolved_at is None:
        incident.episode = max(incident.episode, 1)  # a backfilled breach that later windows had resolved
        incident.status = "resolved"
        incident.resolved_at = now
        incident.resolved_by = SYSTEM_ACTOR if new.resolved_by == "clean" else (incident.resolved_by or SYSTEM_ACTOR)
    return bool(new_episode)


def _active_status(incident: Incident, now: datetime) -> str:
    if incident.muted_until is not None and incident.muted_until > now:
        return "muted"
    return "acknowledged" if incident.acknowledged_at is not None else "open"


def _expire_mutes(session: Session, incidents: Iterable[Incident], now: datetime) -> None:
    for incident in incidents:
        if incident.status == "muted" and incident.muted_until is not None and incident.muted_until <= now:
            incident.status = _active_status(incident, now)
            _event(session, incident, "unmuted", SYSTEM_ACTOR, now, None, None, "the mute expired")


def _event(
    session: Session,
    incident: Incident,
    transition: str,
    actor: str,
    at: datetime,
    window: datetime | None,
    run_id: int | None,
    note: str,
) -> Any:
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


def _load_observations(session: Session, audit_id: str, window: datetime) -> dict[int, dict[datetime, Any]]:
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


def _all_observations(session: Session, incident_id: int) -> dict[datetime, Any]:
    from sqlalchemy import select

    from ethics_audit.store.models import IncidentObservation

    rows = session.execute(select(IncidentObservation).where(IncidentObservation.incident_id == incident_id)).scalars()
    return {row.window_start: row for row in rows}


def _manual_boundaries(session: Session, audit_id: str) -> dict[int, list[datetime]]:
    from sqlalchemy import select

    from ethics_audit.store.models import Incident, IncidentEvent

    rows = session.execute(
        select(IncidentEvent.incident_id, IncidentEvent.window_start)
        .join(Incident, Incident.id == IncidentEvent.incident_id)
        .where(
            Incident.audit_id == audit_id,
            IncidentEvent.transition == "resolved",
            IncidentEvent.actor != SYSTEM_ACTOR,
            IncidentEvent.window_start.is_not(None),
        )
    ).all()
    out: dict[int, list[datetime]] = {}
    for incident_id, boundary in rows:
        out.setdefault(incident_id, []).append(boundary)
    return out


def _recorded_meanwhile(session: Session, row: Any, run: AuditRun) -> bool:
    """True when the run that recorded ``row`` finished after ``run`` started: the two ran at the
    same time (two windows audited at once), so this window is as new as that one, not a backfill."""
    from ethics_audit.store.models import AuditRun

    other = session.get(AuditRun, row.run_id) if getattr(row, "run_id", None) else None
    finished = other.finished_at if other is not None else None
    return finished is not None and other.id != run.id and finished >= run.started_at


@dataclass
class _Seen:
    """A later window's verdict on a key, read from its stored results (stored only if replayed)."""

    window_start: datetime
    outcome: str
    severity: str
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    run_id: int | None = None


def _persist(session: Session, incident_id: int, seen: _Seen) -> Any:
    from ethics_audit.store.models import IncidentObservation

    row = IncidentObservation(
        incident_id=incident_id,
        window_start=seen.window_start,
        outcome=seen.outcome,
        severity=seen.severity,
        value=seen.value,
        ci_low=seen.ci_low,
        ci_high=seen.ci_high,
        run_id=seen.run_id,
    )
    session.add(row)
    return row


def _later_windows(
    session: Session,
    audit_id: str,
    incidents: Iterable[Incident],
    loaded: dict[int, dict[datetime, Any]],
    window: datetime,
) -> dict[int, list[_Seen]]:
    """For a backfill: what the already-audited later windows said about each incident's key,
    where no observation row says it (a window audited before the incident existed, or a clean
    window after it had resolved, which forward runs do not record). Without this, a backfilled
    breach could not know that later windows were clean."""
    from sqlalchemy import select

    from ethics_audit.store.models import AuditWindow, MetricResultRow

    incidents = list(incidents)
    rows = session.execute(
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
            MetricResultRow.check.in_({i.check for i in incidents}),
        )
    ).all()
    per_window: dict[datetime, dict[str, Any]] = {}
    for row in rows:
        per_window.setdefault(row.window_start, {})[incident_key(row.check, row.metric, row.slice_key)] = row
    out: dict[int, list[_Seen]] = {}
    for when, results in sorted(per_window.items()):
        computed = {r.check for r in results.values() if r.severity not in ("insufficient_data", "error")}
        ran = computed - {r.check for r in results.values() if r.severity == "error"}
        for incident in incidents:
            if when in loaded.get(incident.id, {}):
                continue
            row = results.get(incident.key)
            if row is not None and row.severity in ("warn", "critical"):
                seen = _Seen(when, "breach", row.severity, row.value, row.ci_low, row.ci_high, row.run_id)
            elif (row is not None and row.severity == "ok") or (row is None and incident.check in ran):
                seen = _Seen(when, "clean", "ok", row.value if row is not None else None)
            else:
                continue
            out.setdefault(incident.id, []).append(seen)
    return out


def incident_brief(incident: Incident) -> dict[str, Any]:
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


# --------------------------------------------------------------------------- people's actions


def _load_for_action(session: Session, incident_ids: Sequence[int]) -> list[Incident]:
    from ethics_audit.store.models import Incident

    found = []
    for incident_id in incident_ids:
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise IncidentError(
                f"incident {incident_id} does not exist; `ethics-audit incidents list --status all` lists them"
            )
        found.append(incident)
    return found


def _act(
    session: Session,
    incident_ids: Sequence[int],
    *,
    transition: str,
    actor: str,
    note: str,
    now: datetime,
    refuse: str,
    change: Callable[[Incident], None],
) -> dict[str, Any]:
    """A person's action on incidents: change them, record who did it, tell their alerts' channels."""
    from ethics_audit import alerts as alerting

    incidents = _load_for_action(session, incident_ids)
    for incident in incidents:
        if incident.status == "resolved":
            raise IncidentError(f"incident {incident.id} is {refuse}")
    events = {}
    for incident in incidents:
        change(incident)
        # the newest window seen: a manual resolution ends the episode there (see ``replay``)
        seen = incident.latest_window_start or incident.last_window_start
        events[incident.id] = _event(session, incident, transition, actor, now, seen, None, note)
    session.flush()
    written = alerting.announce_action(session, incidents, transition, actor, note, events, now)
    return {"incidents": [incident_brief(i) for i in incidents], "notifications": written}


def acknowledge(
    session: Session, incident_ids: Sequence[int], *, actor: str, note: str = "", now: datetime | None = None
) -> dict[str, Any]:
    """Someone is on it: the incident stays open (updates still arrive), PagerDuty stops paging."""
    from ethics_audit.store.models import utcnow

    now = now or utcnow()

    def change(incident: Incident) -> None:
        incident.acknowledged_at, incident.acknowledged_by = now, actor
        if incident.status != "muted":
            incident.status = "acknowledged"

    return _act(
        session,
        incident_ids,
        transition="acknowledged",
        actor=actor,
        note=note,
        now=now,
        refuse="resolved; there is nothing to acknowledge",
        change=change,
    )


def mute(
    session: Session,
    incident_ids: Sequence[int],
    *,
    until: datetime,
    actor: str,
    note: str = "",
    now: datetime | None = None,
) -> dict[str, Any]:
    """No updates until ``until`` (a resolution is still announced, so tickets close)."""
    from ethics_audit.store.models import utcnow

    now = now or utcnow()
    if until <= now:
        raise IncidentError(f"--until {until.isoformat()} is in the past; give a later date or a duration such as 7d")

    def change(incident: Incident) -> None:
        incident.muted_until, incident.status = until, "muted"

    text = f"muted until {until:%Y-%m-%d %H:%M} UTC" + (f": {note}" if note else "")
    return _act(
        session,
        incident_ids,
        transition="muted",
        actor=actor,
        note=text,
        now=now,
        refuse="resolved; there is nothing to mute",
        change=change,
    )


def resolve(
    session: Session, incident_ids: Sequence[int], *, actor: str, note: str = "", now: datetime | None = None
) -> dict[str, Any]:
    """Resolved by hand: the next breach in a window after the newest one seen reopens it."""
    from ethics_audit.store.models import utcnow

    now = now or utcnow()

    def change(incident: Incident) -> None:
        incident.status, incident.resolved_at, incident.resolved_by = "resolved", now, actor

    return _act(
        session,
        incident_ids,
        transition="resolved",
        actor=actor,
        note=note,
        now=now,
        refuse="already resolved",
        change=change,
    )
