"""The quarterly report from a stored quarter of history: summary numbers, charts, incidents, specs, methods."""

from __future__ import annotations

import re
import sys
import types
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from history import add_incidents, build_history, week_window

from ethics_audit.errors import AuditError
from ethics_audit.reports import build_quarterly_report
from ethics_audit.reports.quarterly import expected_windows

AFTER = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _build(store, tmp_path: Path, **kwargs):
    return build_quarterly_report(store, "2026Q3", out_dir=tmp_path / "out", pdf=False, now=AFTER, **kwargs)


def test_summary_charts_and_incidents_of_a_quarter(store, tmp_path: Path) -> None:
    build_history(store)
    add_incidents(store)
    result = _build(store, tmp_path)
    summary = result["summary"]
    assert summary["windows_audited"] == 12 and summary["windows_expected"] == 12 and summary["windows_missed"] == 0
    assert (summary["incidents_opened"], summary["incidents_resolved"], summary["incidents_open"]) == (4, 3, 1)
    # weeks 4 (gap + DI ratio), 8 (drift, nulls), 9 (PII), 10 (consent) have critical findings; week 5 DI too
    assert summary["critical_windows"] == 5
    # acknowledgements after 5 h, 30 h, 40 min, 2 d: median (5 h + 30 h) / 2
    assert summary["median_to_ack"] == pytest.approx(17.5 * 3600)
    # resolved 3, 2, 2 weeks after opening: median 2 weeks
    assert summary["median_to_resolve"] == pytest.approx(14 * 86400)
    html = Path(result["html"]).read_text()
    # two fairness headlines x three attribute sets, drift share, privacy bars
    assert html.count('data-chart="trend"') == 7
    assert html.count('data-chart="bars"') == 1
    assert html.count('data-chart="status"') == 1
    assert html.count('class="threshold threshold-critical"') >= 7
    # the injected gap: weeks 4 and 5 are warning markers on the gender chart
    gender = html[html.index('aria-label="Selection-rate gap across gender"') :]
    gender = gender[: gender.index("</svg>")]
    assert gender.count("marker-warn") == 2 and gender.count("marker-critical") == 0
    assert gender.count("marker-ok") == 10
    # drift spike in week 8 is critical; privacy bars: 4 critical in week 9, 1 in week 10
    drift = html[html.index('aria-label="Share of drifted columns"') :]
    assert drift[: drift.index("</svg>")].count("marker-critical") == 1
    bars = html[html.index('data-chart="bars"') :]
    bars = bars[: bars.index("</svg>")]
    assert "31 Aug: 4 critical" in bars and "07 Sep: 1 critical" in bars
    # the incidents table: ticket links, times, still open
    assert '<a href="https://jira.example.com/browse/ADSML-17">ADSML-17</a>' in html
    assert "still open" in html and "40 min" in html and "1 d 6 h" in html
    # no external requests: no scripts, stylesheets or images from anywhere
    assert not re.search(r"<script|<link|<img|url\(", html)


def test_missed_windows_and_partial_quarter(store, tmp_path: Path) -> None:
    built = build_history(store, weeks=12)
    # week 6's results never landed: delete its window as if the audit had not run
    from sqlalchemy import delete

    from ethics_audit.store.models import AuditWindow

    with store.session() as s:
        s.execute(delete(AuditWindow).where(AuditWindow.window_start == built.window_starts[5]))
    result = _build(store, tmp_path)
    assert result["summary"]["windows_audited"] == 11
    assert result["summary"]["windows_missed"] == 1
    html = Path(result["html"]).read_text()
    assert "10–16 Aug 2026" in html  # the missed week, named
    assert html.count("cell-none") == 4  # one empty cell per check family


def test_expected_windows_follow_the_audit_grid_and_lag() -> None:
    first = (datetime(2026, 7, 6, tzinfo=timezone.utc), datetime(2026, 7, 13, tzinfo=timezone.utc))
    start, end = datetime(2026, 7, 1, tzinfo=timezone.utc), datetime(2026, 10, 1, tzinfo=timezone.utc)
    windows = expected_windows(first, timedelta(days=1), start, end, AFTER)
    # windows ending in (1 Jul, 1 Oct]: 6 Jul .. 21 Sep starts (the 28 Sep week ends in Q4)
    assert [w[0].day for w in windows[:2]] == [6, 13] and len(windows) == 12
    assert windows[-1][1] == datetime(2026, 9, 28, tzinfo=timezone.utc)
    # on 29 Sep 12:00 the last window (ends 28 Sep, lag 1 d) is not due yet
    early = expected_windows(first, timedelta(days=1), start, end, datetime(2026, 9, 28, 12, tzinfo=timezone.utc))
    assert len(early) == 11
    assert expected_windows(None, timedelta(0), start, end, AFTER) == []


def test_a_quarter_without_data_says_so(store, tmp_path: Path) -> None:
    build_history(store)
    result = build_quarterly_report(store, "2026Q2", out_dir=tmp_path, pdf=False, now=AFTER)
    html = Path(result["html"]).read_text()
    assert "No audit results for 2026 Q2" in html
    assert "data-chart" not in html
    assert result["summary"]["windows_audited"] == 0


