"""Soak: 12 windows re-run 20 times each while every channel fails in turn (down, 500, 429, slow).

Whatever fails, each alert ends with exactly one ticket in Jira, one issue in GitHub, one
thread in Slack and one page in PagerDuty, and nothing is left undelivered. "slow" is the
hard case: the service makes the ticket or message after the client has timed out.
"""

from __future__ import annotations

import itertools
import time

import pytest

from ethics_audit.notify import deliver_pending
from ethics_audit.store import Store
from fakes import windows as w
from fakes.channels import spec_routing

CHANNELS = ["jira", "github", "slack", "pagerduty"]
CREATE = {
    "jira": ("POST", r"/rest/api/2/issue"),  # creates and comments
    "github": ("POST", r"/issues"),
    "slack": ("POST", r"chat\.postMessage"),
    "pagerduty": ("POST", r"/v2/enqueue"),
}
MODES = ["down", "500", "429", "slow"]


def inject(server, channel: str, mode: str) -> None:
    method, path = CREATE[channel]
    if mode == "down":
        server.fail(method, ".*", status=503, times=1000, body={"ok": False, "error": "service_unavailable"})
    elif mode == "500":
        server.fail(method, path, status=500, times=2, body={"ok": False, "error": "internal_error"})
    elif mode == "429":
        server.fail(
            method, path, status=429, times=1, headers={"Retry-After": "1"}, body={"ok": False, "error": "ratelimited"}
        )
    else:  # applied after the client's 0.5 s timeout, answered to nobody
        server.fail(method, path, when="late", delay=0.7, times=1)


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_twelve_windows_twenty_reruns_every_channel_failing_in_turn(
    store: Store, jira, github, slack, pagerduty
) -> None:
    servers = {"jira": jira, "github": github, "slack": slack, "pagerduty": pagerduty}
    spec = spec_routing(["jira", "github", "slack"], critical=["pagerduty"])
    faults = itertools.cycle([(c, m) for m in MODES for c in CHANNELS])
    started = time.monotonic()
    for week in range(12):
        dp = 0.25 if week % 3 else 0.27  # critical throughout: one alert, updated every window
        for _ in range(20):
            channel, mode = next(faults)
            inject(servers[channel], channel, mode)
            w.record(store, spec, week, w.fairness(dp=dp))
            deliver_pending(store)
            with servers[channel].lock:
                servers[channel].faults.clear()
    time.sleep(1.0)  # the last slow creates land
    w.record(store, spec, 12, w.fairness(dp=0.25))  # one more update: a late copy is undone now
    for _ in range(3):
        deliver_pending(store, include_not_due=True)
    elapsed = time.monotonic() - started

    alerts = store.alerts()
    assert len(alerts) == 1
    rows = store.notifications(limit=10_000)
    assert {r.status for r in rows} == {"sent"}, [
        (r.id, r.channel, r.status, r.last_error) for r in rows if r.status != "sent"
    ]
    assert len(jira.open_issues()) == 1
    assert (
        sum(
            i["status"] != "Done" or not any("Duplicate of" in c["body"] for c in i["comments"])
            for i in jira.issues.values()
        )
        == 1
    )
    assert len([i for i in github.issues() if i["state_reason"] != "duplicate"]) == 1
    assert len(slack.top_level()) == 1
    assert pagerduty.pages == 1 and len(pagerduty.incidents) == 1
    assert elapsed < 150, f"the soak took {elapsed:.0f} s"
