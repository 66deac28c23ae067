"""Notifications: the outbox's delivery and one module per channel.

``deliver_pending(store)`` sends what the outbox holds (the runner calls it after each window's
commit; ``ethics-audit notify flush`` and the Airflow housekeeping DAG call it too).
``announce(store, spec, ...)`` queues a message that belongs to no incident, such as "the
quarterly report is ready", to the chat channels of the spec's routes. Channels are imported
only when a row for them is delivered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ethics_audit.notify.base import links_run_report
from ethics_audit.notify.outbox import deliver_pending
from ethics_audit.notify.routing import CHANNELS, CHAT_CHANNELS, channels_for

if TYPE_CHECKING:
    from ethics_audit.spec import AuditSpec
    from ethics_audit.store import Store

__all__ = ["CHANNELS", "announce", "channels_for", "deliver_pending", "links_run_report"]


def announce(
    store: Store,
    spec: AuditSpec,
    *,
    key: str,
    title: str,
    text: str,
    links: list[dict[str, str]] | None = None,
    severity: str = "info",
    channels: list[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> int:
    """Queue a plain message (no incident) to ``channels``, by default every chat channel of the
    spec's routes; ``key`` makes it idempotent. Returns how many rows were queued (0 if queued before).
    """
    payload: dict[str, Any] = {
        **(extra or {}),
        "kind": "message",
        "audit_id": spec.id,
        "model": {"name": spec.model.name, "version": spec.model.version},
        "owners": spec.owners.model_dump(mode="json"),
        "severity": severity,
        "title": title,
        "text": text,
        "links": links or [],
    }
    if channels is None:
        channels = []
        for route in spec.notifications.routes:
            channels += [c for c in route.channels if c in CHAT_CHANNELS and c not in channels]
    return sum(store.enqueue_notification(spec.id, c, f"{key}:{c}", payload) for c in channels)
