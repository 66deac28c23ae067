"""``validate``, ``schema``, ``run`` and ``backfill``: check specs, audit one window or many.

``run`` prints the window's findings (breaches only unless ``--all``) and its exit code says
how complete the audit was (``exits.for_run``); ``backfill`` audits every window of the spec's
size in a range, oldest first, and keeps going past a window that fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ethics_audit import exits
from ethics_audit.cli.app import (
    EXIT_INVALID,
    SEVERITY_STYLE,
    JsonOpt,
    ReplaceEmptyOpt,
    app,
    console,
    escape,
    load,
    open_store,
    parse_when,
    print_json,
    print_runs_table,
)
from ethics_audit.errors import AuditError

if TYPE_CHECKING:
    from ethics_audit.runner import RunOutcome

SpecArg = Annotated[Path, typer.Argument(metavar="SPEC", help="The audit spec (YAML).")]


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
        print_json(
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

    print_json(json_schema())


# --------------------------------------------------------------------------- run, backfill


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
    spec_path: SpecArg,
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
    spec = load(spec_path)
    outcome = audit_window(
        spec,
        parse_when(start, "--start"),
        parse_when(end, "--end"),
        store=open_store(),
        trigger="cli",
        replace_empty=replace_empty,
    )
    if as_json:
        print_json(outcome.to_dict())
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
    spec_path: SpecArg,
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
    spec = load(spec_path)
    plan = plan_backfill(spec, parse_when(start, "--start"), parse_when(end, "--end"), partial=partial)
    windows = plan.windows
    for line in plan.notes:
        console(stderr=True).print(escape(line), style="yellow")
    if not windows:
        raise AuditError(f"no whole {spec.describe_window()} fit between {start} and {end}")
    store = open_store()
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
        print_json({"runs": [brief(o) for o in outcomes], "failures": failures, "partial_windows": plan.partial})
    else:
        print_runs_table([brief(o) for o in outcomes])
        for failure in failures:
            console().print(f"[red]{failure['window_start']}: {failure['error']}[/red]")
    code = exits.worst([exits.FAILED] * bool(failures) + [exits.for_run(o, None) for o in outcomes])
    if code:
        raise typer.Exit(code)


def brief(outcome: RunOutcome) -> dict[str, Any]:
    return {
        "run_id": outcome.run_id,
        "window_start": outcome.window_start.isoformat(),
        "window_end": outcome.window_end.isoformat(),
        "status": outcome.status,
        "rows": outcome.rows,
        "worst_severity": outcome.worst.value,
        "counts": outcome.summary.get("counts", {}),
    }
