"""The results database connection: engine, one-transaction sessions, and the Alembic migrations.

``StoreBase`` connects to ``$ETHICS_AUDIT_DB_URL`` (default: a SQLite file under
``$ETHICS_AUDIT_HOME``; see ``ethics_audit.settings.default_url``) and applies the migrations on first use; every other part of the
store opens its transactions through ``StoreBase.session``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ethics_audit.errors import StoreError
from ethics_audit.settings import default_url

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

MIGRATIONS = Path(__file__).parent / "migrations"


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


class StoreBase:
    """One results database: its engine and its transactions."""

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
