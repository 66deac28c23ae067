"""Reports people read: the per-run audit report and the quarterly ethics report (HTML and PDF).

Both read only the results store, never the audited data. ``render_run_report`` writes one
window's page next to the run's artifacts; ``build_quarterly_report`` writes the quarter's
HTML and PDF, optionally as a publishable variant whose group numbers carry differential-privacy
noise. Heavy work (Jinja2, OpenDP, Chromium) starts only inside these functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ethics_audit.reports.quarterly import build_quarterly_report
from ethics_audit.reports.run_report import render_run_report

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from ethics_audit.spec import AuditSpec
    from ethics_audit.store import Store

__all__ = ["build_quarterly_report", "quarterly_job", "render_run_report"]


def quarterly_job(
    store: Store,
    specs: list[AuditSpec],
    *,
    quarter: str | None = None,
    now: datetime | None = None,
    out_dir: Path | None = None,
) -> dict[str, Any]:
    """What the quarterly Airflow DAG runs: a quarter's report (default: the previous one), and
    "the report is ready" with its location to the chat channels of every audit it covers.

    Notices go through the outbox, keyed by quarter and audit, so a re-run never posts twice;
    delivery happens later with the rest of the outbox.
    """
    from datetime import datetime, timezone

    from ethics_audit.notify import announce
    from ethics_audit.windows import previous_quarter

    quarter = quarter or previous_quarter(now or datetime.now(timezone.utc))
    result = build_quarterly_report(store, quarter, out_dir=out_dir, now=now)
    audited = set(store.audit_ids())
    links = [{"text": "HTML report", "url": result["html"]}]
    if result["pdf"]:
        links.append({"text": "PDF", "url": result["pdf"]})
    result["notifications"] = 0
    for spec in specs:
        if spec.id not in audited:
            continue
        result["notifications"] += announce(
            store,
            spec,
            key=f"quarterly-report:{quarter}:{spec.id}",
            title=f"The {result['quarter']} ethics audit report is ready",
            text=f"The {result['quarter']} ethics audit report for {spec.model.name} is ready: "
            f"{result['pdf'] or result['html']}",
            links=links,
            extra={"quarter": quarter},
        )
    return result
