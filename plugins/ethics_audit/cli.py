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

from ethics_audit.errors import AuditError, SpecError

if TYPE_CHECKING:
    from rich.console import Console

    from ethics_audit.runner import RunOutcome
    from ethics_audit.spec import AuditSpec

app = typer.Typer(
    name="ethics-audit",
    help="Audit production ML models for data quality, drift, bias and privacy leaks; keep the history.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_INTERNAL = 70

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
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
        raise AuditError(f"{option}: {exc}") from None


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


def _fail_on(outcome: RunOutcome, level: str | None) -> bool:
    from ethics_audit.results import Severity

    if level is None:
        return False
    return outcome.worst.rank >= Severity(level).rank


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
) -> None:
    """Audit one window and record its results (re-running replaces them)."""
    from ethics_audit.runner import audit_window

    spec = _load(spec_path)
    outcome = audit_window(
        spec, _parse_when(start, "--start"), _parse_when(end, "--end"), store=_store(), trigger="cli"
    )
    if as_json:
        _print_json(outcome.to_dict())
    else:
        _print_outcome(outcome, all_rows=show_all)
    if _fail_on(outcome, fail_on):
        raise typer.Exit(EXIT_FAILED)


@app.command()
def backfill(
    spec_path: Annotated[Path, typer.Argument(metavar="SPEC", help="The audit spec (YAML).")],
    start: Annotated[str, typer.Option("--start", help="First window starts here.")],
    end: Annotated[str, typer.Option("--end", help="No window ends after this.")],
    as_json: JsonOpt = False,
) -> None:
    """Audit every window of the spec's size in [start, end), oldest first."""
    from rich.progress import Progress

    from ethics_audit.runner import audit_window
    from ethics_audit.windows import iter_windows

    spec = _load(spec_path)
    windows = list(iter_windows(_parse_when(start, "--start"), _parse_when(end, "--end"), spec.window.size))
    if not windows:
        raise AuditError(f"no whole {spec.describe_window()} fit between {start} and {end}")
    store = _store()
    outcomes, failures = [], []
    with Progress(console=console(stderr=True), transient=as_json) as progress:
        task = progress.add_task(f"auditing {spec.id}", total=len(windows))
        for window_start, window_end in windows:
            try:
                outcomes.append(audit_window(spec, window_start, window_end, store=store, trigger="backfill"))
            except AuditError as exc:
                failures.append({"window_start": window_start.isoformat(), "error": str(exc)})
            progress.advance(task)
    if as_json:
        _print_json({"runs": [_brief(o) for o in outcomes], "failures": failures})
    else:
        _print_runs_table([_brief(o) for o in outcomes])
        for failure in failures:
            console().print(f"[red]{failure['window_start']}: {failure['error']}[/red]")
    if failures:
        raise typer.Exit(EXIT_FAILED)


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
        f"{summary['windows_missed']} missed; incidents {summary['incidents_opened']} opened, "
        f"{summary['incidents_resolved']} resolved, {summary['incidents_open']} open"
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
        if isinstance(exc, typer.TyperException) and hasattr(exc, "show"):  # click usage errors (vendored)
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
