"""The outbox itself: backoff across passes, giving up, claims, a broken channel, plain messages."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from ethics_audit.notify import announce, deliver_pending
from ethics_audit.notify import outbox as delivery
from ethics_audit.notify.base import DeliverySettings
from ethics_audit.store import Store
from fakes import windows as w
from fakes.channels import spec_routing
from fakes.services import FakeWebhook

# after the rows are created (they are due from their creation on)
T0 = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=1)


def test_retries_back_off_exponentially_then_give_up_and_can_be_retried(store: Store, webhook: FakeWebhook) -> None:
    spec = spec_routing(["webhook"])
    w.record(store, spec, 0, w.fairness(dp=0.15))
    webhook.fail("POST", "/hooks", status=503, times=100)
    settings = DeliverySettings(timeout=1, tries=1, retry_base=timedelta(minutes=1), max_attempts=3)
    deliver_pending(store, now=T0, settings=settings)
    [row] = store.pending_notifications()
    assert (row.attempts, row.next_attempt_at) == (1, T0 + timedelta(minutes=1))
    assert deliver_pending(store, now=T0 + timedelta(seconds=59), settings=settings)["waiting"] == 1  # not due
    deliver_pending(store, now=T0 + timedelta(minutes=1), settings=settings)
    [row] = store.pending_notifications()
    assert (row.attempts, row.next_attempt_at) == (2, T0 + timedelta(minutes=3))  # 1 min, then 2 min
    result = deliver_pending(store, now=T0 + timedelta(minutes=3), settings=settings)
    assert result["failed"] == 1 and store.pending_notifications() == []
    [failed] = store.notifications(status="failed")
    assert failed.attempts == 3 and "HTTP 503" in failed.last_error

    webhook.faults.clear()
    result = deliver_pending(store, retry_failed=True, settings=settings)
    assert result["sent"] == 1 and len(webhook.received) == 1


def test_a_row_not_due_is_sent_when_asked_to_include_it(store: Store, webhook: FakeWebhook) -> None:
    spec = spec_routing(["webhook"])
    w.record(store, spec, 0, w.fairness(dp=0.15))
    settings = DeliverySettings(timeout=1, tries=1, retry_base=timedelta(hours=1))
    webhook.fail("POST", "/hooks", status=500)
    deliver_pending(store, settings=settings)
    assert deliver_pending(store, settings=settings)["sent"] == 0
    assert deliver_pending(store, settings=settings, include_not_due=True)["sent"] == 1


def test_two_senders_never_send_the_same_row(store: Store) -> None:
    store.enqueue_notification("a", "console", "k1", {"kind": "message", "audit_id": "a", "title": "t", "text": ""})
    [row] = store.pending_notifications()
    lease = timedelta(minutes=5)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(store.claim_notification(row.id, now=T0, lease=lease)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r is not None for r in results) == 1
    assert store.claim_notification(row.id, now=T0 + timedelta(minutes=4), lease=lease) is None
    reclaimed = store.claim_notification(row.id, now=T0 + timedelta(minutes=6), lease=lease)  # the sender died
    assert reclaimed is not None and reclaimed.attempts == 2


def test_a_broken_channel_does_not_stop_the_others(
    store: Store, webhook: FakeWebhook, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setitem(delivery.CHANNELS, "slack", "fakes.broken:BrokenChannel")
    spec = spec_routing(["slack", "webhook", "console"])
    w.record(store, spec, 0, w.fairness(dp=0.15))
    result = deliver_pending(store)
    assert result["sent"] == 2 and result["retrying"] == 1
    assert "internal error in the slack channel: ZeroDivisionError" in result["errors"][0]["error"]
    assert len(webhook.received) == 1 and "[ethics-audit alert]" in capsys.readouterr().err


def test_console_prints_the_alert(store: Store, capsys: pytest.CaptureFixture) -> None:
    spec = spec_routing(["console"])
    w.record(store, spec, 0, w.fairness(dp=0.05))
    w.record(store, spec, 1, w.fairness(dp=0.15))
    deliver_pending(store)
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "[ethics-audit alert] test-model: fairness breach (warn), window 2026-07-13"
    assert (
        "      #1 demographic_parity_difference (attribute=gender) = 0.15 [0.13, 0.17] "
        "(warn > 0.1, critical > 0.2): warn, 1 window" in err
    )
    assert "          trend over the last 2 windows: ▁█  0.05 → 0.15" in err
    assert "    owners: Priya Raman (ML owner), Tom Okafor (ethics officer)" in err


def test_plain_messages_go_to_chat_channels_once(store: Store, capsys: pytest.CaptureFixture) -> None:
    spec = spec_routing(["console", "jira"])
    queued = announce(
        store,
        spec,
        key="report:2026Q3",
        title="The 2026Q3 ethics report is ready",
        text="Fairness and privacy findings for the quarter.",
        links=[{"text": "report", "url": "https://audits.example.com/2026Q3.html"}],
    )
    assert queued == 1  # console only: a ticket is not a place for announcements
    assert announce(store, spec, key="report:2026Q3", title="again", text="") == 0
    assert deliver_pending(store)["sent"] == 1
    err = capsys.readouterr().err
    assert "The 2026Q3 ethics report is ready" in err and "report: https://audits.example.com/2026Q3.html" in err


def test_the_channel_names_are_one_table_that_the_spec_agrees_with() -> None:
    from ethics_audit import notify
    from ethics_audit.notify import routing
    from ethics_audit.spec import CHANNELS as SPEC_CHANNELS

    assert tuple(routing.KINDS) == SPEC_CHANNELS
    assert delivery.CHANNELS is routing.CHANNELS is notify.CHANNELS
    assert set(delivery.PRIORITY) == set(routing.KINDS)
    assert routing.CHAT_CHANNELS == ("console", "slack", "slack_webhook", "webhook")
    for name, target in routing.CHANNELS.items():
        assert target.startswith(f"ethics_audit.notify.{name}:")
