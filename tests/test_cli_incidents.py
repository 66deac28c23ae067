"""`ethics-audit incidents ...` and `ethics-audit notify ...`: human output, --json, and clear errors."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from ethics_audit.cli import app, main
from ethics_audit.store import Store
from fakes import windows as w
from helpers import make_spec


@pytest.fixture
def recorded(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Store:
    """Two alerts: a gender gap (two incidents, one resolved since) and a drift breach."""
    monkeypatch.setenv("ETHICS_AUDIT_DB_URL", db_url)
    monkeypatch.setenv("ETHICS_AUDIT_ACTOR", "priya")
    monkeypatch.setenv("COLUMNS", "160")  # a terminal wide enough for the tables
    store = Store(db_url)
    spec = make_spec({"owners": {"people": ["Priya"]}})
    w.record(store, spec, 0, w.fairness(dp=0.15, ratio=0.7) + w.drift(0.6))
    w.record(store, spec, 1, w.fairness(dp=0.25) + w.drift(0.6))
    w.record(store, spec, 2, w.fairness(dp=0.25) + w.drift(0.6))
    yield store
    store.dispose()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout  # the console channel writes alerts to stderr


def test_list_and_show(recorded: Store) -> None:
    code, out = run("incidents", "list", "--json")
    listed = json.loads(out)["incidents"]
    assert code == 0 and [(i["metric"], i["status"]) for i in listed] == [
        ("demographic_parity_difference", "open"),
        ("drift_share", "open"),
    ]
    code, out = run("incidents", "list", "--status", "all")
    assert code == 0 and "demographic_parity_ratio" in out and "resolved" in out
    assert "demographic_parity_difference (attribute=gender)" in out and "0.25 [0.23, 0.27]" in out
    dp = listed[0]["id"]
    code, out = run("incidents", "show", str(dp))
    assert code == 0 and "breached in 3 window(s) since 2026-07-06" in out and "warn > 0.1, critical > 0.2" in out
    assert "opened" in out and "updated" in out
    shown = json.loads(run("incidents", "show", str(dp), "--json")[1])
    assert [e["transition"] for e in shown["events"]] == ["opened", "updated", "updated"]
    assert [x["outcome"] for x in shown["windows"]] == ["breach", "breach", "breach"]


def test_ack_mute_resolve_record_who_and_deliver(recorded: Store, capsys: pytest.CaptureFixture) -> None:
    dp, drift = (i["id"] for i in recorded.incidents(statuses=["open"]))
    code, out = run("incidents", "ack", str(dp), "--note", "checking the pacing config")
    assert code == 0 and f"acknowledged #{dp}; 1 notification(s) queued" in out
    assert "console" not in out  # the console channel prints to stderr, not into the command's output
    code, out = run("incidents", "mute", str(drift), "--until", "7d", "--by", "tom", "--json")
    muted = json.loads(out)
    until = datetime.fromisoformat(muted["incidents"][0]["muted_until"])
    assert code == 0 and abs(until - (datetime.now(timezone.utc) + timedelta(days=7))) < timedelta(minutes=1)
    assert muted["delivery"]["test-model"]["sent"] == 1
    code, out = run("incidents", "resolve", str(dp), "--by", "tom", "--note", "pacing fixed")
    assert code == 0 and "resolved" in out
    events = [(e["transition"], e["actor"], e["note"]) for e in recorded.incident(dp)["events"]]
    assert ("acknowledged", "priya", "checking the pacing config") in events
    assert ("resolved", "tom", "pacing fixed") in events
    assert recorded.incident(drift)["status"] == "muted"


def test_notify_list_and_flush(recorded: Store) -> None:
    code, out = run("notify", "list", "--json")
    rows = json.loads(out)["notifications"]
    # two alerts opened in the first window, and each updated in the two windows after it
    assert code == 0 and {r["status"] for r in rows} == {"pending"}
    assert [r["kind"] for r in rows][::-1] == ["opened", "opened", "updated", "updated", "updated", "updated"]
    code, out = run("notify", "flush", "--json")
    assert code == 0 and json.loads(out)["sent"] == 6
    code, out = run("notify", "list", "--status", "sent")
    assert code == 0 and out.count("console") == 6


def test_mistakes_are_one_clear_line(recorded: Store, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    for args, message in (
        (["incidents", "ack", "999"], "incident 999 does not exist"),
        (["incidents", "show", "999"], "incident 999 does not exist"),
        (["incidents", "mute", "1", "--until", "2020-01-01"], "is in the past"),
    ):
        monkeypatch.setattr(sys, "argv", ["ethics-audit", *args])
        with pytest.raises(SystemExit) as exit_:
            main()
        err = capsys.readouterr().err
        assert exit_.value.code == 1 and message in err and "Traceback" not in err
    for args, message in (
        (["incidents", "mute", "1", "--until", "someday"], "not an ISO date"),
        (["history"], "Missing argument"),  # usage errors are usage errors, not "a bug in ethics-audit"
    ):
        monkeypatch.setattr(sys, "argv", ["ethics-audit", *args])
        with pytest.raises(SystemExit) as exit_:
            main()
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and message in err and "internal error" not in err


def test_run_says_what_happened_to_incidents_and_notifications(
    tmp_path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ethics_audit import checks
    from fakes import family as fake

    monkeypatch.setenv("ETHICS_AUDIT_DB_URL", db_url)
    monkeypatch.setenv("COLUMNS", "160")
    monkeypatch.setattr(checks, "CHECKS", {"quality": "fakes.family"})
    monkeypatch.setattr(fake, "BEHAVIOUR", {"quality": fake.mean_score("quality")})
    make_spec({"columns": {"score": "score"}, "checks": {"quality": {}}}, path=tmp_path / "spec.yaml")
    w.write_scores(tmp_path / "data", [0.7, 0.7])
    code, out = run("run", str(tmp_path / "spec.yaml"), "--start", "2026-07-06", "--end", "2026-07-13")
    assert code == 0 and "incidents: 1 opened" in out and "notifications: 1 sent" in out
    code, out = run("run", str(tmp_path / "spec.yaml"), "--start", "2026-07-06", "--end", "2026-07-13", "--json")
    document = json.loads(out)
    assert document["summary"]["incidents"]["alerts"] == [] and document["delivery"]["sent"] == 0
