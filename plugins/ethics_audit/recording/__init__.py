"""Recording: the one transaction in which a window's results, and a person's action, become state.

``record_window`` makes a run's findings the window's results, advances the audit's incidents
and alerts (``ethics_audit.lifecycle``), queues the notifications their changes need, and
appends the window's ledger entry: all of it commits, or none of it. ``apply_action`` does the
same for a person acknowledging, muting or resolving incidents. The store holds every query;
this package decides the order and owns the transaction, so the store never calls the domain:
``recording.incidents`` advances the incidents through a window, ``recording.alerts`` groups
their changes into alerts and queues the notifications.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ethics_audit.lifecycle import incidents as lc
from ethics_audit.lifecycle.episodes import IncidentError
from ethics_audit.recording import incidents as advancing
from ethics_audit.recording.alerts import announce_action
from ethics_audit.store import observations as obs

if TYPE_CHECKING:
    from ethics_audit.data import PendingArtifact
    from ethics_audit.results import Finding
    from ethics_audit.spec import AuditSpec
    from ethics_audit.store import Store


def record_window(
    store: Store,
    run_id: int,
    spec: AuditSpec,
    findings: list[Finding],
    *,
    status: str,
    rows: int,
    reference_rows: int | None,
    timings: dict[str, float],
    summary: dict[str, Any],
    artifacts: list[PendingArtifact] | None = None,
    now: datetime | None = None,
    fingerprint: dict[str, Any] | None = None,
    replace_empty: bool = False,
) -> dict[str, Any]:
    """Make ``findings`` the window's results, in one transaction.

    The same transaction appends the window's ledger entry (``fingerprint``, from
    ``ledger.fingerprint.of_window``, describes the input data it was computed from).

    An ``empty`` run (no rows) does not replace results a run with rows made current, unless
    ``replace_empty``: its findings are kept in the attempt's summary, the window and its incidents
    stay as they were (no window is committed, so no ledger entry), and the return says
    which run stayed current (``kept_run_id``).

    ``now`` is the audit's time (``AuditData.now``): incident transitions are stamped with it,
    so a replayed or simulated history (the demo) keeps its own clock.

    Replaces the results of the window's previous current run, points the window at this
    run, snapshots the spec, and advances the incidents (with the outbox rows their changes
    need) in the same transaction: all of it lands, or none of it. Returns what changed in
    the incidents (``recording.incidents.advance``).
    """
    from ethics_audit.evaluate import worst
    from ethics_audit.store import ledger, runs

    with store.session() as s:
        run, window = runs.locked_window(s, store.url, spec.id, run_id)
        keep = window is not None and status == "empty" and not replace_empty and window.status != "empty"
        if keep and window.current_run_id is not None:
            return runs.keep_earlier(run, window, findings, rows, reference_rows, timings, summary)
        written = runs.write_window(
            s,
            run,
            window,
            spec,
            findings,
            status=status,
            worst_severity=worst(findings).value,
            rows=rows,
            reference_rows=reference_rows,
            timings=timings,
            summary=summary,
            artifacts=artifacts or [],
        )
        changes = advancing.advance(s, spec, run, findings, now=now)
        run.summary = {**summary, "incidents": changes}
        ledger.append_window(
            s,
            run,
            written.result_rows,
            spec=written.spec,
            worst_severity=written.window.worst_severity,
            fingerprint=fingerprint,
            recorded_at=written.finished,
        )
        return changes


def apply_action(
    store: Store,
    action: str,
    ids: list[int],
    *,
    actor: str,
    note: str = "",
    until: datetime | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A person ``acknowledge``s, ``mute``s (until ``until``) or ``resolve``s incidents, in one
    transaction with the notifications it causes and the ledger entries of its events.

    Refused whole (``IncidentError``) when an id does not exist or an incident is resolved.
    """
    from ethics_audit.store import ledger
    from ethics_audit.store.incidents import incident_brief
    from ethics_audit.store.models import utcnow

    now = now or utcnow()
    lc.check_until(action, until, now)
    transition = lc.ACTIONS[action].transition
    text = lc.action_note(action, note, until)
    with store.session() as s:
        since = ledger.last_event_id(s)
        incidents = []
        for incident_id, incident in obs.incidents_by_id(s, ids):
            if incident is None:
                raise IncidentError(
                    f"incident {incident_id} does not exist; `ethics-audit incidents list --status all` lists them"
                )
            incidents.append(incident)
        lc.check_action(action, incidents)
        events = {}
        for incident in incidents:
            obs.update_row(incident, lc.action_updates(action, incident, actor=actor, now=now, until=until))
            seen = lc.seen_window(incident)
            events[incident.id] = obs.add_event(s, incident, transition, actor, now, seen, None, text)
        s.flush()
        written = announce_action(s, incidents, transition, actor, text, events, now)
        out = {"incidents": [incident_brief(i) for i in incidents], "notifications": written}
        ledger.append_manual_events(s, ids, since)  # the ledger records every manual transition
        return out
