"""The quarterly ethics report: what the periodic audits found over a quarter, for people to read.

Built from the results store alone. For every audit (or the ones named): an executive summary
(audits run, windows covered and missed, problems opened, resolved and still open with their
incidents as the second number, the worst findings); per model a scorecard, a window-by-window
status strip and trend charts of the headline fairness gaps (with intervals), drift share and
privacy findings with the thresholds drawn; the problems (one per alert: the incidents one
cause opened together) with time to acknowledge, time to resolve, tickets and their incidents;
the thresholds and spec versions in force; and a methods section from each check family's
``METHODS``. A window counts in the quarter that holds most of its time (``periods``). The public variant replaces every
number derived from individual rows with differentially private group counts and rates
(``dp.py``) and spends privacy budget from the ledger first.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ethics_audit.errors import AuditError
from ethics_audit.incidents import SYSTEM_ACTOR
from ethics_audit.reports import charts, periods, transparency, views
from ethics_audit.reports.estimates import estimate_quality
from ethics_audit.reports.present import (
    and_join,
    family_name,
    measure_text,
    metric_name,
    metric_rank,
    severity,
    short_day,
)

if TYPE_CHECKING:
    from ethics_audit.results import Finding
    from ethics_audit.store import RunRecord, Store

# The headline metrics charted per model: small, explicit lists (everything else is in the tables).
FAIRNESS_HEADLINES = ("demographic_parity_difference", "equalized_odds_difference")
DRIFT_HEADLINES = ("drift_share",)
WORST_LIMIT = 8


@dataclass
class WindowView:
    start: datetime
    end: datetime
    run: RunRecord | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def audited(self) -> bool:
        return self.run is not None

    def family_worst(self, family: str) -> str:
        if self.run is None:
            return "none"
        own = [f for f in self.findings if f.result.check == family]
        status = self.run.summary.get("checks", {}).get(family, {}).get("status")
        if not own:
            return "error" if status == "error" else "none"
        return views.overall(own)


@dataclass
class Aggregate:
    """One (check, metric, slice) over the quarter: how often and how badly it breached."""

    check: str
    metric: str
    slice: dict[str, Any]
    worst: str = "ok"
    windows: list[datetime] = field(default_factory=list)
    worst_value: float | None = None
    threshold: dict[str, Any] | None = None
    reason: str = ""
    worst_ref: tuple[int, str, str, str] | None = None  # (run, check, metric, slice key): the ledger's row


def parse(quarter: str) -> tuple[datetime, datetime]:
    from ethics_audit.windows import parse_quarter

    try:
        return parse_quarter(quarter)
    except ValueError as exc:
        raise AuditError(f"--quarter: {exc}") from None


def quarter_label(start: datetime) -> str:
    return f"{start.year} Q{(start.month - 1) // 3 + 1}"


def _lag(spec: dict[str, Any] | None) -> timedelta:
    from ethics_audit.windows import parse_duration

    try:
        return parse_duration((spec or {}).get("window", {}).get("lag") or "0s")
    except ValueError:
        return timedelta(0)


def expected_windows(
    first: tuple[datetime, datetime] | None,
    lag: timedelta,
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    calendar: tuple[Any, str] | None = None,
) -> list[tuple[datetime, datetime]]:
    """Windows on the audit's grid (its first window, repeated; or, with ``calendar`` = (size,
    timezone), the calendar's months or quarters from the first) that count in ``[start, end)``
    and were due by ``now``."""
    from ethics_audit.reports.periods import grid

    return grid(first, lag, start, end, now, calendar=calendar)


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


def _trend(windows: list[WindowView], check: str, metric: str, slice_: dict[str, Any]) -> list[charts.TrendPoint]:
    points = []
    for w in windows:
        if not w.audited:
            continue
        match = next(
            (
                f
                for f in w.findings
                if f.result.check == check and f.result.metric == metric and f.result.slice == slice_
            ),
            None,
        )
        if match is None:
            continue
        r = match.result
        note = match.reason if match.severity.value in ("insufficient_data", "error") else ""
        points.append(charts.TrendPoint(w.start, w.end, r.value, r.ci_low, r.ci_high, match.severity.value, note))
    return points


def _threshold_of(windows: list[WindowView], check: str, metric: str, slice_: dict[str, Any]) -> dict[str, Any] | None:
    """The newest threshold recorded for the metric in the quarter (what the reader should compare with)."""
    for w in reversed(windows):
        for f in w.findings:
            r = f.result
            if r.check == check and r.metric == metric and r.slice == slice_ and r.threshold:
                return r.threshold.to_dict()
    return None


def _slices_of(
    windows: list[WindowView], check: str, metric: str, *, keys: set[str] | None = None
) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for w in windows:
        for f in w.findings:
            r = f.result
            if r.check == check and r.metric == metric and (keys is None or set(r.slice) == keys):
                seen.setdefault(r.slice_key, r.slice)
    return [seen[k] for k in sorted(seen, key=lambda k: (len(seen[k].get("attribute", "")), k))]


# what each trend chart's note says, per family
_TREND_NOTES = {
    "fairness": "Gap between the groups with the highest and lowest rate; the band is its 95% interval.",
    "drift": "Share of the audited columns whose distribution moved away from the reference.",
}


def _trend_chart(
    windows: list[WindowView], period: tuple[datetime, datetime], family: str, metric: str, slice_: dict[str, Any]
) -> dict[str, Any] | None:
    """One metric's trend over the quarter with its thresholds; None when it was never measured."""
    points = _trend(windows, family, metric, slice_)
    if not any(p.value is not None for p in points):
        return None
    threshold = _threshold_of(windows, family, metric, slice_)
    title = measure_text(metric, slice_)
    return {
        "family": family,
        "title": title,
        "note": transparency.NOTES.get(metric) or _TREND_NOTES[family],
        "threshold": threshold,
        "metric": metric,
        "svg": charts.trend_chart(
            points, period=period, label=title, metric=metric, thresholds=charts.ThresholdLines.from_dict(threshold)
        ),
    }


