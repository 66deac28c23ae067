"""Staging a window on disk: a reloaded AuditData is the same data and gives the same results."""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ethics_audit import checks, runner, staging
from ethics_audit.data import AuditData, PendingArtifact
from ethics_audit.demo import generate, week_window
from ethics_audit.errors import DataError, SourceError
from ethics_audit.results import MetricResult, Status, Threshold
from ethics_audit.runner import FamilyOutput
from ethics_audit.sources import load_window
from ethics_audit.spec import load_spec, parse_spec
from fakes import family as fake
from helpers import WINDOW_END, WINDOW_START, make_data, make_spec

REPO = Path(__file__).resolve().parents[1]
FAMILIES = ("quality", "drift", "fairness", "privacy", "transparency")


@pytest.fixture(scope="module")
def demo_week(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, AuditData]:
    """Week 9 of the demo (leaked PII in free text), read by the real sources."""
    root = tmp_path_factory.mktemp("demo")
    generate(root, weeks=9, rows_per_week=2000)
    folder = root  # the data sits in the spec's folder, which file sources may read
    text = (REPO / "audits/examples/ad_delivery.yaml").read_text().replace("${ETHICS_AUDIT_HOME}/demo", str(root))
    (folder / "ad_delivery.yaml").write_text(text)
    spec = load_spec(folder / "ad_delivery.yaml")
    start, end = week_window(9)
    return spec, load_window(spec, start, end, row_count_history=[2010, 1990, 2005])


def group_stats(family: str):
    """A little real check: per-gender selection rate, null share of every column, mean score."""

    def check(config: object, data: AuditData) -> list[MetricResult]:
        frame, cols = data.current, data.spec.columns
        out = [MetricResult(family, "mean_score", float(frame[cols.score].mean()), n=len(frame))]
        for group, rate in frame.groupby(cols.sensitive[0])[cols.prediction].mean().items():
            out.append(MetricResult(family, "selection_rate", float(rate), slice={"gender": group}))
        for column in frame.columns:
            out.append(MetricResult(family, "null_share", float(frame[column].isna().mean()), slice={"column": column}))
        if data.reference is not None:
            out.append(MetricResult(family, "reference_mean_score", float(data.reference[cols.score].mean())))
        if data.consent is not None:
            out.append(MetricResult(family, "consent_events", len(data.consent)))
        out.append(MetricResult(family, "history", float(sum(data.row_count_history))))
        return out

    return check


def test_a_staged_window_reloads_as_the_same_data(demo_week, tmp_path: Path) -> None:
    spec, data = demo_week
    staging.save_audit_data(data, tmp_path / "w", run_id=7)
    back = staging.load_audit_data(spec, tmp_path / "w")

    for name in ("current", "reference", "consent"):
        pd.testing.assert_frame_equal(getattr(back, name), getattr(data, name), check_exact=True)
    assert back.training_members is None and data.training_members is None
    assert (back.window_start, back.window_end) == (data.window_start, data.window_end)
    assert back.row_count_history == [2010, 1990, 2005]
    assert back.current["ts"].dt.tz is not None
    manifest = staging.read_manifest(tmp_path / "w")
    assert manifest["run_id"] == 7 and manifest["frames"]["current"]["rows"] == data.rows
    assert manifest["frames"]["training_members"] is None


