"""PostgreSQL hardening: with ETHICS_AUDIT_APP_ROLE the application role may only INSERT into the ledger."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from ledger_history import build

pytestmark = pytest.mark.postgres


@pytest.fixture
def app_role(pg_url: str, pg_server: str, monkeypatch: pytest.MonkeyPatch):
    role = f"ea_app_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE ROLE "{role}" LOGIN'))
    monkeypatch.setenv("ETHICS_AUDIT_APP_ROLE", role)
    try:
        yield role
    finally:
        engine = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP OWNED BY "{role}"'))
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


def test_the_app_role_can_record_but_never_rewrite_the_ledger(pg_url: str, app_role: str) -> None:
    from ethics_audit.ledger.verify import verify_store
    from ethics_audit.store import Store

    Store(pg_url).dispose()  # the owner (postgres) runs the migration, which grants the role
    app_url = pg_url.replace("postgres@", f"{app_role}@", 1)
    store = Store(app_url)  # the application connects as the role: schema current, no migration
    try:
        build(store)  # windows, a re-run, an acknowledgement and a DP spend: all as the role
        assert verify_store(store).ok
        with store.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT current_user")).scalar_one() == app_role
        for statement in (
            "UPDATE ledger_entries SET payload = '{}' WHERE seq = 0",
            "DELETE FROM ledger_entries WHERE seq = 0",
            "TRUNCATE ledger_entries",
            "DELETE FROM ledger_checkpoints",
            "ALTER TABLE ledger_entries DISABLE TRIGGER ALL",
            "DROP TRIGGER ledger_entries_append_only ON ledger_entries",
        ):
            with pytest.raises(sa.exc.DBAPIError) as caught:
                with store.engine.begin() as conn:
                    conn.execute(sa.text(statement))
            assert type(caught.value.orig).__name__ in {"InsufficientPrivilege"}, statement
        # the results tables stay writable: re-running a window replaces its rows
        with store.engine.begin() as conn:
            conn.execute(sa.text("UPDATE audit_windows SET worst_severity = worst_severity"))
    finally:
        store.dispose()
