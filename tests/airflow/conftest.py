"""Airflow in-process tests: a throwaway AIRFLOW_HOME, a file SQLite metadata DB, this checkout's DAGs.

Airflow reads its configuration once, when it is first imported, so the environment is set
here at import time, before any test imports airflow. The results database is the
``ethics_audit_db`` connection, given as ``AIRFLOW_CONN_ETHICS_AUDIT_DB`` per test.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from airflow_support import DAGS, REPO, airflow_uri

if "airflow.configuration" in sys.modules:
    raise RuntimeError("Airflow was configured before tests/airflow/conftest.py could point it at this checkout")

AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="ea-airflow-home-"))
atexit.register(shutil.rmtree, AIRFLOW_HOME, ignore_errors=True)
os.environ.update(
    {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
        "SCARF_ANALYTICS": "false",
        # a failing task must fail now, not wait five minutes for its retry
        "ETHICS_AUDIT_TASK_RETRIES": "0",
    }
)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A fresh Airflow metadata database (created once per session)."""
    from airflow.utils.db import resetdb

    resetdb()
    return AIRFLOW_HOME


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's synthetic logs: 5 weeks of 6000 predictions from Monday 2026-07-06 (enough for
    week 4's fairness problem to be significant)."""
    from ethics_audit.demo import generate

    root = tmp_path_factory.mktemp("demo")
    generate(root, weeks=5, rows_per_week=6000)
    return root


@pytest.fixture
def specs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty specs folder that the DAG files read (``ETHICS_AUDIT_SPECS_DIR``)."""
    folder = tmp_path / "audits"
    folder.mkdir()
    monkeypatch.setenv("ETHICS_AUDIT_SPECS_DIR", str(folder))
    return folder


@pytest.fixture
def results_conn(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The results database as the ``ethics_audit_db`` Airflow connection; yields its SQLAlchemy URL."""
    monkeypatch.setenv("AIRFLOW_CONN_ETHICS_AUDIT_DB", airflow_uri(db_url))
    monkeypatch.delenv("ETHICS_AUDIT_DB_URL", raising=False)
    yield db_url
