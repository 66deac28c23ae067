"""Slack incoming webhooks: the simpler alternative to the bot (no token scopes, no threads).

The URL is the secret: ``SLACK_WEBHOOK_URL``, or the Airflow connection
``slack_webhook_default`` (host ``https://hooks.slack.com/services`` and the rest of the URL as
its password, as in Airflow's Slack provider). A webhook cannot be read back, so unlike the
bot channel it cannot check whether a timed-out post went through: after a timeout it posts
again (at least once, possibly twice). Use the ``slack`` channel where that matters.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ethics_audit.notify import render
from ethics_audit.notify.base import Channel, DeliveryContext, DeliverySettings, Http, Sent, connection, marker, require
from ethics_audit.notify.slack_blocks import message_blocks

if TYPE_CHECKING:
    from ethics_audit.store.outbox import OutboxItem


def _url_from_connection() -> str | None:
    conn = connection("slack_webhook_default")
    if conn is None or not conn.password:
        return None
    host = (conn.host or "https://hooks.slack.com/services").rstrip("/")
    if not host.startswith("http"):
        host = f"https://{host}"
    return f"{host}/{conn.password.lstrip('/')}"


class SlackWebhookChannel(Channel):
    name = "slack_webhook"

    def __init__(self, *, settings: DeliverySettings):
        self.url = require(
            os.environ.get("SLACK_WEBHOOK_URL") or _url_from_connection(),
            "slack_webhook: no webhook URL; set SLACK_WEBHOOK_URL or the Airflow connection slack_webhook_default",
        )
        self.http = Http(
            "slack_webhook",
            timeout=settings.timeout,
            secrets=[self.url],
            credentials_hint="SLACK_WEBHOOK_URL (or the Airflow connection slack_webhook_default)",
        )

    def secrets(self) -> list[str]:
        return [self.url, self.url.rsplit("/", 1)[-1]]

    def send(self, item: OutboxItem, ctx: DeliveryContext, *, retry: bool) -> Sent:
        blocks = message_blocks(item, ctx, marker(item.idempotency_key))
        self.http.request(
            "POST", self.url, what="the webhook post", json={"text": render.title(item.payload), "blocks": blocks}
        )
        return Sent(ref={"posted": True})
