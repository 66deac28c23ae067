"""Machine-readable tables for regulators' reports, built from the results store alone.

``export(store, quarter, "dsa-art15")`` writes, per model, the numbers an EU Digital Services
Act Art. 15 transparency report asks for (automated decisions, complaints received, decided,
reversed, median time to decide), and ``"ll144"`` the NYC Local Law 144 bias-audit table: per
category and intersection the selection rate (or the scoring rate of score-only models), the
impact ratio against the most-selected category, the counts, the people excluded as of unknown
category, and categories under 2% of the data flagged. Each is a CSV and a JSON file whose
``columns`` say what every column is and which article it serves. They are INPUT to a legal
report, not the report: a lawyer and the model's owner still write and sign that.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ethics_audit.errors import AuditError
from ethics_audit.reports import views
from ethics_audit.reports.quarterly.period import parse, quarter_label

if TYPE_CHECKING:
    from ethics_audit.results import Finding
    from ethics_audit.store import RunRecord, Store

FORMATS = ("dsa-art15", "ll144")
NOTICE = (
    "Input to a legal report, not the report itself: computed by ethics-audit from its results store; "
    "check the definitions in 'columns' against the text of the law before publishing."
)
SMALL_CATEGORY = 0.02  # LL144 lets categories under 2% of the data be left out of the impact ratios

DSA_COLUMNS: dict[str, str] = {
    "quarter": "Reporting period (calendar quarter); windows are counted in the quarter they end in.",
    "audit_id": "The audited model's audit id.",
    "model_name": "The model's name (DSA Art. 15(1)(e): automated means used).",
    "model_versions": "Versions of the model audited in the period, oldest first.",
    "windows_audited": "Audit windows with results in the period.",
    "automated_decisions": "Decisions the model made (DSA Art. 15(1)(e): use of automated means).",
    "adverse_decisions": "Of those, decisions adverse to the person (the ones that can be contested).",
    "complaints_received": (
        "Appeals of the period's decisions (DSA Art. 15(1)(d), Art. 20); counted in the quarter of the decision "
        "they contest, not of their filing."
    ),
    "complaints_decided": "Appeals decided (upheld or overturned).",
    "decisions_reversed": "Appeals decided in the person's favour (DSA Art. 15(1)(d): decisions reversed).",
    "complaints_pending": "Appeals not yet decided at the latest audit of their window.",
    "median_days_to_decide": "Median time from filing to decision, in days, to the hour (DSA Art. 15(1)(d)).",
    "decided_past_sla": "Appeals decided later than the spec's SLA (DSA Art. 20: 'timely').",
    "explained_decisions_share": "Share of decisions that came with an explanation (AI Act Art. 86, DSA Art. 27).",
    "decisions_ignoring_user_controls": "Decisions made against a setting the person chose (DSA Art. 38).",
}
LL144_COLUMNS: dict[str, str] = {
    "quarter": "Reporting period (calendar quarter).",
    "audit_id": "The audited tool's audit id (an automated employment decision tool under LL144).",
    "model_name": "The tool's name.",
    "attribute_set": "The category type: one attribute (e.g. sex, race/ethnicity) or an intersection.",
    "category": "The category (rules of the NYC DCWP, 6 RCNY 5-301: sex, race/ethnicity and their intersections).",
    "rate_kind": (
        "selection_rate (share selected, for tools that decide) or scoring_rate (share scoring above the "
        "median score, for tools that only score), 6 RCNY 5-301(a)/(b)."
    ),
    "applicants": "People (rows) of the category in the period.",
    "selected": "Of those, selected (or scoring above the median).",
    "rate": "selected / applicants.",
    "impact_ratio": (
        "The category's rate divided by the rate of the most selected category (6 RCNY 5-301); empty for "
        "categories left out as under 2%."
    ),
    "share_of_data": "applicants / all applicants with a known category of this attribute set.",
    "under_2_percent": "true when the category is under 2% of the data and left out of the impact ratios (6 RCNY 5-301).",
    "unknown_excluded": "People of this attribute set with an unknown category, left out of every calculation (6 RCNY 5-301).",
}


def _runs(store: Store, quarter: str, audit_ids: list[str] | None) -> tuple[str, list[RunRecord], dict[int, list]]:
    start, end = parse(quarter)
    if audit_ids:
        unknown = [a for a in audit_ids if a not in store.audit_ids()]
        if unknown:
            raise AuditError(f"--audit: no history for {', '.join(map(repr, unknown))}; see `ethics-audit history`")
    runs = store.current_runs(start, end, audit_ids=audit_ids or None)
    return quarter_label(start), runs, store.findings_of_runs([r.run_id for r in runs])


def _facts(store: Store, runs: list[RunRecord]) -> tuple[str, list[str], dict]:
    snapshots = store.spec_snapshots(list(dict.fromkeys(r.spec_hash for r in runs)))
    specs = [snapshots.get(r.spec_hash, {}).get("spec") for r in runs]
    facts = views.spec_facts(specs[-1])
    versions = list(dict.fromkeys(views.spec_facts(s)["model_version"] for s in specs if s))
    return facts["model_name"], versions, specs[-1] or {}


def _window(findings: list[Finding], metric: str, check: str = "transparency") -> Finding | None:
    return next(
        (f for f in findings if f.result.check == check and f.result.metric == metric and not f.result.slice), None
    )


def _sum(
    findings_by_run: dict[int, list], runs: list[RunRecord], metric: str, check: str = "transparency"
) -> int | None:
    values = [f.result.value for r in runs if (f := _window(findings_by_run.get(r.run_id, []), metric, check))]
    values = [v for v in values if v is not None]
    return int(sum(values)) if values else None


def _sla_days(spec: dict[str, Any]) -> float | None:
    from ethics_audit.windows import parse_duration

    sla = (((spec.get("checks") or {}).get("transparency") or {}).get("appeals") or {}).get("sla")
    return parse_duration(sla).total_seconds() / 86400 if sla else None


def _by_audit(runs: list[RunRecord]) -> list[tuple[str, list[RunRecord]]]:
    """The runs of each audit, audits in order of their ids."""
    by_audit: dict[str, list[RunRecord]] = defaultdict(list)
    for run in runs:
        by_audit[run.audit_id].append(run)
    return sorted(by_audit.items())


def dsa_rows(store: Store, label: str, runs: list[RunRecord], findings: dict[int, list]) -> list[dict[str, Any]]:
    rows = []
    for audit_id, own in _by_audit(runs):
        name, versions, spec = _facts(store, own)
        hours = sorted(
            h
            for r in own
            if (f := _window(findings.get(r.run_id, []), "appeals_decided"))
            for h in f.result.details.get("hours_to_decide", [])
        )
        sla = _sla_days(spec)
        coverage = [
            (f.result.value, f.result.n)
            for r in own
            if (f := _window(findings.get(r.run_id, []), "explanation_coverage")) and f.result.value is not None
        ]
        controls = [
            f.result.value or 0
            for r in own
            for f in findings.get(r.run_id, [])
            if f.result.check == "transparency" and f.result.metric == "decisions_ignoring_controls"
        ]
        rows.append(
            {
                "quarter": label,
                "audit_id": audit_id,
                "model_name": name,
                "model_versions": "; ".join(versions),
                "windows_audited": len(own),
                "automated_decisions": _sum(findings, own, "row_count", "window"),
                "adverse_decisions": _sum(findings, own, "adverse_decisions"),
                "complaints_received": _sum(findings, own, "appeals_received"),
                "complaints_decided": _sum(findings, own, "appeals_decided"),
                "decisions_reversed": _sum(findings, own, "appeals_overturned"),
                "complaints_pending": _sum(findings, own, "appeals_pending"),
                "median_days_to_decide": round(_median(hours) / 24, 3) if hours else None,
                "decided_past_sla": sum(h > sla * 24 for h in hours) if hours and sla else None,
                "explained_decisions_share": round(sum(v * n for v, n in coverage) / sum(n for _, n in coverage), 6)
                if coverage
                else None,
                "decisions_ignoring_user_controls": int(sum(controls)) if controls else None,
            }
        )
    return rows


def _median(values: list[int]) -> float:
    mid = len(values) // 2
    return float(values[mid]) if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def _category(slice_: dict[str, Any]) -> tuple[str, str, bool]:
    names = sorted(slice_)
    text = ", ".join(f"{a}={slice_[a]}" for a in names)
    return "+".join(names), text, any(slice_[a] is None for a in names)


def ll144_rows(store: Store, label: str, runs: list[RunRecord], findings: dict[int, list]) -> list[dict[str, Any]]:
    rows = []
    for audit_id, own in _by_audit(runs):
        name, _, _ = _facts(store, own)
        found = [f for r in own for f in findings.get(r.run_id, []) if f.result.check == "transparency"]
        metric = (
            "selected_count" if any(f.result.metric == "selected_count" for f in found) else "above_median_score_count"
        )
        kind = "selection_rate" if metric == "selected_count" else "scoring_rate"
        totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        unknown: dict[str, int] = defaultdict(int)
        for f in found:
            if f.result.metric != metric or not f.result.slice:
                continue
            attribute_set, category, is_unknown = _category(f.result.slice)
            if is_unknown:
                unknown[attribute_set] += f.result.n or 0
                continue
            totals[(attribute_set, category)][0] += f.result.n or 0
            totals[(attribute_set, category)][1] += int(f.result.value or 0)
        sets = sorted({a for a, _ in totals}, key=lambda a: (a.count("+"), a))
        for attribute_set in sets:
            cats = {c: v for (a, c), v in totals.items() if a == attribute_set}
            everyone = sum(n for n, _ in cats.values())
            share = {c: (n / everyone if everyone else 0.0) for c, (n, _) in cats.items()}
            rate = {c: (s / n if n else None) for c, (n, s) in cats.items()}
            counted = [rate[c] for c in cats if share[c] >= SMALL_CATEGORY and rate[c] is not None]
            top = max(counted) if counted else None
            for category, (n, selected) in sorted(cats.items()):
                small = share[category] < SMALL_CATEGORY
                ratio = None if small or top in (None, 0) or rate[category] is None else rate[category] / top
                rows.append(
                    {
                        "quarter": label,
                        "audit_id": audit_id,
                        "model_name": name,
                        "attribute_set": attribute_set,
                        "category": category,
                        "rate_kind": kind,
                        "applicants": n,
                        "selected": selected,
                        "rate": None if rate[category] is None else round(rate[category], 6),
                        "impact_ratio": None if ratio is None else round(ratio, 6),
                        "share_of_data": round(share[category], 6),
                        "under_2_percent": small,
                        "unknown_excluded": unknown.get(attribute_set, 0),
                    }
                )
    return rows


def export(
    store: Store, quarter: str, fmt: str, *, audit_ids: list[str] | None = None, out_dir: Path | None = None
) -> dict[str, Any]:
    """Write ``<fmt>-<quarter>.csv`` and ``.json`` under ``out_dir``; return their paths and the rows."""
    if fmt not in FORMATS:
        raise AuditError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    label, runs, findings = _runs(store, quarter, audit_ids)
    if not runs:
        raise AuditError(f"no audited windows end in {label}; run the audits first (ethics-audit run/backfill)")
    build, columns = (dsa_rows, DSA_COLUMNS) if fmt == "dsa-art15" else (ll144_rows, LL144_COLUMNS)
    rows = build(store, label, runs, findings)
    if fmt == "ll144" and not rows:
        raise AuditError(
            f"no selection or scoring counts are stored for {label}: enable checks.transparency (it records them "
            "per category) and re-run the quarter's windows"
        )
    from ethics_audit.settings import home

    folder = Path(out_dir) if out_dir else home() / "exports" / label.replace(" ", "")
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{fmt}-{label.replace(' ', '')}"
    csv_path, json_path = folder / f"{stem}.csv", folder / f"{stem}.json"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    document = {"format": fmt, "quarter": label, "notice": NOTICE, "columns": columns, "rows": rows}
    json_path.write_text(json.dumps(document, indent=1, default=str), encoding="utf-8")
    return {"format": fmt, "quarter": label, "csv": str(csv_path), "json": str(json_path), "rows": len(rows)}
