"""The only part of the library that knows Airflow: the DAGs, their tasks, the UI plugin, and
Airflow's connections as a lookup for ``ethics_audit.connections``.

Importing anything under ``ethics_audit.airflow`` runs this file, so a DAG file, a task and the
plugin all see connections defined in Airflow; the CLI outside Airflow never imports it.
"""

from __future__ import annotations

from ethics_audit.airflow.connections import register as _register_connections

_register_connections()
