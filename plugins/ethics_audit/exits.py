"""Exit codes of ``ethics-audit run`` and ``backfill``, so a scheduler can trust them.

A run whose window was only partly audited (a check family errored, or a blocking quality
problem, such as a missing required column, skipped the other families) is not a success, even
when nothing breached: it exits ``PARTIAL``. ``--fail-on warn|critical`` adds breaches at or
above that severity (``BREACH``), which comes first for one window. The codes:

====  ================================================================================
0     every configured family ran, and nothing reached ``--fail-on``
1     a finding reached ``--fail-on``; or the window could not be read (the message says why)
2     the spec is invalid, or the command was used wrongly
3     the window had no rows (status ``empty``): its data is missing, not clean
4     the run is partial: a family errored or was skipped by a blocking quality problem
70    a bug in ethics-audit (``ETHICS_AUDIT_DEBUG=1`` shows the traceback)
====  ================================================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ethics_audit.runner import RunOutcome

OK = 0
BREACH = 1
FAILED = 1
INVALID = 2
EMPTY = 3
PARTIAL = 4
INTERNAL = 70


def incomplete(outcome: RunOutcome) -> list[str]:
    """Why the run's window was not fully audited: one line per family that errored or was skipped."""
    reasons = []
    for family, info in (outcome.summary.get("checks") or {}).items():
        if info.get("status") in ("error", "skipped", "partial"):
            reasons.append(f"{family} {info['status']}" + (f": {info['reason']}" if info.get("reason") else ""))
    return reasons


def for_run(outcome: RunOutcome, fail_on: str | None) -> int:
    """The exit code of one audited window (see the table above). A finding that reaches
    ``--fail-on`` answers the question the caller asked, so it comes first; then an incomplete
    audit: no rows at all, or families that errored or were skipped."""
    from ethics_audit.results import Severity

    if fail_on is not None:
        breaches = [f for f in outcome.findings if f.severity.is_breach]
        if any(f.severity.rank >= Severity(fail_on).rank for f in breaches):
            return BREACH
    if outcome.status == "empty":
        return EMPTY  # nothing was audited: say that, not which families it skipped
    if outcome.status == "partial" or incomplete(outcome):
        return PARTIAL
    return OK


def worst(codes: list[int]) -> int:
    """Several windows (a backfill): the most serious code, in the order of the table."""
    order = [INTERNAL, PARTIAL, EMPTY, INVALID, FAILED, OK]
    return next((code for code in order if code in codes), OK)
