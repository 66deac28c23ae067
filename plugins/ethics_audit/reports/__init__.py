"""Reports people read: the per-run audit report and the quarterly ethics report (HTML and PDF).

Both read only the results store, never the audited data. ``render_run_report`` writes one
window's page next to the run's artifacts; ``build_quarterly_report`` writes the quarter's
HTML and PDF, optionally as a publishable variant whose group numbers carry differential-privacy
noise. Heavy work (Jinja2, OpenDP, Chromium) starts only inside these functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

    from ethics_audit.store import Store

__all__ = ["build_quarterly_report", "previous_quarter", "quarterly_job", "render_run_report"]


def render_run_report(store: Store, run_id: int, *, out_dir: Path | None = None) -> Path:
    """Write the HTML report of one run and record it as the run's artifact; returns its path."""
    from ethics_audit.reports.run_report import render_run_report as render

    return render(store, run_id, out_dir=out_dir)


def build_quarterly_report(
    store: Store,
    quarter: str,
    *,
    audit_ids: list[str] | None = None,
    out_dir: Path | None = None,
    public: bool = False,
    epsilon: float | None = None,
    pdf: bool = True,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Write the quarter's ethics report (HTML, and PDF when a renderer exists); returns paths and a summary."""
    from ethics_audit.reports.quarterly import build_quarterly_report as build

    return build(store, quarter, audit_ids=audit_ids, out_dir=out_dir, public=public, epsilon=epsilon, pdf=pdf, now=now)


def previous_quarter(now: datetime | None = None) -> str:
    """``2026Q3`` when ``now`` falls in 2026 Q4: the last complete quarter."""
    from datetime import datetime, timedelta, timezone

    now = now or datetime.now(timezone.utc)
    first_of_quarter = datetime(now.year, 3 * ((now.month - 1) // 3) + 1, 1, tzinfo=timezone.utc)
    last = first_of_quarter - timedelta(days=1)
    return f"{last.year}Q{(last.month - 1) // 3 + 1}"


def quarterly_job(store: Store, *, now: datetime | None = None, out_dir: Path | None = None) -> dict[str, Any]:
    """What the quarterly Airflow DAG runs: the previous quarter's report, and its location to each owner.

    One outbox row per audit (``Store.enqueue_notification``, to the owners' Slack channel, or
    the console channel when the spec names none), keyed by quarter and audit so a re-run of the
    DAG never posts twice. Delivery happens later, with the rest of the outbox.
    """
    from ethics_audit.reports.quarterly import build_quarterly_report as build

    quarter = previous_quarter(now)
    result = build(store, quarter, out_dir=out_dir, now=now)
    enqueue = getattr(store, "enqueue_notification", None)
    result["notifications"] = []
    if enqueue is None:
        result["notify_skipped"] = "this version of the store has no outbox for reports (Store.enqueue_notification)"
        return result
    for audit_id, facts in result.pop("facts", {}).items():
        channel = "slack" if facts.get("slack_channel") else "console"
        key = f"quarterly-report:{result['quarter']}:{audit_id}"
        where = result["pdf"] or result["html"]
        payload = {
            "kind": "quarterly_report",
            "quarter": result["quarter"],
            "audit_id": audit_id,
            "slack_channel": facts.get("slack_channel"),
            "html": result["html"],
            "pdf": result["pdf"],
            "text": f"The {result['quarter']} ethics audit report for {facts.get('model_name', audit_id)} is ready: {where}",
        }
        enqueue(audit_id, channel, key, payload)
        result["notifications"].append({"audit_id": audit_id, "channel": channel, "idempotency_key": key})
    return result
