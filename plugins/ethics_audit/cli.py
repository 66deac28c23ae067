"""The ``ethics-audit`` command: the same library the DAGs use, without Airflow.

Every command prints a short human summary, or one JSON document with ``--json``. Errors a
user can fix are printed as one clear message (exit 1; exit 2 for invalid specs and usage);
an unexpected error says it is a bug and how to see the traceback, never dumps it by default.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ethics_audit import exits
from ethics_audit.errors import AuditError, SpecError

if TYPE_CHECKING:
    from rich.console import Console

    from ethics_audit.runner import RunOutcome
    from ethics_audit.spec import AuditSpec

app = typer.Typer(
    name="ethics-audit",
    help="Audit production ML models for data quality, drift, bias, privacy and transparency; keep the history.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_FAILED, EXIT_INVALID, EXIT_INTERNAL = exits.FAILED, exits.INVALID, exits.INTERNAL
EXIT_EMPTY = exits.EMPTY  # the window had no rows: its data is missing, not clean

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
ReplaceEmptyOpt = Annotated[
    bool,
    typer.Option(
        "--replace-empty", help="Let a window without rows replace the window's earlier results (default: keep them)."
    ),
]
SEVERITY_STYLE = {
    "ok": "green",
    "warn": "yellow",
    "critical": "bold red",
    "insufficient_data": "dim",
    "error": "magenta",
}


def escape(text: str) -> str:
    """User text (messages, category values) must never be read as rich markup."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _parse_when(text: str, option: str) -> datetime:
    from ethics_audit.windows import parse_instant

    try:
        return parse_instant(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def _load(spec_path: Path) -> AuditSpec:
    from ethics_audit.spec import load_spec

    return load_spec(spec_path)


def _store() -> Any:
    from ethics_audit.store import open_store

    return open_store()


# --------------------------------------------------------------------------- validate, schema


@app.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Spec files or folders (searched for *.yaml).")],
    as_json: JsonOpt = False,
) -> None:
    """Check audit specs; report every problem as `file: field.path: message`. Exit 2 if any."""
    from ethics_audit.spec import validate_paths

    specs, problems = validate_paths(list(paths))
    if as_json:
        _print_json(
            {
                "valid": [{"id": s.id, "file": str(s.path)} for s in specs],
                "problems": [
                    {"file": p.file, "field": p.field, "message": p.message, "line": p.line} for p in problems
                ],
            }
        )
    else:
        out = console()
        for problem in problems:
            out.print(escape(str(problem)), style="red")
        for spec in specs:
            out.print(f"[green]ok[/green] {escape(f'{spec.path}: {spec.id} ({spec.model.name} {spec.model.version})')}")
        files = len({p.file for p in problems})
        out.print(f"{len(specs)} valid, {files} invalid" + (f", {len(problems)} problems" if problems else ""))
    if problems:
        raise typer.Exit(EXIT_INVALID)


@app.command()
def schema() -> None:
    """Print the JSON Schema of audit specs (for editors and CI)."""
    from ethics_audit.spec import json_schema

    _print_json(json_schema())


# --------------------------------------------------------------------------- run, backfill, history


def _findings_table(outcome: RunOutcome, *, all_rows: bool = False) -> Any:
    from rich.table import Table

    table = Table(show_lines=False, header_style="bold")
    for column in ("check", "metric", "slice", "value", "interval", "n", "severity", "why"):
        table.add_column(column, overflow="fold")
    shown = sorted(outcome.findings, key=lambda f: -f.severity.rank)
    for finding in shown:
        if not all_rows and finding.severity.value == "ok":
            continue
        r = finding.result
        interval = f"[{r.ci_low:.3g}, {r.ci_high:.3g}]" if r.ci_low is not None and r.ci_high is not None else ""
        style = SEVERITY_STYLE[finding.severity.value]
        table.add_row(
            r.check,
            r.metric,
            ", ".join(f"{k}={v}" for k, v in r.slice.items()),
            "" if r.value is None else f"{r.value:.4g}",
            interval,
            "" if r.n is None else str(r.n),
            f"[{style}]{finding.severity.value}[/{style}]",
            finding.reason,
        )
    return table


