"""PagerDuty Events API v2: wake the on-call ML owner for critical alerts, and let them sleep after.

An alert that opens (or comes back, or escalates to critical) sends ``trigger``; a person's
acknowledgement sends ``acknowledge``; the resolution sends ``resolve``. The alert key is the
``dedup_key``, so PagerDuty itself folds retries and repeats into one incident. Route only
``critical`` to this channel in the spec. The routing key is read from the environment variable
named in ``owners.oncall_routing_key_env``; ``PAGERDUTY_EVENTS_URL`` overrides the endpoint
(e.g. ``https://events.eu.pagerduty.com``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ethics_audit.errors import NotificationError
from ethics_audit.notify import render
from ethics_audit.notify.base import Channel, DeliveryContext, DeliverySettings, Http, Sent

if TYPE_CHECKING:
    from ethics_audit.store.outbox import OutboxItem

SEVERITY = {"critical": "critical", "warn": "warning", "error": "error"}


class PagerDutyChannel(Channel):
    name = "pagerduty"
    folds_repeats = True  # the receiver deduplicates on the key: an unanswered call is simply sent again

    def __init__(self, *, settings: DeliverySettings):
        self.url = os.environ.get("PAGERDUTY_EVENTS_URL", "https://events.pagerduty.com").rstrip("/") + "/v2/enqueue"
        self.settings = settings
        self._keys: list[str] = []

    def secrets(self) -> list[str]:
        return list(self._keys)

    def _routing_key(self, payload: dict[str, Any]) -> str:
        variable = (payload.get("owners") or {}).get("oncall_routing_key_env")
        if not variable:
            raise NotificationError("pagerduty: the spec has no owners.oncall_routing_key_env", retryable=False)
        key = os.environ.get(variable)
        if not key:
            raise NotificationError(
                f"pagerduty: the routing key variable {variable} is not set (owners.oncall_routing_key_env)",
                retryable=False,
                channel_down=False,
            )
        self._keys.append(key)
        return key

    def send(self, item: OutboxItem, ctx: DeliveryContext, *, retry: bool) -> Sent:
        payload = item.payload
        kind = payload.get("kind")
        if render.is_message(payload):
            raise NotificationError("pagerduty: plain messages do not page anyone; route them to chat", retryable=False)
        action = {"opened": "trigger", "reopened": "trigger", "acknowledged": "acknowledge", "resolved": "resolve"}.get(
            kind
        )
        if kind == "updated" and payload.get("escalated"):
            action = "trigger"
        if action is None:  # an update or a mute is for the thread, not for the pager
            return Sent(ref={"skipped": f"{kind} does not page"})
        routing_key = self._routing_key(payload)
        http = Http(
            "pagerduty",
            timeout=self.settings.timeout,
            secrets=[routing_key],
            credentials_hint=f"the routing key in {payload['owners']['oncall_routing_key_env']}",
        )
        dedup_key = payload["alert"]["key"]
        event: dict[str, Any] = {"routing_key": routing_key, "event_action": action, "dedup_key": dedup_key}
        if action == "trigger":
            links = [{"href": url, "text": name} for name, url in ctx.links(item).items() if url.startswith("http")]
            event.update(
                {
                    "payload": {
                        "summary": render.title(payload)[:1024],
                        "source": f"ethics-audit/{payload['audit_id']}",
                        "severity": SEVERITY.get(payload.get("severity", "critical"), "critical"),
                        "component": payload["alert"]["check"],
                        "group": payload["audit_id"],
                        "class": "ethics-audit",
                        "custom_details": {
                            "incidents": [render.incident_line(i) for i in payload.get("incidents", [])],
                            "owners": render.owners_text(payload),
                            "window": payload.get("window"),
                        },
                    },
                    "client": "ethics-audit",
                    "links": links,
                }
            )
        response = http.request("POST", self.url, what=f"the {action} event", json=event)
        answer = response.json() if response.content else {}
        return Sent(ref={"action": action, "dedup_key": answer.get("dedup_key", dedup_key)})
