"""The per-run audit report: one self-contained HTML page for one audited window.

It shows what the store holds for the run, and nothing else: the findings that need
attention, each check family's results as tables by slice (groups with too few rows marked,
drift per column, privacy counts and masked examples), the fairness gaps with their intervals
against the thresholds, and links to the run's other artifacts (Evidently's drift report, the
Great Expectations validation result). The page is written next to the run's artifacts and
recorded as the run's ``run_report`` artifact, so alerts can link to it.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ethics_audit.errors import AuditError
from ethics_audit.reports import charts, views
from ethics_audit.reports.present import family_name, metric_name

if TYPE_CHECKING:
    from ethics_audit.results import Finding
    from ethics_audit.store import RunRecord, Store

ARTIFACT_KIND = "run_report"
ARTIFACT_LABELS = {
    "evidently_drift_html": "Evidently data drift report",
    "gx_validation_json": "Great Expectations validation result",
}
# gaps drawn as interval charts in a family's section
HEADLINE_GAPS = {
    "fairness": ("demographic_parity_difference", "equalized_odds_difference", "equal_opportunity_difference"),
    "transparency": ("explanation_coverage_ratio", "appeal_rate_difference", "overturn_rate_difference"),
}


def render_run_report(store: Store, run_id: int, *, out_dir: Path | None = None) -> Path:
    """Write the run's HTML report, record it as the run's artifact, and return its path."""
    from ethics_audit.reports.render import render, write_html
    from ethics_audit.store import artifact_dir

    run = store.get_run(run_id)
    if run is None:
        raise AuditError(f"run {run_id} does not exist; `ethics-audit history AUDIT_ID --attempts` lists runs")
    folder = out_dir or artifact_dir(run.audit_id, run.window_start, run.run_id)
    path = folder / "report.html"
    context = build_context(store, run, report_dir=folder)
    write_html(path, render("run_report.html.j2", context))
    store.add_artifact(run.run_id, ARTIFACT_KIND, path, details={"generated_at": context["generated_at"].isoformat()})
    return path


def build_context(store: Store, run: RunRecord, *, report_dir: Path) -> dict[str, Any]:
    findings = store.findings(run.run_id)
    spec = store.spec_snapshots([run.spec_hash]).get(run.spec_hash, {}).get("spec")
    families_seen = {f.result.check for f in findings} | set(run.summary.get("checks", {}))
    sections = [
        _family_section(name, [f for f in findings if f.result.check == name], run)
        for name in views.family_order(list(families_seen))
    ]
    counts: dict[str, int] = {}
    for f in findings:
        if f.result.check != "window":
            counts[f.severity.value] = counts.get(f.severity.value, 0) + 1
    return {
        "run": run,
        "facts": views.spec_facts(spec),
        "spec_found": spec is not None,
        "counts": counts,
        "worst": views.overall([f for f in findings if f.result.check != "window"]) if findings else "none",
        "attention": views.attention(findings),
        "sections": sections,
        "artifacts": _artifacts(store, run, report_dir),
        "generated_at": datetime.now(timezone.utc),
        "detail_items": views.detail_items,
    }


def _family_section(family: str, findings: list[Finding], run: RunRecord) -> dict[str, Any]:
    info = run.summary.get("checks", {}).get(family, {})
    pivots = views.pivots(findings)
    section: dict[str, Any] = {
        "family": family,
        "title": family_name(family),
        "status": info.get("status", "ran" if findings else "not run"),
        "reason": info.get("reason", ""),
        "worst": views.overall(findings),
        "pivots": pivots,
        "charts": [],
        "noted": [f for f in views.attention(findings) if views.detail_items(f.result.details)],
        # the "what drives it / what would fix it" section the window's alert carried, if it breached
        "remedy": (run.summary.get("remedies") or {}).get(family),
    }
    if family in HEADLINE_GAPS:
        for metric in HEADLINE_GAPS[family]:
            rows = [f for f in findings if f.result.metric == metric and set(f.result.slice) == {"attribute"}]
            if not rows:
                continue
            threshold = charts.ThresholdLines.from_dict(
                rows[0].result.threshold.to_dict() if rows[0].result.threshold else None
            )
            section["charts"].append(
                {
                    "metric": metric,
                    "svg": charts.interval_plot(
                        [
                            (
                                views.row_label(f.result.slice, ("attribute",)),
                                f.result.value,
                                f.result.ci_low,
                                f.result.ci_high,
                                f.severity.value,
                            )
                            for f in rows
                        ],
                        label=f"{metric_name(metric)} per attribute, with intervals and thresholds",
                        metric=metric,
                        thresholds=threshold,
                    ),
                }
            )
    return section


def _artifacts(store: Store, run: RunRecord, report_dir: Path) -> list[dict[str, str]]:
    out = []
    for artifact in store.artifacts(run.run_id):
        if artifact["kind"] == ARTIFACT_KIND:
            continue
        path = Path(artifact["uri"])
        try:
            href = os.path.relpath(path, report_dir)
        except ValueError:  # another drive on Windows
            href = path.as_uri()
        sampled = artifact["details"].get("sample_size") or artifact["details"].get("sampled")
        out.append(
            {
                "label": ARTIFACT_LABELS.get(artifact["kind"], artifact["kind"].replace("_", " ")),
                "href": Path(href).as_posix(),
                "name": path.name,
                "size": f"{(artifact['bytes'] or 0) / 1024:,.0f} KB",
                "note": f"from a sample of {sampled} rows" if isinstance(sampled, int) else "",
            }
        )
    return out
