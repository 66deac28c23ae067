"""The Block Kit buttons of an alert's Slack message: Acknowledge, Mute 7 days, Open report.

A button press comes back to ``POST /ethics-audit/slack/actions`` (``ethics_audit.web.slack_actions``)
with the ``action_id`` and ``value`` set here; the value names the alert, never an incident
value or a person, so a message carries nothing the endpoint has not got in the store.
"""

from __future__ import annotations

from typing import Any

ACKNOWLEDGE = "ea_acknowledge"
MUTE_7D = "ea_mute_7d"
OPEN_REPORT = "ea_open_report"
# the kinds of news after which somebody may still need to act
ACTIONABLE = ("opened", "reopened", "updated")


def alert_value(alert_id: int) -> str:
    return f"alert:{alert_id}"


def alert_of(value: str) -> int | None:
    """The alert id of a button's value, or None if it is not one of ours."""
    kind, _, number = value.partition(":")
    return int(number) if kind == "alert" and number.isdigit() else None


def actions_block(kind: str, alert_id: int | None, report_url: str | None) -> dict[str, Any] | None:
    """The buttons for one message of an alert (None for a resolution or a person's action)."""
    if alert_id is None or kind not in ACTIONABLE:
        return None
    value = alert_value(alert_id)
    elements: list[dict[str, Any]] = [
        {
            "type": "button",
            "action_id": ACKNOWLEDGE,
            "text": {"type": "plain_text", "text": "Acknowledge"},
            "style": "primary",
            "value": value,
        },
        {
            "type": "button",
            "action_id": MUTE_7D,
            "text": {"type": "plain_text", "text": "Mute 7 days"},
            "value": value,
            "confirm": {
                "title": {"type": "plain_text", "text": "Mute for 7 days?"},
                "text": {
                    "type": "plain_text",
                    "text": "No updates of this alert are sent for 7 days (a resolution is).",
                },
                "confirm": {"type": "plain_text", "text": "Mute"},
                "deny": {"type": "plain_text", "text": "Cancel"},
            },
        },
    ]
    if report_url and report_url.startswith(("http://", "https://")):
        elements.append(
            {
                "type": "button",
                "action_id": OPEN_REPORT,
                "text": {"type": "plain_text", "text": "Open report"},
                "url": report_url,
                "value": value,
            }
        )
    return {"type": "actions", "block_id": f"ea-actions-{alert_id}", "elements": elements}
