"""Slack over real HTTP: slack-sdk's WebClient against a local server that checks Slack's OpenAPI contract."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ethics_audit.notify import deliver_pending
from ethics_audit.store import Store
from fakes import windows as w
from fakes.channels import SLACK_TOKEN, spec_routing
from fakes.services import FakeSlack, FakeSlackWebhook


def texts(message: dict) -> str:
    """Everything a person reads in a message: its blocks' texts."""
    out = []
    for block in message["blocks"]:
        if "text" in block:
            out.append(block["text"]["text"])
        for element in block.get("elements", []):
            text = element.get("text", "")
            out.append(text["text"] if isinstance(text, dict) else text)  # a button's label is an object
    return "\n".join(out)


def test_an_alert_is_one_message_and_everything_after_it_goes_to_its_thread(store: Store, slack: FakeSlack) -> None:
    spec = spec_routing(["slack"])
    w.record(store, spec, 0, w.fairness(dp=0.05))
    w.record(store, spec, 1, w.fairness(dp=0.15, ratio=0.7))
    assert deliver_pending(store)["sent"] == 1
    [root] = slack.top_level()
    body = texts(root)
    assert root["blocks"][0]["type"] == "header" and "fairness breach" in root["blocks"][0]["text"]["text"]
    assert "*demographic_parity_difference* (attribute=gender)" in body
    assert "`0.15` [0.13, 0.17] vs warn &gt; 0.1, critical &gt; 0.2" in body  # value, interval, threshold
    assert "trend: ▁█  0.05 → 0.15" in body  # the trend over the stored windows
    assert "owners: Priya Raman (ML owner), Tom Okafor (ethics officer)" in body
    assert "run report: `" in body and "/run-2/report.html`" in body  # a local path is shown, not linked

    w.record(store, spec, 2, w.fairness(dp=0.25, ratio=0.7))
    w.record(store, spec, 3, w.fairness())
    w.record(store, spec, 4, w.fairness())
    assert deliver_pending(store)["sent"] == 2
    assert len(slack.top_level()) == 1
    update, resolution = slack.replies(root["ts"])
    assert "breach continues" in texts(update) and "critical" in texts(update)
    assert "resolved" in texts(resolution)
    assert [u["ts"] for u in slack.updates] == [root["ts"]] * 2  # the parent shows the escalation, then the end
    assert "resolved" in texts(slack.top_level()[0])
    assert slack.contract_violations == []


def test_a_lost_response_is_found_in_the_channel_not_posted_again(store: Store, slack: FakeSlack) -> None:
    spec = spec_routing(["slack"])
    w.record(store, spec, 0, w.fairness(dp=0.15))
    slack.fail("POST", r"chat\.postMessage", when="after", delay=1.5)  # posted, but the answer is late
    result = deliver_pending(store)
    assert result["sent"] == 1 and result["errors"] == []
    assert len(slack.top_level()) == 1
    assert len(slack.calls("POST", r"chat\.postMessage")) == 1
    assert len(slack.calls("POST", r"conversations\.history")) == 1  # the retry looked before posting
    [row] = store.notifications()
    assert row.status == "sent" and row.external_ref["ts"] == slack.top_level()[0]["ts"]

    w.record(store, spec, 1, w.fairness(dp=0.16))
    slack.fail("POST", r"chat\.postMessage", when="after", status=500)  # posted, then a 500
    assert deliver_pending(store)["sent"] == 1
    assert len(slack.replies(slack.top_level()[0]["ts"])) == 1
    assert slack.contract_violations == []


def test_server_errors_then_success_post_once(store: Store, slack: FakeSlack, waits: list[float]) -> None:
    spec = spec_routing(["slack"])
    w.record(store, spec, 0, w.fairness(dp=0.15))
    slack.fail("POST", r"chat\.postMessage", status=500, times=2, body={"ok": False, "error": "internal_error"})
    result = deliver_pending(store)
    assert result["sent"] == 1 and len(slack.top_level()) == 1
    assert waits == [0.5, 1.0]  # exponential backoff between the tries


