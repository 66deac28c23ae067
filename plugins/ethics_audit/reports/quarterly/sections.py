"""One audit's part of the quarterly report, and the parts drawn from every audit.

Per audit (``audit_view``): its window grid (due windows, audited or missed, plus any extra
runs), the scorecard per family, the window-by-window status strip, the trend charts, the
worst findings, the spec versions in force and how their thresholds changed. Over all audits:
the one-sentence brief per flagged area and the methods of every family seen.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ethics_audit.reports import charts, views
from ethics_audit.reports.estimates import estimate_quality
from ethics_audit.reports.model import Aggregate, WindowView
from ethics_audit.reports.present import family_name, severity, short_day
from ethics_audit.reports.quarterly.period import cadence_of, calendar_of, expected_windows, straddling, window_lag
from ethics_audit.reports.quarterly.trends import trend_charts

if TYPE_CHECKING:
    from ethics_audit.results import Finding
    from ethics_audit.store import RunRecord, Store

WORST_LIMIT = 8  # worst findings listed per model and overall


def _aggregate(windows: list[WindowView]) -> list[Aggregate]:
    table: dict[tuple[str, str, str], Aggregate] = {}
    for w in windows:
        for f in w.findings:
            if not f.severity.is_breach and f.severity.value != "error":
                continue
            r = f.result
            agg = table.setdefault((r.check, r.metric, r.slice_key), Aggregate(r.check, r.metric, r.slice))
            agg.windows.append(w.start)
            if severity(f.severity.value).rank >= severity(agg.worst).rank:
                agg.worst = f.severity.value
                agg.worst_value = r.value
                agg.threshold = r.threshold.to_dict() if r.threshold else None
                agg.reason = f.reason
                agg.worst_ref = (w.run.run_id, r.check, r.metric, r.slice_key) if w.run else None
    return sorted(table.values(), key=lambda a: (-severity(a.worst).rank, -len(a.windows), a.check, a.metric))


def _scorecard(windows: list[WindowView], families: list[str]) -> list[dict[str, Any]]:
    audited = [w for w in windows if w.audited]
    rows = []
    for family in families:
        worsts = [w.family_worst(family) for w in audited]
        judged = [s for s in worsts if s not in ("none", "insufficient_data")]
        rows.append(
            {
                "family": family,
                "worst": max(judged, key=lambda s: severity(s).rank)
                if judged
                else ("insufficient_data" if worsts else "none"),
                "breached": sum(s in ("warn", "critical") for s in worsts),
                "breached_weeks": [w.start for w, s in zip(audited, worsts, strict=True) if s in ("warn", "critical")],
                "critical": sum(s == "critical" for s in worsts),
                "failed": sum(s == "error" for s in worsts),
                "latest": worsts[-1] if worsts else "none",
                "audited": len(audited),
            }
        )
    return rows


def brief(audits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One plain sentence per model and area that was flagged: when, and the most serious finding."""
    out = []
    for audit in audits:
        for family, row in audit["scorecard_map"].items():
            if not row["breached"] and not row["failed"]:
                continue
            top = next((agg for agg in audit["worst"] if agg.check == family), None)
            out.append({"model": audit["facts"]["model_name"], "family": family, "row": row, "top": top})
    return sorted(out, key=lambda b: (-severity(b["row"]["worst"]).rank, -b["row"]["breached"], -b["row"]["failed"]))


def _strip(windows: list[WindowView], families: list[str], label: str) -> Any:
    rows = []
    for family in families:
        cells = []
        for w in windows:
            sev = w.family_worst(family)
            when = f"{short_day(w.start)}–{short_day(w.end - timedelta(seconds=1))}"
            tip = f"{family_name(family)}, {when}: " + (
                "not audited (missed window)" if not w.audited else severity(sev).word
            )
            cells.append((sev, tip))
        rows.append((family_name(family), cells))
    columns = [short_day(w.start) if i % 2 == 0 or len(windows) <= 8 else "" for i, w in enumerate(windows)]
    return charts.status_strip(rows, columns=columns, label=label, cell=32)


def _spec_versions(store: Store, runs: list[RunRecord]) -> list[dict[str, Any]]:
    by_hash: dict[str, list[RunRecord]] = defaultdict(list)
    for run in runs:
        by_hash[run.spec_hash].append(run)
    snapshots = store.spec_snapshots(list(by_hash))
    versions = []
    for spec_hash, used in sorted(by_hash.items(), key=lambda kv: min(r.window_start for r in kv[1])):
        snapshot = snapshots.get(spec_hash, {})
        spec = snapshot.get("spec")
        facts = views.spec_facts(spec)
        versions.append(
            {
                "hash": spec_hash,
                "first_window": min(r.window_start for r in used),
                "last_window": max(r.window_end for r in used),
                "windows": len(used),
                "first_seen_at": snapshot.get("first_seen_at"),
                "model_version": facts["model_version"],
                "spec": spec,
                "thresholds": views.thresholds_of(spec),
            }
        )
    return versions


