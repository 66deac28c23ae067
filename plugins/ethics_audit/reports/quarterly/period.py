"""Which audit windows a reporting period (a quarter) counts, and how to say so.

A window counts in the quarter that holds the larger part of its time; a window split exactly
in half counts in the later quarter. So every window counts in exactly one quarter, and a
quarter's report never counts a window that lies mostly in the quarter before (the old rule,
"the quarter it ends in", counted a week that ends on 2 July entirely in Q3). Windows that
straddle a quarter boundary are listed with the share of their time inside it. For calendar
windows (``1mo``, ``1q``) the grid of due windows follows the calendar in the spec's time zone.
The words for the audit's cadence ("monthly", "month") come from its window size. Quarters are
named ``2026Q3`` on the command line and ``2026 Q3`` in the report.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ethics_audit.calendar_windows import (
    CalendarPeriod,
    belongs_to,
    cadence,
    format_size,
    overlap,
    parse_window_size,
    windows_between,
)
from ethics_audit.errors import AuditError

if TYPE_CHECKING:
    from ethics_audit.store import RunRecord, Store

# the longest window a spec can have (1y) plus slack: windows ending this long after a quarter may still count in it
LONGEST_WINDOW = timedelta(days=367)


def runs_of(store: Store, start: datetime, end: datetime, *, audit_ids: list[str] | None = None) -> list[RunRecord]:
    """Current runs of the windows that count in ``[start, end)``."""
    runs = store.current_runs(start, end + LONGEST_WINDOW, audit_ids=audit_ids)
    return [r for r in runs if belongs_to((r.window_start, r.window_end), (start, end))]


def calendar_of(spec: dict[str, Any] | None) -> tuple[CalendarPeriod, str] | None:
    """(size, timezone) when the spec snapshot audits calendar windows, else None."""
    raw = ((spec or {}).get("window") or {}).get("size")
    try:
        size = parse_window_size(raw) if raw is not None else None
    except ValueError:
        return None
    return (size, (spec or {}).get("timezone") or "UTC") if isinstance(size, CalendarPeriod) else None


def parse(quarter: str) -> tuple[datetime, datetime]:
    """``2026Q3`` -> the quarter's [start, end) in UTC; an error that names ``--quarter`` otherwise."""
    from ethics_audit.windows import parse_quarter

    try:
        return parse_quarter(quarter)
    except ValueError as exc:
        raise AuditError(f"--quarter: {exc}") from None


def quarter_label(start: datetime) -> str:
    return f"{start.year} Q{(start.month - 1) // 3 + 1}"


def window_lag(spec: dict[str, Any] | None) -> timedelta:
    """How long after a window ends the spec snapshot waits before auditing it (0 when unset or unreadable)."""
    from ethics_audit.windows import parse_duration

    try:
        return parse_duration((spec or {}).get("window", {}).get("lag") or "0s")
    except ValueError:
        return timedelta(0)


def expected_windows(
    first: tuple[datetime, datetime] | None,
    lag: timedelta,
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    calendar: tuple[CalendarPeriod, str] | None = None,
) -> list[tuple[datetime, datetime]]:
    """Windows on the audit's grid (its first window, repeated; or, with ``calendar`` = (size,
    timezone), the calendar's months or quarters from the first) that count in ``[start, end)``
    and were due by ``now``: the first window's grid continued, counted by overlap."""
    if first is None:
        return []
    size: Any = calendar[0] if calendar else first[1] - first[0]
    tz = calendar[1] if calendar else "UTC"
    if isinstance(size, timedelta):
        # skip whole windows before the quarter instead of walking from the first one
        skip = max(0, (start - first[0]) // size - 1)
        origin = first[0] + skip * size
    else:
        origin = max(first[0], start - LONGEST_WINDOW)
    plan = windows_between(origin, end + LONGEST_WINDOW, size, tz)
    candidates = plan.whole + plan.partial
    return [
        (s, e) for s, e in sorted(candidates) if s >= first[0] and belongs_to((s, e), (start, end)) and e + lag <= now
    ]


def straddling(windows: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Counted windows that reach outside the quarter, with the share of their time inside it."""
    out = []
    for s, e in windows:
        if s < start or e > end:
            share = overlap((s, e), (start, end)) / (e - s)
            out.append({"start": s, "end": e, "share_inside": share})
    return out


def cadence_of(window_sizes: list[Any]) -> dict[str, str]:
    """The cadence words for audits with these ``window.size`` values (as stored in their specs):
    theirs when they share one, else "window"."""
    sizes = set()
    for raw in window_sizes:
        try:
            sizes.add(format_size(parse_window_size(raw)) if raw is not None else None)
        except ValueError:
            sizes.add(None)
    words = cadence(sizes.pop() if len(sizes) == 1 else None)
    titles = {"week": "Week by week", "month": "Month by month", "quarter": "Quarter by quarter", "day": "Day by day"}
    return {**words, "strip_title": titles.get(words["unit"], "Window by window")}
