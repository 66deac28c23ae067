"""Which windows a backfill audits, and what it says about the windows its range cuts through.

``[--start, --end)`` rarely falls exactly on window boundaries: the data may end in the middle
of a window (the last 25 rows of a dataset), or a calendar month may begin before ``--start``.
Such a window is *partial*. It is never dropped silently: by default it is skipped and the
backfill says which rows' window it left out and how to include it; with ``--partial include``
it is audited whole (its own ``[start, end)``, so a later run of the same window replaces it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ethics_audit.calendar_windows import windows_between

if TYPE_CHECKING:
    from ethics_audit.spec import AuditSpec


@dataclass
class BackfillPlan:
    windows: list[tuple[datetime, datetime]]  # to audit, oldest first
    partial: list[dict[str, Any]] = field(default_factory=list)  # each cut window and what was done
    notes: list[str] = field(default_factory=list)  # one line per cut window, for people


def plan_backfill(spec: AuditSpec, start: datetime, end: datetime, *, partial: str = "skip") -> BackfillPlan:
    plan = windows_between(start, end, spec.window.size, spec.timezone)
    chosen = list(plan.whole)
    out = BackfillPlan(chosen)
    for s, e in plan.partial:
        cut = "--end" if e > end else "--start"
        action = "audited whole" if partial == "include" else "skipped"
        out.partial.append(
            {"window_start": s.isoformat(), "window_end": e.isoformat(), "cut_by": cut, "action": action}
        )
        if partial == "include":
            chosen.append((s, e))
            out.notes.append(
                f"the window {s:%Y-%m-%d %H:%M} → {e:%Y-%m-%d %H:%M} UTC reaches past {cut}: audited whole "
                "(re-run it once its data is complete)"
            )
        else:
            out.notes.append(
                f"the window {s:%Y-%m-%d %H:%M} → {e:%Y-%m-%d %H:%M} UTC is cut by {cut}: not audited, so its rows "
                "are not either (pass --partial include to audit it whole)"
            )
    chosen.sort()
    return out