def _print_outcome(outcome: RunOutcome, *, all_rows: bool = False) -> None:
    out = console()
    counts = outcome.summary.get("counts", {})
    head = (
        f"[bold]{outcome.audit_id}[/bold] {outcome.window_start:%Y-%m-%d %H:%M} → {outcome.window_end:%Y-%m-%d %H:%M}"
        f"  run {outcome.run_id}  status {outcome.status}  rows {outcome.rows}"
    )
    out.print(head)
    for family, info in outcome.summary.get("checks", {}).items():
        if info["status"] in ("skipped", "error", "empty"):
            out.print(f"  [magenta]{family}: {info['status']}[/magenta] {info['reason']}")
    if not outcome.summary.get("checks"):
        out.print("  [yellow]no check families are configured or available: nothing was checked[/yellow]")
    breaches = counts.get("critical", 0) + counts.get("warn", 0)
    if breaches or all_rows or counts.get("error") or counts.get("insufficient_data"):
        out.print(_findings_table(outcome, all_rows=all_rows))
    parts = [f"{counts.get(s, 0)} {s}" for s in ("critical", "warn", "error", "insufficient_data", "ok")]
    out.print("  " + ", ".join(parts))
    changes = outcome.summary.get("incidents") or {}
    moved = [
        f"{len(ids)} {name}" for name in ("opened", "updated", "reopened", "resolved") if (ids := changes.get(name))
    ]
    if moved:
        out.print(f"  incidents: {', '.join(moved)} (`ethics-audit incidents list`)")
    if changes.get("kept_run_id"):
        out.print(
            f"  [yellow]the window has no rows: run {changes['kept_run_id']}'s results stay current "
            "(--replace-empty records the empty window instead)[/yellow]"
        )
    delivery = outcome.delivery or {}
    if delivery.get("sent") or delivery.get("errors"):
        out.print(
            f"  notifications: {delivery.get('sent', 0)} sent"
            + (
                f", {len(delivery['errors'])} waiting for a retry (`ethics-audit notify list`)"
                if delivery["errors"]
                else ""
            )
        )


@app.command()
def run(
    spec_path: Annotated[Path, typer.Argument(metavar="SPEC", help="The audit spec (YAML).")],
    start: Annotated[str, typer.Option("--start", help="Window start, ISO date or datetime (UTC if no zone).")],
    end: Annotated[str, typer.Option("--end", help="Window end (exclusive).")],
    as_json: JsonOpt = False,
    show_all: Annotated[bool, typer.Option("--all", help="List ok findings too.")] = False,
    fail_on: Annotated[
        str | None, typer.Option("--fail-on", help="Exit 1 when a finding is at least this severe (warn|critical).")
    ] = None,
    replace_empty: ReplaceEmptyOpt = False,
) -> None:
    """Audit one window and record its results (re-running replaces them).

    Exit 0 when every family ran; 3 when the window had no rows; 4 when the run is partial (a
    family errored or was blocked); 1 when a finding reaches --fail-on or the window cannot be read."""
    from ethics_audit.runner import audit_window

    if fail_on not in (None, "warn", "critical"):
        raise typer.BadParameter(f"{fail_on!r}: use warn or critical", param_hint="--fail-on")
    spec = _load(spec_path)
    outcome = audit_window(
        spec,
        _parse_when(start, "--start"),
        _parse_when(end, "--end"),
        store=_store(),
        trigger="cli",
        replace_empty=replace_empty,
    )
    if as_json:
        _print_json(outcome.to_dict())
    else:
        _print_outcome(outcome, all_rows=show_all)
    code = exits.for_run(outcome, fail_on)
    if code == exits.PARTIAL and not as_json:
        console(stderr=True).print(
            escape(f"the window was only partly audited ({'; '.join(exits.incomplete(outcome))}): exit {code}")
        )
    if code:
        raise typer.Exit(code)