def _charts(windows: list[WindowView], period: tuple[datetime, datetime], unit: str = "week") -> list[dict[str, Any]]:
    wanted = [
        ("fairness", metric, slice_)
        for metric in FAIRNESS_HEADLINES
        for slice_ in _slices_of(windows, "fairness", metric, keys={"attribute"})
    ] + [("drift", metric, slice_) for metric in DRIFT_HEADLINES for slice_ in _slices_of(windows, "drift", metric)]
    wanted += transparency.headlines(_slices_of, windows)
    out = [chart for f, m, sl in wanted if (chart := _trend_chart(windows, period, f, m, sl)) is not None]
    privacy = [(w.start, w.end, _counts(w, "privacy")) for w in windows if w.audited]
    if any(f.result.check == "privacy" for w in windows for f in w.findings):
        out.append(
            {
                "family": "privacy",
                "title": f"Privacy findings per {unit}",
                "note": "Number of privacy checks (personal data in the logs, consent, retention, re-identification) "
                "that crossed their warning or critical level.",
                "threshold": None,
                "metric": "",
                "svg": charts.count_bars(privacy, period=period, label=f"Privacy findings per {unit}"),
            }
        )
    return out


def _counts(window: WindowView, family: str) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for f in window.findings:
        if f.result.check == family:
            counts[f.severity.value] += 1
    return dict(counts)


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


def _brief(audits: list[dict[str, Any]]) -> list[dict[str, Any]]:
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


def _tickets(external: dict[str, Any] | None) -> list[dict[str, str]]:
    """Ticket links from an incident's ``external`` refs (Jira, GitHub; chat threads and pages are not tickets)."""
    out = []
    for kind, ref in (external or {}).items():
        if kind in ("slack", "pagerduty", "console", "webhook") or not isinstance(ref, dict):
            continue
        label = ref.get("key") or (f"#{ref['number']}" if ref.get("number") is not None else None) or ref.get("id")
        url = ref.get("url") or ref.get("html_url") or ""
        if label or url:
            out.append(
                {
                    "kind": kind,
                    "label": str(label or kind),
                    "url": str(url) if str(url).startswith(("https://", "http://")) else "",
                }
            )
    return out