def test_a_quarter_whose_windows_were_all_missed(store, tmp_path: Path) -> None:
    build_history(store)  # Q3 only; Q4's windows are due by 1 Jan 2027 and none ran
    result = build_quarterly_report(
        store, "2026Q4", out_dir=tmp_path, pdf=False, now=datetime(2027, 1, 15, tzinfo=timezone.utc)
    )
    html = Path(result["html"]).read_text()
    assert result["summary"]["windows_expected"] == 13 and result["summary"]["windows_missed"] == 13
    assert "none was audited" in html and 'data-chart="trend"' not in html


def test_spec_versions_and_changed_thresholds(store, tmp_path: Path) -> None:
    build_history(store, weeks=6)
    from history import SPEC

    stricter = {"checks": {**SPEC["checks"], "drift": {"thresholds": {"drift_share": {"warn": 0.2, "critical": 0.4}}}}}
    later = build_history(store, weeks=12, spec_overrides=stricter)  # re-audits 1-12 with the new spec
    result = _build(store, tmp_path)
    html = Path(result["html"]).read_text()
    assert later.spec.spec_hash() in html
    assert "warning above 20.0% · critical above 40.0%" in html
    # only the newer version audited the current windows: one version in force
    assert html.count("<code>" + later.spec.spec_hash()[:8] + "</code>") == 1


def test_methods_come_from_the_families(store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("ethics_audit.checks.fairness")
    fake.METHODS = {"demographic_parity_difference": "Largest minus smallest selection rate <over> groups."}
    monkeypatch.setitem(sys.modules, "ethics_audit.checks.fairness", fake)
    build_history(store, weeks=2)
    html = Path(_build(store, tmp_path)["html"]).read_text()
    assert "Largest minus smallest selection rate &lt;over&gt; groups." in html
    # a metric seen in the history without a description says so
    assert "No description was provided by this check." in html


def test_bad_arguments_are_clear(store, tmp_path: Path) -> None:
    build_history(store, weeks=1)
    with pytest.raises(AuditError, match="is not a quarter"):
        build_quarterly_report(store, "2026Q5", out_dir=tmp_path, pdf=False)
    with pytest.raises(AuditError, match="no history for audit 'nope'"):
        build_quarterly_report(store, "2026Q3", audit_ids=["nope"], out_dir=tmp_path, pdf=False)
    with pytest.raises(AuditError, match="--public needs --epsilon"):
        build_quarterly_report(store, "2026Q3", public=True, out_dir=tmp_path, pdf=False)
    with pytest.raises(AuditError, match="add --public"):
        build_quarterly_report(store, "2026Q3", epsilon=1.0, out_dir=tmp_path, pdf=False)


def test_no_pdf_renderer_still_writes_the_html(store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_history(store, weeks=2)
    monkeypatch.setenv("ETHICS_AUDIT_CHROMIUM", str(tmp_path / "no-such-browser"))
    result = build_quarterly_report(store, "2026Q3", out_dir=tmp_path, now=AFTER)
    assert Path(result["html"]).exists() and result["pdf"] is None
    assert "install Chromium" in result["pdf_error"]


def test_incidents_window_of_the_quarter(store, tmp_path: Path) -> None:
    """An incident from Q3 still open shows in Q4's report; resolved ones do not."""
    build_history(store)
    add_incidents(store)
    q4 = build_quarterly_report(store, "2026Q4", out_dir=tmp_path, pdf=False, now=AFTER)
    html = Path(q4["html"]).read_text()
    assert q4["summary"]["incidents_open"] == 1 and q4["summary"]["incidents_opened"] == 0
    assert "Predictions after consent was withdrawn" in html
    assert "ADSML-12" not in html
    assert week_window(10)[0].date().isoformat() == "2026-09-07"


def test_previous_quarter() -> None:
    from ethics_audit.windows import previous_quarter

    assert previous_quarter(datetime(2026, 11, 1, tzinfo=timezone.utc)) == "2026Q3"
    assert previous_quarter(datetime(2027, 1, 1, tzinfo=timezone.utc)) == "2026Q4"
    assert previous_quarter(datetime(2026, 3, 31, 23, tzinfo=timezone.utc)) == "2025Q4"


def test_quarterly_job_posts_the_location_through_the_outbox(
    store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The quarterly DAG's task: last quarter's report, one outbox row per audit and chat channel,
    keyed so re-runs do not repeat."""
    from ethics_audit.reports import quarterly_job

    monkeypatch.setenv("ETHICS_AUDIT_CHROMIUM", str(tmp_path / "no-browser"))  # the PDF is tested elsewhere
    built = build_history(store, weeks=3)
    result = quarterly_job(store, [built.spec], now=AFTER, out_dir=tmp_path / "a")
    assert result["quarter"] == "2026 Q3" and result["notifications"] == 1
    [row] = store.notifications()
    assert (row.audit_id, row.channel, row.idempotency_key) == (
        "ad-delivery",
        "console",
        "quarterly-report:2026Q3:ad-delivery:console",
    )
    assert row.payload["links"] == [{"text": "HTML report", "url": result["html"]}]
    assert Path(result["html"]).exists() and "job-ad-delivery" in row.payload["text"]
    again = quarterly_job(store, [built.spec], now=AFTER, out_dir=tmp_path / "b")
    assert again["notifications"] == 0 and len(store.notifications()) == 1
