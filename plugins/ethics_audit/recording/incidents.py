"""Advancing an audit's incidents through one window, inside ``record_window``'s transaction.

For each key the window has a verdict on, the stored observations are replayed before and
after this window's verdict (``lifecycle.episodes``); the difference is the transitions to
record and announce, and the replay after is what the incident row becomes
(``lifecycle.incidents``). The rows are read and written through ``store.observations``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ethics_audit.lifecycle import incidents as lc
from ethics_audit.lifecycle.episodes import SYSTEM_ACTOR, diff, replay
from ethics_audit.lifecycle.incidents import Touched
from ethics_audit.recording.alerts import announce_failing_checks, route
from ethics_audit.store import observations as obs

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ethics_audit.results import Finding
    from ethics_audit.spec import AuditSpec


def advance(
    session: Session, spec: AuditSpec, run: Any, findings: list[Finding], *, now: datetime | None = None
) -> dict[str, Any]:
    """Apply one window's findings to the audit's incidents and fill the outbox.

    Runs inside ``record_window``'s transaction, after the results are written: results,
    incident changes and notifications commit together or not at all. Returns what changed.
    """
    from ethics_audit.store.models import utcnow

    now = now or utcnow()
    window = run.window_start
    clean_to_resolve = spec.incidents.resolve_after_clean_windows
    by_key, ran = lc.verdicts(findings)
    incidents = obs.incidents_of(session, spec.id)
    for key, finding in by_key.items():
        if finding.severity.is_breach and key not in incidents:
            incidents[key] = obs.add_incident(session, lc.new_incident_fields(spec.id, key, finding, window))
    session.flush()
    for incident in incidents.values():
        status = lc.expired_mute(incident, now)
        if status is not None:
            incident.status = status
            obs.add_event(session, incident, "unmuted", SYSTEM_ACTOR, now, None, None, "the mute expired")

    loaded = obs.observations_from_episode(session, spec.id, window)
    boundaries = obs.manual_resolutions(session, spec.id, SYSTEM_ACTOR)
    backfill = obs.has_later_window(session, spec.id, window)
    later = _later_windows(session, spec.id, list(incidents.values()), loaded, window) if backfill else {}

    def replayed(rows: dict[datetime, Any], incident_id: int) -> list:
        return replay(
            [lc.observation(r) for r in rows.values()],
            clean_to_resolve=clean_to_resolve,
            manual_resolutions=boundaries.get(incident_id, []),
        )

    touched: list[Touched] = []
    for key, incident in incidents.items():
        rows = loaded.get(incident.id, {})
        for seen in later.get(incident.id, []):
            rows[seen.window_start] = seen
        verdict = lc.verdict(key, incident.check, by_key, ran)
        old_row = rows.get(window)
        if old_row is None and verdict is None:
            continue
        if old_row is None and not backfill and incident.status == "resolved" and verdict.outcome == "clean":
            continue  # a clean window after the resolution, and nothing after it: nothing can change
        if old_row is not None and verdict is not None and lc.same(old_row, verdict):
            obs.update_row(old_row, lc.observation_fields(verdict, run.id))
            obs.update_row(incident, lc.refresh_fields(old_row, incident, verdict, run.id))
            continue
        for when, seen in list(rows.items()):
            if isinstance(seen, lc.Seen):  # this replay may rest on it: later replays must see it too
                fields = {k: getattr(seen, k) for k in ("outcome", "severity", "value", "ci_low", "ci_high", "run_id")}
                rows[when] = obs.add_observation(session, incident.id, seen.window_start, fields)
        latest = max(rows, default=None)
        if latest is not None and latest > window and obs.recorded_meanwhile(session, rows[latest], run):
            latest = None  # a later window recorded while this run was under way: news, not a backfill
        before = replayed(rows, incident.id)
        if verdict is None:
            obs.remove_observation(session, old_row)
            del rows[window]
        elif old_row is None:
            rows[window] = obs.add_observation(session, incident.id, window, lc.observation_fields(verdict, run.id))
        else:
            obs.update_row(old_row, lc.observation_fields(verdict, run.id))
        after = replayed(rows, incident.id)
        changes = diff(before, after, window, latest)
        if not after:  # the re-run withdrew every breach loaded: the state is that of the episodes before
            rows = obs.all_observations(session, incident.id)
            after = replayed(rows, incident.id)
        previous_alert = incident.alert_id
        updates, new_episode = lc.incident_updates(incident, before, after, rows, verdict, window, run.id, now)
        obs.update_row(incident, updates)
        if not changes:
            continue
        for change in changes:
            obs.add_event(session, incident, change.transition, SYSTEM_ACTOR, now, window, run.id, change.note)
        touched.append(Touched(incident, changes, previous_alert, new_episode))
    session.flush()
    return {
        "window_start": window.isoformat(),
        **lc.announced(touched),
        "alerts": route(session, spec, run, touched, now),
        "errors_announced": announce_failing_checks(session, spec, run, findings),
    }


def _later_windows(
    session: Session, audit_id: str, incidents: list[Any], loaded: dict[int, dict[datetime, Any]], window: datetime
) -> dict[int, list[lc.Seen]]:
    rows = obs.later_results(session, audit_id, window, {i.check for i in incidents})
    return lc.later_verdicts(rows, incidents, loaded)
