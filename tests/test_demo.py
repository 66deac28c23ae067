"""The demo end to end with the real check families: every week comes out as its injected problems
say, each problem is one alert printed on the console, updated while it lasts, resolved after
the clean weeks that follow it; and running the demo again sends nothing twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from ethics_audit.demo import INJECTED, run_demo
from ethics_audit.store import open_store


def alert_lines(capsys: pytest.CaptureFixture) -> list[str]:
    err = capsys.readouterr().err
    return [line.split(": ", 1)[1] for line in err.splitlines() if line.startswith("[ethics-audit alert]")]


@pytest.mark.slow
def test_the_demo_finds_exactly_the_injected_problems_and_alerts_once(capsys: pytest.CaptureFixture) -> None:
    result = run_demo(weeks=12, rows_per_week=8000)
    printed = alert_lines(capsys)

    for week in result["weeks"]:
        injected = sorted({i.family for i in INJECTED if i.week == week["week"]})
        assert week["breached"] == injected, week
        assert week["status"] == "succeeded" and week["as_expected"]
    assert result["all_as_expected"]

    # every injected problem starts an alert, except week 5: the week-4 pacing bug, still live
    starts = [(i.week, i.family) for i in INJECTED if "still live" not in i.what]
    alerts = sorted((a["opened_week"], a["check"], a["resolved_week"]) for a in result["alerts"])
    assert [(week, check) for week, check, _ in alerts] == starts
    assert alerts == [
        (2, "transparency", 4),  # the Android release without explanations
        (4, "fairness", 7),  # weeks 4-5, then clean weeks 6 and 7
        (6, "transparency", 8),  # the ignored personalised-ads setting
        (7, "transparency", 9),  # women's appeals: a new problem, not the setting's thread
        (8, "drift", 10),
        (8, "quality", 10),
        (9, "privacy", 11),  # the PII leak
        (10, "privacy", 12),  # the consent filter: a new problem, not the PII leak's thread
    ]
    assert printed == [
        "transparency breach (critical), window 2026-07-13",
        "fairness breach (critical), window 2026-07-27",
        "transparency resolved (was critical), window 2026-07-27",
        "fairness breach continues (critical), window 2026-08-03",  # updated, not reopened
        "transparency breach (critical), window 2026-08-10",
        "fairness resolved (was critical), window 2026-08-17",
        "transparency breach (critical), window 2026-08-17",
        "drift breach (critical), window 2026-08-24",
        "quality breach (critical), window 2026-08-24",
        "transparency resolved (was critical), window 2026-08-24",
        "privacy breach (critical), window 2026-08-31",
        "transparency resolved (was critical), window 2026-08-31",
        "drift resolved (was critical), window 2026-09-07",
        "privacy breach (critical), window 2026-09-07",
        "quality resolved (was critical), window 2026-09-07",
        "privacy resolved (was critical), window 2026-09-14",
        "privacy resolved (was critical), window 2026-09-21",
    ]
    # each transparency problem shows in its own metrics, in its own week
    found = {
        w["week"]: {k.split(".")[1] for k in w["breaches"] if k.startswith("transparency.")} for w in result["weeks"]
    }
    assert found[2] == {"explanation_coverage", "adverse_explanation_coverage"}
    assert found[6] == {"decisions_ignoring_controls"}
    assert {"overturn_rate_difference", "decided_past_sla_share", "median_days_to_decide"} <= found[7]
    store = open_store()
    incidents = store.incidents(statuses=[])
    assert len(incidents) >= len(alerts) and {i["status"] for i in incidents} == {"resolved"}
    assert store.pending_notifications() == []
    store.dispose()
    html = Path(result["report"]["html"]).read_text()
    assert html.count("job-ad-delivery") > 1
    # the demo ends by checkpointing the ledger (12 windows and the report) and verifying it,
    # signed with a key made for this run only; the report prints the same tree head
    ledger = result["ledger"]
    assert ledger["verified"] and ledger["problems"] == [] and ledger["ephemeral_key"]
    assert ledger["checkpoint"]["tree_size"] == 13 and ledger["checked"]["results"] > 0
    assert ledger["checkpoint"]["root_hash"] in html and ledger["public_key"] in html
    assert ledger["checked"]["report_numbers"] > 0

    again = run_demo(weeks=12, rows_per_week=8000)  # the same data, every window re-audited
    assert alert_lines(capsys) == []  # nothing is sent twice
    assert again["all_as_expected"]
    assert len(again["alerts"]) == len(result["alerts"])
    # the re-run superseded every window; the first report's checkpoint still holds
    assert again["ledger"]["verified"] and again["ledger"]["checkpoint"]["tree_size"] == 26
