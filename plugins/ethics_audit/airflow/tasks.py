"""What the Airflow tasks do, as plain functions: the DAGs in ``dags.py`` only wire them up.

Each step opens the results database from the ``ethics_audit_db`` connection, calls the same
runner functions the CLI uses, and hands the next step paths and ids only: a window is staged
as parquet under ``$ETHICS_AUDIT_HOME/staging`` by ``extract``, each family writes its output
next to it, and ``record`` judges and commits results, incidents and outbox rows in one
transaction. Delivery happens after the commit. Pieces built elsewhere (notifications,
reports) are imported when they run; a step whose piece is not installed is skipped with a
log line.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ethics_audit.errors import AuditError, SourceError
from ethics_audit.windows import as_utc, parse_duration

if TYPE_CHECKING:
    from ethics_audit.spec import AuditSpec
    from ethics_audit.store import Store

log = logging.getLogger(__name__)

DEFAULT_STAGING_RETENTION = timedelta(days=7)


class StepSkipped(Exception):
    """The step has nothing to do here (e.g. its optional piece is not installed); not a failure."""


def open_results_store() -> Store:
    from ethics_audit.airflow.connections import results_db_url
    from ethics_audit.store import Store

    return Store(results_db_url())


def _available(module: str) -> bool:
    """Is an optional piece installed? A piece that is there but broken must fail loudly, not skip."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def trigger_name(run_type: Any) -> str:
    """``airflow-scheduled``, ``airflow-backfill``, ``airflow-manual``: the run's origin in the history."""
    value = getattr(run_type, "value", run_type) or "run"
    return f"airflow-{value}"[:40]


def safe_error(exc: BaseException | str | None) -> str:
    """A failure as owners may see it: our own messages name files, fields and columns, never
    row values; anything else (a library error may quote a value) is named by its type only."""
    if exc is None:
        return "the task failed (see its log in Airflow)"
    if isinstance(exc, str):
        return exc[:500]
    if isinstance(exc, AuditError):
        return str(exc)[:1000]
    return f"{type(exc).__name__} (details in the task log in Airflow)"


# --------------------------------------------------------------------------- the audit DAG


def extract(spec: AuditSpec, window_start: datetime, window_end: datetime, *, trigger: str = "airflow") -> dict:
    """Begin an attempt, read the window and stage it. A read failure is recorded on the attempt."""
    from ethics_audit import runner, staging

    start, end = as_utc(window_start), as_utc(window_end)
    store = open_results_store()
    try:
        run_id = runner.begin(store, spec, start, end, trigger=trigger)
        try:
            t0 = time.perf_counter()
            data = runner.load(store, spec, start, end)
            loaded = time.perf_counter()
            folder = staging.window_folder(spec.id, start, end, run_id)
            staging.save_audit_data(data, folder, run_id=run_id)
            staged = time.perf_counter()
        except AuditError as exc:
            store.fail_run(run_id, str(exc))
            raise
        except BaseException as exc:
            store.fail_run(run_id, f"internal error: {type(exc).__name__}: {exc}")
            raise
    finally:
        store.dispose()
    log.info("%s: staged %d rows of %s -> %s in %s", spec.id, data.rows, start, end, folder)
    return {
        "run_id": run_id,
        "folder": str(folder),
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "rows": data.rows,
        "reference_rows": data.reference_rows if data.reference is not None else None,
        "timings": {"load": round(loaded - t0, 4), "stage": round(staged - loaded, 4)},
    }


def run_family(spec: AuditSpec, family: str, staged: dict) -> dict:
    """Run one check family on the staged window; write its output next to it.

    Quality runs first: if it found a blocking problem, the other families are recorded as
    skipped with its reason (the DAG then marks their tasks skipped).
    """
    from ethics_audit import runner, staging

    folder = Path(staged["folder"])
    reason = None
    if family != "quality" and "quality" in spec.checks.enabled():
        quality = staging.family_output_path(folder, "quality")
        if not quality.exists():
            raise SourceError(f"{quality}: the quality check has no output yet; run the quality task first")
        reason = runner.blocking_reason([staging.load_family_output(quality)])
    data = staging.load_audit_data(spec, folder)
    output = runner.run_family(family, data, skip_reason=reason)
    path = staging.save_family_output(output, folder)
    log.info("%s: %s %s with %d results in %.2f s", spec.id, family, output.status, len(output.results), output.seconds)
    return {
        "family": family,
        "status": output.status,
        "reason": output.reason,
        "results": len(output.results),
        "path": str(path),
    }


