"""The ledger's SQL: appending entries inside the caller's transaction, reading them back.

``append`` takes the ledger's tail under a lock (PostgreSQL advisory lock; on SQLite the
caller's transaction already holds the write lock), so entries form one chain; the primary
key on ``seq`` makes a lost race fail the transaction instead of forking the chain. The
append-only triggers and the grants for an application role are here too, used by the
``0004_ledger`` migration. What the entries contain is ``ethics_audit.ledger``; reading them
and the rows they describe back is ``store.ledger_read``.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from ethics_audit.ledger import canonical, entries
from ethics_audit.store.ledger_read import result_rows_of_run

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.orm import Session

LEDGER_LOCK = 72657475  # pg_advisory_xact_lock key: one appender at a time
LEDGER_TABLES = ("ledger_entries", "ledger_checkpoints")


# ---------------------------------------------------------------- hardening (used by the migration)


def append_only_triggers(dialect: str) -> list[str]:
    """Triggers that refuse UPDATE and DELETE (and TRUNCATE) on the ledger tables."""
    if dialect == "postgresql":
        out = [
            """
            CREATE OR REPLACE FUNCTION ethics_audit_ledger_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'the ethics-audit ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'insufficient_privilege';
            END
            $$
            """
        ]
        for table in LEDGER_TABLES:
            out.append(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ethics_audit_ledger_append_only()"
            )
            out.append(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION ethics_audit_ledger_append_only()"
            )
        return out
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'the ethics-audit ledger is append-only: {op} on {table} refused'); END"
            for table in LEDGER_TABLES
            for op in ("UPDATE", "DELETE")
        ]
    return []


def drop_append_only_triggers(dialect: str) -> list[str]:
    if dialect == "postgresql":
        out = []
        for table in LEDGER_TABLES:
            out.append(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            out.append(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        return out + ["DROP FUNCTION IF EXISTS ethics_audit_ledger_append_only()"]
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {t}_no_{op}" for t in LEDGER_TABLES for op in ("update", "delete")]
    return []


def grant_app_role(conn: Connection, role: str) -> None:
    """Let ``role`` (the Airflow connection's login) use the store but only INSERT into the ledger.

    The tables stay owned by the role that ran the migration: an owner could disable the
    triggers, the application role cannot.
    """
    from sqlalchemy import text

    quoted = conn.dialect.identifier_preparer.quote(role)
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    qschema = conn.dialect.identifier_preparer.quote(schema)
    for statement in (
        f"GRANT USAGE ON SCHEMA {qschema} TO {quoted}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {qschema} TO {quoted}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {qschema} TO {quoted}",
        *(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {quoted}" for table in LEDGER_TABLES),
    ):
        conn.execute(text(statement))


# ---------------------------------------------------------------- appending


@cache
def _statements() -> dict[str, Any]:
    """The append's statements, built once: constructing SQLAlchemy statements costs more than
    running these (they run with every window recorded)."""
    from sqlalchemy import bindparam, func, insert, null, select

    from ethics_audit.store.models import LedgerEntry as E

    newest = (
        select(func.max(E.seq))
        .where(
            E.kind == "window",
            E.audit_id == bindparam("audit_id"),
            E.window_start == bindparam("window_start", type_=E.window_start.type),
            E.window_end == bindparam("window_end", type_=E.window_end.type),
        )
        .scalar_subquery()
    )
    last = select(E.seq, E.entry_hash)
    return {
        "tail": last.add_columns(null()).order_by(E.seq.desc()).limit(1),
        "tail_and_newest": last.add_columns(newest).order_by(E.seq.desc()).limit(1),
        "insert": insert(E.__table__),
    }


def _tail(s: Session, window: tuple[Any, Any, Any] | None = None) -> tuple[tuple[int, str] | None, int | None]:
    """The last entry's (seq, hash) and, for ``window`` (audit id, start, end), its newest window
    entry, in one statement."""
    if window is None:
        row = s.connection().execute(_statements()["tail"]).first()
    else:
        params = {"audit_id": window[0], "window_start": window[1], "window_end": window[2]}
        row = s.connection().execute(_statements()["tail_and_newest"], params).first()
    return (None, None) if row is None else ((row[0], row[1]), row[2])


def append(
    s: Session,
    payload: dict[str, Any],
    *,
    audit_id: str | None = None,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    run_id: int | None = None,
    evidence: bytes | None = None,
    supersede: bool = False,
) -> tuple[int, str]:
    """Append one entry in the caller's transaction; return its (seq, entry hash).

    ``supersede``: the payload's ``supersedes`` becomes the newest entry of the same window
    (read under the ledger's lock, with the tail).
    """
    from sqlalchemy import text

    if s.get_bind().dialect.name == "postgresql":
        s.execute(text(f"SELECT pg_advisory_xact_lock({LEDGER_LOCK})"))
    tail, newest = _tail(s, (audit_id, window_start, window_end) if supersede else None)
    if supersede:
        payload = {**payload, "supersedes": newest}
    if tail is None and not payload.get("adopted"):
        tail = _adopt_existing(s, exclude_run=run_id if payload["kind"] == "window" else None)
    seq, prev = (0, canonical.GENESIS) if tail is None else (tail[0] + 1, tail[1])
    text_payload = canonical.dumps({**payload, "seq": seq})
    digest = canonical.entry_hash(prev, text_payload)
    # a Core insert: the entry is never read back through this session's ORM objects
    s.connection().execute(
        _statements()["insert"],
        {
            "seq": seq,
            "kind": payload["kind"],
            "audit_id": audit_id,
            "window_start": window_start,
            "window_end": window_end,
            "run_id": run_id,
            "payload": text_payload,
            "prev_hash": prev,
            "entry_hash": digest,
            "evidence": evidence,
        },
    )
    return seq, digest


def _adopt_existing(s: Session, *, exclude_run: int | None) -> tuple[int, str] | None:
    """A store that had windows before the ledger existed: enter its current windows first.

    They get window entries marked ``adopted`` (no code version, no input fingerprint), so
    from then on every window is covered and a missing entry means a deleted one.
    """
    from sqlalchemy import select

    from ethics_audit.store.models import AuditRun, AuditWindow

    pairs = s.execute(
        select(AuditRun, AuditWindow.worst_severity)
        .join(AuditWindow, AuditWindow.current_run_id == AuditRun.id)
        .order_by(AuditWindow.window_start, AuditWindow.audit_id, AuditWindow.id)
    ).all()
    tail = None
    for run, worst in pairs:
        if run.id == exclude_run:
            continue
        rows = result_rows_of_run(s, run.id)
        results = canonical.results_document(rows)
        payload = entries.window_payload(
            run,
            results,
            count=len(rows),
            spec=_spec_of(s, run.spec_hash),
            worst_severity=worst,
            fingerprint=None,
            supersedes=None,
            code_version=None,
            recorded_at=run.finished_at or run.started_at,
            adopted=True,
        )
        tail = _append_window(s, run, payload, results)
    return tail


def _append_window(
    s: Session, run: Any, payload: dict[str, Any], results: str, *, supersede: bool = False
) -> tuple[int, str]:
    return append(
        s,
        payload,
        audit_id=run.audit_id,
        window_start=run.window_start,
        window_end=run.window_end,
        run_id=run.id,
        evidence=entries.compress(results),
        supersede=supersede,
    )


def _spec_of(s: Session, spec_hash: str) -> dict[str, Any] | None:
    from ethics_audit.store.models import SpecSnapshot

    snapshot = s.get(SpecSnapshot, spec_hash)
    return None if snapshot is None else snapshot.spec


def append_window(
    s: Session,
    run: Any,
    rows: list[dict[str, Any]],
    *,
    spec: dict[str, Any],
    worst_severity: str,
    fingerprint: dict[str, Any] | None,
    recorded_at: datetime,
) -> int:
    """The window entry for a committed run; ``rows`` are the metric_results rows just inserted."""

    from ethics_audit import __version__

    start, end = canonical.timestamp(run.window_start) or "", canonical.timestamp(run.window_end) or ""
    results = canonical.results_document(canonical.row_texts(rows, start, end))
    payload = entries.window_payload(
        run,
        results,
        count=len(rows),
        spec=spec,
        worst_severity=worst_severity,
        fingerprint=fingerprint,
        supersedes=None,  # append fills it in: the window's newest entry, read with the tail
        code_version=__version__,
        recorded_at=recorded_at,
    )
    return _append_window(s, run, payload, results, supersede=True)[0]


def append_manual_events(s: Session, incident_ids: list[int], last_event_id: int) -> list[int]:
    """One entry per event this transaction wrote for ``incident_ids`` (ids above ``last_event_id``)."""
    from sqlalchemy import select

    from ethics_audit.store.models import Incident, IncidentEvent

    s.flush()
    out = []
    for event, audit_id in s.execute(
        select(IncidentEvent, Incident.audit_id)
        .join(Incident, Incident.id == IncidentEvent.incident_id)
        .where(IncidentEvent.id > last_event_id, IncidentEvent.incident_id.in_(incident_ids))
        .order_by(IncidentEvent.id)
    ).all():
        seq, _ = append(s, entries.event_payload(event, audit_id), audit_id=audit_id, run_id=event.run_id)
        out.append(seq)
    return out


def last_event_id(s: Session) -> int:
    from sqlalchemy import func, select

    from ethics_audit.store.models import IncidentEvent

    return int(s.execute(select(func.coalesce(func.max(IncidentEvent.id), 0))).scalar_one())


def append_spends(s: Session, budget_rows: list[Any]) -> list[int]:
    return [append(s, entries.spend_payload(row), audit_id=row.audit_id)[0] for row in budget_rows]


def add_checkpoint(s: Session, cp: Any) -> int:
    from ethics_audit.store.models import LedgerCheckpoint

    row = LedgerCheckpoint(
        tree_size=cp.tree_size,
        root_hash=cp.root_hash,
        signed_at=datetime.fromisoformat(cp.signed_at.replace("Z", "+00:00")),
        key_id=cp.key_id,
        public_key=cp.public_key,
        signature=cp.signature,
        note=cp.note,
    )
    s.add(row)
    s.flush()
    return row.id
