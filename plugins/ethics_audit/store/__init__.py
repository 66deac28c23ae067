"""The results store: the only code that talks to the results database.

``open_store()`` connects to ``$ETHICS_AUDIT_DB_URL`` (default: a SQLite file under
``$ETHICS_AUDIT_HOME``) and applies the Alembic migrations on first use. ``Store`` is the
repository, composed of one part per table group, each in its own module:

- ``engine``: the connection, migrations and one-transaction sessions;
- ``runs``: begin and fail an attempt, and write a window's results (the SQL half of
  ``ethics_audit.recording``, which holds the one transaction that records a window);
- ``history``: findings and history read back, the runs a report period covers;
- ``incidents``: incidents and alerts as dicts; ``outbox``: the notification outbox;
- ``budget``: the privacy budget; ``artifacts``: a run's files; ``actions``: people's claims.

Modules used inside another transaction, not parts of ``Store``: ``observations`` and ``alerts``
(the rows the incident lifecycle reads and writes), ``locks``, ``models`` (the tables), and
``ledger`` / ``ledger_read`` (the hash-chained evidence ledger).
"""

from __future__ import annotations

from ethics_audit.store.actions import ActionsStore
from ethics_audit.store.artifacts import ArtifactsStore, artifact_dir
from ethics_audit.store.budget import BudgetSpend, BudgetStore, PrivacyBudgetExceeded
from ethics_audit.store.engine import MIGRATIONS, default_url, migrate, safe_url
from ethics_audit.store.history import HistoryStore
from ethics_audit.store.incidents import IncidentsStore
from ethics_audit.store.outbox import OutboxStore
from ethics_audit.store.runs import STALE_RUN_AFTER, RunRecord, RunsStore

__all__ = [
    "MIGRATIONS",
    "STALE_RUN_AFTER",
    "BudgetSpend",
    "PrivacyBudgetExceeded",
    "RunRecord",
    "Store",
    "artifact_dir",
    "default_url",
    "migrate",
    "open_store",
    "safe_url",
]


class Store(RunsStore, HistoryStore, IncidentsStore, OutboxStore, BudgetStore, ArtifactsStore, ActionsStore):
    """Repository over one results database (each part is a module of this package)."""


def open_store(url: str | None = None) -> Store:
    return Store(url)
