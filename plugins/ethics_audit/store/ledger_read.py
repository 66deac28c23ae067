"""The ledger's SQL for reading: entries, checkpoints, and the stored rows a verifier checks.

``iter_result_groups`` is the verifier's hot loop (millions of metric results serialised the
way ``ledger.canonical`` does); the rest are small lookups by primary key, in chunks so an
``IN`` list stays within every backend's limits. Appending is ``store.ledger``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ethics_audit.ledger import canonical

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.orm import Session


def result_rows_of_run(s: Session | Connection, run_id: int) -> list[str]:
    """The canonical rows of one run's stored metric results."""
    return [text for _, _, texts in iter_result_groups(s, [run_id]) for text in texts]


def iter_result_groups(
    s: Session | Connection, run_ids: list[int] | None = None
) -> Iterator[tuple[int, list[int], list[str]]]:
    """``(run_id, row ids, canonical rows)`` of the stored metric results, one run at a time in
    run order (rows in id order).

    Reads through the driver's own cursor (no ORM, JSON columns as text), serialises each
    distinct JSON text, timestamp pair and audit id once, and assembles each row's text inline
    (the bytes of ``canonical.row_text``): verifying millions of rows is dominated by this loop.
    """
    from datetime import timezone

    if run_ids is not None and not run_ids:
        return
    bind = s.connection() if hasattr(s, "connection") and not hasattr(s, "dialect") else s
    postgres = bind.dialect.name == "postgresql"
    as_text, mark = ("::text", "%s") if postgres else ("", "?")
    where = f" WHERE run_id IN ({','.join([mark] * len(run_ids))})" if run_ids else ""
    sql = (
        f"SELECT run_id, id, audit_id, window_start, window_end, check_name, metric, slice{as_text}, slice_key, "
        f"value, ci_low, ci_high, n, threshold{as_text}, severity, reason, details{as_text} "
        f"FROM metric_results{where} ORDER BY run_id, id"
    )
    dbapi = bind.connection.driver_connection
    # PostgreSQL: a named (server-side) cursor streams instead of loading every row at once
    cursor = dbapi.cursor(name="ethics_audit_ledger_verify") if postgres else dbapi.cursor()
    enc, num = canonical.encode_string, canonical.number_text
    texts: dict[Any, str] = {}
    empty: dict[Any, str] = {None: "{}"}  # slice and details default to {} (store.models)
    heads: dict[Any, str] = {}
    tails: dict[tuple[Any, Any], str] = {}

    def stamp(value: Any) -> str:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        if moment.tzinfo is None:  # SQLite keeps UTC without a zone (models.UTCDateTime)
            moment = moment.replace(tzinfo=timezone.utc)
        return canonical.timestamp(moment) or ""

    def tail(start: Any, end: Any) -> str:
        out = tails[(start, end)] = f',"window_end":{enc(stamp(end))},"window_start":{enc(stamp(start))}}}'
        return out

    def head(audit_id: Any) -> str:
        out = heads[audit_id] = f'{{"audit_id":{enc(audit_id)},"check":'
        return out

    def json_text(raw: Any) -> str:
        out = texts[raw] = "null" if raw is None else canonical.json_text(json.loads(raw))
        return out

    current: int | None = None
    ids: list[int] = []
    rows: list[str] = []
    try:
        cursor.execute(sql, tuple(run_ids or ()))
        while True:
            batch = cursor.fetchmany(10000)
            if not batch:
                break
            for (
                run_id,
                row_id,
                audit_id,
                ws,
                we,
                check,
                metric,
                sl,
                key,
                value,
                low,
                high,
                n,
                th,
                sev,
                why,
                det,
            ) in batch:
                if run_id != current:
                    if current is not None:
                        yield current, ids, rows
                    current, ids, rows = run_id, [], []
                ids.append(row_id)
                rows.append(
                    f"{heads.get(audit_id) or head(audit_id)}{enc(check)},"
                    f'"ci_high":{"null" if high is None else num(high)},"ci_low":{"null" if low is None else num(low)},'
                    f'"details":{empty.get(det) or texts.get(det) or json_text(det)},"metric":{enc(metric)},'
                    f'"n":{"null" if n is None else int(n)},"reason":{enc(why or "")},"severity":{enc(sev)},'
                    f'"slice":{empty.get(sl) or texts.get(sl) or json_text(sl)},"slice_key":{enc(key)},'
                    f'"threshold":{texts.get(th) or json_text(th)},"value":{"null" if value is None else num(value)}'
                    f"{tails.get((ws, we)) or tail(ws, we)}"
                )
        if current is not None:
            yield current, ids, rows
    finally:
        cursor.close()


