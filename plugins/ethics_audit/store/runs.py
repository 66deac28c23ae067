"""Runs (attempts at a window): begin, fail, read back, and write a window's results.

``write_window`` and its helpers are the SQL half of recording a window; the transaction around
them, and the incidents and notifications it also writes, is ``ethics_audit.recording``.

Attempts whose process died are found and marked ``abandoned`` when the audit runs next. An attempt run whole in one process (the CLI) keeps its host and pid in its summary while it
runs. The next run of the same audit, in any window, marks it abandoned when that process no
longer exists on this host. Attempts without a process (Airflow splits one over several tasks)
or on another host are marked abandoned once they have been running longer than the stale limit.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ethics_audit.attempt import attempt_head
from ethics_audit.errors import StoreError
from ethics_audit.store.engine import StoreBase, safe_url

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ethics_audit.data import PendingArtifact
    from ethics_audit.results import Finding
    from ethics_audit.spec import AuditSpec

# how long a run may stay "running" before a later attempt marks it abandoned (killed worker)
STALE_RUN_AFTER = timedelta(hours=6)
ABANDONED = "the run stopped without recording an outcome"


def this_process() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def process_gone(owner: dict[str, Any] | None) -> bool:
    """True when ``owner`` names a process of this host that no longer exists."""
    if not owner or owner.get("host") != socket.gethostname() or not isinstance(owner.get("pid"), int):
        return False
    if owner["pid"] == os.getpid():
        return False
    try:
        os.kill(owner["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, as another user's process
        return False
    return False


def mark_abandoned(session: Session, audit_id: str, *, now: datetime, stale_after: timedelta) -> list[int]:
    """Mark the audit's dead attempts abandoned; returns their ids."""
    from sqlalchemy import select

    from ethics_audit.store.models import AuditRun

    running = session.execute(
        select(AuditRun).where(AuditRun.audit_id == audit_id, AuditRun.status == "running")
    ).scalars()
    marked = []
    for run in running:
        owner = (run.summary or {}).get("process")
        if process_gone(owner):
            why = f"{ABANDONED} (its process {owner['pid']} on {owner['host']} is gone)"
        elif run.started_at < now - stale_after:
            why = f"{ABANDONED} (still running after {stale_after})"
        else:
            continue
        run.status, run.error, run.finished_at = "abandoned", why, now
        marked.append(run.id)
    return marked


@dataclass(frozen=True)
class RunRecord:
    """A run as the CLI and reports see it."""

    run_id: int
    audit_id: str
    window_start: datetime
    window_end: datetime
    status: str
    rows: int | None
    reference_rows: int | None
    started_at: datetime
    duration_s: float | None
    spec_hash: str
    is_current: bool
    worst_severity: str
    summary: dict
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            **attempt_head(self),
            "started_at": self.started_at.isoformat(),
            "duration_s": self.duration_s,
            "spec_hash": self.spec_hash,
            "is_current": self.is_current,
            "worst_severity": self.worst_severity,
            "summary": self.summary,
            "error": self.error,
        }


def run_record(run: Any, window: Any | None) -> RunRecord:
    return RunRecord(
        run_id=run.id,
        audit_id=run.audit_id,
        window_start=run.window_start,
        window_end=run.window_end,
        status=run.status,
        rows=run.rows,
        reference_rows=run.reference_rows,
        started_at=run.started_at,
        duration_s=run.duration_s,
        spec_hash=run.spec_hash,
        is_current=bool(window and window.current_run_id == run.id),
        worst_severity=(run.summary or {}).get("worst_severity", "ok"),
        summary=run.summary or {},
        error=run.error,
    )


class RunsStore(StoreBase):
    """Beginning, failing and reading back one attempt."""

    def begin_run(
        self,
        spec: AuditSpec,
        window_start: datetime,
        window_end: datetime,
        *,
        trigger: str = "cli",
        in_process: bool = False,
    ) -> int:
        """Record that an attempt started (committed at once, so a killed run leaves a trace).

        ``in_process``: the whole attempt runs in this process (the CLI), so its host and pid are
        kept with it, and the next run of the audit marks it abandoned as soon as that process is
        gone. Attempts split over processes (Airflow tasks) are abandoned after ``STALE_RUN_AFTER``.
        """
        from ethics_audit.store.models import AuditRun, utcnow

        now = utcnow()
        with self.session() as s:
            mark_abandoned(s, spec.id, now=now, stale_after=STALE_RUN_AFTER)
            run = AuditRun(
                audit_id=spec.id,
                window_start=window_start,
                window_end=window_end,
                spec_hash=spec.spec_hash(),
                status="running",
                trigger=trigger,
                started_at=now,
                timings={},
                summary={"process": this_process()} if in_process else {},
            )
            s.add(run)
            s.flush()
            return run.id

    def fail_run(self, run_id: int, error: str, *, timings: dict[str, float] | None = None) -> None:
        """Record a failed attempt; the window's earlier results stay current."""
        from ethics_audit.store.models import AuditRun, utcnow

        with self.session() as s:
            run = s.get(AuditRun, run_id)
            if run is None:
                return
            finished = utcnow()
            run.status = "failed"
            run.error = error
            run.timings = timings or {}
            run.finished_at = finished
            run.duration_s = (finished - run.started_at).total_seconds()

    def get_run(self, run_id: int) -> RunRecord | None:
        from sqlalchemy import select

        from ethics_audit.store.models import AuditRun, AuditWindow

        with self.session() as s:
            run = s.get(AuditRun, run_id)
            if run is None:
                return None
            window = s.execute(select(AuditWindow).where(AuditWindow.current_run_id == run.id)).scalar_one_or_none()
            return run_record(run, window)


