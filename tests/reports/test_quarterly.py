"""The quarterly report from a stored quarter of history: summary numbers, charts, problems, specs, methods."""

from __future__ import annotations

import re
import sys
import types
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from history import build_history, week_window
from reading import problems_of

from ethics_audit.errors import AuditError
from ethics_audit.reports import build_quarterly_report
from ethics_audit.reports.quarterly import expected_windows

AFTER = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _build(store, tmp_path: Path, **kwargs):
    return build_quarterly_report(store, "2026Q3", out_dir=tmp_path / "out", pdf=False, now=AFTER, **kwargs)


def test_summary_charts_and_problems_of_a_quarter(store, tmp_path: Path) -> None:
    build_history(store, handled=True)
    result = _build(store, tmp_path)
    summary = result["summary"]
    assert summary["windows_audited"] == 12 and summary["windows_expected"] == 12 and summary["windows_missed"] == 0
    # five problems: the gender gap, drift and missing values from the logging bug, the PII leak, and
    # the consent filter, which failed again in week 12 and is still open
    assert (summary["problems_opened"], summary["problems_resolved"], summary["problems_open"]) == (5, 4, 1)
    assert (summary["incidents_opened"], summary["incidents_resolved"], summary["incidents_open"]) == (14, 13, 1)
    # weeks 4 (gap + DI ratio), 8 (drift, nulls), 9 (PII), 10 and 12 (consent) have critical findings; week 5 DI too
    assert summary["critical_windows"] == 6
    # per problem, first acknowledgement after 5 h, 30 h, 40 min, 2 d (the missing values never):
    # median (5 h + 30 h) / 2
    assert summary["median_to_ack"] == pytest.approx(17.5 * 3600)
    # the last incidents resolved 3, 2, 2 and 2 weeks after each problem opened: median 2 weeks
    assert summary["median_to_resolve"] == pytest.approx(14 * 86400)
    html = Path(result["html"]).read_text()
    assert "5 · 4" in html and "14 incidents opened, 13 resolved" in html
    assert "acknowledged after 17 h 30 min, resolved after 14 d" in html
    assert "1 problem is still open (1 incident)" in html
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
    # drift spike in week 8 is critical; privacy bars: 4 critical in week 9, 1 in weeks 10 and 12
    drift = html[html.index('aria-label="Share of drifted columns"') :]
    assert drift[: drift.index("</svg>")].count("marker-critical") == 1
    bars = html[html.index('data-chart="bars"') :]
    bars = bars[: bars.index("</svg>")]
    assert "31 Aug: 4 critical" in bars and "07 Sep: 1 critical" in bars and "21 Sep: 1 critical" in bars
    # no external requests: no scripts, stylesheets or images from anywhere
    assert not re.search(r"<script|<link|<img|url\(", html)


def test_one_row_per_problem_with_its_incidents_beneath(store, tmp_path: Path) -> None:
    build_history(store, handled=True)
    html = Path(_build(store, tmp_path)["html"]).read_text()
    (gap, gap_incidents), (drift, drift_incidents), (nulls, _), (pii, pii_incidents), (consent, _) = problems_of(html)
    # named after a headline measure, weeks flagged, acknowledged when its first incident was (the
    # four-fifths rule after 5 h; the parity gaps after 8 h), resolved when its last incident was
    assert gap.startswith("▲ Critical #1 · Bias and fairness Selection-rate gap across gender (and 2 related measures)")
    assert (
        "3 incidents: selection-rate gap, disparate impact ratio (four-fifths rule); across gender and age_band × gender"
        in gap
    )
    assert "27 Jul, 3 Aug 2026 2 weeks resolved after clean weeks, week of 17 Aug" in gap
    assert "5 h by tom.okafor 21 d ADSML-12" in gap
    assert '<a href="https://jira.example.com/browse/ADSML-12">ADSML-12</a>' in html
    assert [row.split(" ")[0] for row in gap_incidents] == ["#1", "#3", "#2"]  # the headline, then the worst
    assert (
        gap_incidents[1]
        == "#3 ▲ Critical Disparate impact ratio (four-fifths rule) gender = f vs m 27 Jul, 3 Aug resolved"
    )
    # the share of drifted columns was closed by hand after 2 days; the problem resolved with its
    # last incident, after clean weeks, two weeks after it opened
    assert drift.startswith("▲ Critical #2 · Data drift Share of drifted columns (and 4 related measures)")
    assert "in columns sessions_7d, minutes_per_day, device and score" in drift
    assert "24 Aug 2026 1 week resolved after clean weeks, week of 7 Sep 1 d 6 h by tom.okafor 14 d –" in drift
    assert len(drift_incidents) == 5 and drift_incidents[0].endswith(
        "Share of drifted columns whole window 24 Aug resolved"
    )
    assert "Missing values in column sessions_7d 24 Aug 2026 1 week" in nulls and "never 14 d" in nulls
    assert "Rows containing email addresses in column post_text (and 3 related measures)" in pii
    assert "40 min by tom.okafor 14 d ADSML-17" in pii and len(pii_incidents) == 4
    assert consent.startswith(
        "▲ Critical #5 · Privacy Predictions after consent was withdrawn 7 Sep, 21 Sep 2026 2 weeks"
    )
    assert "acknowledged 2 d by tom.okafor still open ADSML-19" in consent
    # folded on screen, every incident listed on paper
    assert html.count("<details>") == 5 and "details::details-content" in html


