"""The quarterly report's problems: one row per alert, the incidents one cause opened together.

Each incident becomes a row with its quarter facts (opened, acknowledged, resolved, by whom,
its tickets); incidents that share an alert become one problem, named in plain words by its
headline incident, with its time to acknowledge and to resolve.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from ethics_audit.lifecycle.episodes import SYSTEM_ACTOR
from ethics_audit.reports import views
from ethics_audit.reports.present import and_join, measure_text, metric_name, metric_rank, severity
from ethics_audit.reports.quarterly.trends import DRIFT_HEADLINES, FAIRNESS_HEADLINES


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


def incident_rows(
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


def problem_rows(incidents: list[dict[str, Any]], start: datetime, end: datetime) -> list[dict[str, Any]]:
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


def median(deltas: list[timedelta]) -> timedelta | None:
    if not deltas:
        return None
    ordered = sorted(deltas)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
