"""The Ethics pages in Airflow's own api-server app (``create_app``, plugins mounted as in production):
anonymous requests refused, reading needs read access to the audit's DAG, acting needs edit access,
actions recorded as the Airflow user through the CLI's store methods. Tokens are real JWTs of the
simple auth manager, sent as the UI sends them (the ``_token`` cookie) or as a bearer header."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from fakes import windows as w
from fakes.channels import spec_routing

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.fixture(scope="module")
def api() -> Any:
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    return TestClient(create_app(apps="core"), base_url="http://localhost:8080")


def token(role: str | None, name: str = "ann") -> str:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=name, role=role))


@pytest.fixture
def audit(results_conn: str) -> Iterator[dict]:
    """The results database (the ``ethics_audit_db`` connection) with one fairness alert of two incidents."""
    from ethics_audit.store import Store

    store = Store(results_conn)
    spec = spec_routing(["console"])
    w.record(store, spec, 0, w.fairness(dp=0.15, ratio=0.7))
    [alert] = store.alerts()
    yield {"store": store, "alert": alert, "ids": alert["incidents"]}
    store.dispose()


def status(store: Any, incident_id: int) -> tuple:
    item = store.incident(incident_id)
    return item["status"], item["acknowledged_by"], len(item["events"])


def get(api: Any, path: str, who: str | None = None, **kwargs: Any) -> Any:
    cookies = {"_token": who} if who else {}
    return api.get(f"/ethics-audit{path}", cookies=cookies, **kwargs)


def post(api: Any, path: str, who: str | None = None, data: dict | None = None, **kwargs: Any) -> Any:
    api.cookies.clear()
    if who:
        api.cookies.set("_token", who)
    try:
        return api.post(f"/ethics-audit{path}", data=data or {}, follow_redirects=False, **kwargs)
    finally:
        api.cookies.clear()


PAGES = ["/", "/audits/test-model", "/dags/ethics_audit__test-model", "/audits/test-model/runs/1/report"]


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_and_forged_requests_are_refused(api: Any, audit: dict, path: str) -> None:
    assert get(api, path).status_code == 401
    assert get(api, path, who="not-a-jwt").status_code == 403
    forged = token("admin")[:-6] + "AAAAAA"
    assert get(api, path, who=forged).status_code == 403


def test_actions_need_a_user_with_edit_access(api: Any, audit: dict) -> None:
    store, first = audit["store"], audit["ids"][0]
    before = status(store, first)
    path = f"/audits/test-model/incidents/{first}/acknowledge"
    assert post(api, path, data={"note": "x"}).status_code == 401
    assert post(api, path, who=token("viewer"), data={"note": "x"}).status_code == 403
    assert post(api, path, who=token(None), data={"note": "x"}).status_code == 403
    # an editor, but the form comes from another site
    assert (
        post(api, path, who=token("user"), data={"note": "x"}, headers={"Origin": "https://evil.example"}).status_code
        == 403
    )
    assert status(store, first) == before


def test_reading_needs_read_access_to_the_audits_dag(api: Any, audit: dict) -> None:
    nobody = token(None, "nobody")
    assert get(api, "/audits/test-model", who=nobody).status_code == 403
    assert "test-model" not in get(api, "/", who=nobody).text  # the overview lists only what one may read
    viewer = get(api, "/audits/test-model", who=token("viewer"))
    assert viewer.status_code == 200
    assert "week by week" in viewer.text and "Acknowledge</button>" not in viewer.text
    assert "need edit access to the DAG <code>ethics_audit__test-model</code>" in viewer.text
    overview = get(api, "/", who=token("viewer"))
    assert overview.status_code == 200 and 'data-audit="test-model"' in overview.text
    # the bearer header works as well as the cookie (an API client)
    bearer = api.get("/ethics-audit/audits/test-model", headers={"Authorization": f"Bearer {token('viewer')}"})
    assert bearer.status_code == 200
    assert get(api, "/audits/no-such-audit", who=token("admin")).status_code == 404


def test_an_editor_acknowledges_mutes_and_resolves_as_the_logged_in_user(api: Any, audit: dict) -> None:
    store, (first, second) = audit["store"], audit["ids"]
    editor = token("user", "priya")
    page = get(api, "/audits/test-model", who=editor)
    assert page.status_code == 200
    assert f'action="/ethics-audit/audits/test-model/incidents/{first}/acknowledge"' in page.text

    done = post(api, f"/audits/test-model/incidents/{first}/acknowledge", who=editor, data={"note": "looking at it"})
    assert done.status_code == 303
    assert done.headers["location"].startswith("/ethics-audit/audits/test-model?message=%23")
    item = store.incident(first)
    assert (item["status"], item["acknowledged_by"]) == ("acknowledged", "priya")
    assert [(e["actor"], e["note"]) for e in item["events"] if e["transition"] == "acknowledged"] == [
        ("priya", "looking at it")
    ]
    twice = post(api, f"/audits/test-model/incidents/{first}/acknowledge", who=editor, data={"note": "again"})
    assert "is%20acknowledged%20by%20priya%3B%20nothing%20to%20acknowledge" in twice.headers["location"]
    assert len(store.incident(first)["events"]) == len(item["events"])  # the form sent twice changed nothing
    shown = get(api, done.headers["location"].removeprefix("/ethics-audit"), who=editor).text
    assert f"#{first} acknowledged by priya" in shown
    assert re.search(rf'id="incident-{first}" data-status="acknowledged"', shown)

    muted = post(
        api, f"/audits/test-model/incidents/{second}/mute", who=editor, data={"until": "2099-01-01", "note": ""}
    )
    assert muted.status_code == 303
    assert store.incident(second)["status"] == "muted"
    assert store.incident(second)["muted_until"].startswith("2099-01-01")
    bad = post(api, f"/audits/test-model/incidents/{second}/mute", who=editor, data={"until": "soon"})
    assert "error%3A%20mute%20until" in bad.headers["location"]

    resolved = post(api, f"/audits/test-model/incidents/{first}/resolve", who=editor, data={"note": "fixed upstream"})
    assert resolved.status_code == 303
    assert store.incident(first)["status"] == "resolved" and store.incident(first)["resolved_by"] == "priya"
    again = post(api, f"/audits/test-model/incidents/{first}/resolve", who=editor)
    assert "already%20resolved" in again.headers["location"]
    assert post(api, "/audits/test-model/incidents/999/resolve", who=editor).status_code == 404


def test_run_and_quarterly_reports_open_with_read_access(api: Any, audit: dict) -> None:
    viewer = token("viewer")
    report = get(api, "/audits/test-model/runs/1/report", who=viewer)
    assert report.status_code == 200 and "<title>Audit report: test-model, " in report.text
    assert get(api, "/audits/another/runs/1/report", who=viewer).status_code == 404
    quarterly = get(api, "/audits/test-model/quarterly?quarter=2026Q3", who=viewer)
    assert quarterly.status_code == 200 and "Ethics audit report, 2026 Q3" in quarterly.text
    assert get(api, "/audits/test-model/quarterly?quarter=2026Q7", who=viewer).status_code == 400
    assert get(api, "/dags/some_other_dag", who=viewer).text.count("is not an ethics audit DAG") == 1
