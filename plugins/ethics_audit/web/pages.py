"""The Ethics pages, rendered on the server from the results store: an overview and one page per audit.

The overview lists every audit the viewer may read: its last window and worst severity, its
open problems (alerts) with their incidents, the windows that were due and never audited, and
a strip of the last windows per check family. An audit page is that audit's part of the
quarterly report (``reports.quarterly.audit_view``: the week grid, scorecard and trend charts),
links to every run report and the quarter's report, and forms for people's actions on its
incidents. Who may read or act is decided by the caller (the Airflow plugin); this module only
renders, with the reports' stylesheet, inline SVG and no request to anywhere else.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import Environment

    from ethics_audit.store import Store

TEMPLATES = Path(__file__).parent / "templates"
STRIP_WINDOWS = 8  # windows in the overview's strip per family
MISSED_LISTED = 5


@cache
def environment() -> Environment:
    """The reports' Jinja environment (globals, autoescaping), with this folder's templates first."""
    from jinja2 import ChoiceLoader, FileSystemLoader

    from ethics_audit.reports.render import environment as reports_environment

    base = reports_environment()
    return base.overlay(loader=ChoiceLoader([FileSystemLoader(str(TEMPLATES)), base.loader]))


def render(template: str, context: dict[str, Any]) -> str:
    return environment().get_template(template).render(**context)


def dag_id_for(audit_id: str) -> str:
    """The Airflow DAG of an audit (``ethics_audit.airflow.dags.dag_id_for``, without importing Airflow)."""
    return f"ethics_audit__{audit_id}"


def _active_problems(store: Store, audit_id: str) -> list[dict[str, Any]]:
    """Open alerts with their active incidents; an active incident without an alert is a problem of its own."""
    from ethics_audit.lifecycle.episodes import ACTIVE

    incidents = store.incidents(audit_id=audit_id, statuses=list(ACTIVE))
    by_alert: dict[int | None, list[dict[str, Any]]] = {}
    for incident in incidents:
        by_alert.setdefault(incident["alert_id"], []).append(incident)
    alerts = {a["id"]: a for a in store.alerts(audit_id=audit_id)}
    problems = []
    for alert_id, members in by_alert.items():
        alert = alerts.get(alert_id) if alert_id is not None else None
        groups = [members] if alert is not None else [[m] for m in members]
        for group in groups:
            problems.append(
                {
                    "alert": alert,
                    "check": group[0]["check"],
                    "severity": max((i["severity"] for i in group), key=_rank),
                    "since": min(i["first_window_start"] for i in group),
                    "incidents": group,
                }
            )
    return sorted(problems, key=lambda p: (-_rank(p["severity"]), p["since"]))


def _rank(name: str) -> int:
    from ethics_audit.reports.present import severity

    return severity(name).rank


def audit_summary(store: Store, audit_id: str, now: datetime) -> dict[str, Any]:
    """One overview row: last window, worst severity, open problems, missed windows, the strip."""
    from ethics_audit.reports import quarterly, views

    latest = store.history(audit_id, limit=STRIP_WINDOWS)[::-1]
    findings = store.findings_of_runs([r.run_id for r in latest])
    last = latest[-1] if latest else None
    strip = None
    facts = views.spec_facts(None) | {"model_name": audit_id}
    if latest:
        # the report's own week grid over the last windows (windows due in between show as missed)
        view = quarterly.audit_view(store, audit_id, latest, findings, (latest[0].window_start, last.window_end), now)
        strip, facts = view["strip"], view["facts"]
    first = store.first_window(audit_id)
    spec = store.spec_snapshots([last.spec_hash]).get(last.spec_hash, {}).get("spec") if last else None
    due = quarterly.expected_windows(first, quarterly.window_lag(spec), first[0], now, now) if first else []
    audited = (
        {(r.window_start, r.window_end) for r in store.current_runs(first[0], now, audit_ids=[audit_id])}
        if first
        else set()
    )
    missed = [w for w in due if w not in audited]
    return {
        "audit_id": audit_id,
        "dag_id": dag_id_for(audit_id),
        "facts": facts,
        "last": last,
        "last_severity": views.overall(findings.get(last.run_id, [])) if last else "none",
        "problems": _active_problems(store, audit_id),
        "missed": missed[::-1][:MISSED_LISTED],
        "missed_count": len(missed),
        "strip": strip,
    }


def overview(store: Store, audit_ids: list[str], *, now: datetime | None = None, base: str = "") -> str:
    now = now or datetime.now(timezone.utc)
    audits = [audit_summary(store, a, now) for a in audit_ids]
    return render("ethics_overview.html.j2", {"audits": audits, "now": now, "base": base})


def _quarter_of(when: datetime) -> str:
    return f"{when.year}Q{(when.month - 1) // 3 + 1}"


def audit_page(
    store: Store,
    audit_id: str,
    *,
    quarter: str | None = None,
    can_act: bool = False,
    message: str = "",
    now: datetime | None = None,
    base: str = "",
) -> str | None:
    """The audit's page for ``quarter`` (default: the quarter of its newest window); None if it has no history."""
    from ethics_audit.reports import quarterly

    if audit_id not in store.audit_ids():
        return None
    now = now or datetime.now(timezone.utc)
    newest = store.history(audit_id, limit=1)
    quarter = quarter or _quarter_of(newest[0].window_end - timedelta(seconds=1) if newest else now)
    start, end = quarterly.parse(quarter)
    runs = store.current_runs(start, end, audit_ids=[audit_id])
    findings = store.findings_of_runs([r.run_id for r in runs])
    view = quarterly.audit_view(store, audit_id, runs, findings, (start, end), now)
    context = {
        "a": view,
        "quarter": quarterly.quarter_label(start),
        "quarter_key": quarter,
        "previous_quarter": _quarter_of(start - timedelta(days=1)),
        "next_quarter": _quarter_of(end) if end <= now else None,
        "runs": sorted(runs, key=lambda r: r.window_start, reverse=True),
        "worst": {r.run_id: _worst(findings.get(r.run_id, [])) for r in runs},
        "problems": _active_problems(store, audit_id),
        "can_act": can_act,
        "message": message,
        "audit_id": audit_id,
        "dag_id": dag_id_for(audit_id),
        "mute_default": (now + timedelta(days=7)).strftime("%Y-%m-%d"),
        "base": base,
        "now": now,
    }
    return render("ethics_audit.html.j2", context)


def _worst(findings: list[Any]) -> str:
    from ethics_audit.reports import views

    return views.overall(findings)