# --------------------------------------------------------------------------- recording a window (SQL half)


def locked_window(s: Session, url: str, audit_id: str, run_id: int) -> tuple[Any, Any | None]:
    """The run and its window row (None before the window's first recording), with the audit locked.

    One recording per audit at a time: the window row, the incidents and the outbox are read and
    written as one consistent step (see store.locks).
    """
    from sqlalchemy import select

    from ethics_audit.store.locks import audit_lock
    from ethics_audit.store.models import AuditRun, AuditWindow

    audit_lock(s, audit_id)
    run = s.get(AuditRun, run_id)
    if run is None:
        raise StoreError(f"run {run_id} does not exist in {safe_url(url)}")
    window = s.execute(
        select(AuditWindow)
        .where(
            AuditWindow.audit_id == run.audit_id,
            AuditWindow.window_start == run.window_start,
            AuditWindow.window_end == run.window_end,
        )
        .with_for_update()
    ).scalar_one_or_none()
    return run, window


def keep_earlier(
    run: Any,
    window: Any,
    findings: list[Finding],
    rows: int,
    reference_rows: int | None,
    timings: dict[str, float],
    summary: dict[str, Any],
) -> dict[str, Any]:
    """An empty attempt that leaves the window's earlier current run in place. The attempt and
    its findings are kept in its summary (metric_results holds current results only, each
    covered by a ledger entry). Returns the changes the recording reports (``kept_run_id``)."""
    from ethics_audit.store.models import utcnow

    finished = utcnow()
    changes = {"kept_run_id": window.current_run_id, "window_start": run.window_start.isoformat()}
    run.status, run.rows, run.reference_rows, run.timings = "empty", rows, reference_rows, timings
    run.summary = {**summary, "incidents": changes, "findings": [f.to_dict() for f in findings]}
    run.finished_at = finished
    run.duration_s = (finished - run.started_at).total_seconds()
    return changes


@dataclass
class WrittenWindow:
    """What ``write_window`` wrote, for the ledger entry that covers it."""

    window: Any
    result_rows: list[dict[str, Any]]
    spec: dict[str, Any]
    finished: datetime


def write_window(
    s: Session,
    run: Any,
    window: Any | None,
    spec: AuditSpec,
    findings: list[Finding],
    *,
    status: str,
    worst_severity: str,
    rows: int,
    reference_rows: int | None,
    timings: dict[str, float],
    summary: dict[str, Any],
    artifacts: list[PendingArtifact],
) -> WrittenWindow:
    """Replace the window's current results with ``findings`` and point the window at ``run``;
    write its artifacts and snapshot its spec."""
    from sqlalchemy import delete, insert

    from ethics_audit.store.artifacts import write_artifact
    from ethics_audit.store.models import AuditWindow, MetricResultRow, SpecSnapshot, utcnow

    if window is None:
        window = AuditWindow(
            audit_id=run.audit_id, window_start=run.window_start, window_end=run.window_end, status=status
        )
        s.add(window)
    elif window.current_run_id is not None:
        s.execute(delete(MetricResultRow).where(MetricResultRow.run_id == window.current_run_id))
    rows_out = [result_row(run, f) for f in findings]
    if rows_out:
        s.execute(insert(MetricResultRow), rows_out)
    finished = utcnow()
    run.status = status
    run.rows = rows
    run.reference_rows = reference_rows
    run.timings = timings
    run.summary = summary
    run.finished_at = finished
    run.duration_s = (finished - run.started_at).total_seconds()
    window.current_run_id = run.id
    window.status = status
    window.worst_severity = worst_severity
    window.updated_at = finished
    for artifact in artifacts:
        s.add(write_artifact(run, artifact))
    snapshot = s.get(SpecSnapshot, run.spec_hash)
    if snapshot is None:
        snapshot = SpecSnapshot(spec_hash=run.spec_hash, audit_id=spec.id, spec=spec.model_dump(mode="json"))
        s.add(snapshot)
    s.flush()
    return WrittenWindow(window, rows_out, snapshot.spec, finished)


def result_row(run: Any, f: Finding) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "audit_id": run.audit_id,
        "window_start": run.window_start,
        "window_end": run.window_end,
        "check": f.result.check,
        "metric": f.result.metric,
        "slice": f.result.slice,
        "slice_key": f.result.slice_key,
        "value": f.result.value,
        "ci_low": f.result.ci_low,
        "ci_high": f.result.ci_high,
        "n": f.result.n,
        "threshold": f.result.threshold.to_dict() if f.result.threshold else None,
        "severity": f.severity.value,
        "reason": f.reason,
        "details": f.result.details,
    }
