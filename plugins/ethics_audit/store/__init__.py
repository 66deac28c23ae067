"""The results store: the only code that talks to the results database.

``open_store()`` connects to ``$ETHICS_AUDIT_DB_URL`` (default: a SQLite file under
``$ETHICS_AUDIT_HOME``) and applies the Alembic migrations on first use. ``Store`` methods are
the repository: begin a run, record a window's findings in one transaction (replacing any
earlier results for the same window), record a failure without touching earlier results, and
read history back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ethics_audit.errors import AuditError, StoreError
from ethics_audit.results import Finding, MetricResult, Severity, Status, Threshold
from ethics_audit.settings import default_url

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from ethics_audit.data import PendingArtifact
    from ethics_audit.spec import AuditSpec

MIGRATIONS = Path(__file__).parent / "migrations"
# how long a run may stay "running" before a later attempt marks it abandoned (killed worker)
STALE_RUN_AFTER = timedelta(hours=6)


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages and logs."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL we cannot parse is shown as its scheme only
        return url.split(":", 1)[0] + "://..."


def _head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head() or ""


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision. Concurrent first uses take turns (PostgreSQL lock)."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext

    from ethics_audit.store.locks import migration_lock, postgres_migration_lock

    head = _head_revision()

    def current() -> str | None:
        with engine.connect() as conn:
            return MigrationContext.configure(
                conn, opts={"version_table": "ethics_audit_version"}
            ).get_current_revision()

    if current() == head:
        return
    with migration_lock(engine):
        if current() == head:  # another process migrated while this one waited
            return
        with engine.begin() as conn:
            postgres_migration_lock(conn)
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            command.upgrade(config, "head")


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
            "run_id": self.run_id,
            "audit_id": self.audit_id,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "status": self.status,
            "rows": self.rows,
            "reference_rows": self.reference_rows,
            "started_at": self.started_at.isoformat(),
            "duration_s": self.duration_s,
            "spec_hash": self.spec_hash,
            "is_current": self.is_current,
            "worst_severity": self.worst_severity,
            "summary": self.summary,
            "error": self.error,
        }


class Store:
    """Repository over one results database."""

    def __init__(self, url: str | None = None, *, engine: Engine | None = None):
        from sqlalchemy import create_engine, event
        from sqlalchemy.orm import sessionmaker

        self.url = url or default_url()
        try:
            self.engine = engine or create_engine(self.url, pool_pre_ping=True)
        except Exception as exc:  # noqa: BLE001
            raise StoreError(
                f"cannot use results database {safe_url(self.url)}: {exc}; check ETHICS_AUDIT_DB_URL"
            ) from None
        if self.engine.dialect.name == "sqlite":

            @event.listens_for(self.engine, "connect")
            def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
                cursor = dbapi_conn.cursor()
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute("PRAGMA busy_timeout=30000")
                cursor.close()

        try:
            migrate(self.engine)
        except Exception as exc:  # noqa: BLE001 - driver errors vary; the message says what to do
            detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise StoreError(
                f"cannot open results database {safe_url(self.url)}: {detail}; "
                "check ETHICS_AUDIT_DB_URL (or ETHICS_AUDIT_HOME for the SQLite default)"
            ) from None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: commit on success, roll back on any error. A database still locked by
        another command after SQLite's busy timeout (30 s) is a clear error, not a traceback."""
        from sqlalchemy.exc import OperationalError

        try:
            with self._sessions.begin() as session:
                yield session
        except OperationalError as exc:
            if "locked" not in str(exc.orig) and "deadlock" not in str(exc.orig):
                raise
            raise StoreError(
                f"the results database {safe_url(self.url)} stayed locked by another ethics-audit command "
                "(another run, backfill or flush); wait for it to finish and run this again"
            ) from None

    def dispose(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ runs

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
        from ethics_audit.store.runs import mark_abandoned, this_process

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

    def record_window(
        self,
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
        the incidents (``incidents.advance``).
        """
        from sqlalchemy import delete, insert, select

        from ethics_audit.evaluate import worst
        from ethics_audit.store.locks import audit_lock
        from ethics_audit.store.models import AuditRun, AuditWindow, MetricResultRow, SpecSnapshot, utcnow

        with self.session() as s:
            # one recording per audit at a time: the window row, the incidents and the outbox
            # are read and written as one consistent step (see store.locks)
            audit_lock(s, spec.id)
            run = s.get(AuditRun, run_id)
            if run is None:
                raise StoreError(f"run {run_id} does not exist in {safe_url(self.url)}")
            window = s.execute(
                select(AuditWindow)
                .where(
                    AuditWindow.audit_id == run.audit_id,
                    AuditWindow.window_start == run.window_start,
                    AuditWindow.window_end == run.window_end,
                )
                .with_for_update()
            ).scalar_one_or_none()
            keep = window is not None and status == "empty" and not replace_empty and window.status != "empty"
            if keep and window.current_run_id is not None:
                return self._record_kept_empty(s, run, window, findings, rows, reference_rows, timings, summary)
            if window is None:
                window = AuditWindow(
                    audit_id=run.audit_id, window_start=run.window_start, window_end=run.window_end, status=status
                )
                s.add(window)
            elif window.current_run_id is not None:
                s.execute(delete(MetricResultRow).where(MetricResultRow.run_id == window.current_run_id))
            rows_out = [_result_row(run, f) for f in findings]
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
            window.worst_severity = worst(findings).value
            window.updated_at = finished
            for artifact in artifacts or []:
                s.add(_write_artifact(run, artifact))
            snapshot = s.get(SpecSnapshot, run.spec_hash)
            if snapshot is None:
                snapshot = SpecSnapshot(spec_hash=run.spec_hash, audit_id=spec.id, spec=spec.model_dump(mode="json"))
                s.add(snapshot)
            s.flush()
            from ethics_audit.incidents import advance
            from ethics_audit.store import ledger

            changes = advance(s, spec, run, findings, now=now)
            run.summary = {**summary, "incidents": changes}
            ledger.append_window(
                s,
                run,
                rows_out,
                spec=snapshot.spec,
                worst_severity=window.worst_severity,
                fingerprint=fingerprint,
                recorded_at=finished,
            )
            return changes

    def _record_kept_empty(
        self,
        s: Session,
        run: Any,
        window: Any,
        findings: list[Finding],
        rows: int,
        reference_rows: int | None,
        timings: dict[str, float],
        summary: dict[str, Any],
    ) -> dict[str, Any]:
        """The attempt and its findings are kept in its summary (metric_results holds current
        results only, each covered by a ledger entry); the window keeps its earlier current run."""
        from ethics_audit.store.models import utcnow

        finished = utcnow()
        changes = {"kept_run_id": window.current_run_id, "window_start": run.window_start.isoformat()}
        run.status, run.rows, run.reference_rows, run.timings = "empty", rows, reference_rows, timings
        run.summary = {**summary, "incidents": changes, "findings": [f.to_dict() for f in findings]}
        run.finished_at = finished
        run.duration_s = (finished - run.started_at).total_seconds()
        return changes

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

    # ------------------------------------------------------------------ reading

    def _record(self, run: Any, window: Any | None) -> RunRecord:
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

    def get_run(self, run_id: int) -> RunRecord | None:
        from sqlalchemy import select

        from ethics_audit.store.models import AuditRun, AuditWindow

        with self.session() as s:
            run = s.get(AuditRun, run_id)
            if run is None:
                return None
            window = s.execute(select(AuditWindow).where(AuditWindow.current_run_id == run.id)).scalar_one_or_none()
            return self._record(run, window)

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
            return [self._record(run, window) for run, window in runs]

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

    # ------------------------------------------------------------------ reading for reports

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
            return [self._record(run, window) for run, window in s.execute(query).all()]

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

    def artifacts(self, run_id: int) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from ethics_audit.store.models import Artifact

        with self.session() as s:
            rows = s.execute(select(Artifact).where(Artifact.run_id == run_id).order_by(Artifact.id)).scalars()
            return [
                {"kind": a.kind, "uri": a.uri, "bytes": a.bytes, "created_at": a.created_at, "details": a.details or {}}
                for a in rows
            ]

    def add_artifact(self, run_id: int, kind: str, path: Path, *, details: dict[str, Any] | None = None) -> None:
        """Record a file made after the run (e.g. its HTML report); one row per run and kind."""
        from sqlalchemy import delete

        from ethics_audit.store.models import Artifact, AuditRun

        with self.session() as s:
            run = s.get(AuditRun, run_id)
            if run is None:
                raise StoreError(f"run {run_id} does not exist in {safe_url(self.url)}")
            s.execute(delete(Artifact).where(Artifact.run_id == run_id, Artifact.kind == kind))
            s.add(
                Artifact(
                    run_id=run_id,
                    audit_id=run.audit_id,
                    kind=kind,
                    uri=str(path),
                    bytes=path.stat().st_size,
                    details=details or {},
                )
            )

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

    # ------------------------------------------------------------------ privacy budget

    def privacy_budget_spent(self, audit_id: str, year: int) -> float:
        from sqlalchemy import func, select

        from ethics_audit.store.models import PrivacyBudgetEntry

        with self.session() as s:
            total = s.execute(
                select(func.coalesce(func.sum(PrivacyBudgetEntry.epsilon), 0.0)).where(
                    PrivacyBudgetEntry.audit_id == audit_id, PrivacyBudgetEntry.year == year
                )
            ).scalar_one()
        return float(total)

    def privacy_budget_entries(self, audit_id: str | None = None) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from ethics_audit.store.models import PrivacyBudgetEntry

        query = select(PrivacyBudgetEntry).order_by(PrivacyBudgetEntry.spent_at, PrivacyBudgetEntry.id)
        if audit_id is not None:
            query = query.where(PrivacyBudgetEntry.audit_id == audit_id)
        with self.session() as s:
            return [
                {
                    "audit_id": e.audit_id,
                    "year": e.year,
                    "epsilon": e.epsilon,
                    "purpose": e.purpose,
                    "spent_at": e.spent_at,
                    "details": e.details or {},
                }
                for e in s.execute(query).scalars()
            ]

    def spend_privacy_budget(self, spends: list[BudgetSpend]) -> None:
        """Record every spend, or none: refuse all when any audit would exceed its yearly budget.

        The check and the insert share one transaction; on PostgreSQL an advisory lock makes
        concurrent public reports take turns, so two of them cannot both pass the check.
        """
        from sqlalchemy import func, select, text

        from ethics_audit.store.models import PrivacyBudgetEntry

        with self.session() as s:
            if s.get_bind().dialect.name == "postgresql":
                s.execute(text("SELECT pg_advisory_xact_lock(72657474)"))
            added = []
            for spend in spends:
                # SQLite: this insert takes the write lock before the sum is read
                added.append(
                    PrivacyBudgetEntry(
                        audit_id=spend.audit_id,
                        year=spend.year,
                        epsilon=spend.epsilon,
                        purpose=spend.purpose,
                        details=spend.details,
                    )
                )
                s.add(added[-1])
            s.flush()
            for spend in spends:
                total = s.execute(
                    select(func.sum(PrivacyBudgetEntry.epsilon)).where(
                        PrivacyBudgetEntry.audit_id == spend.audit_id, PrivacyBudgetEntry.year == spend.year
                    )
                ).scalar_one()
                if total > spend.yearly_budget + 1e-9:
                    left = max(0.0, spend.yearly_budget - (total - spend.epsilon))
                    raise PrivacyBudgetExceeded(
                        f"audit {spend.audit_id!r}: {spend.purpose} would spend epsilon {spend.epsilon:g} of the "
                        f"{spend.year} privacy budget, but only {left:g} of {spend.yearly_budget:g} is left "
                        f"(reports.dp_yearly_epsilon in the audit's spec); use a smaller --epsilon, or publish "
                        f"the report already released"
                    )
            from ethics_audit.store import ledger

            ledger.append_spends(s, added)

    # ------------------------------------------------------------------ incidents and the outbox
    # (the lifecycle is ethics_audit.incidents; delivery is ethics_audit.notify)

    def incidents(
        self, *, audit_id: str | None = None, statuses: list[str] | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        """Incidents as dicts, newest breach first."""
        from sqlalchemy import select

        from ethics_audit.incidents import incident_brief
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

        from ethics_audit.alerts import alert_brief
        from ethics_audit.incidents import incident_brief
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

        from ethics_audit.alerts import alert_brief
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

    def acknowledge_incidents(self, ids: list[int], *, actor: str, note: str = "") -> dict[str, Any]:
        from ethics_audit import incidents
        from ethics_audit.store import ledger

        with self.session() as s:
            since = ledger.last_event_id(s)
            out = incidents.acknowledge(s, ids, actor=actor, note=note)
            ledger.append_manual_events(s, ids, since)  # the ledger records every manual transition
            return out

    def mute_incidents(self, ids: list[int], *, until: datetime, actor: str, note: str = "") -> dict[str, Any]:
        from ethics_audit import incidents
        from ethics_audit.store import ledger

        with self.session() as s:
            since = ledger.last_event_id(s)
            out = incidents.mute(s, ids, until=until, actor=actor, note=note)
            ledger.append_manual_events(s, ids, since)  # the ledger records every manual transition
            return out

    def resolve_incidents(self, ids: list[int], *, actor: str, note: str = "") -> dict[str, Any]:
        from ethics_audit import incidents
        from ethics_audit.store import ledger

        with self.session() as s:
            since = ledger.last_event_id(s)
            out = incidents.resolve(s, ids, actor=actor, note=note)
            ledger.append_manual_events(s, ids, since)  # the ledger records every manual transition
            return out

    def enqueue_notification(
        self, audit_id: str, channel: str, idempotency_key: str, payload: dict[str, Any], *, kind: str = "message"
    ) -> bool:
        """Queue a notification that belongs to no incident (e.g. "the quarterly report is ready").

        ``payload`` holds ``title`` and ``text`` (and optionally ``links``: [{"text", "url"}]);
        never a secret. Queuing the same ``idempotency_key`` twice is a no-op; returns True if queued.
        """
        from ethics_audit.store import outbox

        with self.session() as s:
            return bool(
                outbox.enqueue(
                    s, audit_id=audit_id, channel=channel, idempotency_key=idempotency_key, payload=payload, kind=kind
                )
            )

    def pending_notifications(self, *, audit_id: str | None = None) -> list[Any]:
        from ethics_audit.store import outbox

        with self.session() as s:
            return outbox.pending(s, audit_id=audit_id)

    def claim_notification(self, notification_id: int, *, now: datetime, lease: timedelta) -> Any:
        from ethics_audit.store import outbox

        with self.session() as s:
            return outbox.claim(s, notification_id, now=now, lease=lease)

    def notification_sent(
        self, notification_id: int, *, now: datetime, ref: dict[str, Any], alert_refs: dict[str, Any] | None
    ) -> None:
        from ethics_audit.store import outbox

        with self.session() as s:
            outbox.mark_sent(s, notification_id, now=now, ref=ref, alert_refs=alert_refs)

    def notification_failed(
        self, notification_id: int, *, error: str, next_attempt_at: datetime, give_up: bool
    ) -> None:
        from ethics_audit.store import outbox

        with self.session() as s:
            outbox.mark_failed(s, notification_id, error=error, next_attempt_at=next_attempt_at, give_up=give_up)

    def notification_unknown(
        self, notification_id: int, *, error: str, now: datetime, until: datetime, give_up: bool
    ) -> None:
        from ethics_audit.store import outbox

        with self.session() as s:
            outbox.mark_unknown(s, notification_id, error=error, now=now, until=until, give_up=give_up)

    def notification_deferred(self, notification_id: int, *, next_attempt_at: datetime, reason: str) -> None:
        from ethics_audit.store import outbox

        with self.session() as s:
            outbox.defer(s, notification_id, next_attempt_at=next_attempt_at, reason=reason)

    def retry_failed_notifications(
        self, *, audit_id: str | None = None, ids: list[int] | None = None, now: datetime | None = None
    ) -> int:
        from ethics_audit.store import outbox

        with self.session() as s:
            return outbox.retry_failed(s, audit_id=audit_id, ids=ids, now=now)

    def notifications(self, *, audit_id: str | None = None, status: str | None = None, limit: int = 100) -> list[Any]:
        from ethics_audit.store import outbox

        with self.session() as s:
            return outbox.listing(s, audit_id=audit_id, status=status, limit=limit)


@dataclass(frozen=True)
class BudgetSpend:
    """One audit's share of a public report's privacy cost, charged to the data's calendar year."""

    audit_id: str
    year: int
    epsilon: float
    yearly_budget: float
    purpose: str
    details: dict[str, Any]


class PrivacyBudgetExceeded(AuditError):
    """A public report would spend more privacy budget than the spec allows for the year."""


def artifact_dir(audit_id: str, window_start: datetime, run_id: int) -> Path:
    from ethics_audit.settings import home

    return home() / "artifacts" / audit_id / window_start.strftime("%Y-%m-%dT%H%M") / f"run-{run_id}"


def _write_artifact(run: Any, artifact: PendingArtifact) -> Any:
    """Write the file (before the commit: a rolled-back run leaves an orphan file, never a dangling row)."""
    from ethics_audit.store.models import Artifact

    folder = artifact_dir(run.audit_id, run.window_start, run.id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / Path(artifact.name).name
    content = artifact.content.encode() if isinstance(artifact.content, str) else artifact.content
    path.write_bytes(content)
    return Artifact(
        run_id=run.id,
        audit_id=run.audit_id,
        kind=artifact.kind,
        uri=str(path),
        bytes=len(content),
        details=artifact.details,
    )


def _result_row(run: Any, f: Finding) -> dict[str, Any]:
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


def open_store(url: str | None = None) -> Store:
    return Store(url)
