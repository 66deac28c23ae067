"""Time arithmetic for audit windows: durations as written in specs, window ranges, quarters.

Windows are half-open ``[start, end)`` intervals of timezone-aware UTC datetimes. Naive inputs
are read as UTC, so a window means the same thing on every machine.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

_SHORT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.IGNORECASE)
_ISO = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$",
    re.IGNORECASE,
)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
DURATION_HELP = "write a duration such as 30m, 6h, 1d, 7d, 2w or ISO 8601 P7D / PT6H"


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """Parse ``7d``, ``6h``, ``2w``, ``P7D``, ``PT30M`` (or a timedelta) into a timedelta.

    Raises ``ValueError`` with a message that says what is accepted.
    """
    if isinstance(text, timedelta):
        return text
    if isinstance(text, bool) or not isinstance(text, str):
        raise ValueError(f"{text!r} is not a duration: {DURATION_HELP}")
    short = _SHORT.match(text)
    if short:
        value, unit = float(short.group(1)), short.group(2).lower()
        return timedelta(**{_UNITS[unit]: value})
    iso = _ISO.match(text.strip())
    if iso and any(iso.groupdict().values()):
        parts = {k: int(v) for k, v in iso.groupdict().items() if v}
        return timedelta(
            weeks=parts.get("w", 0),
            days=parts.get("d", 0),
            hours=parts.get("h", 0),
            minutes=parts.get("m", 0),
            seconds=parts.get("s", 0),
        )
    raise ValueError(f"{text!r} is not a duration: {DURATION_HELP}")


def format_duration(delta: timedelta) -> str:
    """The shortest spec-style spelling of a duration (``7d``, ``6h``, ``90s``)."""
    seconds = int(delta.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def as_utc(value: datetime) -> datetime:
    """Aware UTC datetime; naive values are taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def parse_instant(text: str) -> datetime:
    """Parse an ISO date or datetime (``2026-07-06`` or ``2026-07-06T00:00:00Z``) as UTC."""
    try:
        return as_utc(datetime.fromisoformat(text.strip().replace("Z", "+00:00")))
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO date or datetime; write e.g. 2026-07-06 or 2026-07-06T00:00:00Z"
        ) from None


def iter_windows(start: datetime, end: datetime, size: timedelta) -> Iterator[tuple[datetime, datetime]]:
    """Consecutive ``[s, s + size)`` windows from ``start``; the last one ends at or before ``end``."""
    if size <= timedelta(0):
        raise ValueError("window size must be positive")
    cursor = as_utc(start)
    stop = as_utc(end)
    while cursor + size <= stop:
        yield cursor, cursor + size
        cursor += size


def parse_quarter(text: str) -> tuple[datetime, datetime]:
    """``2026Q3`` -> (2026-07-01, 2026-10-01) in UTC."""
    match = re.fullmatch(r"\s*(\d{4})\s*-?\s*[Qq]([1-4])\s*", text)
    if not match:
        raise ValueError(f"{text!r} is not a quarter; write it like 2026Q3")
    year, quarter = int(match.group(1)), int(match.group(2))
    start = datetime(year, 3 * (quarter - 1) + 1, 1, tzinfo=timezone.utc)
    end = datetime(year + (quarter == 4), (3 * quarter) % 12 + 1, 1, tzinfo=timezone.utc)
    return start, end


def previous_quarter(moment: datetime) -> str:
    """The last quarter that ended before ``moment``: 2026-10-08 -> ``2026Q3``."""
    moment = as_utc(moment)
    quarter = (moment.month - 1) // 3  # 0-based quarter of ``moment``, i.e. the previous one 1-based
    return f"{moment.year - 1}Q4" if quarter == 0 else f"{moment.year}Q{quarter}"
