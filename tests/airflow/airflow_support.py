"""Constants and builders shared by the Airflow tests (conftest.py holds the fixtures)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
DEMO_SPEC = REPO / "audits" / "examples" / "ad_delivery.yaml"


def demo_spec_text(demo_root: Path, **replace: str) -> str:
    """The demo spec reading ``demo_root``; ``replace`` swaps whole lines' prefixes (e.g. ``id``)."""
    text = DEMO_SPEC.read_text().replace("${ETHICS_AUDIT_HOME}/demo", str(demo_root))
    lines = []
    for line in text.splitlines():
        key = line.split(":", 1)[0]
        lines.append(f"{key}: {replace[key]}" if key in replace and not line.startswith(" ") else line)
    return "\n".join(lines) + "\n"


def airflow_uri(db_url: str) -> str:
    """The Airflow connection URI of a SQLAlchemy URL (Airflow spells PostgreSQL ``postgresql://``)."""
    return db_url.replace("postgresql+psycopg://", "postgresql://", 1)


def run_dag(logical_date: datetime, dag_id: str = "ethics_audit__ad-delivery") -> Any:
    """``dag.test()`` of one DAG from the DAG file, as the DAG processor would build it."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / "ethics_audit_dags.py"))
    assert bag.import_errors == {}
    return bag.dags[dag_id].test(logical_date=logical_date)


def states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def xcom(dag_run: Any, task_id: str) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(
            XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, key="return_value")
        ).first()
        return None if row is None else XComModel.deserialize_value(row)
