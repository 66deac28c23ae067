"""Where ethics-audit keeps things and the environment knobs several modules read.

Every value is read from the environment when asked (never cached at import), so a test or a
long-running worker sees a changed variable at once. No Airflow and no database driver here:
this is the bottom of the import graph, and anything may import it. Knobs that belong to one
module stay there (the notification timeouts in ``notify/base.py``, the ledger's signing key).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

HOME_ENV = "ETHICS_AUDIT_HOME"
DB_URL_ENV = "ETHICS_AUDIT_DB_URL"
DATA_ROOTS_ENV = "ETHICS_AUDIT_DATA_ROOTS"
DEBUG_ENV = "ETHICS_AUDIT_DEBUG"
REPORT_BASE_URL_ENV = "ETHICS_AUDIT_REPORT_BASE_URL"
STAGING_RETENTION_ENV = "ETHICS_AUDIT_STAGING_RETENTION"

DEFAULT_STAGING_RETENTION = timedelta(days=7)


def home() -> Path:
    """Where ethics-audit keeps its SQLite database and artifacts: ``$ETHICS_AUDIT_HOME``."""
    return Path(os.environ.get(HOME_ENV) or ".ethics_audit").resolve()


def default_url() -> str:
    """The results database: ``$ETHICS_AUDIT_DB_URL``, else ``results.db`` under the home (created)."""
    url = os.environ.get(DB_URL_ENV)
    if url:
        return url
    folder = home()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'results.db'}"


def extra_data_roots() -> list[Path]:
    """The folders in ``ETHICS_AUDIT_DATA_ROOTS`` (separated by ``os.pathsep``), unresolved."""
    return [Path(p) for p in os.environ.get(DATA_ROOTS_ENV, "").split(os.pathsep) if p.strip()]


def debug() -> bool:
    """``ETHICS_AUDIT_DEBUG`` set: show tracebacks and the messages of internal errors."""
    return bool(os.environ.get(DEBUG_ENV))


def report_base_url() -> str | None:
    """Where ``<home>`` is served, so links to reports are URLs rather than local paths."""
    return os.environ.get(REPORT_BASE_URL_ENV) or None


def staging_retention() -> timedelta:
    """For staged windows of audits whose spec is gone: ``ETHICS_AUDIT_STAGING_RETENTION`` or 7 days."""
    from ethics_audit.windows import parse_duration

    raw = os.environ.get(STAGING_RETENTION_ENV)
    return parse_duration(raw) if raw else DEFAULT_STAGING_RETENTION
