"""PagerDuty Events v2 and the signed webhook over real HTTP."""

from __future__ import annotations

import json

import pytest

from ethics_audit.notify import deliver_pending
from ethics_audit.notify.webhook import sign, verify_signature
from ethics_audit.recording import apply_action
from ethics_audit.store import Store
from fakes import windows as w
from fakes.channels import WEBHOOK_SECRET, spec_routing
from fakes.services import FakePagerDuty, FakeWebhook

# --------------------------------------------------------------------------- PagerDuty


def test_a_critical_alert_pages_once_and_resolves_with_its_dedup_key(store: Store, pagerduty: FakePagerDuty) -> None:
    spec = spec_routing(["console"], critical=["pagerduty"])
    w.record(store, spec, 0, w.fairness(dp=0.15))  # warn: nobody is woken up
    deliver_pending(store)
    assert pagerduty.events == []
    w.record(store, spec, 1, w.fairness(dp=0.25))  # escalates to critical: page
    w.record(store, spec, 2, w.fairness(dp=0.26))  # still critical: the page stands, no new one
    deliver_pending(store)
    [alert] = store.alerts()
    [incident_id] = alert["incidents"]
    apply_action(store, "acknowledge", [incident_id], actor="priya")
    w.record(store, spec, 3, w.fairness())
    w.record(store, spec, 4, w.fairness())
    deliver_pending(store)
    assert [e["event_action"] for e in pagerduty.events] == ["trigger", "acknowledge", "resolve"]
    assert {e["dedup_key"] for e in pagerduty.events} == {alert["key"]}
    trigger = pagerduty.events[0]
    assert trigger["payload"]["severity"] == "critical" and trigger["payload"]["source"] == "ethics-audit/test-model"
    assert trigger["payload"]["component"] == "fairness"
    assert "demographic_parity_difference" in trigger["payload"]["custom_details"]["incidents"][0]
    assert pagerduty.pages == 1 and pagerduty.incidents[alert["key"]] == "resolved"
    assert pagerduty.contract_violations == []


def test_pagerduty_429_and_500_then_success_page_once(
    store: Store, pagerduty: FakePagerDuty, waits: list[float]
) -> None:
    spec = spec_routing([], critical=["pagerduty"])
    w.record(store, spec, 0, w.fairness(dp=0.3))
    pagerduty.fail("POST", "/v2/enqueue", status=429, headers={"Retry-After": "1"}, body={"status": "throttled"})
    pagerduty.fail("POST", "/v2/enqueue", when="after", status=500)
    assert deliver_pending(store)["sent"] == 1
    assert len(pagerduty.events) == 2 and pagerduty.pages == 1  # dedup_key folds the repeat
    assert waits == [1.0, 1.0]


def test_pagerduty_bad_or_missing_routing_key(store: Store, pagerduty: FakePagerDuty, monkeypatch) -> None:
    spec = spec_routing([], critical=["pagerduty"])
    w.record(store, spec, 0, w.fairness(dp=0.3))
    monkeypatch.setenv("PD_ROUTING_KEY_ADS", "WRONGKEYS3CRET000000000000000000")
    [error] = deliver_pending(store)["errors"]
    assert "HTTP 400: Event object is invalid; Invalid routing key" in error["error"]
    assert "S3CRET" not in error["error"]
    monkeypatch.delenv("PD_ROUTING_KEY_ADS")
    [error] = deliver_pending(store)["errors"]
    assert "the routing key variable PD_ROUTING_KEY_ADS is not set" in error["error"]
    assert pagerduty.pages == 0


# --------------------------------------------------------------------------- the signed webhook


def test_the_webhook_body_is_signed_and_carries_the_idempotency_key(store: Store, webhook: FakeWebhook) -> None:
    spec = spec_routing(["webhook"])
    w.record(store, spec, 0, w.fairness(dp=0.15))
    assert deliver_pending(store)["sent"] == 1
    [(key, document)] = webhook.received.items()
    [row] = store.notifications()
    assert key == row.idempotency_key == document["idempotency_key"]
    assert document["kind"] == "opened" and document["payload"]["alert"]["check"] == "fairness"
    assert "demographic_parity_difference (attribute=gender) = 0.15" in document["text"]
    [request] = webhook.requests
    assert request.headers["x-ethics-audit-signature"] == sign(
        WEBHOOK_SECRET, request.headers["x-ethics-audit-timestamp"], request.body
    )


def test_a_retried_webhook_is_a_duplicate_the_receiver_drops(store: Store, webhook: FakeWebhook) -> None:
    spec = spec_routing(["webhook"])
    w.record(store, spec, 0, w.fairness(dp=0.15))
    webhook.fail("POST", "/hooks", when="after", delay=1.5)
    assert deliver_pending(store)["sent"] == 1
    assert len(webhook.received) == 1 and webhook.duplicates == 1  # same key: 409, counted as delivered


def test_a_wrong_secret_is_refused_and_not_shown(store: Store, webhook: FakeWebhook, monkeypatch) -> None:
    monkeypatch.setenv("ETHICS_AUDIT_WEBHOOK_SECRET", "another-S3CRET")
    spec = spec_routing(["webhook"])
    w.record(store, spec, 0, w.fairness(dp=0.15))
    [error] = deliver_pending(store)["errors"]
    assert "HTTP 401" in error["error"] and "S3CRET" not in error["error"]


@pytest.mark.parametrize(
    ("body", "timestamp", "now", "ok"),
    [
        (b'{"a":1}', "1000", 1000.0, True),
        (b'{"a":2}', "1000", 1000.0, False),  # another body
        (b'{"a":1}', "1000", 1400.0, False),  # too old: a replay
    ],
)
def test_verify_signature(body: bytes, timestamp: str, now: float, ok: bool) -> None:
    signature = sign(WEBHOOK_SECRET, "1000", json.dumps({"a": 1}, separators=(",", ":")).encode())
    assert verify_signature(WEBHOOK_SECRET, body, timestamp, signature, now=now) is ok
