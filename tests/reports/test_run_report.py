"""The per-run report: what it shows, where it is stored, and that it is recorded as the run's artifact."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from history import build_history

from ethics_audit.errors import AuditError
from ethics_audit.recording import record_window
from ethics_audit.reports import render_run_report
from ethics_audit.reports.run_report import ARTIFACT_KIND


def test_run_report_shows_the_findings_of_the_gap_week(store) -> None:
    built = build_history(store, weeks=4)
    path = render_run_report(store, built.run_ids[3])
    html = path.read_text()
    # stored next to the run's other artifacts and recorded once, even when rendered twice
    assert path.parent.name == f"run-{built.run_ids[3]}"
    render_run_report(store, built.run_ids[3])
    recorded = [a for a in store.artifacts(built.run_ids[3]) if a["kind"] == ARTIFACT_KIND]
    assert len(recorded) == 1 and recorded[0]["uri"] == str(path) and recorded[0]["bytes"] == path.stat().st_size
    # the gender gap is a warning with its interval; the DI ratio of f vs m critical
    attention = html[html.index("<h2>What needs attention") : html.index('id="fairness"')]
    assert attention.count("badge sev-warn") == 2 and attention.count("badge sev-critical") == 1
    assert "across gender" in attention and "gender = f vs m" in attention
    assert "Selection-rate gap" in attention and "(only when the whole interval is beyond)" in attention
    # interval charts of the fairness gaps, with both threshold levels drawn
    assert html.count('data-chart="intervals"') == 2
    assert html.count("threshold-warn") >= 2 and html.count("threshold-critical") >= 2
    # the small intersection group is marked and its rate shown as too few rows, not a number
    small = html[html.index("age_band = 55+, gender = x") :]
    small = small[: small.index("</tr>")]
    assert "small group" in small and small.count("too few rows") == 2
    # drift per column and the privacy section are there
    assert "minutes_per_day" in html and "Share of drifted columns" in html
    assert not re.search(r"<script|<link|<img|url\(", html)


def test_privacy_details_show_counts_and_masked_examples_only(store) -> None:
    built = build_history(store, weeks=9)
    html = render_run_report(store, built.run_ids[8]).read_text()
    privacy = html[html.index('id="privacy"') :]
    assert "**** **** **** 4242" in privacy and "j***@e***.com" in privacy
    assert "rows with match" in privacy and "entity types" in privacy
    assert privacy.count("badge sev-critical") >= 4


def test_links_to_evidently_and_gx_artifacts(store) -> None:
    from ethics_audit.data import PendingArtifact
    from ethics_audit.evaluate import judge_all
    from ethics_audit.results import MetricResult

    built = build_history(store, weeks=1)
    run_id = store.begin_run(built.spec, built.window_starts[0], built.window_starts[0] + timedelta(days=7))
    record_window(
        store,
        run_id,
        built.spec,
        judge_all([MetricResult("drift", "drift_share", 0.1, n=6)]),
        status="succeeded",
        rows=10,
        reference_rows=10,
        timings={},
        summary={},
        artifacts=[
            PendingArtifact("evidently_drift_html", "drift.html", "<html></html>", {"sample_size": 5000}),
            PendingArtifact("gx_validation_json", "gx.json", "{}"),
        ],
    )
    html = render_run_report(store, run_id).read_text()
    assert '<a href="drift.html">Evidently data drift report</a>' in html
    assert "from a sample of 5000 rows" in html
    assert '<a href="gx.json">Great Expectations validation result</a>' in html
    # the first run of the window is superseded now, and its report says so
    assert "superseded" in render_run_report(store, built.run_ids[0]).read_text()


def test_unknown_run_is_a_clear_error(store) -> None:
    with pytest.raises(AuditError, match="run 999 does not exist"):
        render_run_report(store, 999)


def test_failed_run_report(store) -> None:
    built = build_history(store, weeks=1)
    run_id = store.begin_run(built.spec, built.window_starts[0], built.window_starts[0] + timedelta(days=7))
    store.fail_run(run_id, "cannot read data/*.parquet: no files match")
    html = render_run_report(store, run_id).read_text()
    assert "This audit run failed before recording results: cannot read data/*.parquet: no files match." in html


def test_report_folder_can_be_chosen(store, tmp_path: Path) -> None:
    built = build_history(store, weeks=1)
    path = render_run_report(store, built.run_ids[0], out_dir=tmp_path / "elsewhere")
    assert path == tmp_path / "elsewhere" / "report.html" and path.exists()
