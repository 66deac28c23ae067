"""Slack's side of a button press: the block_actions payload, form-encoded and signed as Slack
signs it (computed here by hand, not by the code under test), and a uvicorn server in a thread."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from typing import Any
from urllib.parse import urlencode

SIGNING_SECRET = "test-slack-signing-S3CRET-secret"


def press(
    alert_id: int | str,
    action_id: str = "ea_acknowledge",
    *,
    user: str = "U0PRIYA01",
    action_ts: str | None = None,
    channel: str = "C0AUDIT01",
    message_ts: str = "1700000000.000100",
) -> bytes:
    """The form body Slack POSTs for one click on a button of ours."""
    payload = {
        "type": "block_actions",
        "team": {"id": "T0TEAM001", "domain": "audit"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0TEAM001"},
        "api_app_id": "A0APP0001",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
        "channel": {"id": channel, "name": "ads-ml-ethics"},
        "trigger_id": f"trigger-{time.monotonic_ns()}",
        "response_url": "https://hooks.slack.invalid/actions/T0/1/x",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": f"ea-actions-{alert_id}",
                "value": f"alert:{alert_id}",
                "action_ts": action_ts or f"{time.time():.6f}",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def signed(body: bytes, *, secret: str = SIGNING_SECRET, at: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if at is None else at))
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


class Uvicorn:
    """An ASGI app served over real HTTP on a free port, in a thread."""

    def __init__(self, app: Any):
        import socket

        import uvicorn

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
