"""Issue 14, part 3: the quarterly report counts windows by overlap, says how, and speaks in the
audit's cadence (a monthly audit is never "weekly")."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from ethics_audit.evaluate import judge_all
from ethics_audit.recording import record_window
from ethics_audit.reports import build_quarterly_report
from ethics_audit.reports.quarterly import expected_windows
from ethics_audit.results import MetricResult, Threshold
from helpers import make_spec

UTC = timezone.utc
AFTER = datetime(2026, 11, 1, tzinfo=UTC)


def _record(store, spec, start: datetime, end: datetime, rows: int, value: float = 0.1) -> None:
    findings = judge_all(
        [
            MetricResult("window", "row_count", rows, n=rows),
            MetricResult("quality", "mean_score", value, n=rows, threshold=Threshold(warn=0.5, critical=0.8)),
        ]
    )
    run = store.begin_run(spec, start, end, trigger="test")
    record_window(store, run, spec, findings, status="succeeded", rows=rows, reference_rows=None, timings={},
                        summary={"checks": {"quality": {"status": "ran"}}})  # fmt: skip


def test_a_quarter_split_by_a_window_counts_it_where_most_of_it_lies(store, tmp_path: Path) -> None:
    spec = make_spec({"checks": {"quality": {}}})
    # weekly windows from Monday 2026-06-22: the week of 29 June has 2 days in Q2 and 5 in Q3
    start = datetime(2026, 6, 22, tzinfo=UTC)
    for k in range(16):
        s = start + timedelta(weeks=k)
        _record(store, spec, s, s + timedelta(weeks=1), rows=100 + k)
    q3 = build_quarterly_report(store, "2026Q3", out_dir=tmp_path / "q3", pdf=False, now=AFTER)
    q2 = build_quarterly_report(store, "2026Q2", out_dir=tmp_path / "q2", pdf=False, now=AFTER)
    # Q3 holds the weeks starting 29 June ... 28 September (14 weeks; 28 Sep has 3 of 7 days in Q3: Q4's)
    assert q3["summary"]["windows_audited"] == 13 and q3["summary"]["windows_expected"] == 13
    assert q3["summary"]["rows_audited"] == sum(100 + k for k in range(1, 14))
    assert q2["summary"]["windows_audited"] == 1 and q2["summary"]["rows_audited"] == 100
    assert q3["summary"]["windows_straddling"] == 1
    html = Path(q3["html"]).read_text()
    assert "counts in the quarter that holds the larger part of its time" in html
    assert "71% of it in 2026 Q3" in html  # 5 of 7 days
    # every window counts once over the two quarters and the next
    q4 = build_quarterly_report(store, "2026Q4", out_dir=tmp_path / "q4", pdf=False, now=AFTER + timedelta(days=90))
    assert q2["summary"]["windows_audited"] + q3["summary"]["windows_audited"] + q4["summary"]["windows_audited"] == 16


def test_expected_windows_of_a_monthly_audit_follow_its_calendar() -> None:
    first = (datetime(2026, 5, 31, 22, tzinfo=UTC), datetime(2026, 6, 30, 22, tzinfo=UTC))  # June in Berlin
    q3 = (datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC))
    from ethics_audit.calendar_windows import CalendarPeriod

    due = expected_windows(first, timedelta(days=1), *q3, AFTER, calendar=(CalendarPeriod(1), "Europe/Berlin"))
    assert due == [
        (datetime(2026, 6, 30, 22, tzinfo=UTC), datetime(2026, 7, 31, 22, tzinfo=UTC)),
        (datetime(2026, 7, 31, 22, tzinfo=UTC), datetime(2026, 8, 31, 22, tzinfo=UTC)),
        (datetime(2026, 8, 31, 22, tzinfo=UTC), datetime(2026, 9, 30, 22, tzinfo=UTC)),
    ]


def test_a_monthly_audit_is_described_monthly_and_never_weekly(store, tmp_path: Path) -> None:
    spec = make_spec({"window": {"size": "1mo"}, "checks": {"quality": {}}})
    for month in (7, 8, 9):
        _record(store, spec, datetime(2026, month, 1, tzinfo=UTC), datetime(2026, month + 1, 1, tzinfo=UTC), 300)
    result = build_quarterly_report(store, "2026Q3", out_dir=tmp_path, pdf=False, now=AFTER)
    html = Path(result["html"]).read_text()
    assert result["summary"]["windows_expected"] == 3 and result["summary"]["windows_missed"] == 0
    assert "Every month our audit system" in html and "monthly audit windows" in html
    assert "Month by month" in html and "Months with a critical finding" in html
    lowered = html.lower()
    assert "every week" not in lowered and "weekly" not in lowered and "week by week" not in lowered


def test_no_resolution_time_is_shown_when_no_problem_was_resolved(store, tmp_path: Path) -> None:
    spec = make_spec({"checks": {"quality": {}}})
    start = datetime(2026, 9, 14, tzinfo=UTC)
    _record(store, spec, start, start + timedelta(weeks=1), rows=100, value=0.9)  # a breach, still open
    result = build_quarterly_report(store, "2026Q3", out_dir=tmp_path, pdf=False, now=AFTER)
    assert result["summary"]["problems_resolved"] == 0 and result["summary"]["median_to_resolve"] is None
    html = Path(result["html"]).read_text()
    assert "none resolved" in html and "resolved after" not in html
