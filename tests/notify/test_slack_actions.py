"""Slack buttons over real HTTP: signed presses to ``POST /ethics-audit/slack/actions`` (the app of
``ethics-audit serve``, under uvicorn) change the store exactly once and reply in the alert's thread
on the fake Slack; every refused request changes nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from ethics_audit.notify import deliver_pending
from ethics_audit.store import Store
from fakes import windows as w
from fakes.channels import spec_routing
from fakes.services import FakeSlack
from fakes.slack_press import SIGNING_SECRET, Uvicorn, press, signed

USERS = {
    "U0PRIYA01": {"name": "Priya Raman", "audits": ["test-model"]},
    "U0TOM0002": "Tom Okafor",
    "U0OTHER03": {"name": "Sam Lee", "audits": ["another-model"]},
}


@pytest.fixture
def server(db_url: str, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Uvicorn]:
    from ethics_audit.web.serve import create_app

    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("ETHICS_AUDIT_SLACK_USERS", json.dumps(USERS))
    app = Uvicorn(create_app(db_url))
    yield app
    app.stop()


@pytest.fixture
def alert(store: Store, slack: FakeSlack) -> dict:
    """A fairness alert of two incidents, delivered to Slack (its message carries the buttons)."""
    spec = spec_routing(["slack"])
    w.record(store, spec, 0, w.fairness(dp=0.15, ratio=0.7))
    assert deliver_pending(store)["sent"] == 1
    [found] = store.alerts()
    return found


def post(server: Uvicorn, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{server.url}/ethics-audit/slack/actions", content=body, headers=headers, timeout=30)


def state(store: Store, ids: list[int]) -> list[tuple]:
    """Everything a press may change: status, who acknowledged, mute, and every transition."""
    out = []
    for incident_id in ids:
        item = store.incident(incident_id)
        out.append((item["status"], item["acknowledged_by"], item["muted_until"], len(item["events"])))
    return out


def wait_for_replies(slack: FakeSlack, ts: str, n: int) -> list[dict]:
    deadline = time.monotonic() + 20
    while len(slack.replies(ts)) < n:
        assert time.monotonic() < deadline, f"expected {n} replies in the thread, got {slack.replies(ts)}"
        time.sleep(0.05)
    return slack.replies(ts)


def test_the_alert_message_carries_the_buttons(alert: dict, slack: FakeSlack) -> None:
    [root] = slack.top_level()
    [buttons] = [b for b in root["blocks"] if b["type"] == "actions"]
    assert [(e["action_id"], e["value"]) for e in buttons["elements"]] == [
        ("ea_acknowledge", f"alert:{alert['id']}"),
        ("ea_mute_7d", f"alert:{alert['id']}"),
    ]  # no "Open report" button: the run report is a local path here, not a URL
    assert slack.contract_violations == []


def test_open_report_is_a_link_when_reports_have_a_url(
    store: Store, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETHICS_AUDIT_REPORT_BASE_URL", "https://reports.example.org/audit")
    w.record(store, spec_routing(["slack"]), 0, w.fairness(dp=0.15))
    deliver_pending(store)
    [root] = slack.top_level()
    [buttons] = [b for b in root["blocks"] if b["type"] == "actions"]
    link = buttons["elements"][-1]
    assert link["action_id"] == "ea_open_report"
    assert link["url"].startswith("https://reports.example.org/audit/artifacts/test-model/")
    assert link["url"].endswith("/run-1/report.html")


def test_acknowledge_applies_once_replies_in_the_thread_and_a_replay_or_double_click_changes_nothing(
    store: Store, slack: FakeSlack, alert: dict, server: Uvicorn
) -> None:
    ids = alert["incidents"]
    assert len(ids) == 2
    [root] = slack.top_level()
    body = press(alert["id"], message_ts=root["ts"])
    headers = signed(body)

    response = post(server, body, headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "ok": True,
        "applied": True,
        "action": "ea_acknowledge",
        "incidents": ids,
        "actor": "Priya Raman",
    }
    after = state(store, ids)
    assert [s[:2] for s in after] == [("acknowledged", "Priya Raman")] * 2
    [event] = [e for e in store.incident(ids[0])["events"] if e["transition"] == "acknowledged"]
    assert (event["actor"], event["note"]) == ("Priya Raman", "from Slack")
    [reply] = wait_for_replies(slack, root["ts"], 1)
    assert "acknowledged by Priya Raman" in reply["text"] + json.dumps(reply["blocks"])

    # the very same request again (Slack's retry, or an attacker within the 5 minutes): refused
    replay = post(server, body, headers)
    assert replay.status_code == 409 and "handled before" in replay.json()["error"]
    # a double click: a second, validly signed press a moment later finds nothing left to change
    again = press(alert["id"], message_ts=root["ts"])
    second = post(server, again, signed(again))
    assert second.status_code == 200 and second.json()["applied"] is False
    time.sleep(0.5)  # give a wrongly sent second reply the time to arrive
    assert state(store, ids) == after
    assert len(slack.replies(root["ts"])) == 1
    outcomes = [(c["actor"], c["outcome"]) for c in store.action_claims(alert_id=alert["id"])]
    assert outcomes == [("Priya Raman", "applied"), ("Priya Raman", "state"), ("Priya Raman", "refused")]
    assert slack.contract_violations == []


def test_mute_seven_days(store: Store, slack: FakeSlack, alert: dict, server: Uvicorn) -> None:
    body = press(alert["id"], "ea_mute_7d", user="U0TOM0002")
    before = datetime.now(timezone.utc)
    response = post(server, body, signed(body))
    assert response.status_code == 200 and response.json()["actor"] == "Tom Okafor"
    for incident_id in alert["incidents"]:
        item = store.incident(incident_id)
        assert item["status"] == "muted"
        until = datetime.fromisoformat(item["muted_until"])
        assert before + timedelta(days=7) <= until <= datetime.now(timezone.utc) + timedelta(days=7)
    [root] = slack.top_level()
    [reply] = wait_for_replies(slack, root["ts"], 1)
    assert "muted by Tom Okafor" in json.dumps(reply["blocks"])


@pytest.mark.parametrize(
    ("case", "status", "error"),
    [
        ("bad signature", 401, "bad signature"),
        ("another secret", 401, "bad signature"),
        ("old timestamp", 401, "more than 5 minutes"),
        ("no signature", 401, "missing"),
        ("unknown alert", 404, "does not exist"),
        ("unknown user", 403, "may not act on test-model"),
        ("user of another audit", 403, "may not act on test-model"),
        ("not a button press", 400, "block_actions"),
    ],
)
def test_refused_requests_change_nothing(
    store: Store, slack: FakeSlack, alert: dict, server: Uvicorn, case: str, status: int, error: str
) -> None:
    ids = alert["incidents"]
    before = state(store, ids)
    body = press(alert["id"])
    headers = signed(body)
    if case == "bad signature":
        headers["X-Slack-Signature"] = headers["X-Slack-Signature"][:-4] + "0000"
    elif case == "another secret":
        headers = signed(body, secret="not-the-signing-secret")
    elif case == "old timestamp":
        headers = signed(body, at=time.time() - 301)  # correctly signed, 5 minutes and a second ago
    elif case == "no signature":
        del headers["X-Slack-Signature"]
    elif case == "unknown alert":
        body = press(alert["id"] + 100)
        headers = signed(body)
    elif case == "unknown user":
        body = press(alert["id"], user="U0NOBODY9")
        headers = signed(body)
    elif case == "user of another audit":
        body = press(alert["id"], user="U0OTHER03")
        headers = signed(body)
    elif case == "not a button press":
        body = b"payload=" + json.dumps({"type": "view_submission"}).encode()
        headers = signed(body)
    response = post(server, body, headers)
    assert response.status_code == status, response.text
    assert error in response.json()["error"]
    time.sleep(0.3)
    assert state(store, ids) == before
    assert store.action_claims() == []
    [root] = slack.top_level()
    replies = slack.replies(root["ts"])
    if status == 403:  # the one refusal a person caused: told in the thread, nothing else
        [reply] = wait_for_replies(slack, root["ts"], 1)
        assert "may not acknowledge alerts of test-model" in reply["text"]
    else:
        assert replies == []


def test_without_a_signing_secret_nothing_is_accepted(
    db_url: str, alert: dict, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ethics_audit.web.serve import create_app

    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_SLACK_API_DEFAULT", raising=False)
    app = Uvicorn(create_app(db_url))
    try:
        body = press(alert["id"])
        response = post(app, body, signed(body))
    finally:
        app.stop()
    assert response.status_code == 503 and "SLACK_SIGNING_SECRET" in response.json()["error"]
    assert state(store, alert["incidents"]) == [("open", None, None, 1)] * 2


def test_the_secret_may_come_from_the_slack_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    from ethics_audit.web.slack_actions import signing_secret

    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    conn = {"conn_type": "slack", "password": "xoxb-1", "extra": {"signing_secret": "from-the-connection"}}
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", json.dumps(conn))
    assert signing_secret() == "from-the-connection"


def test_a_broken_user_map_is_named(tmp_path) -> None:
    from ethics_audit.web.slack_actions import SlackConfigError, load_users

    with pytest.raises(SlackConfigError, match=r"ETHICS_AUDIT_SLACK_USERS: .*missing.yaml is not a file"):
        load_users(str(tmp_path / "missing.yaml"))
    (tmp_path / "users.yaml").write_text("U1: {audits: [a]}\n")
    with pytest.raises(SlackConfigError, match=r"users.yaml: U1: give a name"):
        load_users(str(tmp_path / "users.yaml"))
    (tmp_path / "users.yaml").write_text("U1: {name: Ann, audits: [a]}\nU2: Bo\n")
    users = load_users(str(tmp_path / "users.yaml"))
    assert users["U1"].may_act_on("a") and not users["U1"].may_act_on("b") and users["U2"].may_act_on("b")


def test_ethics_audit_serve_runs_the_endpoint_without_airflow(db_url: str, alert: dict, store: Store) -> None:
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = os.environ | {
        "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "plugins"),
        "ETHICS_AUDIT_DB_URL": db_url,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "ETHICS_AUDIT_SLACK_USERS": json.dumps(USERS),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "ethics_audit.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/ethics-audit"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read().decode()
            try:
                if httpx.get(f"{base}/health", timeout=2).json() == {"status": "ok"}:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "ethics-audit serve did not come up"
            time.sleep(0.2)
        body = press(alert["id"], user="U0TOM0002")
        forged = httpx.post(f"{base}/slack/actions", content=body, headers=signed(body, secret="x"), timeout=30)
        assert forged.status_code == 401
        assert state(store, alert["incidents"])[0][:2] == ("open", None)
        response = httpx.post(f"{base}/slack/actions", content=body, headers=signed(body), timeout=30)
        assert response.status_code == 200 and response.json()["actor"] == "Tom Okafor"
        assert [s[:2] for s in state(store, alert["incidents"])] == [("acknowledged", "Tom Okafor")] * 2
    finally:
        process.terminate()
        process.wait(10)
