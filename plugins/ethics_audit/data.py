"""``AuditData``: everything a check may look at for one window, already loaded.

Checks are pure functions of (config, AuditData): no I/O happens inside them. The runner (or an
Airflow extract task) builds an AuditData with ``sources.load_window``; tests build one directly.
Column names are the source's own names; ``columns`` says which plays which role.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from ethics_audit.engine import Rows
    from ethics_audit.spec import AuditSpec, Columns


@dataclass(frozen=True)
class PendingArtifact:
    """A file a check wants kept with the run (Evidently HTML, GX result JSON).

    Checks do no I/O: they append these to ``AuditData.artifacts`` and the runner writes them
    under ``$ETHICS_AUDIT_HOME/artifacts`` and records them in the store.
    """

    kind: str  # e.g. "evidently_drift_html", "gx_validation_json"
    name: str  # file name, e.g. "drift.html"
    content: str | bytes
    details: dict = field(default_factory=dict)


@dataclass
class AuditData:
    """One audit window's data.

    ``current``: the window's rows (labels already joined in when a label source exists); None
    when they stay on an engine (``tables["current"]``, ``engine: {kind: duckdb}``).
    ``reference``: the baseline or previous windows, or None when there is none.
    ``consent``: the consent ledger up to the window end, when configured.
    ``training_members``: manifest of training-set entity ids, when configured as a source.
    ``explanations``, ``controls``, ``appeals``: the transparency family's explanation log (when it
    is a separate source), user-controls ledger (up to the window end) and appeals ledger (whole:
    appeals of the window's decisions arrive after it), when configured.
    ``row_count_history``: row counts of earlier windows of this audit, oldest first.
    ``now``: the audit's time, fixed once per window (``load_window`` defaults it to the wall clock):
    retention is judged against it and incident transitions are stamped with it.
    ``artifacts``: files checks produced for the run (see ``PendingArtifact``).
    ``derived``: encodings a check built that the same family's remedy section reuses in the same
    process (e.g. the fairness check's group codes), so a million rows are not encoded twice.
    ``tables``: the same tables where they live, on an engine (``ethics_audit.engine.Rows``), by
    name: ``current``, ``reference``, ``consent``... A family reads them with
    ``engine.rows_of(data, name)``, which wraps the in-memory frame when there is no engine table.
    """

    spec: AuditSpec
    window_start: datetime
    window_end: datetime
    current: pd.DataFrame | None
    reference: pd.DataFrame | None = None
    consent: pd.DataFrame | None = None
    training_members: pd.DataFrame | None = None
    explanations: pd.DataFrame | None = None
    controls: pd.DataFrame | None = None
    appeals: pd.DataFrame | None = None
    row_count_history: list[int] = field(default_factory=list)
    now: datetime | None = None
    artifacts: list[PendingArtifact] = field(default_factory=list)
    derived: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, Rows] = field(default_factory=dict)

    @property
    def columns(self) -> Columns:
        return self.spec.columns

    @property
    def rows(self) -> int:
        if self.current is None and "current" in self.tables:
            return self.tables["current"].count()
        return 0 if self.current is None else len(self.current)

    @property
    def has_reference(self) -> bool:
        return self.reference is not None or "reference" in self.tables

    @property
    def reference_rows(self) -> int:
        if self.reference is None and "reference" in self.tables:
            return self.tables["reference"].count()
        return 0 if self.reference is None else len(self.reference)
