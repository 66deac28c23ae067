"""The Airflow side of connections: look a connection id up through ``BaseHook``.

Parsing fields into URLs lives in ``ethics_audit.connections``, which knows nothing of Airflow;
this module adds Airflow's own store of connections (secrets backends, the API server) as one
more lookup. ``ethics_audit.airflow`` registers it on import, so every task, DAG file and the
plugin have it, and the CLI outside Airflow reads ``AIRFLOW_CONN_<ID>`` as before.
"""

from __future__ import annotations

from ethics_audit.connections import ConnectionFields, fields_of, register_lookup


def from_airflow(conn_id: str) -> ConnectionFields | None:
    """The connection as Airflow knows it, or None (not defined, or Airflow not installed)."""
    try:
        from airflow.sdk import BaseHook
    except ImportError:
        return None
    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception:  # noqa: BLE001 - Airflow raises AirflowNotFoundException and friends
        return None
    return fields_of(conn)


def register() -> None:
    register_lookup(from_airflow)
