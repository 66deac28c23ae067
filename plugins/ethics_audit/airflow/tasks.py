"""What the Airflow tasks do, as plain functions: the DAGs in ``dags.py`` only wire them up.

Each step opens the results database from the ``ethics_audit_db`` connection, calls the same
runner functions the CLI uses, and hands the next step paths and ids only. On the memory engine
a window is staged as parquet under ``$ETHICS_AUDIT_HOME/staging`` by ``extract``; on any other
engine (DuckDB, PostgreSQL, Spark) ``extract`` counts it and takes its fingerprint on the engine,
stages no row, and each family task opens the window on the engine itself (``open_window``),
failing if its row count is not extract's. Each family writes its (small) output to the staging
folder, and ``record`` judges and commits results, incidents and outbox rows in one transaction.
Delivery happens after the commit.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ethics_audit.errors import AuditError, InternalError, SourceError
from ethics_audit.windows import as_utc

if TYPE_CHECKING:
    from ethics_audit.spec import AuditSpec
    from ethics_audit.store import Store

log = logging.getLogger(__name__)


def open_results_store() -> Store:
    from ethics_audit.connections import results_db_url
    from ethics_audit.store import Store

    return Store(results_db_url())


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
    """Begin an attempt and read the window. On the memory engine its rows are staged as parquet;
    on any other engine only what is small is read (the row counts, the input fingerprint, taken
    on the engine, and the row-count history) and no row is staged. A read failure is recorded."""
    from ethics_audit import runner, settings, staging
    from ethics_audit.engine.fingerprint import of_tables

    start, end = as_utc(window_start), as_utc(window_end)
    rows = staging.stages_rows(spec)
    store = open_results_store()
    data = None
    try:
        run_id = runner.begin(store, spec, start, end, trigger=trigger)
        try:
            t0 = time.perf_counter()
            data = runner.load(store, spec, start, end)
            loaded = time.perf_counter()
            # taken of the rows now: record only sees their counts
            fingerprint = of_tables(data)
            fingerprinted = time.perf_counter()
            folder = staging.window_folder(spec.id, start, end, run_id)
            staging.save_audit_data(data, folder, run_id=run_id, rows=rows, fingerprint=fingerprint)
            staged = time.perf_counter()
            counts = {"rows": data.rows, "reference_rows": data.reference_rows if data.has_reference else None}
        except BaseException as exc:
            # the CLI's failure path: never the text of a library error, which may quote a row value
            message = runner.record_failure(store, run_id, exc)
            if isinstance(exc, AuditError) or not isinstance(exc, Exception) or settings.debug():
                raise
            # Airflow logs what a task raises, message and all: raise the withheld description
            raise InternalError(message) from None
        finally:
            if data is not None:
                close(data)
    finally:
        store.dispose()
    what = "staged" if rows else f"counted (on {spec.engine.kind}, nothing staged)"
    log.info("%s: %s %d rows of %s -> %s in %s", spec.id, what, counts["rows"], start, end, folder)
    out = {
        "run_id": run_id,
        "folder": str(folder),
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        **counts,
        "timings": {
            "load": round(loaded - t0, 4),
            "fingerprint": round(fingerprinted - loaded, 4),
            "stage": round(staged - fingerprinted, 4),
        },
    }
    if not rows:  # what a family task needs to open the same window: the same audit time and history
        out |= {"engine": spec.engine.kind, "now": data.now.isoformat(), "row_count_history": data.row_count_history}
    return out


def close(data: Any) -> None:
    """Let go of the engine sessions a window was opened on (a PostgreSQL source's connection)."""
    for backend in {id(t.backend): t.backend for t in data.tables.values()}.values():
        try:
            backend.disconnect()
        except Exception:  # noqa: BLE001 - closing is best effort; the results are already out
            log.debug("could not disconnect %s", type(backend).__name__)


def open_window(spec: AuditSpec, family: str, staged: dict) -> Any:
    """The window as extract saw it: staged rows on the memory engine, else opened on the engine
    again (the spec's loader, extract's audit time and history). A window whose row count is not
    the one extract counted (the source changed during the run) is an error, never a mix."""
    from ethics_audit import runner, staging

    if "engine" not in staged:
        return staging.load_audit_data(spec, Path(staged["folder"]))
    start, end = (datetime.fromisoformat(staged[k]) for k in ("window_start", "window_end"))
    try:
        data = runner.loader_for(spec)(
            spec,
            start,
            end,
            row_count_history=list(staged.get("row_count_history") or []),
            now=datetime.fromisoformat(staged["now"]),
        )
        seen = {"rows": data.rows, "reference_rows": data.reference_rows if data.has_reference else None}
    except AuditError:
        raise
    except Exception as exc:  # noqa: BLE001 - a library's message may quote a row value
        raise InternalError(runner.internal_error(f"opening the window for the {family} check", exc)) from None
    for key, what in (("rows", "rows"), ("reference_rows", "reference rows")):
        if seen[key] != staged.get(key):
            close(data)
            raise SourceError(
                f"the source changed during this DAG run: extract counted {staged.get(key)} {what} in the window, "
                f"the {family} task counts {seen[key]}; nothing was recorded. Re-run the DAG run from its extract "
                "task once the window's data is complete (or raise window.lag so late rows have arrived)"
            )
    return data


def run_family(spec: AuditSpec, family: str, staged: dict) -> dict:
    """Run one check family on the window (staged, or on the engine); write its output next to it.

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
    if reason:
        output = runner.FamilyOutput(family, [], 0.0, "skipped", reason)
    else:
        data = open_window(spec, family, staged)
        try:
            output = runner.run_family(family, data)
        finally:
            close(data)
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
        fingerprint = staging.read_manifest(folder).get("fingerprint")  # None: staged by an older version
        outcome = runner.finish(
            store, staged["run_id"], spec, data, outputs, timings=staged.get("timings"), fingerprint=fingerprint
        )
        # rendered here, after the commit, so the deliver task only links it
        runner.publish_report(store, outcome.run_id, spec.id)
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
    """Send what the outbox holds (for one audit, or all)."""
    from ethics_audit import jobs

    store = open_results_store()
    try:
        return jobs.flush_outbox(store, audit_id=audit_id)
    finally:
        store.dispose()


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
    from ethics_audit.notify import announce, channels_for

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
        log_url = getattr(ti, "log_url", None)
        text = f"Task {ti.task_id} of DAG {ti.dag_id} failed after {ti.try_number} tries: {error}"
        sent = announce(
            store,
            spec,
            key=f"airflow-failed:{ti.dag_id}:{run_id}:{ti.task_id}:{ti.try_number}",
            title=f"The {spec.id} audit failed",
            text=text,
            links=[{"text": "task log", "url": log_url}] if log_url else [],
            severity="critical",
            channels=channels_for(spec, "critical", chat_only=True),
            extra={
                "window_start": window[0].isoformat() if window[0] else None,
                "window_end": window[1].isoformat() if window[1] else None,
                "dag_id": ti.dag_id,
                "dag_run_id": run_id,
                "task_id": ti.task_id,
                "try_number": ti.try_number,
                "error": error,
            },
        )
    finally:
        store.dispose()
    log.error("%s: %s (%d notifications queued)", spec.id, text, sent)
    if sent:
        deliver(spec.id)
