"""Airflow DAGs that keep ethics-audit running: the quarterly report and the housekeeping DAG."""

from __future__ import annotations

from pathlib import Path

from ethics_audit.airflow.dags import housekeeping_dag, quarterly_report_dag

AUDITS = Path(__file__).resolve().parents[1] / "audits"

quarterly_report = quarterly_report_dag(AUDITS)
housekeeping = housekeeping_dag(AUDITS)
