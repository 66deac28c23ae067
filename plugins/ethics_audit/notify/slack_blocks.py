"""Slack's Block Kit for one notification: the alert's message or thread reply, and the parent's state line.

Shared by the bot (``slack.py``) and the incoming webhook (``slack_webhook.py``). The first block
carries the retry marker (its ``block_id``), so a retry can find what a lost call posted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ethics_audit.notify import render, slack_buttons

if TYPE_CHECKING:
    from ethics_audit.notify.base import DeliveryContext
    from ethics_audit.store.outbox import OutboxItem

LISTED = 10  # incident blocks per message; Slack allows 50 blocks, people read fewer


def esc(text: str) -> str:
    """Slack mrkdwn treats &, < and > as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    if url.startswith(("http://", "https://")):
        return f"<{url}|{esc(label)}>"
    return f"{esc(label)}: `{esc(url)}`"  # a local path: shown, not linked


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150], "emoji": True}}


def _section(text: str, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}
    if block_id:
        block["block_id"] = block_id
    return block


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}


def _incident_block(item: dict[str, Any]) -> dict[str, Any]:
    where = f" ({esc(render.slice_text(item['slice']))})" if item.get("slice") else ""
    lines = [
        f"*{esc(item['metric'])}*{where} · #{item['id']}",
        f"`{render.number(item.get('value'))}`{esc(render.interval_text(item))} vs "
        f"{esc(render.threshold_text(item.get('threshold')))}",
    ]
    if item.get("transition") == "resolved" or item.get("status") == "resolved":
        lines.append(":white_check_mark: resolved" + (f" ({esc(item['note'])})" if item.get("note") else ""))
    else:
        count = item["occurrences"]
        lines.append(
            f"{render.SEVERITY_MARK.get(item['severity'], '')} *{item['severity']}* · breached in {count} "
            f"window{'s' if count != 1 else ''}" + (f" · {esc(item['note'])}" if item.get("note") else "")
        )
    if item.get("trend"):
        lines.append(f"trend: {esc(render.trend_text(item['trend']))}")
    return _section("\n".join(lines))


def message_blocks(item: OutboxItem, ctx: DeliveryContext, mark: str) -> list[dict[str, Any]]:
    """The Block Kit of one notification; the first block carries the retry marker."""
    payload = item.payload
    if render.is_message(payload):
        blocks = [_section(f"*{esc(render.title(payload))}*\n{esc(payload.get('text', ''))}", block_id=mark)]
        links = [link(x["url"], x["text"]) for x in payload.get("links", [])]
        if links:
            blocks.append(_context(" · ".join(links)))
        return blocks
    model, window, alert = payload.get("model", {}), payload.get("window") or {}, payload["alert"]
    mark_sev = render.SEVERITY_MARK.get(payload.get("severity", ""), "")
    kind = payload["kind"]
    lead = {
        "opened": f"{mark_sev} *{alert['check']}* breach in *{esc(payload['audit_id'])}*",
        "reopened": f"{mark_sev} the *{alert['check']}* breach is back in *{esc(payload['audit_id'])}*",
        "updated": f"{mark_sev} update: the *{alert['check']}* breach continues",
        "resolved": ":white_check_mark: resolved",
        "acknowledged": f":eyes: acknowledged by {esc(payload.get('actor', ''))}",
        "muted": f":no_bell: muted by {esc(payload.get('actor', ''))}",
    }.get(kind, kind)
    if payload.get("escalated"):
        lead += " · :rotating_light: now *critical*"
    facts = (
        f"model *{esc(model.get('name', ''))}* {esc(str(model.get('version', '')))} · window "
        f"{render.day(window.get('start'))} → {render.day(window.get('end'))} · severity *{payload.get('severity')}*"
    )
    if payload.get("note") and kind in ("acknowledged", "muted", "resolved", "updated"):
        facts += f"\n_{esc(payload['note'])}_"
    blocks: list[dict[str, Any]] = [_section(f"{lead}\n{facts}", block_id=mark)]
    if kind == "opened":
        blocks.insert(0, _header(render.title(payload)))
        blocks[1].pop("block_id")
        blocks[0]["block_id"] = mark
    listed = payload.get("incidents", [])
    blocks += [_incident_block(i) for i in listed[:LISTED]]
    more = len(listed) - LISTED + payload.get("more_incidents", 0)
    if more > 0:
        blocks.append(
            _context(f"… and {more} more incidents (`ethics-audit incidents list --audit {payload['audit_id']}`)")
        )
    links = [link(url, name) for name, url in ctx.links(item).items()]
    if payload.get("run_id") and not any(name == "run report" for name in ctx.links(item)):
        links.append("run report: not available")
    blocks.append(
        _context(
            f"owners: {esc(render.owners_text(payload))} · {payload.get('active_incidents', 0)} active incident(s)"
            + (" · " + " · ".join(links) if links else "")
            + f" · alert `{esc(alert['key'])}`"
        )
    )
    buttons = slack_buttons.actions_block(kind, item.alert_id, ctx.links(item).get("run report"))
    if buttons is not None:
        blocks.append(buttons)
    return blocks


def parent_blocks(item: OutboxItem, mark: str) -> list[dict[str, Any]]:
    """The thread's parent after a resolution or a reopening: a short state line."""
    payload = item.payload
    alert = payload["alert"]
    state = {
        "resolved": ":white_check_mark: *resolved*",
        "reopened": f"{render.SEVERITY_MARK.get(payload.get('severity', ''), '')} *active again*",
    }.get(payload["kind"], f"{render.SEVERITY_MARK.get(payload.get('severity', ''), '')} *{payload.get('severity')}*")
    return [
        _header(f"{payload['audit_id']}: {alert['check']} alert"),
        _section(
            f"{state} · opened in the window of {render.day(alert['opened_window_start'])}, last breach "
            f"{render.day(alert['last_window_start'])} · details in the thread",
            block_id=mark,
        ),
        _context(f"owners: {esc(render.owners_text(payload))} · alert `{esc(alert['key'])}`"),
    ]
