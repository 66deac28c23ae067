"""A generic webhook: the notification as a JSON POST, its body signed with HMAC-SHA256.

``ETHICS_AUDIT_WEBHOOK_URL`` receives ``{"idempotency_key", "kind", "text", "payload"}``.
Headers: ``Idempotency-Key`` (the same on every retry of the same notification: deduplicate
on it), ``X-Ethics-Audit-Timestamp`` (unix seconds) and ``X-Ethics-Audit-Signature:
sha256=<hex>``, the HMAC of ``"<timestamp>.<body>"`` with ``ETHICS_AUDIT_WEBHOOK_SECRET``.
Receivers check it with ``verify_signature`` (or the same three lines in their language) and
reject old timestamps. A 409 answer means the receiver already has it, which counts as sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from typing import TYPE_CHECKING

from ethics_audit.errors import NotificationError
from ethics_audit.notify import render
from ethics_audit.notify.base import Channel, DeliveryContext, DeliverySettings, Http, Sent, require

if TYPE_CHECKING:
    from ethics_audit.store.outbox import OutboxItem

CREDENTIALS = "ETHICS_AUDIT_WEBHOOK_URL and ETHICS_AUDIT_WEBHOOK_SECRET"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: str, body: bytes, timestamp: str, signature: str, *, tolerance: float = 300, now: float | None = None
) -> bool:
    """For receivers: is this body signed with ``secret``, recently?"""
    try:
        age = abs((now if now is not None else time.time()) - float(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookChannel(Channel):
    name = "webhook"
    folds_repeats = True  # the receiver deduplicates on the key: an unanswered call is simply sent again

    def __init__(self, *, settings: DeliverySettings):
        self.url = require(os.environ.get("ETHICS_AUDIT_WEBHOOK_URL"), f"webhook: no URL; set {CREDENTIALS}")
        self.secret = require(
            os.environ.get("ETHICS_AUDIT_WEBHOOK_SECRET"),
            "webhook: no signing secret; set ETHICS_AUDIT_WEBHOOK_SECRET (unsigned posts are not sent)",
        )
        self.http = Http(
            "webhook", timeout=settings.timeout, secrets=[self.url, self.secret], credentials_hint=CREDENTIALS
        )

    def secrets(self) -> list[str]:
        return [self.url, self.secret]

    def send(self, item: OutboxItem, ctx: DeliveryContext, *, retry: bool) -> Sent:
        links = ctx.links(item) if not render.is_message(item.payload) else {}
        document = {
            "idempotency_key": item.idempotency_key,
            "kind": item.kind,
            "text": render.summary_text(item.payload, links=links),
            "links": links,
            "payload": item.payload,
        }
        body = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": item.idempotency_key,
            "X-Ethics-Audit-Timestamp": timestamp,
            "X-Ethics-Audit-Signature": sign(self.secret, timestamp, body),
        }
        try:
            response = self.http.request("POST", self.url, what="the webhook post", data=body, headers=headers)
        except NotificationError as exc:
            if "HTTP 409" in str(exc):  # the receiver deduplicated it: it has the notification
                return Sent(ref={"status": 409, "duplicate": True})
            raise
        return Sent(ref={"status": response.status_code})
