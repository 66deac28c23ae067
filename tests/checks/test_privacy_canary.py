"""The auditor must not leak: canary PII planted in a window appears in no output, table, log,
file, report or notification.

The full CLI runs as a subprocess against a fresh ``$ETHICS_AUDIT_HOME`` (SQLite store,
artifacts, reports), with and without ``--json``, with ``ETHICS_AUDIT_DEBUG=1`` logging, and
with every notification channel routed to local servers that speak the Slack, Jira, GitHub,
PagerDuty and webhook APIs. Then every stdout and stderr, every column of every table of the
results database, every file under the home (the per-run and quarterly reports included, and
the PDF's text), and every request body the servers received are searched for the canaries in
every spelling. The input data live outside the home. Every check family runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from ethics_audit import checks
from fakes.channels import GITHUB_TOKEN, JIRA_TOKEN, OWNERS, PD_KEY, SLACK_TOKEN, WEBHOOK_PATH, WEBHOOK_SECRET
from fakes.services import FakeGitHub, FakeJira, FakePagerDuty, FakeService, FakeSlack, FakeWebhook

REPO = Path(__file__).resolve().parents[2]
CANARY_EMAIL = "canary.k7q2@leak-probe.example"
CANARY_CARD = "4000 0566 5566 5556"  # a Luhn-valid Visa test number
CANARY_PHONE = "+44 7700 900461"
CANARY_NAME = "Quillon Vargwynne"  # read by content: a column named like a name holds it (masked: Q****** V********)
# raw ids (of people, predictions, appeals, explanations) must not leave the auditor either
CANARY_USER, CANARY_PREDICTION = "user-idcanary-q81", "pred-idcanary-z44"
CANARY_APPEAL, CANARY_EXPLANATION = "appeal-idcanary-m09", "expl-idcanary-r27"
FORBIDDEN = (
    CANARY_NAME, "Quillon", "Vargwynne", "quillon", "vargwynne",
    CANARY_EMAIL, "canary.k7q2", "leak-probe",
    CANARY_CARD, "4000056655665556", "4000-0566-5566-5556", "0566 5566",
    CANARY_PHONE, "447700900461", "7700 900461", "7700900461",
    "idcanary",
)  # fmt: skip
START, END = "2026-07-06", "2026-07-13"


def leaks(text: str) -> list[str]:
    return [canary for canary in FORBIDDEN if canary in text]


def _write_inputs(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 3000

    def window(start: str, with_canaries: bool) -> pd.DataFrame:
        frame = pd.DataFrame(
            {
                "prediction_id": [f"p{i}" for i in range(n)],
                "user_id": [f"u{i}" for i in rng.integers(0, 1200, n)],
                "ts": pd.Timestamp(start, tz="UTC") + pd.to_timedelta(rng.integers(0, 7 * 86400, n), unit="s"),
                "gender": rng.choice(["f", "m"], n),
                "age_band": rng.choice(["18-34", "35-54", "55+"], n),
                "region": rng.choice(["north", "south"], n),
                "score": rng.random(n).round(3),
                "in_training": rng.random(n) < 0.3,
                "post_text": rng.choice(["hello", "release v10.0.0.1", "order #402918374652"], n),
                "notes": rng.choice(["ok", "fine"], n),
                "contact_email": "redacted",
                "topic": rng.choice(["jobs", "news"], n),
                "full_name": "",
            }
        )
        # a gender gap, so the fairness alert carries its remedy section (threshold options included)
        frame["shown"] = (frame["score"] > np.where(frame["gender"] == "f", 0.7, 0.5)).astype(int)
        frame["clicked"] = (rng.random(n) < frame["score"]).astype(int)
        frame["targeting"] = rng.choice(["personalised", "contextual"], n)
        if with_canaries:
            ids = rng.choice(n, 40, replace=False)
            frame.loc[ids, "user_id"] = CANARY_USER
            frame.loc[ids, "targeting"] = "personalised"
            frame.loc[ids, "shown"] = 0
            frame.loc[ids, "prediction_id"] = [f"{CANARY_PREDICTION}-{i}" for i in range(len(ids))]
            planted = rng.choice(n, 60, replace=False)
            frame.loc[planted[:20], "post_text"] = f"write to {CANARY_EMAIL} about it"
            frame.loc[planted[20:40], "post_text"] = f"card {CANARY_CARD} please"
            frame.loc[planted[40:], "notes"] = f"call {CANARY_PHONE} or pay with {CANARY_CARD}"
            frame.loc[planted[:5], "contact_email"] = CANARY_EMAIL
            frame.loc[planted[5:15], "full_name"] = CANARY_NAME
        return frame

    window(START, True).to_parquet(folder / "window.parquet", index=False)
    window("2026-06-01", False).to_parquet(folder / "baseline.parquet", index=False)
    pd.DataFrame(
        {"entity_id": [f"u{i}" for i in range(1200)], "purpose": "ads", "event": "granted",
         "timestamp": pd.Timestamp("2025-01-01", tz="UTC")}
    ).to_parquet(folder / "consent.parquet", index=False)  # fmt: skip
    current = pd.read_parquet(folder / "window.parquet")
    canary_rows = current[current["user_id"] == CANARY_USER]
    pd.DataFrame(
        {"entity_id": [CANARY_USER, "u1", "u2"], "control": "personalised_ads", "value": "off",
         "timestamp": pd.Timestamp("2026-01-01", tz="UTC")}
    ).to_parquet(folder / "controls.parquet", index=False)  # fmt: skip
    pd.DataFrame(
        {
            "prediction_id": current["prediction_id"],
            "explanation_id": np.where(current["user_id"] == CANARY_USER, CANARY_EXPLANATION, "e"),
            "reason_codes": "interest;activity",
        }
    ).to_parquet(folder / "explanations.parquet", index=False)
    pd.DataFrame(
        {
            "appeal_id": [f"{CANARY_APPEAL}-{i}" for i in range(len(canary_rows))],
            "prediction_id": canary_rows["prediction_id"].to_numpy(),
            "filed_at": canary_rows["ts"].to_numpy() + pd.Timedelta(hours=2),
            "decided_at": canary_rows["ts"].to_numpy() + pd.Timedelta(days=9),
            "outcome": "overturned",
        }
    ).to_parquet(folder / "appeals.parquet", index=False)
    families = {
        "quality": {},
        "drift": {},
        "fairness": {"legitimate_factors": ["topic"]},
        "privacy": {
            "consent": {"source": {"path": str(folder / "consent.parquet")}},
            "retention": "3650d",
            "membership": {"column": "in_training"},
        },
        "transparency": {
            "min_group_size": 5,
            "explanations": {
                "source": {"path": str(folder / "explanations.parquet")},
                "columns": {"reason_codes": "reason_codes"},
            },
            "controls": {
                "source": {"path": str(folder / "controls.parquet")},
                "rules": [{"control": "personalised_ads", "value": "off", "forbids": {"targeting": ["personalised"]}}],
            },
            "appeals": {"source": {"path": str(folder / "appeals.parquet")}},
        },
    }
    spec = {
        "id": "canary-audit",
        "model": {"name": "canary", "version": "1", "purpose": "ads"},
        "window": {"size": "7d"},
        "source": {"path": str(folder / "window.parquet")},
        "reference": {"baseline": {"path": str(folder / "baseline.parquet")}},
        "columns": {
            "entity_id": "user_id",
            "prediction_id": "prediction_id",
            "timestamp": "ts",
            "prediction": "shown",
            "score": "score",
            "label": "clicked",
            "training_member": "in_training",
            "sensitive": ["gender"],
            "quasi_identifiers": ["gender", "age_band", "region"],
            "text": ["post_text"],
        },
        "checks": {name: config for name, config in families.items() if name in checks.CHECKS},
        "owners": OWNERS,
        "notifications": {
            "routes": [
                {"severities": ["warn", "critical"], "channels": ["console", "slack", "jira", "github", "webhook"]},
                {"severities": ["critical"], "channels": ["pagerduty"]},
            ]
        },
    }
    path = folder / "canary.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.fixture
def services() -> Iterator[dict[str, tuple[FakeService, dict[str, str]]]]:
    """Every external channel as a local server, with the environment that points the CLI at it."""
    slack, jira = FakeSlack(SLACK_TOKEN), FakeJira("audit-bot@example.com", JIRA_TOKEN)
    github, pagerduty, webhook = FakeGitHub(GITHUB_TOKEN), FakePagerDuty(PD_KEY), FakeWebhook(WEBHOOK_SECRET)
    servers = {
        "slack": (slack, {"SLACK_BOT_TOKEN": SLACK_TOKEN, "SLACK_API_URL": slack.api}),
        "jira": (jira, {"JIRA_URL": jira.url, "JIRA_USER": "audit-bot@example.com", "JIRA_API_TOKEN": JIRA_TOKEN}),
        "github": (github, {"GITHUB_TOKEN": GITHUB_TOKEN, "GITHUB_API_URL": github.url}),
        "pagerduty": (pagerduty, {"PAGERDUTY_EVENTS_URL": pagerduty.url, OWNERS["oncall_routing_key_env"]: PD_KEY}),
        "webhook": (
            webhook,
            {"ETHICS_AUDIT_WEBHOOK_URL": webhook.url + WEBHOOK_PATH, "ETHICS_AUDIT_WEBHOOK_SECRET": WEBHOOK_SECRET},
        ),
    }
    yield servers
    for server, _ in servers.values():
        server.stop()


def _cli(
    home: Path, *args: str, debug: bool = False, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        **(extra_env or {}),
        "PYTHONPATH": f"{REPO / 'plugins'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "ETHICS_AUDIT_HOME": str(home),
        "GX_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    env.pop("ETHICS_AUDIT_DB_URL", None)
    env.pop("ETHICS_AUDIT_DEBUG", None)
    if debug:
        env["ETHICS_AUDIT_DEBUG"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "ethics_audit.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=home.parent,
        timeout=600,
    )


def _database_text(home: Path) -> str:
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{home / 'results.db'}")
    cells = []
    try:
        with engine.connect() as conn:
            for table in sa.inspect(conn).get_table_names():
                for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                    # the ledger keeps each window's results zlib-compressed: read them as text too
                    cells += [zlib.decompress(v).decode() if isinstance(v, bytes) else str(v) for v in row]
    finally:
        engine.dispose()
    return "\n".join(cells)


@pytest.mark.slow
def test_canaries_are_found_and_appear_in_no_sink(tmp_path: Path, services: dict) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    home = tmp_path / "home"
    spec = _write_inputs(inputs)
    assert leaks(f"{CANARY_EMAIL} {CANARY_CARD} {CANARY_PHONE}")  # the search itself works
    env = {key: value for _, server_env in services.values() for key, value in server_env.items()}

    runs = [
        _cli(home, "run", str(spec), "--start", START, "--end", END, extra_env=env),
        _cli(home, "run", str(spec), "--start", START, "--end", END, "--json", extra_env=env),
        _cli(home, "run", str(spec), "--start", START, "--end", END, "--all", debug=True, extra_env=env),
        _cli(home, "history", "canary-audit", "--json"),
        _cli(home, "incidents", "list", "--status", "all", "--json"),
        _cli(home, "notify", "list", "--json"),
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr[-2000:]
    run_id = json.loads(runs[1].stdout)["run_id"]
    runs += [
        _cli(home, "report", "--run", str(run_id)),
        _cli(home, "report", "--quarter", "2026Q3", "--json"),
        _cli(home, "report", "--quarter", "2026Q3", "--public", "--epsilon", "0.5", "--no-pdf"),
        _cli(home, "verify", "--json"),
        _cli(home, "verify", "--report", str(home / "reports" / "2026Q3" / "ethics-report-2026Q3.html")),
        _cli(home, "export", "--quarter", "2026Q3", "--format", "dsa-art15"),
        _cli(home, "export", "--quarter", "2026Q3", "--format", "ll144", "--json"),
    ]
    for run in runs[-7:]:
        assert run.returncode == 0, run.stderr[-2000:]

    # the check did see every canary: otherwise their absence below would prove nothing
    outcome = json.loads(runs[1].stdout)
    assert outcome["summary"]["checks"]["privacy"]["status"] == "ran"
    critical = {(f["metric"], f["slice"].get("column")) for f in outcome["findings"] if f["severity"] == "critical"}
    assert {("email_share", "post_text"), ("card_count", "post_text"), ("phone_share", "notes"),
            ("card_count", "notes"), ("email_share", "contact_email")} <= critical  # fmt: skip
    # the alerts' remedy sections were built (the privacy one rescans the leaking columns) and sent
    remedies = outcome["summary"]["remedies"]
    assert {"fairness", "privacy"} <= set(remedies) and "post_text" in remedies["privacy"]["headline"]
    assert remedies["fairness"]["facts"]["options"]["options"]
    for name in ("slack", "jira", "github"):
        assert any(b"What drives it" in r.body for r in services[name][0].requests), name
    # the transparency family saw the planted ids: the ignored setting and the appeals are counted
    assert outcome["summary"]["checks"]["transparency"]["status"] == "ran"
    counted = {f["metric"]: f["value"] for f in outcome["findings"] if f["check"] == "transparency" and not f["slice"]}
    assert counted["appeals_received"] == 40 and counted["appeals_overturned"] == 40
    ignored = next(f for f in outcome["findings"] if f["metric"] == "decisions_ignoring_controls")
    assert ignored["value"] >= 40 and ignored["severity"] == "critical"
    names = next(f for f in outcome["findings"] if f["metric"] == "identifier_column_names")
    assert names["details"]["columns"] == {"contact_email": "email", "full_name": "name"}
    found_names = next(f for f in outcome["findings"] if f["metric"] == "name_share")
    assert found_names["severity"] == "critical" and found_names["details"]["examples"] == ["Q****** V********"]

    for run in runs:
        assert leaks(run.stdout) == [], f"stdout of {run.args[3:]}"
        assert leaks(run.stderr) == [], f"stderr of {run.args[3:]}"
    assert leaks(_database_text(home)) == []

    # every channel was really used (the alert reached each service), and no request carried a canary
    for name, (server, _) in services.items():
        assert server.requests, f"nothing reached {name}"
        for request in server.requests:
            assert leaks(request.path + json.dumps(request.query) + request.body.decode("utf-8", "replace")) == [], name

    # the Ethics pages of the Airflow plugin, rendered from the same store
    from ethics_audit.store import Store
    from ethics_audit.web import pages

    store = Store(f"sqlite:///{home / 'results.db'}")
    try:
        ethics = pages.overview(store, ["canary-audit"]) + (pages.audit_page(store, "canary-audit", can_act=True) or "")
    finally:
        store.dispose()
    assert 'data-audit="canary-audit"' in ethics and "/acknowledge" in ethics
    assert leaks(ethics) == []

    files = [p for p in home.rglob("*") if p.is_file()]
    assert {"results.db", "report.html", "ethics-report-2026Q3.html", "ll144-2026Q3.csv", "dsa-art15-2026Q3.json"} <= {
        p.name for p in files
    }
    for path in files:
        content = path.read_bytes().decode("utf-8", errors="replace")
        assert leaks(content) == [], f"{path.relative_to(home)}"
        # SQLite and some report formats store text as UTF-16 or escape it: check those spellings too
        assert leaks(path.read_bytes().decode("utf-16-le", errors="replace")) == [], f"{path.relative_to(home)}"
        assert leaks(re.sub(r"\\u00([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), content)) == []
    pdfs = [p for p in files if p.suffix == ".pdf"]
    if os.environ.get("CI", "").lower() == "true":
        assert pdfs and shutil.which("pdftotext"), "CI must print the PDF and read it back (.ci/run installs both)"
    if pdfs and shutil.which("pdftotext"):  # the PDF's streams are compressed: read its text
        for pdf in pdfs:
            text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
            assert "canary" in text.lower() and leaks(text) == [], pdf.name


@pytest.mark.parametrize("masked", ["c***@l***.example", "**** **** **** 5556", "+** **** ****61"])
def test_masked_forms_do_not_contain_a_canary(masked: str) -> None:
    assert leaks(masked) == []
