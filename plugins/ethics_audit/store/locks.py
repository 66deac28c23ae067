"""Locks that make concurrent commands take turns on one results database.

``audit_lock`` serialises the recording of an audit's windows: a transaction that records a
window (results, the window row, the incident lifecycle and its outbox rows) first takes a
transaction-scoped lock for the audit: ``pg_advisory_xact_lock`` on PostgreSQL, the database's
write lock on SQLite (taken by a no-op write, so the reads that follow already hold it). A
second run of the same audit waits for the first to commit and then sees its rows: no unique
violation on a new window, no incident update computed from a stale state.
``migration_lock`` lets the first commands on a brand-new database migrate one at a time:
an advisory lock on PostgreSQL, an exclusive file lock next to a SQLite file (SQLite runs DDL
outside transactions, so its own locks cannot order two ``CREATE TABLE`` sequences).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.orm import Session

MIGRATION_KEY = 72657473  # the advisory lock key migrations have always used on PostgreSQL


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for an advisory lock (``hash()`` differs between processes)."""
    return int.from_bytes(hashlib.sha256(f"ethics-audit:{name}".encode()).digest()[:8], "big", signed=True)


def audit_lock(session: Session | Connection, audit_id: str) -> None:
    """Hold the audit's lock until the transaction ends (call it first in the transaction)."""
    from sqlalchemy import text

    dialect = session.get_bind().dialect.name if hasattr(session, "get_bind") else session.dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(f"audit:{audit_id}")})
    elif dialect == "sqlite":
        # a write that changes nothing: SQLite's write lock is taken at the first write of a transaction
        session.execute(text("UPDATE ethics_audit_version SET version_num = version_num"))


def sqlite_file(engine: Engine) -> Path | None:
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


@contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """Only one process migrates a database at a time; the others wait, then find it migrated."""
    path = sqlite_file(engine)
    if path is None:
        yield
        return
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".migrate-lock"), "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def postgres_migration_lock(conn: Any) -> None:
    from sqlalchemy import text

    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_KEY})
