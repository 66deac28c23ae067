"""``report`` and ``export``: the quarterly ethics report or one run's page, and tables for legal reports.

Both read the stored history only (never the audited data). The quarterly report here is
written on demand and tells nobody; the scheduled job that also notifies the owners is
``ethics_audit.jobs.quarterly_report``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ethics_audit.cli.app import JsonOpt, app, console, escape, open_store, print_json, usage_error


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
        usage_error("give either --quarter (e.g. 2026Q3) or --run RUN_ID")
    if run_id is not None and (audit or public or epsilon is not None):
        usage_error("--audit, --public and --epsilon apply to --quarter reports, not to --run")
    store = open_store()
    if run_id is not None:
        path = reports.render_run_report(store, run_id, out_dir=out)
        if as_json:
            print_json({"run_id": run_id, "html": str(path)})
        else:
            console().print(f"run report: {escape(str(path))}")
        return
    result = reports.build_quarterly_report(
        store, quarter or "", audit_ids=audit or None, out_dir=out, public=public, epsilon=epsilon, pdf=pdf
    )
    if as_json:
        print_json(result)
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

    result = export(open_store(), quarter, fmt, audit_ids=audit or None, out_dir=out)
    if as_json:
        print_json(result)
        return
    console().print(f"{escape(result['format'])} {escape(result['quarter'])}: {result['rows']} rows")
    console().print(f"csv:  {escape(result['csv'])}\njson: {escape(result['json'])}")
