"""Fake Slack, Jira, GitHub, PagerDuty and webhook servers, with the real clients pointed at them.

Credentials are set the way a deployment sets them (environment variables); every secret
contains ``S3CRET`` so a test can look for it anywhere. Delivery is tuned to be quick: half a
second of timeout, backoff waits recorded instead of slept, retries due at once.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakes.channels import GITHUB_TOKEN, JIRA_TOKEN, PD_KEY, SLACK_TOKEN, WEBHOOK_PATH, WEBHOOK_SECRET
from fakes.services import FakeGitHub, FakeJira, FakePagerDuty, FakeSlack, FakeSlackWebhook, FakeWebhook


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Quick delivery settings; the backoff waits are recorded, not slept."""
    from ethics_audit.notify import base

    monkeypatch.setenv("ETHICS_AUDIT_NOTIFY_TIMEOUT", "0.5")
    monkeypatch.setenv("ETHICS_AUDIT_NOTIFY_TRIES", "3")
    monkeypatch.setenv("ETHICS_AUDIT_NOTIFY_BACKOFF", "0.5")
    monkeypatch.setenv("ETHICS_AUDIT_NOTIFY_MAX_WAIT", "30")
    monkeypatch.setenv("ETHICS_AUDIT_NOTIFY_RETRY_BASE", "0")
    monkeypatch.setenv("ETHICS_AUDIT_NOTIFY_SETTLE", "0")  # an unanswered create is reconciled in the same pass
    recorded: list[float] = []
    monkeypatch.setattr(base, "sleep", recorded.append)
    for name in ("SLACK_BOT_TOKEN", "SLACK_WEBHOOK_URL", "JIRA_URL", "JIRA_API_TOKEN", "GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return recorded


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    server = FakeSlack(SLACK_TOKEN)
    monkeypatch.setenv("SLACK_BOT_TOKEN", SLACK_TOKEN)
    monkeypatch.setenv("SLACK_API_URL", server.api)
    yield server
    server.stop()


@pytest.fixture
def slack_webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeWebhook]:
    """A Slack incoming webhook: the URL is the secret (no signing)."""
    server = FakeSlackWebhook(WEBHOOK_PATH)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", server.url + WEBHOOK_PATH)
    yield server
    server.stop()


@pytest.fixture
def jira(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeJira]:
    server = FakeJira("audit-bot@example.com", JIRA_TOKEN)
    monkeypatch.setenv("JIRA_URL", server.url)
    monkeypatch.setenv("JIRA_USER", "audit-bot@example.com")
    monkeypatch.setenv("JIRA_API_TOKEN", JIRA_TOKEN)
    yield server
    server.stop()


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    server = FakeGitHub(GITHUB_TOKEN)
    monkeypatch.setenv("GITHUB_TOKEN", GITHUB_TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", server.url)
    yield server
    server.stop()


@pytest.fixture
def pagerduty(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePagerDuty]:
    server = FakePagerDuty(PD_KEY)
    monkeypatch.setenv("PAGERDUTY_EVENTS_URL", server.url)
    monkeypatch.setenv("PD_ROUTING_KEY_ADS", PD_KEY)
    yield server
    server.stop()


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeWebhook]:
    server = FakeWebhook(WEBHOOK_SECRET)
    monkeypatch.setenv("ETHICS_AUDIT_WEBHOOK_URL", server.url + WEBHOOK_PATH)
    monkeypatch.setenv("ETHICS_AUDIT_WEBHOOK_SECRET", WEBHOOK_SECRET)
    yield server
    server.stop()