def test_rate_limits_are_waited_out(store: Store, slack: FakeSlack, waits: list[float]) -> None:
    spec = spec_routing(["slack"])
    w.record(store, spec, 0, w.fairness(dp=0.15))
    slack.fail(
        "POST",
        r"chat\.postMessage",
        status=429,
        headers={"Retry-After": "3"},
        body={"ok": False, "error": "ratelimited"},
    )
    assert deliver_pending(store)["sent"] == 1
    assert waits == [3.0]

    w.record(store, spec, 1, w.fairness(dp=0.16))
    slack.fail("POST", r"chat\.postMessage", status=429, headers={"Retry-After": "600"}, body={"ok": False})
    now = datetime.now(timezone.utc)
    result = deliver_pending(store, now=now)
    assert result["retrying"] == 1 and "rate limited" in result["errors"][0]["error"]
    [row] = store.pending_notifications()
    assert row.next_attempt_at >= now + timedelta(seconds=600)  # a long pause is honoured by the next pass
    assert deliver_pending(store, now=now + timedelta(seconds=300))["sent"] == 0
    assert deliver_pending(store, now=now + timedelta(seconds=601))["sent"] == 1
    assert len(slack.replies(slack.top_level()[0]["ts"])) == 1


def test_a_reply_waits_for_its_parent(store: Store, slack: FakeSlack) -> None:
    spec = spec_routing(["slack"])
    w.record(store, spec, 0, w.fairness(dp=0.15))
    slack.fail("POST", r"chat\.postMessage", status=503, times=3, body={"ok": False, "error": "service_unavailable"})
    assert deliver_pending(store)["retrying"] == 1
    w.record(store, spec, 1, w.fairness(dp=0.16))
    slack.fail("POST", r"chat\.postMessage", status=503, times=3, body={"ok": False, "error": "service_unavailable"})
    result = deliver_pending(store)
    assert (result["retrying"], result["waiting"]) == (1, 1)  # the update was not sent before its parent
    assert slack.top_level() == []
    assert deliver_pending(store)["sent"] == 2
    [root] = slack.top_level()
    assert len(slack.replies(root["ts"])) == 1


def test_an_invalid_token_is_a_clear_error_without_the_token(
    store: Store, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "wrong-S3CRET-token-value")
    spec = spec_routing(["slack"])
    w.record(store, spec, 0, w.fairness(dp=0.15))
    w.record(store, spec, 1, w.drift(0.6))  # a second alert: the channel is down, it is not even tried
    result = deliver_pending(store)
    assert (result["retrying"], result["waiting"]) == (1, 1)
    [error] = result["errors"]
    assert "token was rejected" in error["error"] and "invalid_auth" in error["error"]
    assert "SLACK_BOT_TOKEN" in error["error"] and "S3CRET" not in error["error"]
    assert len(slack.calls("POST", r"chat\.postMessage")) == 1  # no retries: retrying will not fix a token
    assert all("S3CRET" not in (n.last_error or "") for n in store.notifications())
    monkeypatch.setenv("SLACK_BOT_TOKEN", SLACK_TOKEN)
    assert deliver_pending(store)["sent"] == 2