def entry_rows(s: Session | Connection) -> list[Any]:
    """Every entry without its evidence, in ledger order."""
    from sqlalchemy import select

    from ethics_audit.store.models import LedgerEntry as E

    return list(
        s.execute(
            select(
                E.seq, E.kind, E.audit_id, E.window_start, E.window_end, E.run_id, E.payload, E.prev_hash, E.entry_hash
            ).order_by(E.seq)
        ).all()
    )


def evidence_of(s: Session | Connection, seqs: list[int]) -> Iterator[tuple[int, bytes | None]]:
    from sqlalchemy import select

    from ethics_audit.store.models import LedgerEntry as E

    for chunk in range(0, len(seqs), 500):
        yield from s.execute(select(E.seq, E.evidence).where(E.seq.in_(seqs[chunk : chunk + 500]))).tuples()


def _rows_by_id(s: Session | Connection, model: Any, ids: list[Any], key: str = "id") -> dict[Any, Any]:
    """ORM rows of ``model`` by primary key, fetched in chunks."""
    from sqlalchemy import select

    column = getattr(model, key)
    out: dict[Any, Any] = {}
    ids = sorted(set(ids))
    for chunk in range(0, len(ids), 500):
        for row in s.execute(select(model).where(column.in_(ids[chunk : chunk + 500]))).scalars():
            out[getattr(row, key)] = row
    return out


def runs_by_id(s: Session | Connection, ids: list[Any]) -> dict[Any, Any]:
    from ethics_audit.store.models import AuditRun

    return _rows_by_id(s, AuditRun, ids)


def snapshots_by_hash(s: Session | Connection, spec_hashes: list[Any]) -> dict[Any, Any]:
    from ethics_audit.store.models import SpecSnapshot

    return _rows_by_id(s, SpecSnapshot, spec_hashes, key="spec_hash")


def events_by_id(s: Session | Connection, ids: list[Any]) -> dict[Any, Any]:
    from ethics_audit.store.models import IncidentEvent

    return _rows_by_id(s, IncidentEvent, ids)


def spends_by_id(s: Session | Connection, ids: list[Any]) -> dict[Any, Any]:
    from ethics_audit.store.models import PrivacyBudgetEntry

    return _rows_by_id(s, PrivacyBudgetEntry, ids)


def windows(s: Session | Connection, audit_id: str | None) -> list[Any]:
    from sqlalchemy import select

    from ethics_audit.store.models import AuditWindow

    query = select(AuditWindow).order_by(AuditWindow.id)
    if audit_id is not None:
        query = query.where(AuditWindow.audit_id == audit_id)
    return list(s.execute(query).scalars())


def audit_of_incidents(s: Session | Connection, ids: list[int]) -> dict[int, str]:
    from sqlalchemy import select

    from ethics_audit.store.models import Incident

    rows = s.execute(select(Incident.id, Incident.audit_id).where(Incident.id.in_(ids))).all() if ids else []
    return {row[0]: row[1] for row in rows}


def checkpoints(s: Session | Connection) -> list[Any]:
    from sqlalchemy import select

    from ethics_audit.store.models import LedgerCheckpoint

    return list(s.execute(select(LedgerCheckpoint).order_by(LedgerCheckpoint.id)).scalars())


def entry_hashes(s: Session | Connection) -> list[str]:
    from sqlalchemy import select

    from ethics_audit.store.models import LedgerEntry as E

    return list(s.execute(select(E.entry_hash).order_by(E.seq)).scalars())


def entry_rows_by_seq(s: Session | Connection, seqs: list[int]) -> list[Any]:
    from sqlalchemy import select

    from ethics_audit.store.models import LedgerEntry as E

    out: list[Any] = []
    seqs = sorted(set(seqs))
    for chunk in range(0, len(seqs), 500):
        out += s.execute(
            select(E.seq, E.kind, E.payload, E.prev_hash, E.entry_hash).where(E.seq.in_(seqs[chunk : chunk + 500]))
        ).all()
    return out


def window_entries_of_runs(s: Session | Connection, run_ids: list[int]) -> dict[int, Any]:
    """The newest window entry of each run, by run id."""
    from sqlalchemy import select

    from ethics_audit.store.models import LedgerEntry as E

    out: dict[int, Any] = {}
    run_ids = sorted(set(run_ids))
    for chunk in range(0, len(run_ids), 500):
        for row in s.execute(
            select(E.seq, E.run_id)
            .where(E.kind == "window", E.run_id.in_(run_ids[chunk : chunk + 500]))
            .order_by(E.seq)
        ).all():
            out[row.run_id] = row
    return out