def _first_event(incident: dict[str, Any], *words: str) -> dict[str, Any] | None:
    for event in incident.get("events", []):
        transition = str(event.get("transition", "")).lower()
        if any(transition.startswith(w) for w in words):
            return event
    return None


def _incident_rows(
    incidents: list[dict[str, Any]], start: datetime, end: datetime, facts: dict[str, dict]
) -> list[dict[str, Any]]:
    rows = []
    for i in incidents:
        opened = i.get("opened_at")
        acked = i.get("acknowledged_at") or (_first_event(i, "ack") or {}).get("at")
        resolved_event = _first_event(i, "resolv") if i.get("status") == "resolved" else None
        resolved_at = i.get("resolved_at") if i.get("status") == "resolved" else None
        resolved_window = (resolved_event or {}).get("window_start")
        first_window = i.get("first_window_start")
        rows.append(
            {
                "id": i["id"],
                "audit_id": i["audit_id"],
                "alert_id": i.get("alert_id"),
                "alert": i.get("alert"),
                "model": facts.get(i["audit_id"], {}).get("model_name", i["audit_id"]),
                "check": i.get("check", ""),
                "metric": i.get("metric", ""),
                "slice": i.get("slice") or {},
                "severity": i.get("worst_severity") or i.get("severity") or "warn",
                "status": i.get("status", "open"),
                "first_window": first_window,
                "last_window": i.get("last_window_start"),
                # an incident written without its window observations (older data) breached at least there
                "breach_windows": i.get("breach_windows")
                or sorted({first_window, i.get("last_window_start")} - {None}),
                "occurrences": i.get("occurrences"),
                "resolved_window": resolved_window,
                "opened_in_quarter": first_window is not None and start <= first_window < end,
                "resolved_in_quarter": resolved_at is not None
                and (
                    (resolved_window is not None and start <= resolved_window < end)
                    or (resolved_window is None and start <= resolved_at < end)
                ),
                "opened_at": opened,
                "acknowledged_at": acked,
                "resolved_at": resolved_at,
                "to_ack": (acked - opened) if acked and opened else None,
                "to_resolve": (resolved_at - opened) if resolved_at and opened else None,
                "acknowledged_by": i.get("acknowledged_by") or "",
                "resolved_by_hand": resolved_at is not None and i.get("resolved_by") not in (None, SYSTEM_ACTOR),
                "tickets": _tickets(i.get("external")),
            }
        )
    return rows


def _headline_order(incident: dict[str, Any]) -> tuple:
    """The incident that best names a problem: a headline metric, the worst, the simplest slice, first."""
    return (
        incident["metric"] not in FAIRNESS_HEADLINES + DRIFT_HEADLINES,
        -severity(incident["severity"]).rank,
        len(incident["slice"]),
        metric_rank(incident["metric"]),
        incident["metric"],
        incident["id"],
    )


def _scope(slice_: dict[str, Any]) -> tuple[str, str]:
    """("across", "gender") for groups and gaps, ("in", "post_text") for columns, ("", "") for a whole window."""
    if "column" in slice_:
        return "in", str(slice_["column"])
    if "attribute" in slice_:
        return "across", str(slice_["attribute"]).replace("+", " × ")
    groups = sorted(k for k in slice_ if k not in views.META_KEYS)
    return ("across", " × ".join(groups)) if groups else ("", "")


