"""The CLI as a user meets it: exit codes, JSON shapes, messages without tracebacks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from ethics_audit import checks
from ethics_audit.cli import main
from fakes import family as fake
from helpers import BASE_SPEC, fresh_python, make_spec

FINDING_KEYS = {"check", "metric", "slice", "value", "ci_low", "ci_high", "n", "threshold", "severity"}


def cli(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    old = sys.argv
    sys.argv = ["ethics-audit", *args]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = old
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def audit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A spec over two weeks of data, with a real little check registered as `quality`."""
    monkeypatch.setattr(checks, "CHECKS", {"quality": "fakes.family"})
    monkeypatch.setattr(fake, "BEHAVIOUR", {"quality": fake.mean_score("quality", warn=0.5, critical=0.8)})
    (tmp_path / "data").mkdir()
    pd.DataFrame(
        {
            "user_id": ["a", "b", "c", "d"],
            "ts": pd.to_datetime(["2026-07-06", "2026-07-07", "2026-07-13", "2026-07-14"], utc=True),
            "score": [0.9, 0.7, 0.1, 0.2],
        }
    ).to_parquet(tmp_path / "data" / "p.parquet")
    make_spec({"columns": {"score": "score"}, "checks": {"quality": {}}}, path=tmp_path / "spec.yaml")
    return tmp_path / "spec.yaml"


def test_run_json_has_the_documented_shape(capsys, audit: Path) -> None:
    code, out, _ = cli(capsys, "run", str(audit), "--start", "2026-07-06", "--end", "2026-07-13", "--json")
    assert code == 0
    result = json.loads(out)
    assert {"run_id", "audit_id", "window_start", "window_end", "status", "rows", "findings"} <= set(result)
    assert result["audit_id"] == "test-model" and result["rows"] == 2 and result["status"] == "succeeded"
    assert result["window_start"] == "2026-07-06T00:00:00+00:00"
    mean = next(f for f in result["findings"] if f["metric"] == "mean_score")
    assert FINDING_KEYS <= set(mean)
    assert mean["value"] == pytest.approx(0.8) and mean["severity"] == "warn"
    assert mean["threshold"] == {"direction": "above", "warn": 0.5, "critical": 0.8}


def test_run_prints_a_human_summary_and_fail_on(capsys, audit: Path) -> None:
    code, out, _ = cli(capsys, "run", str(audit), "--start", "2026-07-06", "--end", "2026-07-13")
    assert code == 0
    assert "test-model" in out and "mean_score" in out and "1 warn" in out
    code, _, _ = cli(capsys, "run", str(audit), "--start", "2026-07-06", "--end", "2026-07-13", "--fail-on", "warn")
    assert code == 1
    code, _, _ = cli(capsys, "run", str(audit), "--start", "2026-07-06", "--end", "2026-07-13", "--fail-on", "critical")
    assert code == 0


def test_backfill_and_history(capsys, audit: Path) -> None:
    code, out, _ = cli(capsys, "backfill", str(audit), "--start", "2026-07-06", "--end", "2026-07-20", "--json")
    assert code == 0
    runs = json.loads(out)["runs"]
    assert [r["window_start"][:10] for r in runs] == ["2026-07-06", "2026-07-13"]
    assert [r["worst_severity"] for r in runs] == ["warn", "ok"]
    code, out, _ = cli(capsys, "history", "test-model", "--json")
    assert code == 0
    history = json.loads(out)["runs"]
    assert [h["window_start"][:10] for h in history] == ["2026-07-13", "2026-07-06"]
    code, _, err = cli(capsys, "history", "nope")
    assert code == 1 and "no history for audit 'nope'" in err and "test-model" in err


def test_validate_exit_codes_and_messages(capsys, tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    make_spec(path=good)
    code, out, _ = cli(capsys, "validate", str(good))
    assert code == 0 and "1 valid, 0 invalid" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(json.dumps({**BASE_SPEC, "window": {"size": "weekly"}, "extra": 1}))
    code, out, _ = cli(capsys, "validate", str(tmp_path), "--json")
    assert code == 2
    problems = json.loads(out)["problems"]
    assert {(p["field"], p["file"]) for p in problems} == {("window.size", str(bad)), ("extra", str(bad))}


def test_schema_is_json(capsys) -> None:
    code, out, _ = cli(capsys, "schema")
    assert code == 0 and json.loads(out)["title"] == "AuditSpec"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["run", "missing.yaml", "--start", "2026-07-06", "--end", "2026-07-13"],
            "missing.yaml: (top level): cannot read",
        ),
        (["run", "{spec}", "--start", "last monday", "--end", "2026-07-13"], "is not an ISO date"),
        (["run", "{spec}", "--start", "2026-07-13", "--end", "2026-07-06"], "must be after its start"),
        (["backfill", "{spec}", "--start", "2026-07-06", "--end", "2026-07-08"], "no whole 1w windows"),
        (["run"], "Missing argument 'SPEC'"),
        (["frobnicate"], "No such command 'frobnicate'"),
    ],
)
def test_user_errors_are_one_clear_line_not_a_traceback(capsys, audit: Path, args: list[str], message: str) -> None:
    code, out, err = cli(capsys, *[a.replace("{spec}", str(audit)) for a in args])
    assert code in (1, 2)
    assert message in err + out
    assert "Traceback" not in err + out


def test_the_installed_command_runs_without_airflow_or_heavy_imports(tmp_path: Path) -> None:
    """`--help` must be fast: no Airflow, Evidently, GX or pandas at import."""
    probe = (
        "import sys; sys.argv=['ethics-audit','--help']\n"
        "from ethics_audit import cli\n"
        "heavy = [m for m in ('airflow','evidently','great_expectations','fairlearn','pandas') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = fresh_python(probe)
    assert "HEAVY []" in out