@app.command()
def backfill(
    spec_path: Annotated[Path, typer.Argument(metavar="SPEC", help="The audit spec (YAML).")],
    start: Annotated[str, typer.Option("--start", help="First window starts here.")],
    end: Annotated[str, typer.Option("--end", help="No window ends after this.")],
    as_json: JsonOpt = False,
    replace_empty: ReplaceEmptyOpt = False,
    partial: Annotated[
        str,
        typer.Option(
            "--partial",
            help="A window cut by --start or --end: skip it and say so (default), or include it (audited whole).",
        ),
    ] = "skip",
) -> None:
    """Audit every window of the spec's size in [start, end), oldest first (calendar windows:
    every month or quarter of the spec's calendar). Exit 3 if one had no rows, 4 if one was partial."""
    from rich.progress import Progress

    from ethics_audit.backfill import plan_backfill
    from ethics_audit.runner import audit_window

    if partial not in ("skip", "include"):
        raise typer.BadParameter(f"{partial!r}: use skip or include", param_hint="--partial")
    spec = _load(spec_path)
    plan = plan_backfill(spec, _parse_when(start, "--start"), _parse_when(end, "--end"), partial=partial)
    windows = plan.windows
    for line in plan.notes:
        console(stderr=True).print(escape(line), style="yellow")
    if not windows:
        raise AuditError(f"no whole {spec.describe_window()} fit between {start} and {end}")
    store = _store()
    outcomes, failures = [], []
    with Progress(console=console(stderr=True), transient=as_json) as progress:
        task = progress.add_task(f"auditing {spec.id}", total=len(windows))
        for window_start, window_end in windows:
            try:
                outcomes.append(
                    audit_window(
                        spec, window_start, window_end, store=store, trigger="backfill", replace_empty=replace_empty
                    )
                )
            except AuditError as exc:
                failures.append({"window_start": window_start.isoformat(), "error": str(exc)})
            progress.advance(task)
    if as_json:
        _print_json({"runs": [_brief(o) for o in outcomes], "failures": failures, "partial_windows": plan.partial})
    else:
        _print_runs_table([_brief(o) for o in outcomes])
        for failure in failures:
            console().print(f"[red]{failure['window_start']}: {failure['error']}[/red]")
    code = exits.worst([exits.FAILED] * bool(failures) + [exits.for_run(o, None) for o in outcomes])
    if code:
        raise typer.Exit(code)


def _brief(outcome: RunOutcome) -> dict[str, Any]:
    return {
        "run_id": outcome.run_id,
        "window_start": outcome.window_start.isoformat(),
        "window_end": outcome.window_end.isoformat(),
        "status": outcome.status,
        "rows": outcome.rows,
        "worst_severity": outcome.worst.value,
        "counts": outcome.summary.get("counts", {}),
    }


