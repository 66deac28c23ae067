"""Credentials and specs shared by the notification tests: every secret contains ``S3CRET``."""

from __future__ import annotations

from typing import Any

from helpers import make_spec

SLACK_TOKEN = "test-slack-bot-token-S3CRET-slack"
JIRA_TOKEN = "test-jira-api-token-S3CRET-jira"
GITHUB_TOKEN = "test-github-token-S3CRET-github"
PD_KEY = "R0UT1NGKEYS3CRET0000000000000000"
WEBHOOK_SECRET = "test-webhook-signing-S3CRET-hmac"
WEBHOOK_PATH = "/hooks/T0/B0/S3CRET-webhook-path"
SECRETS = (SLACK_TOKEN, JIRA_TOKEN, GITHUB_TOKEN, PD_KEY, WEBHOOK_SECRET, WEBHOOK_PATH)


OWNERS = {
    "people": ["Priya Raman (ML owner)", "Tom Okafor (ethics officer)"],
    "slack_channel": "#ads-ml-ethics",
    "ticket_project": "ADSML",
    "github_repo": "acme/ads-ml",
    "oncall_routing_key_env": "PD_ROUTING_KEY_ADS",
}


def spec_routing(channels: list[str], *, critical: list[str] | None = None, extra: dict[str, Any] | None = None) -> Any:
    """A spec whose warn and critical alerts go to ``channels``, and critical ones also to ``critical``."""
    routes: list[dict[str, Any]] = [{"severities": ["warn", "critical"], "channels": channels}]
    if critical:
        routes.append({"severities": ["critical"], "channels": critical})
    return make_spec({"owners": OWNERS, "notifications": {"routes": routes}, **(extra or {})})