def test_an_incident_without_an_alert_is_a_problem_of_its_own(store, tmp_path: Path) -> None:
    """Incidents recorded before alerts existed (or backfilled ones nobody was told about) have no alert."""
    from sqlalchemy import delete, update

    from ethics_audit.store.models import Alert, Incident

    build_history(store, weeks=10)
    with store.session() as s:
        s.execute(update(Incident).where(Incident.check == "quality").values(alert_id=None))
        s.execute(delete(Alert).where(Alert.check == "quality"))
    result = _build(store, tmp_path)
    assert result["summary"]["problems_opened"] == 5 and result["summary"]["incidents_opened"] == 14
    rows = [head for head, _ in problems_of(Path(result["html"]).read_text())]
    [orphan] = [r for r in rows if "Data quality" in r]
    assert orphan.startswith("▲ Critical Data quality Missing values in column sessions_7d Not announced")


def test_the_public_edition_shows_problems_without_values_names_or_links(store, tmp_path: Path) -> None:
    build_history(store, handled=True)
    html = Path(_build(store, tmp_path, public=True, epsilon=0.5)["html"]).read_text()
    heads = [head for head, _ in problems_of(html)]
    assert len(heads) == 5 and "5 h 21 d ADSML-12" in heads[0]
    assert "tom.okafor" not in html and "jira.example.com" not in html
    assert "Worst value" not in html


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
    # windows mostly in Q3: 6 Jul .. 21 Sep starts (the 28 Sep week has 3 of its 7 days in Q3: it counts in Q4)
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
    # 14 weeks count in Q4: from 28 Sep (4 of its 7 days in Q4) to 28 Dec (4 of 7 in Q4)
    assert result["summary"]["windows_expected"] == 14 and result["summary"]["windows_missed"] == 14
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


def test_problems_window_of_the_quarter(store, tmp_path: Path) -> None:
    """A problem from Q3 still open shows in Q4's report; resolved ones do not."""
    build_history(store, handled=True)
    q4 = build_quarterly_report(store, "2026Q4", out_dir=tmp_path, pdf=False, now=AFTER)
    html = Path(q4["html"]).read_text()
    assert (q4["summary"]["problems_open"], q4["summary"]["problems_opened"]) == (1, 0)
    assert q4["summary"]["incidents_open"] == 1 and q4["summary"]["incidents_opened"] == 0
    [(consent, _)] = problems_of(html)
    assert "Predictions after consent was withdrawn 7 Sep, 21 Sep 2026" in consent and "ADSML-19" in consent
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
    from ethics_audit.jobs import quarterly_report

    monkeypatch.setenv("ETHICS_AUDIT_CHROMIUM", str(tmp_path / "no-browser"))  # the PDF is tested elsewhere
    built = build_history(store, weeks=3)
    result = quarterly_report(store, [built.spec], now=AFTER, out_dir=tmp_path / "a")
    assert result["quarter"] == "2026 Q3" and result["notifications"] == 1
    [row] = store.notifications()
    assert (row.audit_id, row.channel, row.idempotency_key) == (
        "ad-delivery",
        "console",
        "quarterly-report:2026Q3:ad-delivery:console",
    )
    assert row.payload["links"] == [{"text": "HTML report", "url": result["html"]}]
    assert Path(result["html"]).exists() and "job-ad-delivery" in row.payload["text"]
    again = quarterly_report(store, [built.spec], now=AFTER, out_dir=tmp_path / "b")
    assert again["notifications"] == 0 and len(store.notifications()) == 1
