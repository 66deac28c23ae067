"""Airflow connections -> SQLAlchemy URLs.

``Connection.get_uri()`` gives ``postgres://``, which SQLAlchemy 2 rejects, so URLs are built
from the connection's fields. Outside a running Airflow, an ``AIRFLOW_CONN_<ID>`` environment
variable (URI or JSON, Airflow's own formats) is read without importing Airflow, so the CLI
can use the same spec as the DAGs.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from ethics_audit.errors import SourceError

# Airflow conn_type -> SQLAlchemy dialect+driver
_DIALECTS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "sqlite": "sqlite",
    "mssql": "mssql+pyodbc",
}


@dataclass(frozen=True)
class ConnectionFields:
    conn_type: str
    host: str | None = None
    login: str | None = None
    password: str | None = None
    schema: str | None = None
    port: int | None = None
    extra: dict | None = None


def _from_env(conn_id: str) -> ConnectionFields | None:
    raw = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    if not raw:
        return None
    if raw.lstrip().startswith("{"):
        data = json.loads(raw)
        return ConnectionFields(
            conn_type=data.get("conn_type", ""),
            host=data.get("host"),
            login=data.get("login"),
            password=data.get("password"),
            schema=data.get("schema"),
            port=data.get("port"),
            extra=data.get("extra") if isinstance(data.get("extra"), dict) else None,
        )
    parts = urlsplit(raw)
    return ConnectionFields(
        conn_type=parts.scheme.replace("-", "_"),
        host=unquote(parts.hostname) if parts.hostname else None,
        login=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        schema=unquote(parts.path.lstrip("/")) or None,
        port=parts.port,
        extra=dict(parse_qsl(parts.query)) or None,
    )


def _from_airflow(conn_id: str) -> ConnectionFields | None:
    try:
        from airflow.sdk import BaseHook
    except ImportError:
        return None
    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception:  # noqa: BLE001 - Airflow raises AirflowNotFoundException and friends
        return None
    return ConnectionFields(
        conn_type=conn.conn_type or "",
        host=conn.host,
        login=conn.login,
        password=conn.password,
        schema=conn.schema,
        port=conn.port,
        extra=conn.extra_dejson,
    )


def get_connection(conn_id: str) -> ConnectionFields | None:
    return _from_env(conn_id) or _from_airflow(conn_id)


def sqlalchemy_url(conn_id: str, *, where: str = "connection_id") -> str:
    """A SQLAlchemy URL string for an Airflow connection id."""
    from sqlalchemy.engine import URL

    fields = get_connection(conn_id)
    if fields is None:
        raise SourceError(
            f"{where}: Airflow connection {conn_id!r} is not defined; create it in Airflow or export "
            f"AIRFLOW_CONN_{conn_id.upper()}=postgresql://user:password@host:5432/db"
        )
    dialect = _DIALECTS.get(fields.conn_type)
    if dialect is None:
        raise SourceError(
            f"{where}: connection {conn_id!r} has type {fields.conn_type!r}; use one of {sorted(_DIALECTS)}"
        )
    if dialect == "sqlite":
        return f"sqlite:///{fields.host or fields.schema or ''}"
    url = URL.create(
        dialect,
        username=fields.login or None,
        password=fields.password or None,
        host=fields.host or None,
        port=fields.port or None,
        database=fields.schema or None,
    )
    return url.render_as_string(hide_password=False)
