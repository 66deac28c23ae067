"""``history``: the audited windows of one audit, newest first (every attempt with ``--attempts``)."""

from __future__ import annotations

from typing import Annotated

import typer

from ethics_audit.cli.app import JsonOpt, app, open_store, print_json, print_runs_table
from ethics_audit.errors import AuditError


@app.command()
def history(
    audit_id: Annotated[str, typer.Argument(help="The audit id (the spec's `id`).")],
    as_json: JsonOpt = False,
    attempts: Annotated[bool, typer.Option("--attempts", help="Show every attempt, failed ones too.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 100,
) -> None:
    """The audited windows of one audit, newest first."""
    store = open_store()
    records = store.history(audit_id, limit=limit, attempts=attempts)
    if not records and audit_id not in store.audit_ids():
        known = ", ".join(store.audit_ids()) or "none yet"
        raise AuditError(f"no history for audit {audit_id!r}; audits with history: {known}")
    if as_json:
        print_json({"audit_id": audit_id, "runs": [r.to_dict() for r in records]})
        return
    rows = []
    for r in records:
        rows.append(
            {
                "run_id": r.run_id,
                "window_start": r.window_start.isoformat(),
                "status": r.status + ("" if r.is_current or not attempts else " (superseded)"),
                "rows": r.rows,
                "worst_severity": r.worst_severity,
                "counts": r.summary.get("counts", {}),
            }
        )
    print_runs_table(rows)
