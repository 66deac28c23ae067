"""The console channel: alerts as plain text on stderr (or stdout). The embedded default.

It needs no service and no credentials, so the demo shows its alerts out of the box, and under
Airflow they land in the task log. ``ETHICS_AUDIT_CONSOLE=stdout`` prints to stdout instead.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from ethics_audit.notify import render
from ethics_audit.notify.base import Channel, DeliveryContext, Sent

if TYPE_CHECKING:
    from ethics_audit.store.outbox import OutboxItem


class ConsoleChannel(Channel):
    name = "console"

    def __init__(self, *, settings: Any = None):
        self.settings = settings

    def send(self, item: OutboxItem, ctx: DeliveryContext, *, retry: bool) -> Sent:
        # looked up per call: the stream may be swapped (pytest, rich progress bars)
        stream = sys.stdout if os.environ.get("ETHICS_AUDIT_CONSOLE", "stderr") == "stdout" else sys.stderr
        # no HTML is rendered for a terminal line: the command that renders it is enough
        links = ctx.links(item, report=False) if not render.is_message(item.payload) else {}
        if item.payload.get("run_id") and not render.is_message(item.payload):
            links["run report"] = f"ethics-audit report --run {item.payload['run_id']}"
        text = render.summary_text(item.payload, links=links)
        lines = text.splitlines()
        stream.write(f"[ethics-audit alert] {lines[0]}\n" + "".join(f"    {line}\n" for line in lines[1:]))
        stream.flush()
        return Sent(ref={"printed": True})
