"""Alembic environment: runs on the connection the store hands over (never from alembic.ini)."""

from __future__ import annotations

from alembic import context

from ethics_audit.store.models import Base

VERSION_TABLE = "ethics_audit_version"  # not alembic_version: the results may share Airflow's database


def run_migrations_online() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
