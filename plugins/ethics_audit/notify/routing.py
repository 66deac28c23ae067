"""The channels, and which of them an alert goes to: the spec's ``notifications.routes``, by
severity and check family.

``KINDS`` is the one table of channel names: the outbox reads where each class lives and the
delivery order from it, routing which can carry a plain message. (The spec keeps its own tuple
of names for validation because it sits below notify; a test holds the two equal.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ethics_audit.spec import AuditSpec


@dataclass(frozen=True)
class ChannelKind:
    target: str  # "module:Class", imported only when a row for the channel is delivered
    order: int  # within a delivery pass: tickets first, so the chat messages of the same change can link them
    chat: bool  # carries a plain message (no ticket, no page): "the report is ready", "a check keeps failing"


KINDS: dict[str, ChannelKind] = {
    "console": ChannelKind("ethics_audit.notify.console:ConsoleChannel", 4, chat=True),
    "slack": ChannelKind("ethics_audit.notify.slack:SlackChannel", 2, chat=True),
    "slack_webhook": ChannelKind("ethics_audit.notify.slack_webhook:SlackWebhookChannel", 2, chat=True),
    "jira": ChannelKind("ethics_audit.notify.jira:JiraChannel", 0, chat=False),
    "github": ChannelKind("ethics_audit.notify.github:GitHubChannel", 0, chat=False),
    "pagerduty": ChannelKind("ethics_audit.notify.pagerduty:PagerDutyChannel", 1, chat=False),
    "webhook": ChannelKind("ethics_audit.notify.webhook:WebhookChannel", 3, chat=True),
}
# name -> "module:Class" (a mutable mapping: tests swap a channel's class)
CHANNELS: dict[str, str] = {name: kind.target for name, kind in KINDS.items()}
PRIORITY: dict[str, int] = {name: kind.order for name, kind in KINDS.items()}
CHAT_CHANNELS = tuple(name for name, kind in KINDS.items() if kind.chat)


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
