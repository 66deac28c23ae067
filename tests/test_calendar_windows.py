"""Issue 14, part 3: calendar windows (1mo, 1q, P1M, P3M) in the spec's time zone; backfills that
say what they leave out; quarterly reports that count windows by overlap in the audit's words."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from ethics_audit import checks
from ethics_audit.calendar_windows import (
    CalendarPeriod,
    belongs_to,
    cadence,
    parse_window_size,
    shift,
    window_containing,
    windows_between,
)
from ethics_audit.errors import SpecError
from fakes import family as fake
from helpers import make_spec
from test_cli import cli

UTC = timezone.utc


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1mo", CalendarPeriod(1)), ("P1M", CalendarPeriod(1)), ("1q", CalendarPeriod(3)), ("P3M", CalendarPeriod(3)),
        ("3mo", CalendarPeriod(3)), ("1y", CalendarPeriod(12)), ("7d", timedelta(days=7)), ("P7D", timedelta(days=7)),
    ],
)  # fmt: skip
def test_window_sizes(text, expected):
    assert parse_window_size(text) == expected


def test_bad_sizes_say_what_is_accepted():
    with pytest.raises(ValueError, match="does not divide the year"):
        parse_window_size("5mo")
    with pytest.raises(ValueError, match=r"1mo \(P1M\), 1q \(P3M\)"):
        parse_window_size("a month")


def test_monthly_windows_across_a_dst_change_and_a_year_boundary():
    month = CalendarPeriod(1)
    plan = windows_between(utc(2025, 10, 1), utc(2026, 5, 1), month, "Europe/Berlin")
    # Berlin midnight on the 1st is 22:00 or 23:00 UTC the day before
    starts = [s for s, _ in plan.whole]
    assert starts[:4] == [utc(2025, 10, 31, 23), utc(2025, 11, 30, 23), utc(2025, 12, 31, 23), utc(2026, 1, 31, 23)]
    by_start = dict(plan.whole)
    # the year boundary: December ends where January starts, both at local midnight
    assert by_start[utc(2025, 11, 30, 23)] == utc(2025, 12, 31, 23)
    # March holds the spring change (29 March): 31 days minus one hour; October 2025 holds the autumn one
    assert by_start[utc(2026, 2, 28, 23)] - utc(2026, 2, 28, 23) == timedelta(days=31, hours=-1)
    assert by_start[utc(2026, 2, 28, 23)] == utc(2026, 3, 31, 22)
    october = plan.partial[0]
    assert october == (utc(2025, 9, 30, 22), utc(2025, 10, 31, 23))  # cut by the start: 31 days plus an hour
    assert october[1] - october[0] == timedelta(days=31, hours=1)
    # in UTC a month is just the month
    assert window_containing(utc(2026, 2, 14, 12), month) == (utc(2026, 2, 1), utc(2026, 3, 1))
    assert shift(utc(2026, 12, 1), month, 1) == utc(2027, 1, 1)
    assert shift(utc(2026, 1, 1), CalendarPeriod(3), -1) == utc(2025, 10, 1)


def test_quarters_and_overlap_attribution():
    q = CalendarPeriod(3)
    assert windows_between(utc(2026, 1, 1), utc(2027, 1, 1), q).whole == [
        (utc(2026, 1, 1), utc(2026, 4, 1)), (utc(2026, 4, 1), utc(2026, 7, 1)),
        (utc(2026, 7, 1), utc(2026, 10, 1)), (utc(2026, 10, 1), utc(2027, 1, 1)),
    ]  # fmt: skip
    q2, q3 = (utc(2026, 4, 1), utc(2026, 7, 1)), (utc(2026, 7, 1), utc(2026, 10, 1))
    week = (utc(2026, 6, 29), utc(2026, 7, 6))  # 2 days in Q2, 5 in Q3
    assert belongs_to(week, q3) and not belongs_to(week, q2)
    early = (utc(2026, 6, 26), utc(2026, 7, 3))  # 5 days in Q2, 2 in Q3: Q2's, although it ends in Q3
    assert belongs_to(early, q2) and not belongs_to(early, q3)
    half = (utc(2026, 6, 28), utc(2026, 7, 4))  # 3 and 3: the later quarter
    assert belongs_to(half, q3) and not belongs_to(half, q2)


def test_cadence_words():
    assert cadence("7d")["adjective"] == "weekly" and cadence("1mo")["unit"] == "month"
    assert cadence("30d") == {"adjective": "30d", "unit": "30d window", "units": "30d windows"}
    assert cadence("P3M")["adjective"] == "quarterly"


# --------------------------------------------------------------------------- the spec


def test_the_spec_takes_calendar_windows_and_a_timezone():
    spec = make_spec({"window": {"size": "P1M"}, "timezone": "Europe/Berlin"})
    assert spec.window.size == CalendarPeriod(1) and spec.timezone == "Europe/Berlin"
    assert "1mo windows (Europe/Berlin calendar)" in spec.describe_window()
    assert json.loads(spec.canonical_json())["window"]["size"] == "1mo"
    # fixed durations keep their stored spelling, so existing histories keep their spec hashes
    assert json.loads(make_spec({"window": {"size": "7d"}}).canonical_json())["window"]["size"] == "P7D"


@pytest.mark.parametrize(
    ("override", "field", "words"),
    [
        ({"window": {"size": "1mo"}, "schedule": "@weekly"}, "schedule", "remove schedule or write '@monthly'"),
        ({"window": {"size": "1mo", "start": "2026-07-06"}}, "window.start", "not the start of a 1mo window"),
        ({"window": {"size": "1mo"}, "timezone": "Mars/Olympus"}, "timezone", "not an IANA time zone"),
        ({"window": {"size": "7mo"}}, "window.size", "does not divide the year"),
    ],
)
def test_calendar_spec_problems_name_the_field(override, field, words):
    with pytest.raises(SpecError) as raised:
        make_spec(override)
    assert any(p.field == field and words in p.message for p in raised.value.problems), raised.value.problems


def test_a_matching_schedule_is_accepted():
    assert make_spec({"window": {"size": "1q", "start": "2026-01-01"}, "schedule": "@quarterly"}).schedule


# --------------------------------------------------------------------------- backfill


@pytest.fixture
def daily_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """One row a day from 2025-12-01 to 2026-03-10 (inclusive), a real little check as `quality`."""
    monkeypatch.setattr(checks, "CHECKS", {"quality": "fakes.family"})
    monkeypatch.setattr(fake, "BEHAVIOUR", {"quality": fake.mean_score("quality", warn=0.9, critical=0.95)})
    (tmp_path / "data").mkdir()
    days = pd.date_range("2025-12-01", "2026-03-10", freq="D", tz="UTC")
    pd.DataFrame({"user_id": [f"u{i}" for i in range(len(days))], "ts": days, "score": 0.5}).to_parquet(
        tmp_path / "data" / "p.parquet"
    )

    def spec(window: dict, **extra) -> Path:
        make_spec({"window": window, "columns": {"score": "score"}, "checks": {"quality": {}}, **extra},
                  path=tmp_path / "spec.yaml")  # fmt: skip
        return tmp_path / "spec.yaml"

    return spec


def test_a_backfill_ending_mid_window_says_so_and_skips_it(capsys, daily_data) -> None:
    spec = daily_data({"size": "7d"})
    code, out, err = cli(capsys, "backfill", str(spec), "--start", "2026-02-02", "--end", "2026-02-19", "--json")
    assert code == 0
    result = json.loads(out)
    assert [r["window_start"][:10] for r in result["runs"]] == ["2026-02-02", "2026-02-09"]
    assert result["partial_windows"] == [
        {"window_start": "2026-02-16T00:00:00+00:00", "window_end": "2026-02-23T00:00:00+00:00",
         "cut_by": "--end", "action": "skipped"}
    ]  # fmt: skip
    assert "2026-02-16 00:00 → 2026-02-23 00:00 UTC is cut by --end: not audited" in err
    assert "--partial include" in err


def test_partial_include_audits_the_trailing_window_whole(capsys, daily_data) -> None:
    spec = daily_data({"size": "7d"})
    args = ("backfill", str(spec), "--start", "2026-02-02", "--end", "2026-02-19", "--json", "--partial", "include")
    code, out, _ = cli(capsys, *args)
    runs = json.loads(out)["runs"]
    assert code == 0 and [r["window_start"][:10] for r in runs] == ["2026-02-02", "2026-02-09", "2026-02-16"]
    assert [r["rows"] for r in runs] == [7, 7, 7]  # the last window's rows (16th to 22nd) are audited
    assert cli(capsys, "backfill", str(spec), "--start", "2026-02-02", "--end", "2026-02-19", "--partial", "x")[0] == 2


def test_a_monthly_backfill_follows_the_calendar(capsys, daily_data) -> None:
    spec = daily_data({"size": "1mo"})
    code, out, _ = cli(capsys, "backfill", str(spec), "--start", "2025-12-01", "--end", "2026-03-11", "--json")
    result = json.loads(out)
    assert code == 0
    assert [(r["window_start"][:10], r["window_end"][:10], r["rows"]) for r in result["runs"]] == [
        ("2025-12-01", "2026-01-01", 31), ("2026-01-01", "2026-02-01", 31), ("2026-02-01", "2026-03-01", 28),
    ]  # fmt: skip
    # the last 10 rows lie in March, which --end cuts: reported, not silently left out
    assert result["partial_windows"][0]["window_start"][:10] == "2026-03-01"
    code, out, _ = cli(
        capsys, "backfill", str(spec), "--start", "2025-12-01", "--end", "2026-03-11", "--json", "--partial", "include"
    )
    assert json.loads(out)["runs"][-1]["rows"] == 10


# --------------------------------------------------------------------------- Airflow


def test_the_dag_of_a_monthly_audit_runs_once_per_calendar_month_in_its_timezone() -> None:
    from ethics_audit.airflow.dags import audit_dag

    spec = make_spec({"window": {"size": "1mo", "start": "2026-01-31T23:00:00Z"}, "timezone": "Europe/Berlin"})
    dag = audit_dag(spec)
    from airflow.sdk import CronDataIntervalTimetable
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    core = coerce_to_core_timetable(dag.timetable)  # what the scheduler runs
    restriction = TimeRestriction(earliest=dag.start_date, latest=None, catchup=True)
    intervals, last = [], None
    for _ in range(3):
        info = core.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        intervals.append((info.data_interval.start.isoformat(), info.data_interval.end.isoformat()))
        last = info.data_interval
    assert intervals == [
        ("2026-01-31T23:00:00+00:00", "2026-02-28T23:00:00+00:00"),
        ("2026-02-28T23:00:00+00:00", "2026-03-31T22:00:00+00:00"),  # DST starts on 29 March
        ("2026-03-31T22:00:00+00:00", "2026-04-30T22:00:00+00:00"),
    ]
