"""Jira and GitHub Issues over real HTTP: one ticket per alert, comments, transitions, never a duplicate."""

from __future__ import annotations

import pytest

from ethics_audit.notify import deliver_pending
from ethics_audit.notify.base import ticket_label
from ethics_audit.store import Store
from fakes import windows as w
from fakes.channels import JIRA_TOKEN, spec_routing
from fakes.services import FakeGitHub, FakeJira


def lifecycle(store: Store, spec) -> None:
    """Open (week 0), update (1), resolve (2, 3), reopen (4), delivering after each window."""
    for week, results in enumerate(
        [w.fairness(dp=0.15), w.fairness(dp=0.25), w.fairness(), w.fairness(), w.fairness(dp=0.12)]
    ):
        w.record(store, spec, week, results)
        result = deliver_pending(store)
        assert result["errors"] == [], result


# --------------------------------------------------------------------------- Jira


def test_jira_ticket_is_created_commented_closed_and_reopened(store: Store, jira: FakeJira) -> None:
    spec = spec_routing(["jira"])
    lifecycle(store, spec)
    [issue] = jira.issues.values()
    fields = issue["fields"]
    assert fields["project"] == {"key": "ADSML"} and fields["issuetype"] == {"name": "Task"}
    assert fields["labels"] == ["ethics-audit", ticket_label(store.alerts()[0]["key"])]
    assert fields["summary"].startswith("test-model: fairness breach (warn)")
    assert "demographic_parity_difference (attribute=gender) = 0.15 [0.13, 0.17]" in fields["description"]
    assert "owners: Priya Raman (ML owner), Tom Okafor (ethics officer)" in fields["description"]
    comments = [c["body"] for c in issue["comments"]]
    assert len(comments) == 3  # the update, the resolution, the reopening
    assert "breach continues (critical)" in comments[0]
    assert "resolved" in comments[1] and "breach is back" in comments[2]
    assert issue["status"] == "To Do"  # moved to Done on resolution, back on reopening
    transitions = [r.json()["transition"]["id"] for r in jira.calls("POST", r"/transitions$")]
    assert transitions == ["31", "41"]
    assert store.alerts()[0]["status"] == "active"


def test_jira_create_whose_answer_is_lost_makes_one_ticket(store: Store, jira: FakeJira) -> None:
    spec = spec_routing(["jira"])
    w.record(store, spec, 0, w.fairness(dp=0.15))
    jira.fail("POST", r"/rest/api/2/issue$", when="after", delay=1.5)  # created, but the answer is late
    assert deliver_pending(store)["sent"] == 1
    assert len(jira.issues) == 1
    assert len(jira.calls("GET", r"/search/jql$")) == 2  # looked before creating, both times

    w.record(store, spec, 1, w.fairness(dp=0.16))
    jira.fail("POST", r"/comment$", when="after", status=500)  # commented, then a 500
    assert deliver_pending(store)["sent"] == 1
    [issue] = jira.issues.values()
    assert len(issue["comments"]) == 1  # the retry found its marker in the comments


def test_jira_500_then_success_and_an_existing_ticket_is_reused(store: Store, jira: FakeJira) -> None:
    spec = spec_routing(["jira"])
    w.record(store, spec, 0, w.fairness(dp=0.15))
    label = ticket_label(f"{spec.id}/fairness/{w.week_start(0):%Y%m%dT%H%M}")
    jira.issues["ADSML-7"] = {
        "key": "ADSML-7",
        "id": "10007",
        "fields": {"project": {"key": "ADSML"}, "summary": "made by an earlier installation", "labels": [label]},
        "status": "In Progress",
        "comments": [],
    }
    jira.fail("GET", r"/search/jql$", status=500, times=2)
    assert deliver_pending(store)["sent"] == 1
    assert list(jira.issues) == ["ADSML-7"]  # found by its label: not created again
    assert store.alerts()[0]["id"] and store.incident(1)["alert"]["external"]["jira"]["key"] == "ADSML-7"