def record(spec: AuditSpec, staged: dict) -> dict:
    """Judge every result and commit the window (results, incidents, outbox) in one transaction."""
    from ethics_audit import runner, staging

    folder = Path(staged["folder"])
    data = staging.load_audit_data(spec, folder, counts_only=True)
    outputs = staging.load_family_outputs(folder, spec.checks.enabled())
    store = open_results_store()
    try:
        t0 = time.perf_counter()
        outcome = runner.finish(store, staged["run_id"], spec, data, outputs, timings=staged.get("timings"))
    finally:
        store.dispose()
    counts = outcome.summary.get("counts", {})
    log.info(
        "%s: recorded run %d (%s): %s",
        spec.id,
        outcome.run_id,
        outcome.status,
        ", ".join(f"{n} {s}" for s, n in sorted(counts.items())),
    )
    return {
        "run_id": outcome.run_id,
        "audit_id": spec.id,
        "window_start": outcome.window_start.isoformat(),
        "window_end": outcome.window_end.isoformat(),
        "status": outcome.status,
        "rows": outcome.rows,
        "worst_severity": outcome.worst.value,
        "counts": counts,
        "seconds": round(time.perf_counter() - t0, 4),
    }


def deliver(audit_id: str | None = None) -> dict:
    """Send what the outbox holds (for one audit, or all); raises ``StepSkipped`` without ``notify``."""
    if not _available("ethics_audit.notify"):
        raise StepSkipped("ethics_audit.notify is not installed: nothing delivers the outbox yet")
    from ethics_audit.notify import deliver_pending

    store = open_results_store()
    try:
        result = deliver_pending(store, audit_id=audit_id)
    finally:
        store.dispose()
    log.info("delivered the outbox%s: %s", f" of {audit_id}" if audit_id else "", result)
    return dict(result or {})


def _channels(spec: AuditSpec, severity: str | None = "critical") -> list[str]:
    """The spec's channels for a severity (all routed channels with ``None``), each once."""
    channels: list[str] = []
    for route in spec.notifications.routes:
        if severity is None or severity in route.severities:
            channels += [c for c in route.channels if c not in channels]
    return channels


def _enqueue(store: Store, audit_id: str, channels: list[str], key: str, payload: dict) -> int:
    enqueue = getattr(store, "enqueue_notification", None)
    if enqueue is None:
        log.error("cannot notify %s (%s): Store.enqueue_notification is not available", audit_id, payload.get("title"))
        return 0
    for channel in channels:
        enqueue(audit_id, channel, f"{key}:{channel}", payload)
    return len(channels)


def audit_failed(spec: AuditSpec, context: Any) -> None:
    """Task failure callback: mark the attempt failed and tell the audit's owners.

    Never raises (a callback that fails hides the original error). The notice goes through the
    outbox with an idempotency key per task try, so a callback that runs twice sends once.
    """
    try:
        _audit_failed(spec, context)
    except Exception:
        log.exception("%s: the failure callback itself failed", spec.id)