def _print_runs_table(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(header_style="bold")
    for column in ("window", "run", "status", "rows", "critical", "warn", "worst"):
        table.add_column(column)
    for row in rows:
        counts = row.get("counts", {})
        style = SEVERITY_STYLE.get(row["worst_severity"], "")
        table.add_row(
            row["window_start"][:10],
            str(row["run_id"]),
            row["status"],
            str(row["rows"]),
            str(counts.get("critical", 0)),
            str(counts.get("warn", 0)),
            f"[{style}]{row['worst_severity']}[/{style}]",
        )
    console().print(table)


@app.command()
def history(
    audit_id: Annotated[str, typer.Argument(help="The audit id (the spec's `id`).")],
    as_json: JsonOpt = False,
    attempts: Annotated[bool, typer.Option("--attempts", help="Show every attempt, failed ones too.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 100,
) -> None:
    """The audited windows of one audit, newest first."""
    store = _store()
    records = store.history(audit_id, limit=limit, attempts=attempts)
    if not records and audit_id not in store.audit_ids():
        known = ", ".join(store.audit_ids()) or "none yet"
        raise AuditError(f"no history for audit {audit_id!r}; audits with history: {known}")
    if as_json:
        _print_json({"audit_id": audit_id, "runs": [r.to_dict() for r in records]})
        return
    rows = []
    for r in records:
        rows.append(
            {
                "run_id": r.run_id,
                "window_start": r.window_start.isoformat(),
                "status": r.status + ("" if r.is_current or not attempts else " (superseded)"),
                "rows": r.rows,
                "worst_severity": r.worst_severity,
                "counts": r.summary.get("counts", {}),
            }
        )
    _print_runs_table(rows)


# --------------------------------------------------------------------------- demo


@app.command()
def demo(
    weeks: Annotated[int, typer.Option(help="How many weekly windows to generate and audit (8 or more).")] = 12,
    rows_per_week: Annotated[int, typer.Option(help="Predictions per week.")] = 20000,
    as_json: JsonOpt = False,
) -> None:
    """Generate a synthetic ad-delivery model's logs with injected problems and audit every week."""
    from ethics_audit.demo import run_demo

    result = run_demo(weeks=weeks, rows_per_week=rows_per_week, out=None if as_json else console())
    if as_json:
        _print_json(result)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 3000,
) -> None:
    """Serve Slack's interactivity URL (POST /ethics-audit/slack/actions) without Airflow."""
    from ethics_audit.web.serve import serve as run_server

    console(stderr=True).print(f"Slack interactivity URL: http://{host}:{port}/ethics-audit/slack/actions")
    run_server(host, port)


# --------------------------------------------------------------------------- report


def _usage_error(message: str) -> None:
    # typer's BadParameter is not a click exception in this typer version, so main() would call it a bug
    console(stderr=True).print(f"[red]usage:[/red] {escape(message)}")
    raise typer.Exit(EXIT_INVALID)


@app.command()
def report(
    quarter: Annotated[str | None, typer.Option("--quarter", help="Quarterly ethics report, e.g. 2026Q3.")] = None,
    run_id: Annotated[int | None, typer.Option("--run", help="HTML report of one audit run (its id).")] = None,
    audit: Annotated[
        list[str] | None, typer.Option("--audit", help="Only this audit id (repeat for several); default: all.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for the files (default: under ETHICS_AUDIT_HOME).")
    ] = None,
    public: Annotated[bool, typer.Option("--public", help="Publishable edition with differential privacy.")] = False,
    epsilon: Annotated[
        float | None, typer.Option("--epsilon", help="Privacy budget the public edition spends per audit.")
    ] = None,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also print the quarterly report to PDF.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Write the quarterly ethics report (HTML + PDF) or one run's HTML report, from the stored history."""
    from ethics_audit import reports

    if (quarter is None) == (run_id is None):
        _usage_error("give either --quarter (e.g. 2026Q3) or --run RUN_ID")
    if run_id is not None and (audit or public or epsilon is not None):
        _usage_error("--audit, --public and --epsilon apply to --quarter reports, not to --run")
    store = _store()
    if run_id is not None:
        path = reports.render_run_report(store, run_id, out_dir=out)
        if as_json:
            _print_json({"run_id": run_id, "html": str(path)})
        else:
            console().print(f"run report: {escape(str(path))}")
        return
    result = reports.build_quarterly_report(
        store, quarter or "", audit_ids=audit or None, out_dir=out, public=public, epsilon=epsilon, pdf=pdf
    )
    if as_json:
        _print_json(result)
        return
    out_console = console()
    summary = result["summary"]
    out_console.print(
        f"[bold]{escape(result['quarter'])}[/bold]{' (public edition)' if public else ''}: "
        f"{summary['windows_audited']} of {summary['windows_expected']} windows audited across {summary['audits']} audits, "
        f"{summary['windows_missed']} missed; problems {summary['problems_opened']} opened, "
        f"{summary['problems_resolved']} resolved, {summary['problems_open']} open "
        f"(incidents {summary['incidents_opened']}, {summary['incidents_resolved']}, {summary['incidents_open']})"
    )
    out_console.print(f"html: {escape(result['html'])}")
    if result["pdf"]:
        out_console.print(f"pdf:  {escape(result['pdf'])}")
    elif pdf:
        out_console.print(f"[yellow]pdf: not written: {escape(result['pdf_error'] or '')}[/yellow]")
    for row in result.get("privacy_budget") or []:
        out_console.print(
            f"privacy budget {escape(row['audit_id'])} {row['year']}: spent {row['epsilon']:.3g} now, "
            f"{row['spent_this_year']:.3g} of {row['yearly_budget']:.3g} this year"
        )


@app.command("export")
def export_tables(
    quarter: Annotated[str, typer.Option("--quarter", help="The quarter, e.g. 2026Q3.")],
    fmt: Annotated[str, typer.Option("--format", help="dsa-art15 (EU DSA Art. 15) or ll144 (NYC Local Law 144).")],
    audit: Annotated[list[str] | None, typer.Option("--audit", help="Only this audit id (repeat for several).")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder (default: ETHICS_AUDIT_HOME/exports/QUARTER).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """CSV and JSON tables for a legal report (input to it, not the report), from the stored history."""
    from ethics_audit.reports.exports import export

    result = export(_store(), quarter, fmt, audit_ids=audit or None, out_dir=out)
    if as_json:
        _print_json(result)
        return
    console().print(f"{escape(result['format'])} {escape(result['quarter'])}: {result['rows']} rows")
    console().print(f"csv:  {escape(result['csv'])}\njson: {escape(result['json'])}")


# --------------------------------------------------------------------------- incidents, notify

incidents_app = typer.Typer(
    help="Breaches, one per (audit, check, metric, slice): list, show, acknowledge, mute, resolve.",
    no_args_is_help=True,
)
notify_app = typer.Typer(
    help="The notification outbox: deliver what is waiting, list what was sent.", no_args_is_help=True
)
app.add_typer(incidents_app, name="incidents")
app.add_typer(notify_app, name="notify")

IdsArg = Annotated[list[int], typer.Argument(metavar="ID...", help="Incident ids (see `incidents list`).")]
ByOpt = Annotated[
    str | None, typer.Option("--by", help="Who is acting (default: $ETHICS_AUDIT_ACTOR or your user name).")
]
NoteOpt = Annotated[str, typer.Option("--note", help="Why; shown in the incident's history and its thread.")]
NoDeliverOpt = Annotated[
    bool, typer.Option("--no-deliver", help="Only record it; leave the notifications in the outbox.")
]
STATUS_SETS = {
    "active": ["open", "acknowledged", "muted"],
    "open": ["open"],
    "acknowledged": ["acknowledged"],
    "muted": ["muted"],
    "resolved": ["resolved"],
    "all": [],
}


def _actor(by: str | None) -> str:
    if by:
        return by
    import getpass

    return os.environ.get("ETHICS_AUDIT_ACTOR") or getpass.getuser()


def _value_text(item: dict[str, Any]) -> str:
    from ethics_audit.notify.render import interval_text, number

    return number(item.get("value")) + interval_text(item)


@incidents_app.command("list")
def incidents_list(
    audit: Annotated[str | None, typer.Option("--audit", help="Only this audit id.")] = None,
    status: Annotated[str, typer.Option("--status", help="active, open, acknowledged, muted, resolved or all.")] = (
        "active"
    ),
    as_json: JsonOpt = False,
) -> None:
    """Incidents, newest breach first (active ones unless --status says otherwise)."""
    from rich.table import Table

    from ethics_audit.notify.render import slice_text

    if status not in STATUS_SETS:
        raise typer.BadParameter(f"choose one of {', '.join(STATUS_SETS)}", param_hint="--status")
    items = _store().incidents(audit_id=audit, statuses=STATUS_SETS[status])
    if as_json:
        _print_json({"incidents": items})
        return
    if not items:
        console().print(f"no {'' if status == 'all' else status + ' '}incidents" + (f" for {audit}" if audit else ""))
        return
    table = Table(header_style="bold")
    for column in (
        "id",
        "audit",
        "check",
        "metric (slice)",
        "status",
        "severity",
        "value",
        "windows",
        "since",
        "alert",
    ):
        table.add_column(column, overflow="fold")
    for i in items:
        style = SEVERITY_STYLE.get(i["severity"], "")
        where = f" ({slice_text(i['slice'])})" if i["slice"] else ""
        table.add_row(
            str(i["id"]),
            escape(i["audit_id"]),
            i["check"],
            escape(i["metric"] + where),
            i["status"],
            f"[{style}]{i['severity']}[/{style}]",
            _value_text(i),
            str(i["occurrences"]),
            i["first_window_start"][:10],
            "" if i["alert_id"] is None else str(i["alert_id"]),
        )
    console().print(table)


@incidents_app.command("show")
def incidents_show(
    incident_id: Annotated[int, typer.Argument(metavar="ID", help="The incident id.")],
    as_json: JsonOpt = False,
) -> None:
    """One incident: its state, every transition (when, who), and what each window said."""
    from rich.table import Table

    from ethics_audit.notify.render import slice_text, threshold_text

    item = _store().incident(incident_id)
    if item is None:
        raise AuditError(
            f"incident {incident_id} does not exist; `ethics-audit incidents list --status all` lists them"
        )
    if as_json:
        _print_json(item)
        return
    out = console()
    where = f" ({slice_text(item['slice'])})" if item["slice"] else ""
    out.print(
        f"[bold]#{item['id']} {escape(item['audit_id'])}: {item['check']} {escape(item['metric'] + where)}[/bold]"
    )
    out.print(
        f"  status {item['status']}, severity {item['severity']} (worst {item['worst_severity']}), "
        f"value {_value_text(item)} ({escape(threshold_text(item['threshold']))})"
    )
    out.print(
        f"  breached in {item['occurrences']} window(s) since {item['first_window_start'][:10]}, "
        f"last {item['last_window_start'][:10]}; episode {item['episode']}"
    )
    if item["alert"]:
        refs = ", ".join(
            f"{k}: {v.get('key') or v.get('number') or v.get('ts')}" for k, v in item["alert"]["external"].items()
        )
        out.print(
            f"  alert {item['alert']['id']} ({item['alert']['status']}) {escape(item['alert']['key'])} {escape(refs)}"
        )
    events = Table(title="transitions", header_style="bold")
    for column in ("at", "who", "transition", "window", "severity", "value", "note"):
        events.add_column(column, overflow="fold")
    for e in item["events"]:
        events.add_row(
            e["at"][:19],
            escape(e["actor"]),
            e["transition"],
            (e["window_start"] or "")[:10],
            e["severity"] or "",
            "" if e["value"] is None else f"{e['value']:.4g}",
            escape(e["note"]),
        )
    out.print(events)
    windows = Table(title="windows", header_style="bold")
    for column in ("window", "outcome", "severity", "value", "run"):
        windows.add_column(column)
    for x in item["windows"]:
        windows.add_row(
            x["window_start"][:10],
            x["outcome"],
            x["severity"],
            "" if x["value"] is None else f"{x['value']:.4g}",
            str(x["run_id"] or ""),
        )
    out.print(windows)


def _after_action(result: dict[str, Any], verb: str, as_json: bool, deliver: bool) -> None:
    from ethics_audit.notify import deliver_pending

    store = _store()
    delivery = {}
    if deliver and result["notifications"]:
        for audit_id in sorted({i["audit_id"] for i in result["incidents"]}):
            delivery[audit_id] = deliver_pending(store, audit_id=audit_id)
    if as_json:
        _print_json({**result, "delivery": delivery})
        return
    ids = ", ".join(f"#{i['id']}" for i in result["incidents"])
    console().print(f"{verb} {ids}; {result['notifications']} notification(s) queued")
    _print_delivery(delivery)


def _print_delivery(delivery: dict[str, Any]) -> None:
    out = console()
    for audit_id, d in delivery.items():
        out.print(f"  {escape(audit_id)}: {d['sent']} sent, {d['retrying']} to retry, {d['failed']} failed")
        for error in d["errors"]:
            out.print(f"  [red]#{error['id']} {error['channel']}: {escape(error['error'])}[/red]")


@incidents_app.command("ack")
def incidents_ack(
    ids: IdsArg, by: ByOpt = None, note: NoteOpt = "", no_deliver: NoDeliverOpt = False, as_json: JsonOpt = False
) -> None:
    """Acknowledge: someone is on it (updates still arrive; PagerDuty stops paging)."""
    result = _store().acknowledge_incidents(ids, actor=_actor(by), note=note)
    _after_action(result, "acknowledged", as_json, not no_deliver)


@incidents_app.command("mute")
def incidents_mute(
    ids: IdsArg,
    until: Annotated[str, typer.Option("--until", help="A date (2026-09-01) or a duration from now (7d, 12h).")],
    by: ByOpt = None,
    note: NoteOpt = "",
    no_deliver: NoDeliverOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Mute until a date: no updates are sent until then (a resolution still is)."""
    from datetime import timezone

    from ethics_audit.windows import parse_duration

    try:
        when = datetime.now(timezone.utc) + parse_duration(until)
    except ValueError:
        when = _parse_when(until, "--until")
    result = _store().mute_incidents(ids, until=when, actor=_actor(by), note=note)
    _after_action(result, f"muted until {when:%Y-%m-%d %H:%M} UTC:", as_json, not no_deliver)


@incidents_app.command("resolve")
def incidents_resolve(
    ids: IdsArg, by: ByOpt = None, note: NoteOpt = "", no_deliver: NoDeliverOpt = False, as_json: JsonOpt = False
) -> None:
    """Resolve by hand; a breach in a later window reopens it."""
    result = _store().resolve_incidents(ids, actor=_actor(by), note=note)
    _after_action(result, "resolved", as_json, not no_deliver)


@notify_app.command("flush")
def notify_flush(
    audit: Annotated[str | None, typer.Option("--audit", help="Only this audit's notifications.")] = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Give notifications that gave up a fresh set of attempts.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Deliver every pending notification now (waiting retries included). Exit 1 if some failed."""
    from ethics_audit.notify import deliver_pending

    store = _store()
    result = deliver_pending(store, audit_id=audit, include_not_due=True, retry_failed=retry_failed)
    if as_json:
        _print_json(result)
    else:
        _print_delivery({audit or "all audits": result})
        if result["waiting"]:
            console().print(
                f"  {result['waiting']} waiting for an earlier message of their thread or a channel that is down"
            )
        for claim in result.get("claimed", []):
            console().print(
                f"  notification {claim['id']} ({claim['channel']}) is held by another sender (or one that was "
                f"killed) until {claim['until'][:19]} UTC; flush again after that"
            )
    if result["errors"]:
        raise typer.Exit(EXIT_FAILED)


@notify_app.command("list")
def notify_list(
    status: Annotated[str | None, typer.Option("--status", help="pending, sent or failed.")] = None,
    audit: Annotated[str | None, typer.Option("--audit", help="Only this audit id.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The outbox, newest first: what was sent where, what waits and why."""
    from rich.table import Table

    rows = _store().notifications(audit_id=audit, status=status, limit=limit)
    if as_json:
        _print_json({"notifications": [r.to_dict() for r in rows]})
        return
    table = Table(header_style="bold")
    for column in ("id", "audit", "channel", "kind", "status", "attempts", "created", "sent / last error"):
        table.add_column(column, overflow="fold")
    for r in rows:
        info = r.to_dict()
        table.add_row(
            str(r.id),
            escape(r.audit_id),
            r.channel,
            r.kind,
            r.status,
            str(r.attempts),
            info["created_at"][:19],
            escape((info["sent_at"] or "")[:19] or (r.last_error or "")),
        )
    console().print(table)


# --------------------------------------------------------------------------- verify, checkpoint

from ethics_audit.ledger import commands as _ledger_commands  # noqa: E402 - registers on app

_ledger_commands.register(app, console=console, escape=escape, print_json=_print_json, store=_store)


# --------------------------------------------------------------------------- entry point


def main() -> None:
    level = logging.DEBUG if os.environ.get("ETHICS_AUDIT_DEBUG") else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    try:
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except SpecError as exc:
        console(stderr=True).print(escape(str(exc)), style="red")
        sys.exit(EXIT_INVALID)
    except AuditError as exc:
        console(stderr=True).print(f"[red]error:[/red] {escape(str(exc))}")
        sys.exit(EXIT_FAILED)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        console(stderr=True).print("aborted")
        sys.exit(EXIT_FAILED)
    except Exception as exc:
        # typer vendors its own click: its usage errors are TyperExceptions with .show()
        if isinstance(exc, typer.TyperException) and hasattr(exc, "show"):
            exc.show()
            sys.exit(EXIT_INVALID)
        if os.environ.get("ETHICS_AUDIT_DEBUG"):
            raise
        from ethics_audit.runner import internal_error

        console(stderr=True).print(
            f"[red]{escape(internal_error('ethics-audit', exc))}[/red]\n"
            "This is a bug in ethics-audit. Rerun with ETHICS_AUDIT_DEBUG=1 to see the traceback and report it."
        )
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