def test_jira_data_center_search_falls_back_to_api_v2(store: Store, jira: FakeJira) -> None:
    spec = spec_routing(["jira"])
    w.record(store, spec, 0, w.fairness(dp=0.15))
    jira.fail("GET", r"/rest/api/3/search/jql$", status=404, times=10, body={"errorMessages": ["no such API"]})
    assert deliver_pending(store)["sent"] == 1
    assert len(jira.calls("GET", r"/rest/api/2/search$")) == 1 and len(jira.issues) == 1


def test_jira_invalid_credentials_and_unknown_project(
    store: Store, jira: FakeJira, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JIRA_API_TOKEN", "wrong-S3CRET")
    spec = spec_routing(["jira"])
    w.record(store, spec, 0, w.fairness(dp=0.15))
    [error] = deliver_pending(store)["errors"]
    assert "credentials were rejected" in error["error"] and "HTTP 401" in error["error"]
    assert "JIRA_API_TOKEN" in error["error"] and "S3CRET" not in error["error"]
    assert jira.issues == {}

    monkeypatch.setenv("JIRA_API_TOKEN", JIRA_TOKEN)
    jira.projects = ("OTHER",)
    [error] = deliver_pending(store)["errors"]
    assert "creating the ticket was refused (HTTP 400: project: valid project is required)" in error["error"]


# --------------------------------------------------------------------------- GitHub


def test_github_issue_is_created_commented_closed_and_reopened(store: Store, github: FakeGitHub) -> None:
    spec = spec_routing(["github"])
    lifecycle(store, spec)
    [issue] = github.issues()
    assert [lb["name"] for lb in issue["labels"]] == ["ethics-audit", ticket_label(store.alerts()[0]["key"])]
    assert issue["title"].startswith("test-model: fairness breach (warn)")
    assert "(warn > 0.1, critical > 0.2)" in issue["body"]
    assert len(issue["comments"]) == 3
    states = [r.json() for r in github.calls("PATCH", r"/issues/1$")]
    assert states == [{"state": "closed", "state_reason": "completed"}, {"state": "open"}]
    assert issue["state"] == "open"


def test_github_lost_answers_make_one_issue_and_one_comment(store: Store, github: FakeGitHub) -> None:
    spec = spec_routing(["github"])
    w.record(store, spec, 0, w.fairness(dp=0.15))
    github.fail("POST", r"/issues$", when="after", delay=1.5)
    github.fail("GET", r"/issues$", status=502, times=1)
    assert deliver_pending(store)["sent"] == 1
    assert len(github.issues()) == 1

    w.record(store, spec, 1, w.fairness(dp=0.16))
    github.fail("POST", r"/comments$", when="after", delay=1.5)
    assert deliver_pending(store)["sent"] == 1
    assert len(github.issues()[0]["comments"]) == 1


def test_github_rate_limit_403_is_waited_out(store: Store, github: FakeGitHub, waits: list[float]) -> None:
    spec = spec_routing(["github"])
    w.record(store, spec, 0, w.fairness(dp=0.15))
    github.fail("GET", r"/issues$", status=403, headers={"Retry-After": "2"}, body={"message": "secondary rate limit"})
    assert deliver_pending(store)["sent"] == 1
    assert waits == [2.0] and len(github.issues()) == 1


def test_github_bad_credentials(store: Store, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-wrong-S3CRET")
    spec = spec_routing(["github"])
    w.record(store, spec, 0, w.fairness(dp=0.15))
    [error] = deliver_pending(store)["errors"]
    assert "HTTP 401: Bad credentials" in error["error"] and "GITHUB_TOKEN" in error["error"]
    assert "S3CRET" not in error["error"]


def test_each_incident_carries_its_alerts_tickets(store: Store, jira: FakeJira, github: FakeGitHub) -> None:
    spec = spec_routing(["jira", "github"])
    w.record(store, spec, 0, w.fairness(dp=0.15, ratio=0.7))
    assert deliver_pending(store)["sent"] == 2
    for incident in store.incidents():
        assert incident["external"]["jira"] == {"key": "ADSML-1", "url": f"{jira.url}/browse/ADSML-1"}
        assert incident["external"]["github"]["url"] == "https://github.com/acme/ads-ml/issues/1"
