"""The fields every description of an audit attempt starts with, in one place.

The runner's ``RunOutcome`` (what an attempt just produced) and the store's ``RunRecord`` (what
history holds) describe the same attempt at a window; their ``to_dict`` begin with the same keys
in the same order, so ``--json`` output and the Airflow XComs read alike. This module imports
nothing from the package, so the store and the runner can both use it.
"""

from __future__ import annotations

from typing import Any


def attempt_head(run: Any) -> dict[str, Any]:
    """``run_id`` .. ``reference_rows`` of a ``RunOutcome`` or a ``RunRecord``, as JSON-ready
    values (times in ISO 8601)."""
    return {
        "run_id": run.run_id,
        "audit_id": run.audit_id,
        "window_start": run.window_start.isoformat(),
        "window_end": run.window_end.isoformat(),
        "status": run.status,
        "rows": run.rows,
        "reference_rows": run.reference_rows,
    }
