"""The scheduled jobs the Airflow DAGs and the CLI both run: quarterly report, outbox flush, staging prune.

One implementation each, without Airflow: a job takes the results ``Store`` its caller opened
(and will dispose), so a DAG task and a CLI command differ only in how they open it. What runs
an audit window is ``runner`` (and ``airflow/tasks.py`` for its Airflow steps), not this module.
Heavy imports (reports, notify, staging) wait for a job to run, so that parsing a DAG file stays
cheap.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ethics_audit import settings
from ethics_audit.errors import AuditError

if TYPE_CHECKING:
    from pathlib import Path

    from ethics_audit.spec import AuditSpec
    from ethics_audit.store import Store

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- quarterly report


def report_quarter(quarter: str | None = None, now: datetime | None = None) -> str:
    """The quarter a report covers: ``quarter`` when given (checked), else the one that ended before ``now``."""
    from datetime import timezone

    from ethics_audit.windows import parse_quarter, previous_quarter

    if not quarter:
        return previous_quarter(now or datetime.now(timezone.utc))
    try:
        parse_quarter(quarter)
    except ValueError as exc:
        raise AuditError(f"quarterly report: {exc}") from None
    return quarter


def quarterly_report(
    store: Store,
    specs: list[AuditSpec],
    *,
    quarter: str | None = None,
    now: datetime | None = None,
    out_dir: Path | None = None,
) -> dict[str, Any]:
    """A quarter's report (default: the previous one), and "the report is ready" with its
    location to the chat channels of every audit it covers.

    Notices go through the outbox, keyed by quarter and audit, so a re-run never posts twice;
    delivery happens later with the rest of the outbox. Returns the report's result
    (``build_quarterly_report``) with ``notifications``, how many notices were queued.
    """
    from ethics_audit.notify import announce
    from ethics_audit.reports import build_quarterly_report

    quarter = report_quarter(quarter, now)
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
    log.info("quarterly report %s: %s; %d notifications queued", quarter, result["html"], result["notifications"])
    return result


# --------------------------------------------------------------------------- outbox


def flush_outbox(
    store: Store, *, audit_id: str | None = None, include_not_due: bool = False, retry_failed: bool = False
) -> dict[str, Any]:
    """Send what the outbox holds (of one audit, or all); never raises for a delivery failure.

    ``include_not_due`` sends waiting retries now too (a person asked); ``retry_failed`` gives
    notifications that gave up a fresh set of attempts."""
    from ethics_audit.notify import deliver_pending

    result = deliver_pending(store, audit_id=audit_id, include_not_due=include_not_due, retry_failed=retry_failed)
    log.info("delivered the outbox%s: %s", f" of {audit_id}" if audit_id else "", result)
    return dict(result or {})


# --------------------------------------------------------------------------- staging


def spec_retention(specs: list[AuditSpec]) -> dict[str, timedelta]:
    return {spec.id: spec.staging_retention for spec in specs}


def prune_staging(specs: list[AuditSpec], *, now: float | None = None) -> dict[str, int]:
    """Delete staged windows older than their spec's ``staging_retention``."""
    from ethics_audit import staging

    # audits whose spec is gone keep theirs for the default retention (settings)
    pruned = staging.prune(spec_retention(specs), settings.staging_retention(), now=now)
    log.info("pruned %d staged windows (%d bytes)", pruned.folders, pruned.bytes)
    return {"folders": pruned.folders, "bytes": pruned.bytes}
