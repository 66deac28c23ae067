"""The runner with every channel at once, over real HTTP: re-runs, a channel down, and no secret anywhere."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from ethics_audit import checks
from ethics_audit.runner import audit_window
from ethics_audit.store import Store
from fakes import family as fake
from fakes import windows as w
from fakes.channels import OWNERS, SECRETS
from fakes.services import FakeGitHub, FakeJira, FakePagerDuty, FakeSlack, FakeWebhook
from helpers import make_spec

ALL = ["console", "slack", "jira", "github", "webhook"]


@pytest.fixture
def mean_score_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """A small real check: the window's mean score, warn above 0.5, critical above 0.8."""
    monkeypatch.setattr(checks, "CHECKS", {"quality": "fakes.family"})
    monkeypatch.setattr(fake, "BEHAVIOUR", {"quality": fake.mean_score("quality")})


def audited_spec(tmp_path: Path) -> object:
    routes = [{"channels": ALL}, {"severities": ["critical"], "channels": ["pagerduty"]}]
    return make_spec(
        {
            "owners": OWNERS,
            "columns": {"score": "score"},
            "checks": {"quality": {}},
            "notifications": {"routes": routes},
        },
        path=tmp_path / "spec.yaml",
    )


def run_week(spec, store: Store, week: int):
    start = w.week_start(week)
    return audit_window(spec, start, start + timedelta(weeks=1), store=store)


@pytest.mark.usefixtures("mean_score_check")
def test_the_same_window_ten_times_is_one_incident_one_ticket_one_thread_one_page(
    tmp_path: Path,
    store: Store,
    slack: FakeSlack,
    jira: FakeJira,
    github: FakeGitHub,
    pagerduty: FakePagerDuty,
    webhook: FakeWebhook,
    capsys: pytest.CaptureFixture,
) -> None:
    spec = audited_spec(tmp_path)
    w.write_scores(tmp_path / "data", [0.9, 0.85, 0.95])  # mean 0.9: critical
    outcomes = [run_week(spec, store, 0) for _ in range(10)]
    assert outcomes[0].delivery["sent"] == 6 and outcomes[0].summary["incidents"]["opened"] == [1]
    assert all(o.delivery["sent"] == 0 and not o.summary["incidents"]["alerts"] for o in outcomes[1:])
    assert len(store.incidents()) == 1 and store.incidents()[0]["occurrences"] == 1
    assert len(slack.top_level()) == 1 and slack.replies(slack.top_level()[0]["ts"]) == []
    assert len(jira.issues) == 1 and all(i["comments"] == [] for i in jira.issues.values())
    assert len(github.issues()) == 1 and github.issues()[0]["comments"] == []
    assert pagerduty.pages == 1 and len(pagerduty.events) == 1
    assert len(webhook.received) == 1
    assert capsys.readouterr().err.count("[ethics-audit alert]") == 1
    # the Slack message links the tickets created just before it
    blocks = str(slack.top_level()[0]["blocks"])
    assert f"{jira.url}/browse/ADSML-1" in blocks and "https://github.com/acme/ads-ml/issues/1" in blocks

    w.write_scores(tmp_path / "data", [0.6, 0.6, 0.6])  # the same window, now only a warning: that is news
    outcome = run_week(spec, store, 0)
    assert outcome.summary["incidents"]["updated"] == [1] and outcome.delivery["sent"] == 5  # not the pager
    assert len(slack.replies(slack.top_level()[0]["ts"])) == 1
    assert slack.contract_violations == [] and pagerduty.contract_violations == []


@pytest.mark.usefixtures("mean_score_check")
def test_a_channel_down_for_a_whole_run_delivers_on_the_next_run(
    tmp_path: Path, store: Store, slack: FakeSlack
) -> None:
    spec = make_spec(
        {
            "owners": OWNERS,
            "columns": {"score": "score"},
            "checks": {"quality": {}},
            "notifications": {"routes": [{"channels": ["slack"]}]},
        },
        path=tmp_path / "spec.yaml",
    )
    w.write_scores(tmp_path / "data", [0.7, 0.7], week=0)
    slack.fail("POST", r"chat\.postMessage", status=503, times=1000, body={"ok": False, "error": "service_unavailable"})
    first = run_week(spec, store, 0)
    assert first.status == "succeeded"  # a failed delivery never fails the audit
    assert first.delivery["retrying"] == 1 and slack.top_level() == []
    [waiting] = store.pending_notifications()
    assert waiting.kind == "opened" and "HTTP 503" in waiting.last_error

    slack.faults.clear()
    w.write_scores(tmp_path / "data", [0.75, 0.75], week=1)
    second = run_week(spec, store, 1)
    assert second.delivery["sent"] == 2 and store.pending_notifications() == []
    [root] = slack.top_level()
    assert "breach" in root["text"] and len(slack.replies(root["ts"])) == 1  # the parent first, then its reply


@pytest.mark.usefixtures("mean_score_check")
def test_no_secret_reaches_a_log_the_database_or_the_output(
    tmp_path: Path,
    db_url: str,
    slack: FakeSlack,
    jira: FakeJira,
    github: FakeGitHub,
    pagerduty: FakePagerDuty,
    webhook: FakeWebhook,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture,
) -> None:
    from typer.testing import CliRunner

    from ethics_audit.cli import app

    caplog.set_level(logging.DEBUG)  # slack_sdk, urllib3 and our own loggers at their most talkative
    monkeypatch.setenv("ETHICS_AUDIT_DB_URL", db_url)
    spec = audited_spec(tmp_path)
    w.write_scores(tmp_path / "data", [0.9, 0.9])
    good_slack, good_jira = slack.token, "test-jira-api-token-S3CRET-jira"
    monkeypatch.setenv("SLACK_BOT_TOKEN", "bad-slack-S3CRET-token")
    monkeypatch.setenv("JIRA_API_TOKEN", "bad-jira-S3CRET-token")
    store = Store(db_url)
    outcome = run_week(spec, store, 0)
    assert {e["channel"] for e in outcome.delivery["errors"]} == {"slack", "jira"}
    monkeypatch.setenv("SLACK_BOT_TOKEN", good_slack)
    monkeypatch.setenv("JIRA_API_TOKEN", good_jira)
    flushed = CliRunner().invoke(app, ["notify", "flush", "--json"])
    assert flushed.exit_code == 0 and '"sent": 2' in flushed.output
    listed = CliRunner().invoke(app, ["incidents", "show", "1", "--json"])
    secrets = [*SECRETS, "bad-slack-S3CRET-token", "bad-jira-S3CRET-token"]
    with store.engine.connect() as conn:
        dump = [
            str(row)
            for table in sa.inspect(store.engine).get_table_names()
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')).all()
        ]
    store.dispose()
    out, err = capsys.readouterr()
    everywhere = {
        "logs": caplog.text,
        "database": "\n".join(dump),
        "output": out + err + flushed.output + listed.output,
    }
    assert "Authorization" in caplog.text or "Sending a request" in caplog.text  # the logs were really captured
    assert len(dump) >= 15 and "ADSML-1" in everywhere["database"]  # runs, results, incident, alert, outbox...
    for where, text in everywhere.items():
        for secret in secrets:
            assert secret not in text, f"a secret leaked into the {where}"
        assert "S3CRET" not in text, f"something secret-looking leaked into the {where}"
