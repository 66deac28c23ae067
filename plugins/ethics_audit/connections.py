"""Named connections -> database URLs and credentials, without Airflow.

A connection is looked up by id: first an ``AIRFLOW_CONN_<ID>`` environment variable (URI or
JSON, Airflow's own formats, parsed here without importing Airflow, so the CLI can use the same
spec as the DAGs), then each lookup registered with ``register_lookup``. Under Airflow,
``ethics_audit.airflow`` registers one backed by ``BaseHook``; nothing else here knows Airflow.

``Connection.get_uri()`` gives ``postgres://``, which SQLAlchemy 2 rejects, so URLs are built
from the connection's fields. The results database is the connection ``ethics_audit_db``
(tasks in Airflow 3 may not touch the metadata database); Slack reads ``slack_api_default``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

from ethics_audit import settings
from ethics_audit.errors import SourceError

log = logging.getLogger(__name__)

RESULTS_DB_CONN_ID = "ethics_audit_db"
RESULTS_DB_CONN_ID_ENV = "ETHICS_AUDIT_DB_CONN_ID"
SLACK_CONN_ID = "slack_api_default"
# connection extras that are libpq/driver options and belong in the URL's query
_URL_EXTRAS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "application_name", "options")

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


Lookup = Callable[[str], "ConnectionFields | None"]
# consulted in order after the environment; a lookup returns None for an id it does not know
_LOOKUPS: list[Lookup] = []


def register_lookup(lookup: Lookup) -> None:
    """Add a source of connections (idempotent: registering the same function twice keeps one)."""
    if lookup not in _LOOKUPS:
        _LOOKUPS.append(lookup)


def from_env(conn_id: str) -> ConnectionFields | None:
    """The connection ``AIRFLOW_CONN_<ID>`` describes, or None."""
    raw = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    return parse_connection(raw) if raw else None


def get_connection(conn_id: str) -> ConnectionFields | None:
    """A connection's fields: the environment first, then the registered lookups."""
    found = from_env(conn_id)
    if found is not None:
        return found
    for lookup in _LOOKUPS:
        found = lookup(conn_id)
        if found is not None:
            return found
    return None


def parse_connection(raw: str) -> ConnectionFields:
    """A connection in either of Airflow's text forms: a URI, or JSON with the fields."""
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
        # like Airflow: drop the one slash before the path, so sqlite:////abs/file.db keeps its root
        schema=unquote(parts.path[1:]) or None,
        port=parts.port,
        extra=_uri_extra(parts.query),
    )


def _uri_extra(query: str) -> dict | None:
    """Query parameters of a connection URI; Airflow puts a JSON extra in ``__extra__``."""
    params = dict(parse_qsl(query))
    if "__extra__" in params:
        try:
            extra = json.loads(params.pop("__extra__"))
        except ValueError:
            extra = {}
        params.update(extra if isinstance(extra, dict) else {})
    return params or None


def fields_of(conn: Any) -> ConnectionFields:
    """The fields of an Airflow ``Connection`` (the task SDK's or the api-server's model)."""
    return ConnectionFields(
        conn_type=conn.conn_type or "",
        host=conn.host,
        login=conn.login,
        password=conn.password,
        schema=conn.schema,
        port=conn.port,
        extra=conn.extra_dejson,
    )


def render_url(
    drivername: str,
    *,
    username: str | None = None,
    password: str | None = None,
    host: str | None = None,
    port: int | None = None,
    database: str | None = None,
    query: dict[str, str] | None = None,
) -> str:
    """A URL string exactly as SQLAlchemy's ``URL.create(...).render_as_string(hide_password=False)``
    writes it (same quoting), built here so this module needs no database library."""
    text = drivername + "://"
    if username is not None:
        text += quote(username, safe=" +")
        if password is not None:
            text += ":" + quote(str(password), safe=" +")
        text += "@"
    if host is not None:
        text += f"[{host}]" if ":" in host else host
    if port is not None:
        text += ":" + str(port)
    if database is not None:
        text += "/" + database
    if query:
        text += "?" + "&".join(f"{quote_plus(k)}={quote_plus(query[k])}" for k in sorted(query))
    return text


def url_from_fields(fields: ConnectionFields, conn_id: str, *, where: str = "connection_id") -> str:
    """The SQLAlchemy URL of a connection's fields (Airflow keeps the database name in ``schema``)."""
    dialect = _DIALECTS.get(fields.conn_type)
    if dialect is None:
        raise SourceError(
            f"{where}: connection {conn_id!r} has type {fields.conn_type!r}; use one of {sorted(_DIALECTS)}"
        )
    if dialect == "sqlite":
        return f"sqlite:///{fields.host or fields.schema or ''}"
    extra = fields.extra or {}
    return render_url(
        dialect,
        username=fields.login or None,
        password=fields.password or None,
        host=fields.host or None,
        port=int(fields.port) if fields.port else None,
        database=fields.schema or None,
        query={k: str(extra[k]) for k in _URL_EXTRAS if extra.get(k) not in (None, "")},
    )


def sqlalchemy_url(conn_id: str, *, where: str = "connection_id") -> str:
    """A SQLAlchemy URL string for a connection id."""
    fields = get_connection(conn_id)
    if fields is None:
        raise SourceError(
            f"{where}: Airflow connection {conn_id!r} is not defined; create it in Airflow or export "
            f"AIRFLOW_CONN_{conn_id.upper()}=postgresql://user:password@host:5432/db"
        )
    return url_from_fields(fields, conn_id, where=where)


def results_db_conn_id() -> str:
    return os.environ.get(RESULTS_DB_CONN_ID_ENV) or RESULTS_DB_CONN_ID


def results_db_url(fields: ConnectionFields | None = None) -> str:
    """The results database under Airflow: the connection ``ethics_audit_db`` (another id with
    ``ETHICS_AUDIT_DB_CONN_ID``), else ``ETHICS_AUDIT_DB_URL``, else the SQLite default.
    ``fields`` is the connection when the caller looked it up another way (the api-server)."""
    conn_id = results_db_conn_id()
    fields = fields if fields is not None else get_connection(conn_id)
    if fields is not None:
        return url_from_fields(fields, conn_id, where=f"results database (Airflow connection {conn_id!r})")
    if os.environ.get(settings.DB_URL_ENV):
        return os.environ[settings.DB_URL_ENV]
    url = settings.default_url()
    # one SQLite file per machine: fine for `airflow standalone`, wrong for several Celery workers
    log.warning("no Airflow connection %r and no ETHICS_AUDIT_DB_URL: results go to %s", conn_id, url)
    return url


def slack_token(conn_id: str = SLACK_CONN_ID) -> str | None:
    """The bot token of a Slack API connection (Airflow's Slack provider keeps it in the password)."""
    fields = get_connection(conn_id)
    return fields.password if fields is not None and fields.password else None
