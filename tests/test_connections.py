"""Connections -> SQLAlchemy URLs: the results database, SQL sources and the Slack token (no Airflow)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from ethics_audit import connections
from ethics_audit.errors import SourceError

REPO = Path(__file__).resolve().parents[1]
PYTHONPATH = os.pathsep.join([str(REPO / "plugins"), str(REPO)])


def test_a_postgres_uri_becomes_a_psycopg_url_with_its_options(monkeypatch: pytest.MonkeyPatch) -> None:
    # Airflow's own spelling (postgres://) and a password that needs quoting
    monkeypatch.setenv("AIRFLOW_CONN_DWH", "postgres://audit:p%40ss%3Aword@db.internal:5433/warehouse?sslmode=require")
    url = sa.engine.make_url(connections.sqlalchemy_url("dwh"))
    assert url.drivername == "postgresql+psycopg"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "audit",
        "p@ss:word",
        "db.internal",
        5433,
        "warehouse",
    )
    assert dict(url.query) == {"sslmode": "require"}


def test_a_json_connection_and_airflows_extra_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_RESULTS",
        '{"conn_type": "postgres", "host": "pg", "login": "ea", "password": "s3cret", "schema": "audit",'
        ' "port": 5432, "extra": {"sslmode": "verify-full", "cursor": "dictcursor"}}',
    )
    url = sa.engine.make_url(connections.sqlalchemy_url("results"))
    assert (url.host, url.database, url.password, dict(url.query)) == (
        "pg",
        "audit",
        "s3cret",
        {"sslmode": "verify-full"},
    )
    monkeypatch.setenv("AIRFLOW_CONN_X", 'postgresql://u@h/db?__extra__={"connect_timeout": 5}')
    assert dict(sa.engine.make_url(connections.sqlalchemy_url("x")).query) == {"connect_timeout": "5"}


def test_a_sqlite_uri_keeps_its_absolute_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_LOCAL", f"sqlite:///{tmp_path}/results.db")
    assert connections.sqlalchemy_url("local") == f"sqlite:///{tmp_path}/results.db"
    engine = sa.create_engine(connections.sqlalchemy_url("local"))
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x int)"))
    engine.dispose()
    assert (tmp_path / "results.db").exists()


def test_unknown_and_unsupported_connections_say_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SourceError, match=r"connection .nope. is not defined.*AIRFLOW_CONN_NOPE=postgresql://"):
        connections.sqlalchemy_url("nope", where="audits/x.yaml: source.connection_id")
    monkeypatch.setenv("AIRFLOW_CONN_S3", "aws://key:secret@")
    with pytest.raises(SourceError, match="connection 's3' has type 'aws'; use one of"):
        connections.sqlalchemy_url("s3")


def test_the_results_database_is_the_connection_then_the_url_then_sqlite(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, _isolated_home: Path
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_ETHICS_AUDIT_DB", raising=False)
    assert connections.results_db_url() == f"sqlite:///{_isolated_home / 'results.db'}"
    monkeypatch.setenv("ETHICS_AUDIT_DB_URL", f"sqlite:///{tmp_path}/from-url.db")
    assert connections.results_db_url() == f"sqlite:///{tmp_path}/from-url.db"
    monkeypatch.setenv("AIRFLOW_CONN_ETHICS_AUDIT_DB", "postgresql://ea@results-db:5432/ethics_audit")
    assert connections.results_db_url() == "postgresql+psycopg://ea@results-db:5432/ethics_audit"
    monkeypatch.setenv("ETHICS_AUDIT_DB_CONN_ID", "audit_results")
    monkeypatch.setenv("AIRFLOW_CONN_AUDIT_RESULTS", "postgresql://other@h/db")
    assert connections.results_db_url() == "postgresql+psycopg://other@h/db"


def test_the_slack_token_comes_from_slack_api_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_SLACK_API_DEFAULT", raising=False)
    assert connections.slack_token() is None
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", '{"conn_type": "slack", "password": "xoxb-123"}')
    assert connections.slack_token() == "xoxb-123"


@pytest.mark.parametrize(
    "parts",
    [
        {"username": "a b+c@d:e/f", "password": "p@ss:w/rd %", "host": "h", "port": 5432, "database": "db"},
        {"host": "::1", "database": "x", "query": {"sslmode": "require", "application_name": "ea one&two"}},
        {"username": "u"},
    ],
)
def test_urls_are_written_exactly_as_sqlalchemy_writes_them(parts: dict) -> None:
    expected = sa.engine.URL.create("postgresql+psycopg", **parts).render_as_string(hide_password=False)
    assert connections.render_url("postgresql+psycopg", **parts) == expected


def test_a_registered_lookup_answers_after_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def lookup(conn_id: str) -> connections.ConnectionFields | None:
        seen.append(conn_id)
        return connections.ConnectionFields("postgres", host="from-lookup") if conn_id == "known" else None

    monkeypatch.setattr(connections, "_LOOKUPS", [])
    connections.register_lookup(lookup)
    connections.register_lookup(lookup)
    assert connections._LOOKUPS == [lookup]
    assert connections.sqlalchemy_url("known") == "postgresql+psycopg://from-lookup"
    assert connections.get_connection("unknown") is None
    monkeypatch.setenv("AIRFLOW_CONN_KNOWN", "postgresql://env-host/db")
    assert connections.sqlalchemy_url("known") == "postgresql+psycopg://env-host/db"
    assert seen == ["known", "unknown"]


def test_the_core_never_imports_airflow_and_the_adapter_registers_its_lookup() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import ethics_audit.connections, ethics_audit.sources, ethics_audit.notify, ethics_audit.runner\n"
        "import ethics_audit.settings, ethics_audit.ledger.checkpoint\n"
        "assert not [m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')], 'airflow imported'\n"
        "from ethics_audit import connections\n"
        "assert connections._LOOKUPS == []\n"
        "import ethics_audit.airflow.tasks\n"
        "from ethics_audit.airflow.connections import from_airflow\n"
        "assert connections._LOOKUPS == [from_airflow]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": PYTHONPATH})
