"""The Ethics pages in a real ``airflow standalone``, driven in headless Chromium.

The same standalone as ``test_airflow_scheduler`` (its fixture and helpers), with the demo's
week 4 audited by a DAG run (the injected gender gap opens a fairness alert). Chromium signs in
on Airflow's login page, opens the Ethics overview (listing the demo's audit) and the "Ethics"
tab of the audit's DAG, and acknowledges an incident in that tab's page; the test then reads
the incident from the results database. Screenshots of both pages are written to
``$ETHICS_AUDIT_SCREENSHOTS`` (default: the test's temporary folder) and their paths printed.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from browser import Browser
from test_airflow_scheduler import (  # noqa: F401 - fixtures
    DAG_ID,
    Airflow,
    _connect_results,
    _results,
    airflow,
    databases,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.postgres]


def _audit_week_4(af: Airflow) -> None:
    deadline = time.monotonic() + 120
    while DAG_ID not in {d["dag_id"] for d in af.api("GET", "/dags")["dags"]}:
        assert time.monotonic() < deadline, "the audit DAG never appeared"
        time.sleep(2)
    af.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
    af.api("POST", f"/dags/{DAG_ID}/dagRuns", json={"dag_run_id": "ui-week-4", "logical_date": "2026-08-03T00:00:00Z"})
    for attempt in (1, 2):
        state = af.wait_for_run("ui-week-4")
        if state == "success":
            break
        # on an overloaded machine a task's call to the execution API can time out: one clean re-run
        print(f"attempt {attempt}: {af.tasks('ui-week-4')}; clearing the failed tasks")
        af.api(
            "POST",
            f"/dags/{DAG_ID}/clearTaskInstances",
            json={"dry_run": False, "dag_run_id": "ui-week-4", "only_failed": True, "reset_dag_runs": True},
        )
        time.sleep(3)
    assert state == "success", af.tasks("ui-week-4")


def test_the_ethics_pages_in_airflow_list_the_audit_show_its_tab_and_acknowledge_an_incident(
    airflow: Airflow,  # noqa: F811
    tmp_path: Path,
) -> None:
    shots = Path(os.environ.get("ETHICS_AUDIT_SCREENSHOTS") or tmp_path)
    af = airflow
    try:
        _connect_results(af)
        _audit_week_4(af)
        open_incidents = _results(
            af.results_url, "SELECT id, check_name, status FROM incidents WHERE status = 'open' ORDER BY id"
        )
        assert any(i["check_name"] == "fairness" for i in open_incidents), open_incidents
        browser = Browser(width=1440, height=1100)
        try:
            _drive(af, browser, shots, open_incidents)
        finally:
            browser.quit()
    except BaseException:
        print(af.diagnostics())
        raise


def _drive(af: Airflow, browser: Browser, shots: Path, open_incidents: list[dict]) -> None:
    password = json.loads((af.home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
    # anonymous: the plugin refuses before anything is read
    browser.open(f"{af.base}/ethics-audit/")
    assert "Not authenticated" in browser.page_text()

    # sign in on Airflow's own login page; the UI keeps the JWT in the _token cookie
    browser.open(f"{af.base}/auth/login/")
    browser.type(browser.find("input[name=username]"), "admin")
    browser.type(browser.find("input[name=password]"), password)
    browser.click(browser.find("button[type=submit]"))
    deadline = time.monotonic() + 60
    while "/auth/login" in browser.url:
        assert time.monotonic() < deadline, f"the login did not go through: {browser.page_text()[:500]}"
        time.sleep(0.3)

    # the overview, as the UI's "Ethics" navigation entry shows it
    browser.open(f"{af.base}/ethics-audit/")
    row = browser.find('tr.audit-row[data-audit="ad-delivery"]')
    assert "job-ad-delivery" in browser.cmd("GET", f"/element/{row}/text")
    overview = browser.screenshot(shots / "ethics-overview.png")
    text = browser.page_text()
    assert "Open problems" in text and "Bias and fairness" in text  # the week-4 alert, with its incidents
    browser.find(f"tr#incident-{open_incidents[0]['id']}")

    # the DAG's page in Airflow's UI has the "Ethics" tab; it shows the audit's page in an iframe
    browser.open(f"{af.base}/dags/{DAG_ID}")
    browser.click_text("a", "Ethics", timeout=60)
    frame = browser.find('iframe[title="Ethics"]', timeout=60)
    assert browser.url.endswith(f"/dags/{DAG_ID}/plugin/ethics-audit")
    browser.frame(frame)
    target = next(i["id"] for i in open_incidents if i["check_name"] == "fairness")
    form = f'form[action="/ethics-audit/audits/ad-delivery/incidents/{target}/acknowledge"]'
    browser.find(form)
    assert "week by week" in browser.page_text()
    browser.frame(None)
    audit_page = browser.screenshot(shots / "ethics-audit-tab.png")
    browser.frame(frame)
    browser.type(browser.find(f"{form} input[name=note]"), "on it, from the Airflow UI")
    browser.click(browser.find(f"{form} button"))
    browser.find(f'tr#incident-{target}[data-status="acknowledged"]')
    assert f"#{target} acknowledged by admin" in browser.page_text()
    browser.frame(None)
    acknowledged = browser.screenshot(shots / "ethics-audit-acknowledged.png")

    [incident] = _results(af.results_url, f"SELECT status, acknowledged_by FROM incidents WHERE id = {int(target)}")
    assert (incident["status"], incident["acknowledged_by"]) == ("acknowledged", "admin")
    [event] = _results(
        af.results_url,
        f"SELECT actor, note FROM incident_events WHERE incident_id = {int(target)} AND transition = 'acknowledged'",
    )
    assert (event["actor"], event["note"]) == ("admin", "on it, from the Airflow UI")
    print(f"screenshots: {overview} {audit_page} {acknowledged}")