def _problem_what(members: list[dict[str, Any]]) -> dict[str, Any]:
    """A problem in plain words: its headline incident, then which measures and where.

    ``{"headline": "Selection-rate gap across gender (and 15 related measures)",
    "measures": ["Selection-rate gap", ...], "where": "across gender and age_band × gender"}``
    """
    top = members[0]
    others = len(members) - 1
    headline = measure_text(top["metric"], top["slice"])
    if others:
        headline += f" (and {others} related measure{'' if others == 1 else 's'})"
    scopes: dict[str, list[str]] = defaultdict(list)
    for m in members:
        word, what = _scope(m["slice"])
        if what and what not in scopes[word]:
            scopes[word].append(what)
    where = []
    if scopes["across"]:
        where.append("across " + and_join(scopes["across"]))
    if scopes["in"]:
        where.append(f"in column{'s' if len(scopes['in']) > 1 else ''} " + and_join(scopes["in"]))
    return {
        "headline": headline,
        "measures": list(dict.fromkeys(metric_name(m["metric"]) for m in members)),
        "where": "; ".join(where),
    }


def _problem_rows(incidents: list[dict[str, Any]], start: datetime, end: datetime) -> list[dict[str, Any]]:
    """One row per problem: the incidents that share an alert, its facts drawn from theirs.

    A problem is acknowledged when its first incident is and resolved when its last one is;
    both times count from its first incident's opening. An incident without an alert (a
    backfilled breach nobody was told about) is a problem of its own.
    """
    groups: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for i in incidents:
        groups[("alert", i["alert_id"]) if i["alert_id"] is not None else ("incident", i["id"])].append(i)
    rows = []
    for members in groups.values():
        members.sort(key=_headline_order)
        # beneath the headline, the worst first
        members[1:] = sorted(members[1:], key=lambda m: (-severity(m["severity"]).rank, *_headline_order(m)))
        alert = members[0]["alert"]
        active = [m for m in members if m["status"] != "resolved"]
        opened = min((m["opened_at"] for m in members if m["opened_at"]), default=None)
        acked = sorted((m for m in members if m["acknowledged_at"]), key=lambda m: m["acknowledged_at"])
        resolved = sorted((m for m in members if m["resolved_at"]), key=lambda m: m["resolved_at"])
        last = resolved[-1] if resolved and not active else None  # the incident whose resolution resolved it
        first_window = min(m["first_window"] for m in members)
        if alert is not None:
            first_window = min(first_window, alert["opened_window_start"])
        weeks = sorted({w for m in members for w in m["breach_windows"] if w >= first_window})
        if not active:
            status = "resolved"
        elif all(m["status"] == "muted" for m in active):
            status = "muted"
        else:
            status = "acknowledged" if acked else "open"
        rows.append(
            {
                "id": alert["id"] if alert is not None else None,
                "audit_id": members[0]["audit_id"],
                "model": members[0]["model"],
                "check": members[0]["check"],
                "severity": max((m["severity"] for m in members), key=lambda s: severity(s).rank),
                "status": status,
                "what": _problem_what(members),
                "first_window": first_window,
                "last_window": max(m["last_window"] for m in members),
                "weeks": weeks,
                "resolved_window": last["resolved_window"] if last else None,
                "resolved_by_hand": bool(last and last["resolved_by_hand"]),
                "opened_in_quarter": start <= first_window < end,
                "resolved_in_quarter": bool(last and last["resolved_in_quarter"]),
                "to_ack": acked[0]["acknowledged_at"] - opened if acked and opened else None,
                "to_resolve": last["resolved_at"] - opened if last and last["resolved_at"] and opened else None,
                "acknowledged_by": acked[0]["acknowledged_by"] if acked else "",
                "tickets": _tickets(alert["external"]) if alert is not None else members[0]["tickets"],
                "incidents": members,
            }
        )
    return sorted(rows, key=lambda p: (p["first_window"], p["id"] or 0))


