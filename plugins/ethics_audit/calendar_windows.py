"""Calendar windows: months and quarters aligned to the calendar in the spec's time zone.

``window.size`` is either a fixed duration (``7d``: every window is as long as the last, anchored
at the first) or a calendar period (``1mo``/``P1M``, ``3mo``, ``1q``/``P3M``, ``1y``/``P1Y``):
each window runs from one calendar boundary (midnight on the first of a month, in
``timezone``) to the next, so a month is 28 to 31 days, and a window across a change to or from
daylight saving time is an hour shorter or longer. Windows are still half-open ``[start, end)``
in UTC everywhere else. This module owns the arithmetic (``windows_between``, ``window_containing``,
``shift``) and the words reports use for a cadence ("monthly"); nothing here imports Airflow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ethics_audit.windows import as_utc, format_duration, parse_duration

_CALENDAR = re.compile(r"^\s*(\d+)\s*(mo|months?|q|quarters?|y|years?)\s*$", re.IGNORECASE)
_ISO_CALENDAR = re.compile(r"^P(?:(?P<y>\d+)Y)?(?:(?P<m>\d+)M)?$", re.IGNORECASE)
SIZE_HELP = "write a duration such as 6h, 1d, 7d, 2w (P7D), or a calendar period: 1mo (P1M), 1q (P3M), 1y (P1Y)"


@dataclass(frozen=True)
class CalendarPeriod:
    """A whole number of calendar months; windows start on the first of a month."""

    months: int

    def __post_init__(self) -> None:
        if self.months < 1 or 12 % self.months:
            raise ValueError(
                f"a calendar window of {self.months} months does not divide the year; use 1, 2, 3, 4, 6 or 12 months"
            )

    def __str__(self) -> str:
        return {1: "1mo", 3: "1q", 12: "1y"}.get(self.months, f"{self.months}mo")

    @property
    def iso(self) -> str:
        return "P1Y" if self.months == 12 else f"P{self.months}M"


WindowSize = timedelta | CalendarPeriod


def parse_window_size(value: Any) -> WindowSize:
    """``7d`` -> timedelta; ``1mo``, ``P1M``, ``1q``, ``P3M``, ``1y`` -> ``CalendarPeriod``."""
    if isinstance(value, CalendarPeriod | timedelta):
        return value
    if isinstance(value, str):
        text = value.strip()
        short = _CALENDAR.match(text)
        if short:
            unit = short.group(2).lower()
            per = 12 if unit.startswith("y") else 3 if unit.startswith("q") else 1
            return CalendarPeriod(int(short.group(1)) * per)
        iso = _ISO_CALENDAR.match(text)
        if iso and any(iso.groupdict().values()):
            return CalendarPeriod(int(iso.group("y") or 0) * 12 + int(iso.group("m") or 0))
    try:
        return parse_duration(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a duration: {SIZE_HELP}") from None


def format_size(size: WindowSize) -> str:
    return str(size) if isinstance(size, CalendarPeriod) else format_duration(size)


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo | timezone:
    """The IANA time zone ``name`` (``UTC``, ``Europe/Berlin``); ``ValueError`` naming the fix."""
    if name.upper() == "UTC":
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{name!r} is not an IANA time zone; write e.g. UTC, Europe/Berlin, America/New_York"
        ) from None


def _month_index(moment: datetime) -> int:
    return moment.year * 12 + moment.month - 1


def _at_month(index: int, tz: ZoneInfo | timezone) -> datetime:
    # midnight local time on the first of the month; zoneinfo resolves the UTC offset of that day
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=tz).astimezone(timezone.utc)


def window_containing(moment: datetime, size: CalendarPeriod, tz: str = "UTC") -> tuple[datetime, datetime]:
    """The calendar window ``[start, end)`` (UTC) that holds ``moment``."""
    z = zone(tz)
    local = as_utc(moment).astimezone(z)
    index = _month_index(local) // size.months * size.months
    return _at_month(index, z), _at_month(index + size.months, z)


def is_boundary(moment: datetime, size: CalendarPeriod, tz: str = "UTC") -> bool:
    return window_containing(moment, size, tz)[0] == as_utc(moment)


def shift(start: datetime, size: WindowSize, n: int, tz: str = "UTC") -> datetime:
    """``start`` moved by ``n`` windows (negative: back); calendar windows stay on boundaries."""
    if isinstance(size, timedelta):
        return as_utc(start) + size * n
    z = zone(tz)
    return _at_month(_month_index(as_utc(start).astimezone(z)) + n * size.months, z)


def end_of(start: datetime, size: WindowSize, tz: str = "UTC") -> datetime:
    return shift(start, size, 1, tz)


@dataclass(frozen=True)
class Plan:
    """The windows that ``[start, end)`` covers: ``whole`` ones lie inside it, ``partial`` ones
    are cut by its start or its end (they are audited whole, or reported and skipped)."""

    whole: list[tuple[datetime, datetime]]
    partial: list[tuple[datetime, datetime]]


def windows_between(start: datetime, end: datetime, size: WindowSize, tz: str = "UTC") -> Plan:
    """Fixed windows are anchored at ``start``; calendar windows at the calendar."""
    start, end = as_utc(start), as_utc(end)
    whole: list[tuple[datetime, datetime]] = []
    partial: list[tuple[datetime, datetime]] = []
    if end <= start:
        return Plan(whole, partial)
    cursor = start if isinstance(size, timedelta) else window_containing(start, size, tz)[0]
    while cursor < end:
        stop = end_of(cursor, size, tz)
        (whole if cursor >= start and stop <= end else partial).append((cursor, stop))
        cursor = stop
    return Plan(whole, partial)


def cron_of(size: CalendarPeriod) -> str:
    """The cron expression that ticks on each calendar window's boundary (midnight, the first)."""
    months = ",".join(str(m) for m in range(1, 13, size.months))
    return "0 0 1 * *" if size.months == 1 else f"0 0 1 {months} *"


def cadence(size: WindowSize | str | None) -> dict[str, str]:
    """Words for the audit's cadence: ``{"adjective": "monthly", "unit": "month", "units": "months"}``."""
    if isinstance(size, str):
        try:
            size = parse_window_size(size)
        except ValueError:
            size = None
    if isinstance(size, CalendarPeriod):
        words = {1: ("monthly", "month"), 3: ("quarterly", "quarter"), 12: ("yearly", "year")}.get(size.months)
        if words is None:
            words = (f"{size.months}-monthly", f"{size.months}-month window")
    elif isinstance(size, timedelta):
        words = {
            timedelta(days=1): ("daily", "day"),
            timedelta(weeks=1): ("weekly", "week"),
            timedelta(hours=1): ("hourly", "hour"),
        }.get(size, (f"{format_size(size)}", f"{format_size(size)} window"))
    else:
        words = ("periodic", "window")
    adjective, unit = words
    return {"adjective": adjective, "unit": unit, "units": unit + "s"}


def overlap(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> timedelta:
    return max(timedelta(0), min(a[1], b[1]) - max(a[0], b[0]))


def belongs_to(window: tuple[datetime, datetime], period: tuple[datetime, datetime]) -> bool:
    """Does ``window`` count in ``period`` (a quarter)? Yes when the period holds the larger part of
    it; an exact half goes to the later period, so every window counts in exactly one quarter."""
    inside = overlap(window, period)
    length = window[1] - window[0]
    if inside * 2 > length:
        return True
    return inside * 2 == length and window[0] < period[0]
