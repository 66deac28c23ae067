"""Creates whose outcome is unknown, against servers that apply a create after the client's timeout.

The fake services' ``late`` fault waits past the client's 0.5 s timeout and only then makes the
ticket, issue or message; ``reset`` makes it and drops the connection unanswered. Before the
outbox knew "outcome unknown", the in-pass retry searched before the late create landed, found
nothing and made a second ticket, issue and thread per alert.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest

from ethics_audit.notify import deliver_pending
from ethics_audit.store import Store
from ethics_audit.store.models import utcnow
from fakes import windows as w
from fakes.channels import spec_routing

CREATE = {
    "jira": ("POST", r"/rest/api/2/issue$"),
    "github": ("POST", r"/issues$"),
    "slack": ("POST", r"chat\.postMessage"),
}


def made(channel: str, server) -> list:
    """What exists on the service and is not undone: open tickets / issues, top-level messages."""
    if channel == "jira":
        return server.open_issues()
    if channel == "github":
        return [i for i in server.issues() if i["state"] == "open"]
    return server.top_level()


def everything(channel: str, server) -> list:
    if channel == "jira":
        return list(server.issues.values())
    if channel == "github":
        return server.issues()
    return server.top_level()


@pytest.fixture(params=["jira", "github", "slack"])
def service(request) -> tuple[str, object]:
    return request.param, request.getfixturevalue(request.param)


def _late(server, channel: str, **kwargs) -> None:
    method, path = CREATE[channel]
    server.fail(method, path, **kwargs)


def test_an_unanswered_create_waits_and_is_found_not_made_again(
    store: Store, service, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel, server = service
    monkeypatch.setenv("ETHICS_AUDIT_NOTIFY_SETTLE", "45")  # longer than one pass waits: a later pass reconciles
    spec = spec_routing([channel])
    w.record(store, spec, 0, w.fairness(dp=0.15))
    _late(server, channel, when="late", delay=0.9)
    first = deliver_pending(store)
    assert first["sent"] == 0 and "outcome unknown" in first["errors"][0]["error"]
    [row] = store.notifications()
    assert row.status == "pending" and row.external_ref["outcome_unknown"]["times"] == 1
    assert "outcome unknown" in row.last_error
    calls = len(server.calls(*CREATE[channel]))
    assert deliver_pending(store, include_not_due=True)["sent"] == 0  # `notify flush` too waits out the settle
    assert len(server.calls(*CREATE[channel])) == calls == 1
    _wait_until(lambda: len(everything(channel, server)) == 1)  # the late create lands
    later = deliver_pending(store, now=utcnow() + timedelta(seconds=46))
    assert later["sent"] == 1 and later["errors"] == []
    [row] = store.notifications()
    assert row.status == "sent" and row.external_ref["found"] is True
    assert row.external_ref["after_outcome_unknown"]["times"] == 1  # the event, on record
    assert len(everything(channel, server)) == 1 and len(server.calls(*CREATE[channel])) == 1


def test_a_create_that_lands_after_the_reconcile_is_undone_at_the_next_delivery(store: Store, service) -> None:
    channel, server = service
    spec = spec_routing([channel])
    w.record(store, spec, 0, w.fairness(dp=0.15))
    landed = threading.Event()
    _late(server, channel, when="late", release=landed)  # lands after the in-pass search found nothing
    assert deliver_pending(store)["sent"] == 1
    landed.set()
    _wait_until(lambda: len(everything(channel, server)) == 2)  # now there are two
    tracked = store.alerts()[0]
    w.record(store, spec, 1, w.fairness(dp=0.16))  # the breach continues: an update to deliver
    result = deliver_pending(store)
    assert result["sent"] == 1 and result["errors"] == []
    assert len(made(channel, server)) == 1  # one ticket / issue / thread left
    update = max(store.notifications(), key=lambda r: r.id)
    assert len(update.external_ref["duplicates_undone"]) == 1
    if channel == "jira":
        [kept] = server.open_issues()
        [dup] = [i for i in server.issues.values() if i["key"] != kept["key"]]
        assert server.links == [{"type": "Duplicate", "inward": dup["key"], "outward": kept["key"]}]
        assert dup["status"] == "Done" and f"Duplicate of {kept['key']}" in dup["comments"][-1]["body"]
    elif channel == "github":
        dup = next(i for i in server.issues() if i["state"] == "closed")
        assert dup["state_reason"] == "duplicate" and "Duplicate of #" in dup["comments"][-1]["body"]
    else:
        # Slack's published schema wants at least one message in a history answer; the real API
        # answers an empty range (the search before the late post landed) with an empty list
        violations = [
            v for v in server.contract_violations if v != "conversations.history response: [] should be non-empty"
        ]
        assert len(server.deleted) == 1 and violations == []
        parent = server.top_level()[0]
        assert len(server.replies(parent["ts"])) == 1  # the update went into the kept thread
    assert tracked["incidents"] == store.alerts()[0]["incidents"]


def test_a_connection_reset_after_the_create_is_reconciled(store: Store, service) -> None:
    channel, server = service
    spec = spec_routing([channel])
    w.record(store, spec, 0, w.fairness(dp=0.15))
    _late(server, channel, when="reset")
    result = deliver_pending(store)
    assert result["sent"] == 1 and result["errors"] == []
    assert len(everything(channel, server)) == 1 and len(server.calls(*CREATE[channel])) == 1


def _wait_until(condition, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the late create never landed"
        time.sleep(0.05)


def test_notify_flush_says_which_rows_a_killed_sender_still_holds(capsys, tmp_path, monkeypatch) -> None:
    from test_cli import cli

    url = f"sqlite:///{tmp_path / 'results.db'}"
    monkeypatch.setenv("ETHICS_AUDIT_DB_URL", url)
    store = Store(url)
    w.record(store, spec_routing(["console"]), 0, w.fairness(dp=0.15))
    [row] = store.notifications()
    # a sender claimed it and was killed before recording anything: its claim runs 5 minutes
    claimed = store.claim_notification(row.id, now=utcnow(), lease=timedelta(minutes=5))
    code, out, _ = cli(capsys, "notify", "flush")
    assert code == 0
    assert f"notification {row.id} (console) is held by another sender (or one that was killed) until" in out
    assert claimed.attempts == 1 and store.notifications()[0].status == "pending"
    code, out, _ = cli(capsys, "notify", "flush", "--json")
    assert json.loads(out)["claimed"][0]["id"] == row.id
    store.dispose()
