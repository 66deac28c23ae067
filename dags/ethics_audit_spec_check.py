"""Reports every audit spec that does not validate as this file's Airflow import error (file, field, line).

It defines no DAG. It is apart from ``ethics_audit_dags.py`` because Airflow 3 marks every DAG
of a file that has an import error stale: one broken spec must not stop the other audits.
"""

from __future__ import annotations

from pathlib import Path

from ethics_audit.airflow.dags import check_specs

check_specs(Path(__file__).resolve().parents[1] / "audits")
