"""DAG builders: one audit DAG per spec, the quarterly report DAG, the housekeeping DAG.

Plain builder functions (not ``@dag``-decorated ones, whose arguments would become DAG params)
that the thin files in ``dags/`` call. An audit DAG's data interval is the audit window: a
``CronTriggerTimetable`` fires on the spec's schedule and covers the ``window.size`` before
each tick, so scheduled runs, catch-up and backfills all audit the right windows. Building a
DAG reads YAML and validates it, nothing more: every heavy import waits for a task to run.
Task runs set Airflow's parsing context, and then only the spec of that run's DAG is read.
The audit DAG's steps are ``tasks``; the maintenance DAGs run ``ethics_audit.jobs``, the same
jobs the CLI runs, on the store of the ``ethics_audit_db`` connection.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ethics_audit import jobs
from ethics_audit.airflow import tasks
from ethics_audit.errors import SpecError, SpecProblem

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow.sdk import DAG, Asset

    from ethics_audit.spec import AuditSpec

DAG_PREFIX = "ethics_audit__"
QUARTERLY_DAG_ID = "ethics_audit_quarterly_report"
HOUSEKEEPING_DAG_ID = "ethics_audit_housekeeping"
SPECS_DIR_ENV = "ETHICS_AUDIT_SPECS_DIR"
# a week after each quarter ends, so its last windows (and their lag) are audited first
QUARTERLY_SCHEDULE = "0 6 8 1,4,7,10 *"
HOUSEKEEPING_SCHEDULE = "*/15 * * * *"


def dag_id_for(audit_id: str) -> str:
    return f"{DAG_PREFIX}{audit_id}"


def results_asset(audit_id: str) -> Asset:
    """The Asset an audit DAG updates when a window's results are committed."""
    from airflow.sdk import Asset

    return Asset(
        name=f"ethics_audit_results__{audit_id}", uri=f"x-ethics-audit://results/{audit_id}", group="ethics-audit"
    )


def specs_dir(default: Path) -> Path:
    """Where the specs are: ``$ETHICS_AUDIT_SPECS_DIR``, else ``default`` (the repo's ``audits/``)."""
    return Path(os.environ.get(SPECS_DIR_ENV) or default).expanduser().resolve()


def spec_files(folder: Path) -> list[Path]:
    """The top-level ``*.yaml``/``*.yml`` of ``folder``, sorted (``audits/examples/`` is not read)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def _defines(path: Path, audit_id: str) -> bool:
    """A cheap look at a file's ``id:`` line, so a task run validates its own spec only."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return False
    match = re.search(r"^id:\s*['\"]?([A-Za-z0-9_-]+)['\"]?\s*(?:#.*)?$", text, re.MULTILINE)
    return match is None or match.group(1) == audit_id  # no plain id line: let validation decide


def load_specs(folder: Path, *, only_dag_id: str | None = None) -> tuple[list[AuditSpec], list[SpecProblem]]:
    """Valid specs of ``folder`` and every problem of the others. ``only_dag_id`` (from the
    parsing context) keeps the one spec of that DAG; another DAG's id keeps none."""
    from ethics_audit.spec import validate_paths

    files = spec_files(folder)
    if only_dag_id is not None:
        if not only_dag_id.startswith(DAG_PREFIX):
            return [], []
        wanted = only_dag_id.removeprefix(DAG_PREFIX)
        files = [f for f in files if _defines(f, wanted)]
    if not files:
        return [], []
    specs, problems = validate_paths(list(files))
    if only_dag_id is not None:
        specs = [s for s in specs if dag_id_for(s.id) == only_dag_id]
    return specs, problems


class SpecsNotLoaded(SpecError):
    """Raised by the spec-check DAG file: Airflow shows it as that file's import error."""

    def __str__(self) -> str:
        files = sorted({p.file for p in self.problems})
        head = (
            f"{len(files)} audit spec file(s) do not validate, so their DAGs are not loaded "
            "(every other audit runs as usual). Fix these, or run `ethics-audit validate`:"
        )
        return "\n".join([head, *(str(p) for p in self.problems)])


def check_specs(default: Path) -> None:
    """Raise ``SpecsNotLoaded`` naming each bad file, field and line; silent when all are valid."""
    folder = specs_dir(default)
    if not folder.is_dir():
        problem = SpecProblem(str(folder), "", f"the specs folder does not exist; create it or set {SPECS_DIR_ENV}")
        raise SpecsNotLoaded([problem])
    _specs, problems = load_specs(folder)
    if problems:
        raise SpecsNotLoaded(problems)


# --------------------------------------------------------------------------- settings


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def _env_duration(name: str, default: timedelta) -> timedelta:
    from ethics_audit.windows import parse_duration

    raw = os.environ.get(name)
    return parse_duration(raw) if raw else default


