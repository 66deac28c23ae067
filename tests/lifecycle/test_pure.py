"""The lifecycle's pure functions, without a database: incident rows after a replay, people's
actions, and how an alert settles. (The database-backed behaviour is in tests/test_incidents.py.)"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from ethics_audit.evaluate import judge_all
from ethics_audit.lifecycle import alerts, incidents
from ethics_audit.lifecycle.episodes import IncidentError, Observation, replay
from ethics_audit.results import MetricResult, Threshold
from helpers import WINDOW_START

WEEK = timedelta(weeks=1)
NOW = WINDOW_START + 10 * WEEK


def row(**kw):
    base = {
        "id": 1,
        "key": "fairness/dp/gender=f",
        "check": "fairness",
        "status": "open",
        "episode": 1,
        "muted_until": None,
        "acknowledged_at": None,
        "resolved_at": None,
        "resolved_by": None,
        "last_window_start": WINDOW_START,
        "latest_window_start": WINDOW_START,
    }
    return SimpleNamespace(**(base | kw))


def breach(value: float = 0.3):
    [finding] = judge_all(
        [MetricResult("fairness", "dp", value, slice={"gender": "f"}, threshold=Threshold(warn=0.1, critical=0.2))]
    )
    return finding


def test_a_new_breach_after_a_resolution_starts_a_new_episode_and_forgets_the_acknowledgement() -> None:
    incident = row(status="resolved", acknowledged_at=NOW - WEEK, muted_until=None, resolved_by="tom")
    before = replay([Observation(WINDOW_START, True, "warn")], clean_to_resolve=2, manual_resolutions=[WINDOW_START])
    window = WINDOW_START + WEEK
    verdict = incidents.Verdict("breach", breach())
    rows = {WINDOW_START: None, window: SimpleNamespace(value=0.3, ci_low=None, ci_high=None)}
    after = replay(
        [Observation(WINDOW_START, True, "warn"), Observation(window, True, "critical")],
        clean_to_resolve=2,
        manual_resolutions=[WINDOW_START],
    )
    updates, new_episode = incidents.incident_updates(incident, before, after, rows, verdict, window, 7, NOW)
    assert new_episode
    assert updates["episode"] == 2 and updates["status"] == "open"
    assert updates["acknowledged_at"] is None and updates["resolved_by"] is None
    assert updates["last_window_start"] == window and updates["last_run_id"] == 7
    assert incident.episode == 1  # nothing is changed in place: the caller applies the updates


def test_actions_are_one_table() -> None:
    until = NOW + WEEK
    assert incidents.action_updates("mute", row(), actor="priya", now=NOW, until=until) == {
        "muted_until": until,
        "status": "muted",
    }
    assert incidents.action_updates("acknowledge", row(status="muted"), actor="priya", now=NOW, until=None) == {
        "acknowledged_at": NOW,
        "acknowledged_by": "priya",
    }
    assert incidents.action_note("mute", "holiday", until).endswith("UTC: holiday")
    with pytest.raises(IncidentError, match="in the past"):
        incidents.check_until("mute", NOW - WEEK, NOW)
    with pytest.raises(IncidentError, match="already resolved"):
        incidents.check_action("resolve", [row(status="resolved")])


def test_an_alert_reopens_when_a_member_breaches_again() -> None:
    alert = SimpleNamespace(worst_severity="warn", last_window_start=WINDOW_START, reopened=0)
    members = [SimpleNamespace(status="open", severity="critical", worst_severity="critical")]
    updates, kind, active = alerts.settle(alert, members, was_active=False, created=False, window=NOW, now=NOW)
    assert kind == "reopened" and active == members
    assert updates == {
        "status": "active",
        "severity": "critical",
        "resolved_at": None,
        "worst_severity": "critical",
        "last_window_start": NOW,
        "reopened": 1,
    }
    assert alerts.action_kind("resolved", [], "active") == ("resolved", True)
    assert alerts.action_kind("resolved", members, "active") == ("updated", False)
    assert alerts.error_streak(iter([True, True, False, True])) == 3
