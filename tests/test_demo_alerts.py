"""The demo end to end with small real checks: each injected problem is one alert, printed on the
console, updated while it lasts, resolved after the clean weeks that follow it."""

from __future__ import annotations

import pytest

from ethics_audit import checks
from ethics_audit.demo import INJECTED, run_demo
from ethics_audit.store import open_store


def test_each_injected_problem_is_one_alert_that_resolves_in_the_clean_weeks(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(checks, "CHECKS", {f: "fakes.demo_checks" for f in ("quality", "drift", "fairness", "privacy")})
    result = run_demo(weeks=12, rows_per_week=5000)
    printed = [line for line in capsys.readouterr().err.splitlines() if line.startswith("[ethics-audit alert]")]

    # every injected problem starts an alert, except week 5: the week-4 pacing bug, still live
    starts = [(i.week, i.family) for i in INJECTED if "still live" not in i.what]
    assert starts == [(4, "fairness"), (8, "drift"), (8, "quality"), (9, "privacy"), (10, "privacy")]
    alerts = sorted((a["opened_week"], a["check"], a["resolved_week"]) for a in result["alerts"])
    assert [(week, check) for week, check, _ in alerts] == starts
    assert alerts == [
        (4, "fairness", 7),  # weeks 4-5, then clean weeks 6 and 7
        (8, "drift", 10),
        (8, "quality", 10),
        (9, "privacy", 11),  # the PII leak
        (10, "privacy", 12),  # the consent filter: a new problem, not the PII leak's thread
    ]
    assert sum(a["incidents"] for a in result["alerts"]) == 12  # one per breached (check, metric, slice)

    assert [line.split(": ", 1)[1] for line in printed] == [
        "fairness breach (critical), window 2026-07-27",
        "fairness breach continues (critical), window 2026-08-03",  # updated, not reopened
        "fairness resolved (was critical), window 2026-08-17",
        "drift breach (critical), window 2026-08-24",
        "quality breach (critical), window 2026-08-24",
        "privacy breach (critical), window 2026-08-31",
        "drift resolved (was critical), window 2026-09-07",
        "privacy breach (critical), window 2026-09-07",
        "quality resolved (was critical), window 2026-09-07",
        "privacy resolved (was critical), window 2026-09-14",
        "privacy resolved (was critical), window 2026-09-21",
    ]
    store = open_store()
    assert [i["status"] for i in store.incidents(statuses=[])] == ["resolved"] * 12
    assert store.pending_notifications() == []
    store.dispose()
