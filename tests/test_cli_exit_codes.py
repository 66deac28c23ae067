"""Issue 14, part 4: `run` and `backfill` exit codes a scheduler can trust."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ethics_audit import checks
from ethics_audit.errors import DataError
from ethics_audit.results import MetricResult, Threshold
from fakes import family as fake
from helpers import make_spec
from test_cli import cli

WEEK = ("--start", "2026-07-06", "--end", "2026-07-13")


@pytest.fixture
def spec_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A spec whose `quality` and `drift` families behave as each test says."""
    monkeypatch.setattr(checks, "CHECKS", {"quality": "fakes.family", "privacy": "fakes.family"})
    (tmp_path / "data").mkdir()
    pd.DataFrame(
        {
            "user_id": ["a", "b", "c"],
            "ts": pd.to_datetime(["2026-07-06", "2026-07-07", "2026-07-14"], utc=True),
            "score": [0.9, 0.7, 0.1],
        }
    ).to_parquet(tmp_path / "data" / "p.parquet")

    def make(quality, drift) -> Path:
        monkeypatch.setattr(fake, "BEHAVIOUR", {"quality": quality, "privacy": drift})
        make_spec({"columns": {"score": "score"}, "checks": {"quality": {}, "privacy": {}}}, path=tmp_path / "s.yaml")
        return tmp_path / "s.yaml"

    return make


def _errors(config, data):
    raise DataError("checks.privacy: column 'age' is not in the window; fix columns.features")


def _blocking(config, data):
    return [
        MetricResult(
            "quality", "column_missing", 1, slice={"column": "device"},
            threshold=Threshold(critical=0.0), details={"blocking": True},
        )
    ]  # fmt: skip


def test_a_clean_run_exits_0_and_a_warning_only_with_fail_on(capsys, spec_with) -> None:
    spec = spec_with(fake.mean_score("quality", warn=0.5, critical=0.95), fake.mean_score("privacy"))
    assert cli(capsys, "run", str(spec), *WEEK)[0] == 0
    assert cli(capsys, "run", str(spec), *WEEK, "--fail-on", "warn")[0] == 1
    assert cli(capsys, "run", str(spec), *WEEK, "--fail-on", "critical")[0] == 0
    code, _, err = cli(capsys, "run", str(spec), *WEEK, "--fail-on", "bad")
    assert code == 2 and "use warn or critical" in err


def test_a_family_that_errored_exits_4_without_fail_on(capsys, spec_with) -> None:
    spec = spec_with(fake.mean_score("quality"), _errors)
    code, out, err = cli(capsys, "run", str(spec), *WEEK)
    assert code == 4
    assert "only partly audited" in err and "privacy error" in err and "column 'age'" in err
    code, out, _ = cli(capsys, "run", str(spec), *WEEK, "--json")
    assert code == 4 and json.loads(out)["status"] == "partial"


def test_a_blocking_quality_problem_exits_4(capsys, spec_with) -> None:
    spec = spec_with(_blocking, fake.mean_score("privacy"))
    code, _, err = cli(capsys, "run", str(spec), *WEEK)
    assert code == 4 and "privacy skipped" in err and "required column 'device' is missing" in err
    # the blocking finding is critical: --fail-on critical answers first (as for empty windows)
    assert cli(capsys, "run", str(spec), *WEEK, "--fail-on", "critical")[0] == 1


def test_backfill_exits_4_when_a_window_was_partial(capsys, spec_with) -> None:
    spec = spec_with(fake.mean_score("quality"), _errors)
    code, out, _ = cli(capsys, "backfill", str(spec), "--start", "2026-07-06", "--end", "2026-07-20", "--json")
    assert code == 4 and [r["status"] for r in json.loads(out)["runs"]] == ["partial", "partial"]


def test_exit_codes_are_ordered():
    from ethics_audit import exits

    assert exits.worst([0, 1, 3, 4]) == 4 and exits.worst([0, 1, 3]) == 3 and exits.worst([0, 1]) == 1
    assert exits.worst([]) == 0
