"""Words for notifications: titles, one line per incident, trends, thresholds, as plain text.

Every channel renders from the outbox payload (not from the database), so a message is the
same whenever it is delivered. Slack adds Block Kit on top (``slack.blocks``); the console,
tickets and webhooks use these texts as they are.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

SPARK = "▁▂▃▄▅▆▇█"
VERB = {
    "opened": "breach",
    "reopened": "breach is back",
    "updated": "breach continues",
    "resolved": "resolved",
    "acknowledged": "acknowledged",
    "muted": "muted",
}
SEVERITY_MARK = {"critical": "🔴", "warn": "🟠", "ok": "🟢"}


def is_message(payload: dict[str, Any]) -> bool:
    """A plain message (``Store.enqueue_notification``, ``notify.announce``), not an alert's news."""
    return "alert" not in payload


def number(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def slice_text(slice_: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in slice_.items())


def threshold_text(threshold: dict[str, Any] | None) -> str:
    if not threshold:
        return "no threshold"
    parts = []
    for level in ("warn", "critical"):
        bound = threshold.get(level)
        if bound is None:
            continue
        if isinstance(bound, list | tuple):
            parts.append(f"{level} outside [{number(bound[0])}, {number(bound[1])}]")
        else:
            sign = "<" if threshold.get("direction") == "below" else ">"
            parts.append(f"{level} {sign} {number(bound)}")
    return ", ".join(parts) or "no threshold"


def interval_text(item: dict[str, Any]) -> str:
    if item.get("ci_low") is None or item.get("ci_high") is None:
        return ""
    return f" [{number(item['ci_low'])}, {number(item['ci_high'])}]"


def sparkline(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    span = high - low or 1.0
    return "".join(" " if v is None else SPARK[int((v - low) / span * (len(SPARK) - 1))] for v in values)


def trend_text(trend: list[list[Any]]) -> str:
    """``▁▁▇█  0.02 → 0.03 → 0.13 → 0.14`` over the last windows, oldest first."""
    if not trend:
        return ""
    values = [point[1] for point in trend]
    return f"{sparkline(values)}  " + " → ".join(number(v) for v in values)


def day(iso: str | None) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d") if iso else "?"


def incident_line(item: dict[str, Any]) -> str:
    """``#3 demographic_parity_difference (attribute=gender) = 0.132 [0.11, 0.15] (warn > 0.1, ...) critical``."""
    where = f" ({slice_text(item['slice'])})" if item.get("slice") else ""
    if item.get("transition") == "resolved" or item.get("status") == "resolved":
        state = "resolved"
    else:
        state = f"{item['severity']}, {item['occurrences']} window{'s' if item['occurrences'] != 1 else ''}"
    # an estimate says so where people read it: it is not a measured value
    estimate = " (estimate: labels not in yet)" if str(item.get("metric", "")).startswith("estimated_") else ""
    line = (
        f"#{item['id']} {item['metric']}{estimate}{where} = {number(item.get('value'))}{interval_text(item)}"
        f" ({threshold_text(item.get('threshold'))}): {state}"
    )
    if item.get("note"):
        line += f"; {item['note']}"
    return line


def title(payload: dict[str, Any]) -> str:
    """``ad-delivery: fairness breach (critical), 2026-07-27 → 2026-08-03``."""
    if is_message(payload):
        default = str(payload.get("kind") or "notice").replace("_", " ")
        return payload.get("title") or f"{payload.get('audit_id', 'ethics-audit')}: {default}"
    alert = payload["alert"]
    window = payload.get("window") or {}
    span = f", window {day(window.get('start'))}" if window.get("start") else ""
    severity = payload.get("severity", alert["severity"])
    level = f"was {severity}" if payload["kind"] == "resolved" else severity
    return f"{payload['audit_id']}: {alert['check']} {VERB.get(payload['kind'], payload['kind'])} ({level}){span}"


def owners_text(payload: dict[str, Any]) -> str:
    people = payload.get("owners", {}).get("people") or []
    return ", ".join(people) if people else "no owners listed in the spec"


def summary_text(payload: dict[str, Any], *, links: dict[str, str] | None = None) -> str:
    """The whole notification as plain text: title, incidents with trends, owners, links."""
    if is_message(payload):
        lines = [title(payload), payload.get("text", "")]
        lines += [f"{link['text']}: {link['url']}" for link in payload.get("links", [])]
        return "\n".join(line for line in lines if line)
    model = payload.get("model", {})
    lines = [title(payload), f"model {model.get('name')} {model.get('version')} · alert {payload['alert']['key']}"]
    if payload.get("actor") and payload["actor"] != "ethics-audit":
        lines.append(f"by {payload['actor']}" + (f": {payload['note']}" if payload.get("note") else ""))
    for item in payload.get("incidents", []):
        lines.append("  " + incident_line(item))
        if item.get("trend"):
            lines.append(f"      trend over the last {len(item['trend'])} windows: {trend_text(item['trend'])}")
    if payload.get("more_incidents"):
        lines.append(f"  … and {payload['more_incidents']} more incidents")
    if payload.get("remedy"):
        lines.append(f"what drives it: {payload['remedy'].get('headline', '')}")
    lines.append(f"still active in this alert: {payload.get('active_incidents', 0)} incident(s)")
    lines.append(f"owners: {owners_text(payload)}")
    for name, url in (links or {}).items():
        lines.append(f"{name}: {url}")
    return "\n".join(lines)


def with_remedy(body: str, payload: dict[str, Any], *, limit: int, link: str | None, style: str) -> str:
    """A ticket body followed by the alert's remedy section (``remedies.render``), the whole within
    ``limit`` characters: the section is shortened first, with a pointer to the run report."""
    section = payload.get("remedy")
    if len(body) >= limit:
        return body[: limit - 1] + "…"
    if not section:
        return body
    from ethics_audit.remedies import render as remedy

    room = limit - len(body) - 2
    if room < 200:
        return body
    if style == "markdown":
        return f"{body}\n\n{remedy.markdown(section, limit=room, link=link)}"
    return f"{body}\n\n{remedy.text(section, limit=room, link=link, style=style)}"