def _threshold_matrix(versions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows (family, part, metric) x spec versions; a cell is marked changed when it differs from the version before."""
    keys: dict[tuple[str, str, str], None] = {}
    per_version = []
    for v in versions:
        table = {(t["family"], t["part"], t["metric"]): t["threshold"] for t in v["thresholds"]}
        per_version.append(table)
        for key in table:
            keys.setdefault(key)
    rows = []
    for key in keys:
        cells = []
        previous = None
        for i, table in enumerate(per_version):
            value = table.get(key)
            cells.append({"threshold": value, "changed": i > 0 and value != previous})
            previous = value
        rows.append({"family": key[0], "part": key[1], "metric": key[2], "cells": cells})
    return rows


def methods(windows_by_audit: dict[str, list[WindowView]]) -> list[dict[str, Any]]:
    """Each family's metrics seen this quarter, with the family's own description of how it is computed."""
    described = views.methods()
    seen: dict[str, set[str]] = defaultdict(set)
    for windows in windows_by_audit.values():
        for w in windows:
            for f in w.findings:
                if f.result.check != "window":
                    seen[f.result.check].add(f.result.metric)
    out = []
    for family in views.family_order(list(seen | described.keys())):
        metrics = sorted(seen.get(family, set()) | (set(described.get(family, {})) if family in seen else set()))
        if not metrics:
            continue
        out.append(
            {
                "family": family,
                "metrics": [
                    {"metric": m, "text": described.get(family, {}).get(m, ""), "seen": m in seen.get(family, set())}
                    for m in metrics
                ],
            }
        )
    return out


def audit_view(
    store: Store,
    audit_id: str,
    own: list[RunRecord],
    findings: dict[int, list[Finding]],
    period: tuple[datetime, datetime],
    now: datetime,
    *,
    public: bool = False,
) -> dict[str, Any]:
    """One audit's part of the report over ``period``: facts, the week grid, scorecard, trend charts.

    ``own`` are the audit's current runs in the period, ``findings`` their findings by run id.
    Also drawn by the audit page of the Airflow plugin (``ethics_audit.web.pages``).
    """
    start, end = period
    snapshots = store.spec_snapshots([r.spec_hash for r in own[-1:]])
    spec = snapshots.get(own[-1].spec_hash, {}).get("spec") if own else None
    if spec is None:
        spec = _latest_spec(store, audit_id)
    facts = views.spec_facts(spec)
    due = expected_windows(store.first_window(audit_id), window_lag(spec), start, end, now, calendar=calendar_of(spec))
    by_window = {(r.window_start, r.window_end): r for r in own}
    grid = [
        WindowView(
            s, e, by_window.get((s, e)), findings.get(by_window[(s, e)].run_id, []) if (s, e) in by_window else []
        )
        for s, e in due
    ]
    extra = [
        WindowView(r.window_start, r.window_end, r, findings.get(r.run_id, []))
        for key, r in by_window.items()
        if key not in set(due)
    ]
    windows = sorted(grid + extra, key=lambda w: w.start)
    families = views.family_order(
        sorted(
            {f.result.check for w in windows for f in w.findings}
            | {k for r in own for k in r.summary.get("checks", {})}
        )
    )
    versions = _spec_versions(store, own)
    cadence = cadence_of([facts["window_size"]])
    return {
        "audit_id": audit_id,
        "in_period": bool(own or due),
        "facts": facts,
        "windows": windows,
        "audited": sum(w.audited for w in windows),
        "expected": len(due),
        "missed": [w for w in windows if not w.audited],
        "rows": sum((w.run.rows or 0) for w in windows if w.run),
        "families": families,
        "scorecard_map": {row["family"]: row for row in _scorecard(windows, families)},
        "strip": _strip(windows, families, f"{cadence['strip_title']} results of {facts['model_name']}")
        if windows and families
        else None,
        "charts": [] if public else trend_charts(windows, (start, end), cadence["unit"]),
        "worst": _aggregate(windows)[:WORST_LIMIT],
        "versions": versions,
        "threshold_matrix": _threshold_matrix(versions),
        "straddling": straddling([(w.start, w.end) for w in windows if w.audited], start, end),
        "cadence": cadence,
        "calendar": calendar_of(spec),
        "estimates": None if public else estimate_quality(windows),
        "dp": None,
    }


def _latest_spec(store: Store, audit_id: str) -> dict[str, Any] | None:
    latest = store.history(audit_id, limit=1)
    if not latest:
        return None
    return store.spec_snapshots([latest[0].spec_hash]).get(latest[0].spec_hash, {}).get("spec")