def _audit_failed(spec: AuditSpec, context: Any) -> None:
    ti = context["ti"]
    dag_run = context.get("dag_run")
    error = safe_error(context.get("exception"))
    staged = ti.xcom_pull(task_ids="extract") if ti.task_id != "extract" else None
    window = (context.get("data_interval_start"), context.get("data_interval_end"))
    store = open_results_store()
    try:
        if isinstance(staged, dict) and staged.get("run_id"):
            run = store.get_run(staged["run_id"])
            # a run already recorded stays recorded: only an attempt still running failed
            if run is not None and run.status == "running":
                store.fail_run(run.run_id, f"Airflow task {ti.task_id} failed: {error}")
        run_id = getattr(dag_run, "run_id", None) or context.get("run_id")
        payload = {
            "kind": "audit_failed",
            "title": f"The {spec.id} audit failed",
            "text": f"Task {ti.task_id} of DAG {ti.dag_id} failed after {ti.try_number} tries: {error}",
            "audit_id": spec.id,
            "model": spec.model.name,
            "window_start": window[0].isoformat() if window[0] else None,
            "window_end": window[1].isoformat() if window[1] else None,
            "dag_id": ti.dag_id,
            "dag_run_id": run_id,
            "task_id": ti.task_id,
            "try_number": ti.try_number,
            "error": error,
            "log_url": getattr(ti, "log_url", None),
            "owners": list(spec.owners.people),
            "slack_channel": spec.owners.slack_channel,
        }
        key = f"airflow-failed:{ti.dag_id}:{run_id}:{ti.task_id}:{ti.try_number}"
        sent = _enqueue(store, spec.id, _channels(spec, "critical"), key, payload)
    finally:
        store.dispose()
    log.error("%s: %s (%d notifications queued)", spec.id, payload["text"], sent)
    if sent:
        try:
            deliver(spec.id)
        except StepSkipped as skip:
            log.warning("%s", skip)


# --------------------------------------------------------------------------- housekeeping


def spec_retention(specs: list[AuditSpec]) -> dict[str, timedelta]:
    return {spec.id: spec.staging_retention for spec in specs}


def default_staging_retention() -> timedelta:
    """For staged windows of audits whose spec is gone: ``ETHICS_AUDIT_STAGING_RETENTION`` or 7 days."""
    raw = os.environ.get("ETHICS_AUDIT_STAGING_RETENTION")
    return parse_duration(raw) if raw else DEFAULT_STAGING_RETENTION


def prune_staging(specs: list[AuditSpec], *, now: float | None = None) -> dict:
    from ethics_audit import staging

    pruned = staging.prune(spec_retention(specs), default_staging_retention(), now=now)
    log.info("pruned %d staged windows (%d bytes)", pruned.folders, pruned.bytes)
    return {"folders": pruned.folders, "bytes": pruned.bytes}


# --------------------------------------------------------------------------- quarterly report


def previous_quarter(moment: datetime) -> str:
    """The last quarter that ended before ``moment``: ``2026-10-08`` -> ``2026Q3``."""
    moment = as_utc(moment)
    quarter = (moment.month - 1) // 3  # 0-based quarter of moment; the previous one is 1-based here
    return f"{moment.year - 1}Q4" if quarter == 0 else f"{moment.year}Q{quarter}"


def quarterly_report(quarter: str, specs: list[AuditSpec]) -> dict:
    """Build the quarter's report and queue a note of where it is to every audited model's channels."""
    from ethics_audit.windows import parse_quarter

    try:
        parse_quarter(quarter)
    except ValueError as exc:
        raise AuditError(f"quarterly report: {exc}") from None
    if not _available("ethics_audit.reports"):
        raise StepSkipped("ethics_audit.reports is not installed: the quarterly report cannot be built yet")
    from ethics_audit.reports import build_quarterly_report

    store = open_results_store()
    try:
        built = dict(build_quarterly_report(store, quarter) or {})
        audited = set(store.audit_ids())
        files = {k: str(v) for k, v in built.items() if isinstance(v, str | Path)}
        queued = 0
        for spec in specs:
            if spec.id not in audited:
                continue
            payload = {
                "kind": "quarterly_report",
                "title": f"The {quarter} ethics report is ready",
                "text": f"The quarterly ethics report for {quarter} covers {spec.model.name}: "
                + ", ".join(f"{k}: {v}" for k, v in sorted(files.items())),
                "audit_id": spec.id,
                "quarter": quarter,
                "files": files,
            }
            queued += _enqueue(store, spec.id, _channels(spec, None), f"quarterly-report:{quarter}:{spec.id}", payload)
    finally:
        store.dispose()
    log.info("quarterly report %s: %s; %d notifications queued", quarter, files, queued)
    return {"quarter": quarter, "files": files, "notifications": queued}