def default_args(owner: str, retries: int | None = None) -> dict[str, Any]:
    """Retries with backoff for the transient failures (a database restart, a slow source)."""
    return {
        "owner": owner,
        "retries": _env_int("ETHICS_AUDIT_TASK_RETRIES", 2) if retries is None else retries,
        "retry_delay": _env_duration("ETHICS_AUDIT_RETRY_DELAY", timedelta(minutes=5)),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(hours=1),
        "execution_timeout": _env_duration("ETHICS_AUDIT_TASK_TIMEOUT", timedelta(hours=6)),
    }


# --------------------------------------------------------------------------- the audit DAG


def _doc(spec: AuditSpec) -> str:
    from ethics_audit.calendar_windows import CalendarPeriod
    from ethics_audit.staging import stages_rows
    from ethics_audit.windows import format_duration

    owners = spec.owners
    lines = [
        f"### Ethics audit of {spec.model.name} {spec.model.version}",
        spec.model.description or "",
        "",
        f"* spec: `{spec.path}` (id `{spec.id}`)",
        f"* window: {spec.describe_window()}; "
        + (
            f"a run on each calendar boundary in {spec.timezone}"
            if isinstance(spec.window.size, CalendarPeriod)
            else f"schedule `{spec.schedule}` (UTC)"
        )
        + ": each tick audits the window that ends there. The data interval is the window; a manual run with logical date L audits the "
        "window ending at L (scheduled and backfill runs carry the window's start as logical date)",
        f"* checks: {', '.join(spec.checks.enabled()) or 'none'}",
        f"* owners: {', '.join(owners.people) or '-'}; Slack {owners.slack_channel or '-'}",
        f"* staged rows are kept {format_duration(spec.staging_retention)}"
        if stages_rows(spec)
        else f"* the rows stay on the {spec.engine.kind} engine: each check task reads the window there, "
        "no row is staged",
    ]
    if spec.window.start:
        lines.append(f"* catch-up from {spec.window.start:%Y-%m-%d %H:%M} UTC")
    return "\n".join(lines)


def _timetable(spec: AuditSpec) -> tuple[Any, datetime | None]:
    """Fixed windows: the spec's cron, each tick covering the window before it. Calendar windows:
    a tick on every calendar boundary in the spec's time zone, the data interval the month (or
    quarter) between two ticks, so a run audits exactly one calendar window."""
    from airflow.sdk import CronDataIntervalTimetable, CronTriggerTimetable

    from ethics_audit.calendar_windows import CalendarPeriod, cron_of, end_of

    size, start = spec.window.size, spec.window.start
    if isinstance(size, CalendarPeriod):
        # start_date is the first interval's start for a data-interval timetable
        return CronDataIntervalTimetable(cron_of(size), timezone=spec.timezone), start
    first = end_of(start, size) if start else None
    return CronTriggerTimetable(spec.schedule, timezone="UTC", interval=size), first


def audit_dag(spec: AuditSpec, *, retries: int | None = None) -> DAG:
    """The DAG auditing ``spec``: [wait_for_late_data] -> extract -> quality -> drift, fairness,
    privacy (in parallel) -> record (results + incidents + outbox, one transaction) -> deliver."""
    from airflow.sdk import DAG, task
    from airflow.sdk.exceptions import AirflowSkipException

    asset = results_asset(spec.id)
    owner = ", ".join(spec.owners.people) or "ethics-audit"
    families = spec.checks.enabled()

    def on_failure(context: Any) -> None:
        tasks.audit_failed(spec, context)

    start = spec.window.start
    timetable, first_tick = _timetable(spec)
    with DAG(
        dag_id=dag_id_for(spec.id),
        description=f"{spec.model.name} {spec.model.version}: {', '.join(families) or 'no checks'}",
        doc_md=_doc(spec),
        schedule=timetable,
        # the first window starts at window.start, so the first tick is a window later
        start_date=first_tick,
        catchup=start is not None,
        # windows in order, one at a time: incidents and row-count history depend on the previous window
        max_active_runs=1,
        default_args=default_args(owner, retries),
        tags=["ethics-audit", f"model:{spec.model.name}"],
    ) as dag:
        first = None
        if spec.window.lag > timedelta(0):
            from airflow.providers.standard.sensors.time_delta import TimeDeltaSensor

            # deferred to the triggerer: waiting for late rows holds no worker slot
            first = TimeDeltaSensor(
                task_id="wait_for_late_data",
                delta=spec.window.lag,
                deferrable=True,
                timeout=spec.window.lag + timedelta(days=1),
                on_failure_callback=on_failure,
            )

        @task(task_id="extract", on_failure_callback=on_failure)
        def extract(**context: Any) -> dict:
            return tasks.extract(
                spec,
                context["data_interval_start"],
                context["data_interval_end"],
                trigger=tasks.trigger_name(context["dag_run"].run_type),
            )

        def family_task(family: str) -> Any:
            @task(task_id=family, on_failure_callback=on_failure)
            def run(staged: dict) -> dict:
                out = tasks.run_family(spec, family, staged)
                if out["status"] == "skipped":
                    # its output (status skipped, with the reason) is staged for record
                    raise AirflowSkipException(out["reason"])
                return out

            return run

        # none_failed: a family skipped because quality blocked it still lets the window be recorded
        @task(task_id="record", trigger_rule="none_failed", outlets=[asset], on_failure_callback=on_failure)
        def record(staged: dict, **context: Any) -> dict:
            outcome = tasks.record(spec, staged)
            context["outlet_events"][asset].extra = {
                k: outcome[k] for k in ("run_id", "window_start", "window_end", "status", "worst_severity")
            }
            return outcome

        # no failure callback: a delivery failure stays in the outbox for housekeeping to retry
        @task(task_id="deliver")
        def deliver(outcome: dict) -> dict:
            return tasks.deliver(spec.id)

        staged = extract()
        if first is not None:
            first >> staged
        upstream: Any = staged
        checks = []
        if "quality" in families:
            quality = family_task("quality")(staged)
            checks.append(quality)
            upstream = quality
        for family in families:
            if family == "quality":
                continue
            node = family_task(family)(staged)
            upstream >> node
            checks.append(node)
        recorded = record(staged)
        for node in checks:
            node >> recorded
        deliver(recorded)
    return dag


