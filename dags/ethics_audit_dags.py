"""Airflow DAGs: one audit DAG per spec in ``audits/*.yaml`` (``ETHICS_AUDIT_SPECS_DIR`` overrides).

Thin on purpose: ``ethics_audit.airflow.dags`` builds each DAG, ``ethics_audit_spec_check.py``
reports invalid specs. DAG ids are ``ethics_audit__<spec id>``.
"""

from __future__ import annotations

from pathlib import Path

from ethics_audit.airflow.dags import audit_dags

globals().update(audit_dags(Path(__file__).resolve().parents[1] / "audits"))
