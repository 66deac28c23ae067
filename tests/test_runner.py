"""The runner end to end over real parquet files and a real store: statuses, idempotency, failures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from ethics_audit import checks
from ethics_audit.errors import DataError, SourceError
from ethics_audit.results import MetricResult, Severity, Threshold
from ethics_audit.runner import audit_window
from ethics_audit.store import Store
from fakes import family as fake
from helpers import WINDOW_END, WINDOW_START, make_spec

REPO = Path(__file__).resolve().parents[1]


def write_window(folder: Path, scores: list[float], start=WINDOW_START) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    n = len(scores)
    pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(n)],
            "ts": pd.date_range(start, periods=n, freq="1h", tz="UTC")
            if n
            else pd.Series([], dtype="datetime64[ns, UTC]"),
            "score": scores,
            "decision": [int(x >= 0.5) for x in scores],
            "gender": ["f", "m"] * (n // 2) + ["f"] * (n % 2),
        }
    ).to_parquet(folder / f"{start:%Y%m%d}.parquet")


@pytest.fixture
def fake_checks(monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setattr(checks, "CHECKS", {f: "fakes.family" for f in ("quality", "drift", "fairness", "privacy")})
    monkeypatch.setattr(fake, "BEHAVIOUR", {})
    return fake.BEHAVIOUR


def spec_in(tmp_path: Path, families: dict) -> object:
    return make_spec(
        {"columns": {"score": "score"}, "checks": families, "source": {"path": "data/*.parquet"}},
        path=tmp_path / "spec.yaml",
    )


def test_audit_window_judges_and_records(tmp_path: Path, store: Store, fake_checks: dict) -> None:
    write_window(tmp_path / "data", [0.9, 0.6, 0.6])  # mean 0.7: above warn 0.5, below critical 0.8
    fake_checks["quality"] = fake.mean_score("quality")
    spec = spec_in(tmp_path, {"quality": {}})
    outcome = audit_window(spec, WINDOW_START, WINDOW_END, store=store)
    assert outcome.status == "succeeded" and outcome.rows == 3
    mean = next(f for f in outcome.findings if f.result.metric == "mean_score")
    assert mean.result.value == pytest.approx(0.7) and mean.severity is Severity.WARN
    assert outcome.summary["checks"]["quality"]["worst"] == "warn"
    stored = store.current_findings(spec.id, WINDOW_START, WINDOW_END)
    assert [(f.result.metric, f.severity) for f in stored] == [(f.result.metric, f.severity) for f in outcome.findings]


def test_rows_outside_the_window_are_not_audited(tmp_path: Path, store: Store, fake_checks: dict) -> None:
    write_window(tmp_path / "data", [0.1] * 24 * 8)  # 8 days of hourly rows: one day falls outside
    fake_checks["quality"] = fake.mean_score("quality")
    outcome = audit_window(spec_in(tmp_path, {"quality": {}}), WINDOW_START, WINDOW_END, store=store)
    assert outcome.rows == 24 * 7


def test_rerun_three_times_leaves_one_set_of_results(tmp_path: Path, store: Store, fake_checks: dict) -> None:
    write_window(tmp_path / "data", [0.2, 0.4])
    fake_checks["quality"] = fake.mean_score("quality")
    spec = spec_in(tmp_path, {"quality": {}})
    runs = [audit_window(spec, WINDOW_START, WINDOW_END, store=store).run_id for _ in range(3)]
    with store.session() as s:
        per_run = dict(s.execute(sa.text("SELECT run_id, COUNT(*) FROM metric_results GROUP BY run_id")).all())
    assert list(per_run) == [runs[-1]]
    assert len(store.history(spec.id)) == 1
    assert len(store.history(spec.id, attempts=True)) == 3


def test_a_family_error_is_recorded_and_the_others_still_run(tmp_path: Path, store: Store, fake_checks: dict) -> None:
    write_window(tmp_path / "data", [0.2, 0.4])

    def bad_input(config, data):
        raise DataError("checks.drift: column 'age' is not in the window; fix columns.features")

    def bug(config, data):
        raise ZeroDivisionError("oops")

    fake_checks.update(quality=fake.mean_score("quality"), drift=bad_input, fairness=bug)
    spec = make_spec(
        {
            "columns": {"score": "score", "prediction": "decision", "sensitive": ["gender"]},
            "reference": {"previous_windows": 1},
            "checks": {"quality": {}, "drift": {}, "fairness": {}},
        },
        path=tmp_path / "spec.yaml",
    )
    outcome = audit_window(spec, WINDOW_START, WINDOW_END, store=store)
    assert outcome.status == "partial"
    by_family = {f.result.check: f for f in outcome.findings if f.result.metric == "check_error"}
    assert by_family["drift"].severity is Severity.ERROR
    assert "column 'age'" in by_family["drift"].reason
    assert "internal error in the fairness check: ZeroDivisionError" in by_family["fairness"].reason
    assert any(f.result.metric == "mean_score" for f in outcome.findings)


def test_blocking_quality_failure_skips_the_other_families(tmp_path: Path, store: Store, fake_checks: dict) -> None:
    write_window(tmp_path / "data", [0.2])

    def missing_column(config, data):
        return [
            MetricResult(
                "quality",
                "column_present",
                0,
                slice={"column": "label"},
                threshold=Threshold(critical=1, direction="below"),
                details={"blocking": True},
            )
        ]

    fake_checks.update(quality=missing_column, fairness=fake.mean_score("fairness"))
    spec = spec_in(tmp_path, {"quality": {}, "privacy": {}})
    outcome = audit_window(spec, WINDOW_START, WINDOW_END, store=store)
    assert outcome.status == "partial"
    assert outcome.summary["checks"]["privacy"]["status"] == "skipped"
    assert "column_present" in outcome.summary["checks"]["privacy"]["reason"]
    assert not [f for f in outcome.findings if f.result.check == "privacy"]


def test_empty_window_is_never_a_silent_pass(tmp_path: Path, store: Store, fake_checks: dict) -> None:
    write_window(tmp_path / "data", [0.5], start=WINDOW_START - pd.Timedelta(days=30))
    fake_checks["quality"] = fake.mean_score("quality")
    outcome = audit_window(spec_in(tmp_path, {"quality": {}}), WINDOW_START, WINDOW_END, store=store)
    assert outcome.status == "empty" and outcome.rows == 0
    quality = {f.result.metric: f.severity for f in outcome.findings if f.result.check == "quality"}
    # no rows is below the default min_rows of 1: a finding, not a pass; no history to drop from yet
    assert quality == {"row_count": Severity.CRITICAL, "row_count_drop": Severity.INSUFFICIENT_DATA}


def test_unreadable_source_fails_the_run_and_keeps_earlier_results(
    tmp_path: Path, store: Store, fake_checks: dict
) -> None:
    write_window(tmp_path / "data", [0.9, 0.9])
    fake_checks["quality"] = fake.mean_score("quality")
    spec = spec_in(tmp_path, {"quality": {}})
    first = audit_window(spec, WINDOW_START, WINDOW_END, store=store)
    for file in (tmp_path / "data").iterdir():
        file.unlink()
    with pytest.raises(SourceError, match="no files match"):
        audit_window(spec, WINDOW_START, WINDOW_END, store=store)
    assert [r.run_id for r in store.history(spec.id)] == [first.run_id]
    attempts = store.history(spec.id, attempts=True)
    assert attempts[0].status == "failed" and "no files match" in attempts[0].error


def test_a_family_that_is_not_available_says_so(tmp_path: Path, store: Store, monkeypatch) -> None:
    monkeypatch.setattr(checks, "CHECKS", {})
    write_window(tmp_path / "data", [0.1])
    outcome = audit_window(spec_in(tmp_path, {"quality": {}}), WINDOW_START, WINDOW_END, store=store)
    errors = [f for f in outcome.findings if f.severity is Severity.ERROR]
    assert len(errors) == 1 and "not available" in errors[0].reason
    assert outcome.status == "partial"


KILLED_RUN = """
import sys
from datetime import datetime
from ethics_audit import checks
from ethics_audit.runner import audit_window
from ethics_audit.spec import load_spec
from ethics_audit.store import Store
from fakes import family
checks.CHECKS = {"quality": "fakes.family"}
family.BEHAVIOUR["quality"] = family.mean_score("quality")
spec_path, db_url, start, end = sys.argv[1:]
audit_window(load_spec(spec_path), datetime.fromisoformat(start), datetime.fromisoformat(end), store=Store(db_url))
"""


def test_killing_a_run_midway_leaves_the_earlier_results(tmp_path: Path, db_url: str, fake_checks: dict) -> None:
    write_window(tmp_path / "data", [0.9, 0.7])
    fake_checks["quality"] = fake.mean_score("quality")
    spec = spec_in(tmp_path, {"quality": {}})
    store = Store(db_url)
    first = audit_window(spec, WINDOW_START, WINDOW_END, store=store)
    write_window(tmp_path / "data", [0.1, 0.1])  # new data: a finished rerun would change the value

    marker = tmp_path / "started"
    env = {
        **os.environ,
        "FAKE_SLEEP_FAMILY": "quality",
        "FAKE_MARKER": str(marker),
        "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO / "tests")]),
    }
    args = [str(spec.path), db_url, WINDOW_START.isoformat(), WINDOW_END.isoformat()]
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, *args], env=env)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, "the child run ended before it was killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    current = store.current_findings(spec.id, WINDOW_START, WINDOW_END)
    assert next(f for f in current if f.result.metric == "mean_score").result.value == pytest.approx(0.8)
    attempts = store.history(spec.id, attempts=True)
    assert [a.status for a in attempts] == ["running", "succeeded"]
    assert attempts[1].run_id == first.run_id and attempts[1].is_current
    # the next run of the audit, in any window, sees that the killed attempt's process is gone
    write_window(tmp_path / "data", [0.2], start=WINDOW_END)
    audit_window(spec, WINDOW_END, WINDOW_END + (WINDOW_END - WINDOW_START), store=store)
    killed = store.get_run(attempts[0].run_id)
    assert killed.status == "abandoned" and f"its process {proc.pid} on" in killed.error
    store.dispose()