def _median(deltas: list[timedelta]) -> timedelta | None:
    if not deltas:
        return None
    ordered = sorted(deltas)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _methods(windows_by_audit: dict[str, list[WindowView]]) -> list[dict[str, Any]]:
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
    due = expected_windows(
        store.first_window(audit_id), _lag(spec), start, end, now, calendar=periods.calendar_of(spec)
    )
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
    cadence = periods.cadence_of([facts["window_size"]])
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
        "charts": [] if public else _charts(windows, (start, end), cadence["unit"]),
        "worst": _aggregate(windows)[:WORST_LIMIT],
        "versions": versions,
        "threshold_matrix": _threshold_matrix(versions),
        "straddling": periods.straddling([(w.start, w.end) for w in windows if w.audited], start, end),
        "cadence": cadence,
        "calendar": periods.calendar_of(spec),
        "estimates": None if public else estimate_quality(windows),
        "dp": None,
    }


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
    runs = periods.runs_of(store, start, end, audit_ids=audit_ids)
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

    incidents = _incident_rows(
        store.incidents_between(start, end, audit_ids=[a["audit_id"] for a in audits]), start, end, facts_by_audit
    )
    problems = _problem_rows(incidents, start, end)
    from ethics_audit.remedies.render import for_problems

    for_problems(problems, runs)  # what drove each problem and what would fix it, from its first window
    budget = None
    if public:
        from ethics_audit.reports.dp import publish

        budget = publish(
            store, audits, windows_by_audit, quarter=quarter_label(start), year=start.year, epsilon=epsilon
        )  # type: ignore[arg-type]

    all_windows = [w for a in audits for w in a["windows"]]
    worst_overall = sorted(
        [(a["facts"]["model_name"], agg) for a in audits for agg in a["worst"]],
        key=lambda pair: (-severity(pair[1].worst).rank, -len(pair[1].windows)),
    )[:WORST_LIMIT]
    summary = {
        "quarter": quarter_label(start),
        "audits": len(audits),
        "audits_with_windows": sum(a["audited"] > 0 for a in audits),
        "windows_audited": sum(w.audited for w in all_windows),
        "windows_expected": sum(a["expected"] for a in audits),
        "windows_missed": sum(len(a["missed"]) for a in audits),
        "rows_audited": sum(a["rows"] for a in audits),
        # a problem is one alert: the incidents one cause opened together (see _problem_rows)
        "problems_opened": sum(p["opened_in_quarter"] for p in problems),
        "problems_resolved": sum(p["resolved_in_quarter"] for p in problems),
        "problems_open": sum(p["status"] != "resolved" for p in problems),
        "incidents_opened": sum(i["opened_in_quarter"] for i in incidents),
        "incidents_resolved": sum(i["resolved_in_quarter"] for i in incidents),
        "incidents_open": sum(i["status"] != "resolved" for i in incidents),
        "critical_windows": sum(any(f.severity.value == "critical" for f in w.findings) for w in all_windows),
        "median_to_ack": _median([p["to_ack"] for p in problems if p["to_ack"] is not None]),
        # over the problems resolved this quarter: the count next to it and the median agree
        "median_to_resolve": _median(
            [p["to_resolve"] for p in problems if p["to_resolve"] is not None and p["resolved_in_quarter"]]
        ),
        "windows_straddling": sum(len(a["straddling"]) for a in audits),
    }
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
        "brief": _brief(audits),
        "scorecard_families": views.family_order(sorted({f for a in audits for f in a["families"]})),
        "problems": problems,
        "summary": summary,
        "worst_overall": worst_overall,
        "methods": _methods(windows_by_audit),
        "budget": budget,
        "has_data": summary["windows_audited"] > 0,
        "cad": periods.cadence_of([a["facts"]["window_size"] for a in audits]),
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


def _latest_spec(store: Store, audit_id: str) -> dict[str, Any] | None:
    latest = store.history(audit_id, limit=1)
    if not latest:
        return None
    return store.spec_snapshots([latest[0].spec_hash]).get(latest[0].spec_hash, {}).get("spec")


def _default_dir(quarter: str) -> Path:
    from ethics_audit.sources import home

    return home() / "reports" / quarter.replace(" ", "")


def _jsonable(summary: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in summary.items():
        out[key] = value.total_seconds() if isinstance(value, timedelta) else value
    return out
