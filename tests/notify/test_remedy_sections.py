"""Remedy sections reach the ticket, the Slack thread (its first reply) and stay within each
service's size limits: the demo's week-4 gender gap through the runner and the outbox, over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ethics_audit import demo
from ethics_audit.notify import render
from ethics_audit.remedies import render as remedy_render
from ethics_audit.runner import audit_window
from ethics_audit.spec import load_spec
from ethics_audit.store import Store
from fakes.channels import OWNERS
from fakes.services import FakeGitHub, FakeJira, FakeSlack

REPO = Path(__file__).resolve().parents[2]


def demo_spec(tmp_path: Path, families: set[str], channels: tuple[str, ...] = ("slack", "jira", "github")) -> object:
    data = yaml.safe_load((REPO / demo.DEMO_SPEC).read_text())
    data["checks"] = {name: data["checks"][name] for name in families}
    data["owners"] = OWNERS
    data["notifications"] = {"routes": [{"severities": ["warn", "critical"], "channels": list(channels)}]}
    path = tmp_path / "ad_delivery.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_spec(path)


@pytest.fixture
def demo_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ETHICS_AUDIT_HOME", str(tmp_path / "home"))
    demo.generate(tmp_path / "home" / "demo", weeks=5, rows_per_week=6000)
    return tmp_path / "home"


def test_week_4_section_reaches_the_ticket_and_the_first_slack_reply(
    tmp_path: Path, demo_home: Path, store: Store, slack: FakeSlack, jira: FakeJira, github: FakeGitHub
) -> None:
    spec = demo_spec(tmp_path, {"fairness"})
    start, end = demo.week_window(4)
    outcome = audit_window(spec, start, end, store=store, now=end)
    assert outcome.delivery["sent"] == 3 and outcome.delivery["errors"] == []
    section = outcome.summary["remedies"]["fairness"]
    assert section["facts"]["verdict"] == "persists"
    assert store.get_run(outcome.run_id).summary["remedies"]["fairness"]["headline"] == section["headline"]

    (parent,) = slack.top_level()
    first, *_ = slack.replies(parent["ts"])
    assert first["blocks"][0]["type"] == "header" and "What drives it" in first["blocks"][0]["text"]["text"]
    reply = str(first["blocks"])
    assert "NOT explained by job_category" in reply and "demographic parity" in reply
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in first["blocks"]) and len(first["blocks"]) <= 50
    assert slack.contract_violations == []

    (issue,) = jira.issues.values()
    assert "What drives it / What would fix it (fairness)" in issue["fields"]["description"]
    assert "NOT explained by job_category" in issue["fields"]["description"]
    assert "||job_category||rows||" in issue["fields"]["description"]  # the strata as a Jira table
    (gh,) = github.issues()
    assert "### What drives it / What would fix it (fairness)" in gh["body"]
    assert "| engineering |" in gh["body"] and "Option, equalized odds" in gh["body"]

    # the run report shows the section in the fairness part; the quarterly report in the problem's row
    from ethics_audit.reports import build_quarterly_report, render_run_report

    page = render_run_report(store, outcome.run_id).read_text()
    assert "What drives it / What would fix it" in page and "NOT explained by job_category" in page
    assert "Threshold options (stated, never applied)" in page
    quarterly = build_quarterly_report(store, "2026Q3", out_dir=tmp_path / "q", pdf=False)
    text = Path(quarterly["html"]).read_text()
    assert text.count("What drives it:") == 1 and "NOT explained by job_category" in text
    public = build_quarterly_report(store, "2026Q3", out_dir=tmp_path / "p", pdf=False, public=True, epsilon=0.5)
    assert "What drives it" not in Path(public["html"]).read_text()  # measured values stay out of it

    # re-running the window sends nothing again: the reply carries its own marker
    again = audit_window(spec, start, end, store=store, now=end)
    assert again.delivery["sent"] == 0 and len(slack.replies(parent["ts"])) == 1


def huge_section() -> dict:
    row = ["stratum-with-a-long-name", 1234, "30.1%", "17.2%", "+12.9 pp [+9.1 pp, +16.8 pp]", "+0.131"]
    return {
        "family": "fairness",
        "headline": "gender: f are selected at 16.1% vs 31.5% for m",
        "drivers": [f"driver {i}: " + "x" * 400 for i in range(40)],
        "fixes": [f"Option {i}: " + "y" * 400 for i in range(40)],
        "tables": [{"title": "strata", "columns": ["s", "rows", "a", "b", "gap", "dd"], "rows": [row] * 3000}],
        "notes": ["n" * 5000],
    }


@pytest.mark.parametrize(("style", "limit"), [("jira", 32_000), ("markdown", 65_000), ("plain", 4_000)])
def test_a_huge_section_is_shortened_cleanly_with_a_link_to_the_report(style: str, limit: int) -> None:
    payload = {"remedy": huge_section()}
    body = render.with_remedy("summary line", payload, limit=limit, link="https://reports.example/run-7", style=style)
    assert len(body) <= limit
    assert body.splitlines()[-1].endswith("the whole section is in the run report: https://reports.example/run-7)")
    assert body.startswith("summary line\n\n") and "driver 0" in body


def test_slack_blocks_of_a_huge_section_stay_within_block_kit_limits() -> None:
    blocks = remedy_render.slack_blocks(huge_section(), link="https://reports.example/run-7")
    assert len(blocks) <= remedy_render.SLACK_BLOCKS and blocks[0]["type"] == "header"
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert all(len(t) <= remedy_render.SLACK_SECTION_CHARS for t in texts)
    assert any("the whole section is in the run report: https://reports.example/run-7" in t for t in texts)


def test_a_lost_answer_to_the_parent_or_the_reply_posts_neither_twice(
    tmp_path: Path, demo_home: Path, store: Store, slack: FakeSlack
) -> None:
    spec = demo_spec(tmp_path, {"fairness"}, channels=("slack",))
    # the parent is posted but its answer is a 500; then the same for the section's reply
    slack.fail("POST", r"chat\.postMessage", when="after", status=500, times=2)
    start, end = demo.week_window(4)
    outcome = audit_window(spec, start, end, store=store, now=end)
    assert outcome.delivery["sent"] == 1, outcome.delivery
    (parent,) = slack.top_level()
    (reply,) = slack.replies(parent["ts"])
    assert reply["blocks"][0]["type"] == "header" and "What drives it" in reply["blocks"][0]["text"]["text"]
    # each posted once: the retry found the parent, then the reply, by their markers
    assert len(slack.calls("POST", r"chat\.postMessage")) == 2