def audit_dags(default: Path) -> dict[str, DAG]:
    """One DAG per valid spec in the specs folder, by DAG id. Invalid specs are left to
    ``check_specs`` (a separate DAG file) so they cannot stop the other audits."""
    from airflow.sdk import get_parsing_context

    specs, _problems = load_specs(specs_dir(default), only_dag_id=get_parsing_context().dag_id)
    return {dag_id_for(spec.id): audit_dag(spec) for spec in specs}


# --------------------------------------------------------------------------- maintenance DAGs


def _all_specs(default: Path) -> list[AuditSpec]:
    specs, _problems = load_specs(specs_dir(default))
    return specs


def _with_store(job: Callable[..., dict], *args: Any, **kwargs: Any) -> dict:
    """Run one of ``jobs`` on the results database of the ``ethics_audit_db`` connection."""
    store = tasks.open_results_store()
    try:
        return job(store, *args, **kwargs)
    finally:
        store.dispose()


def quarterly_report_dag(default: Path) -> DAG:
    """Builds the previous quarter's ethics report and tells the owners where it is."""
    from airflow.sdk import DAG, CronTriggerTimetable, Param, task

    with DAG(
        dag_id=QUARTERLY_DAG_ID,
        description="The quarterly ethics report of every audited model (HTML and PDF)",
        doc_md="Runs a week after each quarter ends and reports on that quarter. Trigger it with "
        "`quarter` (e.g. `2026Q3`) to rebuild a given quarter.",
        schedule=CronTriggerTimetable(QUARTERLY_SCHEDULE, timezone="UTC"),
        start_date=None,
        catchup=False,
        max_active_runs=1,
        default_args=default_args("ethics-audit"),
        params={"quarter": Param("", type="string", description="e.g. 2026Q3; empty: the quarter before the run")},
        tags=["ethics-audit"],
    ) as dag:

        @task(task_id="build_report")
        def build_report(**context: Any) -> dict:
            quarter = (context["params"].get("quarter") or "").strip()
            moment = context.get("logical_date") or context["dag_run"].run_after
            quarter = jobs.report_quarter(quarter, moment)
            result = _with_store(jobs.quarterly_report, _all_specs(default), quarter=quarter)
            return {"quarter": quarter, **{k: result[k] for k in ("html", "pdf", "notifications")}}

        build_report()
    return dag


def housekeeping_dag(default: Path) -> DAG:
    """Retries the outbox and deletes staged rows older than each spec's ``staging_retention``."""
    from airflow.sdk import DAG, CronTriggerTimetable, task

    with DAG(
        dag_id=HOUSEKEEPING_DAG_ID,
        description="Flush the notification outbox; prune staged windows past their retention",
        schedule=CronTriggerTimetable(HOUSEKEEPING_SCHEDULE, timezone="UTC"),
        start_date=None,
        catchup=False,
        max_active_runs=1,
        default_args=default_args("ethics-audit", retries=1),
        tags=["ethics-audit"],
    ) as dag:

        @task(task_id="flush_outbox")
        def flush_outbox() -> dict:
            return _with_store(jobs.flush_outbox)

        @task(task_id="prune_staging")
        def prune_staging() -> dict:
            return jobs.prune_staging(_all_specs(default))

        flush_outbox()
        prune_staging()
    return dag
