"""Attempts whose process died: found and marked ``abandoned`` when the audit runs next.

An attempt run whole in one process (the CLI) keeps its host and pid in its summary while it
runs. The next run of the same audit, in any window, marks it abandoned when that process no
longer exists on this host. Attempts without a process (Airflow splits one over several tasks)
or on another host are marked abandoned once they have been running longer than the stale limit.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

ABANDONED = "the run stopped without recording an outcome"


def this_process() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def process_gone(owner: dict[str, Any] | None) -> bool:
    """True when ``owner`` names a process of this host that no longer exists."""
    if not owner or owner.get("host") != socket.gethostname() or not isinstance(owner.get("pid"), int):
        return False
    if owner["pid"] == os.getpid():
        return False
    try:
        os.kill(owner["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, as another user's process
        return False
    return False


def mark_abandoned(session: Session, audit_id: str, *, now: datetime, stale_after: timedelta) -> list[int]:
    """Mark the audit's dead attempts abandoned; returns their ids."""
    from sqlalchemy import select

    from ethics_audit.store.models import AuditRun

    running = session.execute(
        select(AuditRun).where(AuditRun.audit_id == audit_id, AuditRun.status == "running")
    ).scalars()
    marked = []
    for run in running:
        owner = (run.summary or {}).get("process")
        if process_gone(owner):
            why = f"{ABANDONED} (its process {owner['pid']} on {owner['host']} is gone)"
        elif run.started_at < now - stale_after:
            why = f"{ABANDONED} (still running after {stale_after})"
        else:
            continue
        run.status, run.error, run.finished_at = "abandoned", why, now
        marked.append(run.id)
    return marked
