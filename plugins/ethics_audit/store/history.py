"""Reading results back: a window's findings, an audit's history, the runs a report period covers.

The rows read here are those ``ethics_audit.recording`` wrote: the current run of each window
and its metric results (as ``Finding`` objects again).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ethics_audit.results import Finding, MetricResult, Severity, Status, Threshold
from ethics_audit.store.engine import StoreBase
from ethics_audit.store.runs import RunRecord, run_record


class HistoryStore(StoreBase):
    """Read-only queries over runs, windows and their results."""

    def history(self, audit_id: str, *, limit: int = 100, attempts: bool = False) -> list[RunRecord]:
        """Current runs per window, newest window first; ``attempts`` adds every attempt."""
        from sqlalchemy import select

        from ethics_audit.store.models import AuditRun, AuditWindow

        with self.session() as s:
            if attempts:
                runs = s.execute(
                    select(AuditRun, AuditWindow)
                    .outerjoin(AuditWindow, AuditWindow.current_run_id == AuditRun.id)
                    .where(AuditRun.audit_id == audit_id)
                    .order_by(AuditRun.window_start.desc(), AuditRun.id.desc())
                    .limit(limit)
                ).all()
            else:
                runs = s.execute(
                    select(AuditRun, AuditWindow)
                    .join(AuditWindow, AuditWindow.current_run_id == AuditRun.id)
                    .where(AuditWindow.audit_id == audit_id)
                    .order_by(AuditWindow.window_start.desc())
                    .limit(limit)
                ).all()
            return [run_record(run, window) for run, window in runs]

    def audit_ids(self) -> list[str]:
        from sqlalchemy import select

        from ethics_audit.store.models import AuditWindow

        with self.session() as s:
            return list(s.execute(select(AuditWindow.audit_id).distinct().order_by(AuditWindow.audit_id)).scalars())

    def findings(self, run_id: int) -> list[Finding]:
        from sqlalchemy import select

        from ethics_audit.store.models import MetricResultRow

        with self.session() as s:
            rows = s.execute(
                select(MetricResultRow).where(MetricResultRow.run_id == run_id).order_by(MetricResultRow.id)
            ).scalars()
            return [_finding(row) for row in rows]

    def current_findings(self, audit_id: str, window_start: datetime, window_end: datetime) -> list[Finding]:
        from sqlalchemy import select

        from ethics_audit.store.models import AuditWindow

        with self.session() as s:
            run_id = s.execute(
                select(AuditWindow.current_run_id).where(
                    AuditWindow.audit_id == audit_id,
                    AuditWindow.window_start == window_start,
                    AuditWindow.window_end == window_end,
                )
            ).scalar_one_or_none()
        return [] if run_id is None else self.findings(run_id)

    def row_counts_before(self, audit_id: str, window_start: datetime, n: int) -> list[int]:
        """Row counts of the ``n`` windows before ``window_start`` (oldest first), current runs only."""
        from sqlalchemy import select

        from ethics_audit.store.models import AuditRun, AuditWindow

        with self.session() as s:
            counts = s.execute(
                select(AuditRun.rows)
                .join(AuditWindow, AuditWindow.current_run_id == AuditRun.id)
                .where(AuditWindow.audit_id == audit_id, AuditWindow.window_start < window_start)
                .where(AuditRun.rows.is_not(None))
                .order_by(AuditWindow.window_start.desc())
                .limit(n)
            ).scalars()
            return list(reversed(list(counts)))

    def breaches_before(
        self, audit_id: str, window_start: datetime, n: int
    ) -> list[tuple[datetime, set[tuple[str, str, str]]]]:
        """The ``n`` windows before ``window_start``, newest first, each with the (check, metric,
        slice key) its current run breached: where a remedy section finds when a change began."""
        from sqlalchemy import select

        from ethics_audit.store.models import AuditWindow, MetricResultRow

        with self.session() as s:
            windows = list(
                s.execute(
                    select(AuditWindow.window_start, AuditWindow.current_run_id)
                    .where(AuditWindow.audit_id == audit_id, AuditWindow.window_start < window_start)
                    .where(AuditWindow.current_run_id.is_not(None))
                    .order_by(AuditWindow.window_start.desc())
                    .limit(n)
                ).all()
            )
            if not windows:
                return []
            keys: dict[int, set[tuple[str, str, str]]] = {run_id: set() for _, run_id in windows}
            rows = s.execute(
                select(
                    MetricResultRow.run_id, MetricResultRow.check, MetricResultRow.metric, MetricResultRow.slice_key
                ).where(MetricResultRow.run_id.in_(list(keys)), MetricResultRow.severity.in_(("warn", "critical")))
            ).all()
            for row in rows:
                keys[row.run_id].add((row.check, row.metric, row.slice_key))
            return [(start, keys[run_id]) for start, run_id in windows]

    def current_runs(self, start: datetime, end: datetime, *, audit_ids: list[str] | None = None) -> list[RunRecord]:
        """Current runs of the windows that end in ``(start, end]``, oldest window first.

        A window belongs to the period it ends in: a report written right after the period
        ends sees every window it will ever count.
        """
        from sqlalchemy import select

        from ethics_audit.store.models import AuditRun, AuditWindow

        query = (
            select(AuditRun, AuditWindow)
            .join(AuditWindow, AuditWindow.current_run_id == AuditRun.id)
            .where(AuditWindow.window_end > start, AuditWindow.window_end <= end)
            .order_by(AuditWindow.audit_id, AuditWindow.window_start)
        )
        if audit_ids is not None:
            query = query.where(AuditWindow.audit_id.in_(audit_ids))
        with self.session() as s:
            return [run_record(run, window) for run, window in s.execute(query).all()]

    def first_window(self, audit_id: str) -> tuple[datetime, datetime] | None:
        """The audit's earliest recorded window (expected windows continue its grid)."""
        from sqlalchemy import select

        from ethics_audit.store.models import AuditWindow

        with self.session() as s:
            row = s.execute(
                select(AuditWindow.window_start, AuditWindow.window_end)
                .where(AuditWindow.audit_id == audit_id)
                .order_by(AuditWindow.window_start)
                .limit(1)
            ).first()
        return None if row is None else (row[0], row[1])

    def findings_of_runs(self, run_ids: list[int]) -> dict[int, list[Finding]]:
        """Findings of many runs in one query, by run id."""
        from sqlalchemy import select

        from ethics_audit.store.models import MetricResultRow

        out: dict[int, list[Finding]] = {run_id: [] for run_id in run_ids}
        if not run_ids:
            return out
        with self.session() as s:
            for row in s.execute(
                select(MetricResultRow).where(MetricResultRow.run_id.in_(run_ids)).order_by(MetricResultRow.id)
            ).scalars():
                out[row.run_id].append(_finding(row))
        return out

    def spec_snapshots(self, spec_hashes: list[str]) -> dict[str, dict[str, Any]]:
        """The stored specs by hash: ``{"audit_id", "spec", "first_seen_at"}``."""
        from sqlalchemy import select

        from ethics_audit.store.models import SpecSnapshot

        if not spec_hashes:
            return {}
        with self.session() as s:
            rows = s.execute(select(SpecSnapshot).where(SpecSnapshot.spec_hash.in_(set(spec_hashes)))).scalars()
            return {
                r.spec_hash: {"audit_id": r.audit_id, "spec": r.spec, "first_seen_at": r.first_seen_at} for r in rows
            }


_STATUS_OF = {"insufficient_data": Status.INSUFFICIENT_DATA, "error": Status.ERROR}


def _finding(row: Any) -> Finding:
    result = MetricResult(
        check=row.check,
        metric=row.metric,
        value=row.value,
        slice=row.slice or {},
        ci_low=row.ci_low,
        ci_high=row.ci_high,
        n=row.n,
        threshold=Threshold.from_dict(row.threshold),
        details=row.details or {},
        status=_STATUS_OF.get(row.severity, Status.COMPUTED),
    )
    return Finding(result, Severity(row.severity), row.reason or "")
