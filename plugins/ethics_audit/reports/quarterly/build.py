"""Build the quarterly report: gather the quarter's runs, draw each audit's part, write HTML and PDF.

``build_quarterly_report`` is the one entry point (the CLI, the Airflow UI and the quarterly job
call it): it checks its options, reads the quarter's current runs and findings from the store,
draws each audit (``sections``), the problems (``problems``), the remedies of each problem and,
for the public variant, the differentially private groups (``dp``), then renders, seals the
report in the results ledger and writes it. Announcing the report is its caller's job.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ethics_audit.errors import AuditError
from ethics_audit.reports import views
from ethics_audit.reports.present import severity
from ethics_audit.reports.quarterly.period import cadence_of, parse, quarter_label, runs_of
from ethics_audit.reports.quarterly.problems import incident_rows, median, problem_rows
from ethics_audit.reports.quarterly.sections import WORST_LIMIT, audit_view, brief, methods

if TYPE_CHECKING:
    from ethics_audit.reports.model import WindowView
    from ethics_audit.store import RunRecord, Store


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
    signing_key: Any = None,
) -> dict[str, Any]:
    """Write the quarter's report as HTML (and PDF); return ``{"html", "pdf", "pdf_error", "summary", ...}``.

    The report is entered in the results ledger and carries a checkpoint signed with
    ``signing_key`` (an Ed25519 private key; default: the configured one, ``ledger.checkpoint``).
    """
    from ethics_audit.reports.render import RendererMissing, html_to_pdf, render, write_html

    start, end = parse(quarter)
    if public and epsilon is None:
        raise AuditError("--public needs --epsilon E: the privacy budget this report spends per audit (e.g. 0.5)")
    if epsilon is not None and not public:
        raise AuditError("--epsilon applies only to the public report: add --public")
    if epsilon is not None and not (0 < epsilon <= 10):
        raise AuditError(f"--epsilon must be greater than 0 and at most 10, not {epsilon:g}")
    now = now or datetime.now(timezone.utc)
    known = store.audit_ids()
    if audit_ids:
        unknown = [a for a in audit_ids if a not in known]
        if unknown:
            raise AuditError(
                f"no history for audit {', '.join(map(repr, unknown))}; audits with history: {', '.join(known) or 'none yet'}"
            )
    runs = runs_of(store, start, end, audit_ids=audit_ids)
    chosen = list(audit_ids) if audit_ids else sorted({r.audit_id for r in runs} | set(known))
    findings = store.findings_of_runs([r.run_id for r in runs])
    runs_by_audit: dict[str, list[RunRecord]] = defaultdict(list)
    for run in runs:
        runs_by_audit[run.audit_id].append(run)

    audits = []
    windows_by_audit: dict[str, list[WindowView]] = {}
    facts_by_audit: dict[str, dict[str, Any]] = {}
    for audit_id in chosen:
        audit = audit_view(store, audit_id, runs_by_audit.get(audit_id, []), findings, (start, end), now, public=public)
        facts_by_audit[audit_id] = audit["facts"]
        windows_by_audit[audit_id] = audit["windows"]
        if audit["in_period"]:  # else the audit started after this quarter: not part of it
            audits.append(audit)

    incidents = incident_rows(
        store.incidents_between(start, end, audit_ids=[a["audit_id"] for a in audits]), start, end, facts_by_audit
    )
    problems = problem_rows(incidents, start, end)
    from ethics_audit.remedies.render import for_problems

    for_problems(problems, runs)  # what drove each problem and what would fix it, from its first window
    budget = None
    if public:
        from ethics_audit.reports.dp import publish

        budget = publish(
            store, audits, windows_by_audit, quarter=quarter_label(start), year=start.year, epsilon=epsilon
        )  # type: ignore[arg-type]

    worst_overall = sorted(
        [(a["facts"]["model_name"], agg) for a in audits for agg in a["worst"]],
        key=lambda pair: (-severity(pair[1].worst).rank, -len(pair[1].windows)),
    )[:WORST_LIMIT]
    summary = _summary(start, audits, problems, incidents)

    from ethics_audit.ledger.report import Numbers, seal

    numbers = Numbers()
    context = {
        "ledger_number": numbers,
        "quarter": quarter_label(start),
        "start": start,
        "end": end,
        "last_day": end - timedelta(days=1),
        "public": public,
        "epsilon": epsilon,
        "audits": audits,
        "brief": brief(audits),
        "scorecard_families": views.family_order(sorted({f for a in audits for f in a["families"]})),
        "problems": problems,
        "summary": summary,
        "worst_overall": worst_overall,
        "methods": methods(windows_by_audit),
        "budget": budget,
        "has_data": summary["windows_audited"] > 0,
        "cad": cadence_of([a["facts"]["window_size"] for a in audits]),
        "generated_at": now,
    }
    folder = out_dir or _default_dir(quarter_label(start))
    stem = f"ethics-report-{start.year}Q{(start.month - 1) // 3 + 1}" + ("-public" if public else "")
    # the report is entered in the ledger and checkpointed; the checkpoint is printed in it
    html, checkpoint = seal(
        store,
        render("quarterly.html.j2", context),
        numbers,
        quarter=quarter_label(start),
        public=public,
        audit_ids=[a["audit_id"] for a in audits],
        run_ids=[r.run_id for r in runs],
        now=now,
        key=signing_key,
    )
    html_path = write_html(folder / f"{stem}.html", html)
    pdf_path, pdf_error = None, None
    if pdf:
        try:
            pdf_path = html_to_pdf(html_path, folder / f"{stem}.pdf")
        except RendererMissing as exc:
            pdf_error = str(exc)
    return {
        "quarter": quarter_label(start),
        "html": str(html_path),
        "pdf": str(pdf_path) if pdf_path else None,
        "pdf_error": pdf_error,
        "public": public,
        "epsilon": epsilon,
        "summary": _jsonable(summary),
        "audits": [a["audit_id"] for a in audits],
        "privacy_budget": budget["ledger"] if budget else None,
        "facts": {a["audit_id"]: a["facts"] for a in audits},
        "checkpoint": checkpoint.to_dict(),
    }


def _summary(
    start: datetime, audits: list[dict[str, Any]], problems: list[dict[str, Any]], incidents: list[dict[str, Any]]
) -> dict[str, Any]:
    """The executive summary's numbers: audits, windows, rows, problems and incidents, times to act."""
    all_windows = [w for a in audits for w in a["windows"]]
    return {
        "quarter": quarter_label(start),
        "audits": len(audits),
        "audits_with_windows": sum(a["audited"] > 0 for a in audits),
        "windows_audited": sum(w.audited for w in all_windows),
        "windows_expected": sum(a["expected"] for a in audits),
        "windows_missed": sum(len(a["missed"]) for a in audits),
        "rows_audited": sum(a["rows"] for a in audits),
        # a problem is one alert: the incidents one cause opened together (see problems.problem_rows)
        "problems_opened": sum(p["opened_in_quarter"] for p in problems),
        "problems_resolved": sum(p["resolved_in_quarter"] for p in problems),
        "problems_open": sum(p["status"] != "resolved" for p in problems),
        "incidents_opened": sum(i["opened_in_quarter"] for i in incidents),
        "incidents_resolved": sum(i["resolved_in_quarter"] for i in incidents),
        "incidents_open": sum(i["status"] != "resolved" for i in incidents),
        "critical_windows": sum(any(f.severity.value == "critical" for f in w.findings) for w in all_windows),
        "median_to_ack": median([p["to_ack"] for p in problems if p["to_ack"] is not None]),
        # over the problems resolved this quarter: the count next to it and the median agree
        "median_to_resolve": median(
            [p["to_resolve"] for p in problems if p["to_resolve"] is not None and p["resolved_in_quarter"]]
        ),
        "windows_straddling": sum(len(a["straddling"]) for a in audits),
    }


def _default_dir(quarter: str) -> Path:
    from ethics_audit.settings import home

    return home() / "reports" / quarter.replace(" ", "")


def _jsonable(summary: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in summary.items():
        out[key] = value.total_seconds() if isinstance(value, timedelta) else value
    return out
