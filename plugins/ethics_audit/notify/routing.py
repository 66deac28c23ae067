"""Which channels an alert goes to: the spec's ``notifications.routes``, by severity and check family."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ethics_audit.spec import AuditSpec

# channels that can carry a plain message (no ticket, no page): "the report is ready", "a check keeps failing"
CHAT_CHANNELS = ("console", "slack", "slack_webhook", "webhook")


def channels_for(spec: AuditSpec, severity: str, check: str | None = None, *, chat_only: bool = False) -> list[str]:
    """Every channel of every route that takes ``severity`` (and ``check``), each once, in route order."""
    out: list[str] = []
    for route in spec.notifications.routes:
        if severity not in route.severities:
            continue
        if check is not None and route.checks is not None and check not in route.checks:
            continue
        out += [c for c in route.channels if c not in out and (not chat_only or c in CHAT_CHANNELS)]
    return out