def test_a_missing_channel_or_token_says_what_to_set(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = spec_routing(["slack"])
    w.record(store, spec, 0, w.fairness(dp=0.15))
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.setattr("ethics_audit.notify.slack.connection", lambda conn_id: None)  # no Airflow here
    [error] = deliver_pending(store)["errors"]
    assert "set SLACK_BOT_TOKEN or the Airflow connection slack_api_default" in error["error"]


def test_the_token_can_come_from_an_airflow_connection(
    store: Store, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    monkeypatch.delenv("SLACK_BOT_TOKEN")
    monkeypatch.delenv("SLACK_API_URL")
    connection = {"conn_type": "slack", "password": SLACK_TOKEN, "extra": {"base_url": slack.api}}
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", json.dumps(connection))
    spec = spec_routing(["slack"])
    w.record(store, spec, 0, w.fairness(dp=0.15))
    assert deliver_pending(store)["sent"] == 1 and len(slack.top_level()) == 1


def test_auth_test_checks_the_token(slack: FakeSlack) -> None:
    from ethics_audit.notify.base import DeliverySettings
    from ethics_audit.notify.slack import SlackChannel

    assert SlackChannel(settings=DeliverySettings(timeout=2)).check() == {"team": "Audit", "user": "ethics-audit"}
    assert slack.contract_violations == []


def test_the_incoming_webhook_posts_block_kit_and_hides_its_url(
    store: Store, slack_webhook: FakeSlackWebhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = spec_routing(["slack_webhook"])
    w.record(store, spec, 0, w.fairness(dp=0.15))
    assert deliver_pending(store)["sent"] == 1
    [post] = slack_webhook.posts
    assert post["text"].startswith("test-model: fairness breach (warn)")
    assert any("demographic_parity_difference" in b.get("text", {}).get("text", "") for b in post["blocks"])

    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack_webhook.url + "/hooks/T0/B0/wrong-S3CRET")
    w.record(store, spec, 1, w.fairness(dp=0.16))
    [error] = deliver_pending(store)["errors"]
    assert "HTTP 403" in error["error"] and "SLACK_WEBHOOK_URL" in error["error"]
    assert "S3CRET" not in error["error"]


def test_a_plain_message_from_the_quarterly_job_reaches_its_channel(store: Store, slack: FakeSlack) -> None:
    """The shape ``jobs.quarterly_report`` queues: its own kind, the Slack channel named in the payload."""
    payload = {
        "kind": "quarterly_report",
        "quarter": "2026Q3",
        "audit_id": "ad-delivery",
        "slack_channel": "#ads-ml-ethics",
        "html": "/srv/reports/2026Q3.html",
        "pdf": None,
        "text": "The 2026Q3 ethics audit report for job-ad-delivery is ready: /srv/reports/2026Q3.html",
    }
    assert store.enqueue_notification("ad-delivery", "slack", "quarterly-report:2026Q3:ad-delivery", payload)
    assert not store.enqueue_notification("ad-delivery", "slack", "quarterly-report:2026Q3:ad-delivery", payload)
    assert deliver_pending(store)["sent"] == 1
    [message] = slack.top_level()
    assert message["text"] == "ad-delivery: quarterly report"
    assert "is ready: /srv/reports/2026Q3.html" in texts(message)
    assert slack.contract_violations == []


def test_the_run_report_is_rendered_once_and_linked(
    store: Store, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import sys
    import types

    from ethics_audit.settings import home

    rendered = []

    def render_run_report(store_: Store, run_id: int):
        rendered.append(run_id)
        path = home() / "artifacts" / "test-model" / f"run-{run_id}" / "report.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("<html></html>")
        store_.add_artifact(run_id, "run_report", path)  # as the real one records it
        return path

    module = types.ModuleType("ethics_audit.reports")
    module.render_run_report = render_run_report
    monkeypatch.setitem(sys.modules, "ethics_audit.reports", module)
    monkeypatch.setenv("ETHICS_AUDIT_REPORT_BASE_URL", "https://audits.example.com/files/")
    spec = spec_routing(["slack", "console"])
    w.record(store, spec, 0, w.fairness(dp=0.15))
    assert deliver_pending(store)["sent"] == 2
    [run_id] = rendered  # once, for Slack; the console names the command instead of rendering HTML
    url = f"https://audits.example.com/files/artifacts/test-model/run-{run_id}/report.html"
    assert f"<{url}|run report>" in texts(slack.top_level()[0])
    assert f"run report: ethics-audit report --run {run_id}" in capsys.readouterr().err


def test_delivery_only_reads_the_report_link_and_never_renders_a_report(
    store: Store, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    import types

    from ethics_audit import runner

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("delivery rendered a run report")

    module = types.ModuleType("ethics_audit.reports")
    module.render_run_report = refuse
    monkeypatch.setitem(sys.modules, "ethics_audit.reports", module)
    monkeypatch.setattr(runner, "publish_report", lambda *args, **kwargs: None)  # the run rendered none
    w.record(store, spec_routing(["slack"]), 0, w.fairness(dp=0.15))
    assert deliver_pending(store)["sent"] == 1
    body = texts(slack.top_level()[0])
    assert "run report: not available" in body and "report.html" not in body