def test_a_staged_window_gives_the_same_results_as_the_one_in_memory(
    demo_week, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, data = demo_week
    staging.save_audit_data(data, tmp_path / "w")
    back = staging.load_audit_data(spec, tmp_path / "w")

    # the registered families (the real ones once merged) must agree exactly
    for family in checks.available():
        direct = runner.run_family(family, data)
        staged = runner.run_family(family, back)
        assert direct.status == staged.status
        assert [r.to_dict() for r in staged.results] == [r.to_dict() for r in direct.results]
    monkeypatch.setattr(checks, "CHECKS", {f: "fakes.family" for f in FAMILIES})
    monkeypatch.setattr(fake, "BEHAVIOUR", {f: group_stats(f) for f in FAMILIES})
    direct = [r.to_dict() for o in runner.run_families(data) for r in o.results]
    staged = [r.to_dict() for o in runner.run_families(back) for r in o.results]
    assert staged == direct
    assert len(direct) > 4 * 25


def test_counts_only_reads_no_columns_but_keeps_the_row_counts(demo_week, tmp_path: Path) -> None:
    spec, data = demo_week
    staging.save_audit_data(data, tmp_path / "w")
    counts = staging.load_audit_data(spec, tmp_path / "w", counts_only=True)
    assert (counts.rows, counts.reference_rows) == (data.rows, data.reference_rows)
    assert list(counts.current.columns) == []


def test_loading_checks_the_audit_and_the_files(tmp_path: Path) -> None:
    spec = make_spec()
    frame = pd.DataFrame({"user_id": ["a", "b"], "ts": pd.to_datetime(["2026-07-06", "2026-07-07"], utc=True)})
    staging.save_audit_data(make_data(spec, frame), tmp_path / "w")
    other = make_spec({"id": "other-model"})
    with pytest.raises(SourceError, match="staged for audit 'test-model', not 'other-model'"):
        staging.load_audit_data(other, tmp_path / "w")
    (tmp_path / "w" / "current.parquet").unlink()
    with pytest.raises(SourceError, match="current rows cannot be read"):
        staging.load_audit_data(spec, tmp_path / "w")
    with pytest.raises(SourceError, match="re-run the DAG run from its extract task"):
        staging.load_audit_data(spec, tmp_path / "nothing")


def test_a_column_mixing_types_cannot_be_staged_and_says_so(tmp_path: Path) -> None:
    spec = make_spec()
    frame = pd.DataFrame({"user_id": ["a", 2], "ts": pd.to_datetime(["2026-07-06", "2026-07-07"], utc=True)})
    with pytest.raises(DataError, match="cannot stage the current rows as parquet"):
        staging.save_audit_data(make_data(spec, frame), tmp_path / "w")


def test_family_outputs_round_trip_with_their_artifacts(tmp_path: Path) -> None:
    output = FamilyOutput(
        "drift",
        [
            MetricResult("drift", "drift_share", 0.4, n=100, threshold=Threshold(warn=0.25, critical=0.5)),
            MetricResult("drift", "column_drift", None, slice={"column": "x"}, status=Status.INSUFFICIENT_DATA),
        ],
        1.25,
        "ran",
    )
    output.artifacts = [
        PendingArtifact("evidently_drift_html", "drift.html", "<html>é</html>", {"columns": 3}),
        PendingArtifact("raw", "drift.html", b"\x00\x01"),
    ]
    path = staging.save_family_output(output, tmp_path)
    back = staging.load_family_output(path)
    assert back.to_dict() == output.to_dict()
    assert back.artifacts == output.artifacts
    [loaded] = staging.load_family_outputs(tmp_path, ["drift"])
    assert loaded.results == output.results
    with pytest.raises(SourceError, match="the quality check left no output"):
        staging.load_family_outputs(tmp_path, ["quality", "drift"])


def test_prune_deletes_attempts_past_their_audits_retention(tmp_path: Path) -> None:
    spec = make_spec()
    frame = pd.DataFrame({"user_id": ["a"], "ts": pd.to_datetime(["2026-07-06"], utc=True)})
    data = make_data(spec, frame)
    old = staging.window_folder("test-model", WINDOW_START, WINDOW_END, 1)
    new = staging.window_folder("test-model", WINDOW_START, WINDOW_END, 2)
    gone = staging.window_folder("removed-model", WINDOW_START, WINDOW_END, 3)
    for folder in (old, new, gone):
        staging.save_audit_data(data, folder)
    now = time.time()
    for folder, age in ((old, timedelta(days=3)), (new, timedelta(hours=1)), (gone, timedelta(days=8))):
        manifest = staging.read_manifest(folder) | {"staged_at": now - age.total_seconds()}
        (folder / staging.MANIFEST).write_text(json.dumps(manifest))
    assert old.parent == new.parent and str(old).startswith(str(staging.staging_root()))

    pruned = staging.prune({"test-model": timedelta(days=2)}, timedelta(days=7), now=now)

    assert pruned.folders == 2 and pruned.bytes > 0
    assert not old.exists() and new.exists()
    assert not (staging.staging_root() / "removed-model").exists()  # empty folders go too
    assert staging.prune({}, timedelta(days=30), now=now).folders == 0


def test_window_folders_are_per_attempt(tmp_path: Path) -> None:
    a = staging.window_folder("m", WINDOW_START, WINDOW_END, 1)
    b = staging.window_folder("m", WINDOW_START, WINDOW_END, 2)
    assert a.parent == b.parent and a != b
    assert a.parent.name == "20260706T000000--20260713T000000"
    assert str(a).startswith(os.environ["ETHICS_AUDIT_HOME"])


def test_a_staged_reference_of_previous_windows_round_trips(tmp_path: Path) -> None:
    spec = parse_spec(
        "id: m\nmodel: {name: m, version: '1'}\nwindow: {size: 7d}\nsource: {path: x.parquet}\n"
        "reference: {previous_windows: 2}\ncolumns: {entity_id: user_id, timestamp: ts}\n",
        "m.yaml",
    )
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "user_id": rng.integers(0, 50, 40).astype(str),
            "ts": pd.date_range(WINDOW_START, periods=40, freq="h", tz="UTC"),
            "x": np.where(rng.random(40) < 0.2, np.nan, rng.normal(size=40)),
            "flag": pd.array(rng.random(40) < 0.5, dtype="boolean"),
            "cat": pd.Categorical(rng.choice(["a", "b"], 40)),
        }
    )
    data = AuditData(spec, WINDOW_START, WINDOW_END, frame, reference=frame.iloc[:10])
    staging.save_audit_data(data, tmp_path / "w")
    back = staging.load_audit_data(spec, tmp_path / "w")
    pd.testing.assert_frame_equal(back.current, frame)
    pd.testing.assert_frame_equal(back.reference, frame.iloc[:10].reset_index(drop=True))
