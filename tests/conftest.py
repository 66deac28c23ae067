"""Shared fixtures: a results store on SQLite and on PostgreSQL, telemetry off, isolated homes.

PostgreSQL tests run against 127.0.0.1:5432 (trust auth). Each test gets a database of its
own, dropped afterwards. Outside CI they skip when the server is not answering; with
``CI=true`` they fail instead, so CI can never pass by silently skipping them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["GX_ANALYTICS_ENABLED"] = "false"
os.environ["DO_NOT_TRACK"] = "1"
os.environ.pop("ETHICS_AUDIT_DB_URL", None)

REPO = Path(__file__).resolve().parents[1]
PG_HOST = os.environ.get("ETHICS_AUDIT_TEST_PG_HOST", "127.0.0.1")
PG_ADMIN_URL = f"postgresql+psycopg://postgres@{PG_HOST}:5432/postgres"


def _pg_available() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    import sqlalchemy as sa

    engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return None
    except Exception as exc:  # noqa: BLE001
        return str(exc).splitlines()[0]
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def pg_server() -> str:
    reason = _pg_available()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is required in CI and is not answering at {PG_HOST}:5432: {reason}")
        pytest.skip(f"PostgreSQL not answering at {PG_HOST}:5432: {reason}")
    return PG_ADMIN_URL


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    import sqlalchemy as sa

    name = f"ea_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@{PG_HOST}:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'results.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(db_url: str) -> Iterator[object]:
    from ethics_audit.store import Store

    s = Store(db_url)
    try:
        yield s
    finally:
        s.dispose()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own ETHICS_AUDIT_HOME, so no test sees another's SQLite file."""
    home = tmp_path / "home"
    monkeypatch.setenv("ETHICS_AUDIT_HOME", str(home))
    monkeypatch.delenv("ETHICS_AUDIT_DB_URL", raising=False)
    return home
