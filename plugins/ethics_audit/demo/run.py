"""The demo run: generate the data, audit every week through the normal runner, report, summarise.

``run_demo`` is what ``ethics-audit demo`` (and ``make demo``) calls. The weeks are audited as
the scheduler would have audited them ("now" is each window's end plus its lag), then the
quarter's report is built and the results ledger is checkpointed and verified; the printed
table holds each week against ``problems.INJECTED``.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ethics_audit.demo.data import DEMO_START, generate, week_window
from ethics_audit.demo.problems import FAMILIES, INJECTED, family_cell, week_row

if TYPE_CHECKING:
    from rich.console import Console

DEMO_SPEC = "audits/examples/ad_delivery.yaml"
REPO = Path(__file__).resolve().parents[3]  # plugins/ethics_audit/demo/run.py -> the checkout


def run_demo(*, weeks: int = 12, rows_per_week: int = 20000, out: Console | None = None) -> dict[str, Any]:
    """Generate the data, audit every week through the normal runner, build the quarterly report,
    and summarise, checking each week's findings against the injected problems."""
    from ethics_audit.errors import AuditError
    from ethics_audit.runner import audit_window
    from ethics_audit.settings import home
    from ethics_audit.spec import load_spec
    from ethics_audit.store import open_store, safe_url

    if weeks < 8:
        raise AuditError("the demo needs at least 8 weeks to show its injected problems (--weeks 8 or more)")
    started = time.perf_counter()
    spec_path = REPO / DEMO_SPEC
    if not spec_path.exists():
        raise AuditError(f"the demo spec {DEMO_SPEC} is missing; run the demo from a checkout of ethics-audit")
    root = home() / "demo"
    say = out.print if out is not None else (lambda *a, **k: None)
    say(f"[bold]ethics-audit demo[/bold]: {weeks} weeks of a job-ad delivery model's logs, written to {root}")
    info = generate(root, weeks=weeks, rows_per_week=rows_per_week)
    spec = load_spec(spec_path)
    store = open_store()
    if spec.id in store.audit_ids():
        say("[dim]this history exists already: each week's results are replaced, and no alert is sent twice[/dim]")
    say(f"auditing every week with {_shown(spec_path)}; alerts go to the console channel (stderr)\n")
    outcomes = []
    for week in range(1, weeks + 1):
        start, end = week_window(week)
        # "now" is when the scheduler would have run the window, so retention findings do not
        # depend on the day the demo is run
        now = end + spec.window.lag
        outcomes.append(audit_window(spec, start, end, store=store, trigger="demo", now=now))
    rows = [week_row(week, outcome) for week, outcome in enumerate(outcomes, start=1)]
    from ethics_audit.ledger.demo import demo_key, prove

    key = demo_key()
    report = _quarterly_report(store, weeks, key)
    result = {
        "data": info,
        "database": safe_url(store.url),
        "seconds": round(time.perf_counter() - started, 1),
        "weeks": rows,
        "all_as_expected": all(row["as_expected"] for row in rows),
        "alerts": _alerts(store, spec.id),
        "report": report,
        "ledger": prove(store, key, report.get("html")),
    }
    if out is not None:
        _print_summary(out, outcomes, rows, result)
    return result


def _shown(path: Path) -> str:
    return str(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)


def _quarterly_report(store: Any, weeks: int, key: Any = None) -> dict[str, Any]:
    """The quarter's ethics report (the demo's weeks lie in 2026Q3), as an ethics officer gets it."""
    from ethics_audit.reports import build_quarterly_report

    quarter = "2026Q3" if week_window(weeks)[1] <= datetime(2026, 10, 1, tzinfo=timezone.utc) else None
    if quarter is None:
        return {"html": None, "pdf": None, "note": "the demo's weeks run past 2026Q3: run `ethics-audit report`"}
    built = build_quarterly_report(store, quarter, signing_key=key)
    return {"quarter": quarter, "html": built["html"], "pdf": built["pdf"], "pdf_error": built.get("pdf_error")}


def _week_of(iso: str) -> int:
    return (datetime.fromisoformat(iso) - DEMO_START).days // 7 + 1


def _alerts(store: Any, audit_id: str) -> list[dict[str, Any]]:
    """Each alert (one per problem, listing its incidents): the week it opened and the week it resolved."""
    return [
        {
            "alert_id": a["id"],
            "check": a["check"],
            "opened_week": _week_of(a["opened_window_start"]),
            "status": a["status"],
            "resolved_week": _week_of(a["last_window_start"]) if a["status"] == "resolved" else None,
            "incidents": len(a["incidents"]),
        }
        for a in store.alerts(audit_id=audit_id)
    ]


def _print_summary(out: Console, outcomes: list[Any], rows: list[dict[str, Any]], result: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Worst finding per check family and week", header_style="bold", title_justify="left")
    for column in ("week", "from", "rows", *FAMILIES, "injected", "as expected"):
        table.add_column(column, no_wrap=True)
    for outcome, row in zip(outcomes, rows, strict=True):
        cells = []
        for family in FAMILIES:
            text, style = family_cell(outcome.summary, family)
            cells.append(f"[{style}]{text}[/{style}]" if style else text)
        labels = list(dict.fromkeys(i.label for i in INJECTED if i.week == row["week"]))
        table.add_row(
            str(row["week"]),
            row["window_start"][5:],
            str(row["rows"]),
            *cells,
            ", ".join(labels) or "[dim]clean[/dim]",
            "[green]yes[/green]" if row["as_expected"] else "[bold red]NO[/bold red]",
        )
    out.print(table)
    out.print(
        "[dim]n/a: some metrics had nothing to judge yet (e.g. labels not arrived); never counted as a pass[/dim]\n"
    )
    out.print("[bold]Injected problems[/bold] (plugins/ethics_audit/demo/problems.py) and what the audit found:")
    for row in rows:
        if not row["injected"] and not row["breaches"]:
            continue
        found = ", ".join(f"{k}" + (f" x{n}" if n > 1 else "") for k, n in row["breaches"].items()) or "nothing"
        out.print(f"  week {row['week']}: {escape('; '.join(row['injected']) or 'clean')}")
        out.print(f"           [dim]found: {escape(found)}[/dim]")
    if result["alerts"]:
        out.print("\n[bold]Alerts[/bold] (one per problem; each groups that problem's incidents):")
    for alert in result["alerts"]:
        end = f"resolved in week {alert['resolved_week']}" if alert["resolved_week"] else alert["status"]
        out.print(
            f"  #{alert['alert_id']} {alert['check']}: opened in week {alert['opened_week']}, {end} "
            f"({alert['incidents']} incident{'s' if alert['incidents'] != 1 else ''})"
        )
    verdict = (
        "[green]every week came out as expected[/green]"
        if result["all_as_expected"]
        else ("[bold red]some weeks did not come out as expected[/bold red]")
    )
    out.print(f"\n{verdict}")
    report = result["report"]
    out.print(f"results database:  {escape(result['database'])}")
    if report.get("html"):
        out.print(f"quarterly report:  {escape(report['html'])}")
        out.print(f"                   {escape(report['pdf'] or 'no PDF: ' + (report.get('pdf_error') or ''))}")
    out.print("run reports:       ethics-audit report --run RUN_ID   (run ids: ethics-audit history ad-delivery)")
    out.print("incidents:         ethics-audit incidents list --status all")
    from ethics_audit.ledger.demo import print_proof

    print_proof(out, result["ledger"])
    out.print(f"done in {result['seconds']} s")
