"""The canonical serialisation: byte-identical to sorted-key JSON, stable across backends."""

from __future__ import annotations

import json
import math
import random
from datetime import datetime, timedelta, timezone

from ethics_audit.ledger import canonical


def _reference(row: dict) -> str:
    """What docs/ledger.md specifies, written the slow, obvious way."""

    def fix(v):
        if isinstance(v, float):
            return None if math.isnan(v) else ("Infinity" if v == math.inf else "-Infinity" if v == -math.inf else v)
        return v

    return json.dumps({k: fix(v) for k, v in row.items()}, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def test_result_rows_are_sorted_key_json() -> None:
    rng = random.Random(3)
    start = datetime(2026, 7, 6, tzinfo=timezone.utc)
    for i in range(300):
        value = rng.choice([rng.random(), 1e-7 * rng.random(), 1e20, 0.0, -0.0, math.nan, math.inf, -math.inf, None, 3])
        row = {
            "audit_id": "ad-délivery" if i % 7 == 0 else "a",
            "window_start": start,
            "window_end": start + timedelta(days=7, microseconds=i),
            "check": "fairness",
            "metric": f"m{i}",
            "slice": {"group": 'ü"x', "b": 1} if i % 2 else {},
            "slice_key": "k",
            "value": value,
            "ci_low": None if i % 3 else 0.1,
            "ci_high": 0.2,
            "n": i if i % 5 else None,
            "threshold": {"warn": 0.1, "critical": 2.0} if i % 4 else None,
            "severity": "warn",
            "reason": "",
            "details": {"rates": [0.5, 1.0], "x": None},
        }
        text = canonical.result_row(**row)
        expected = {
            **row,
            "window_start": "2026-07-06T00:00:00.000000Z",
            "window_end": canonical.timestamp(row["window_end"]),
            "value": None if value is None else float(value) or 0.0,  # -0.0 is written 0.0
            # whole numbers inside JSON columns are integers (JSONB gives them back that way)
            "slice": {"group": 'ü"x', "b": 1} if i % 2 else {},
            "threshold": {"warn": 0.1, "critical": 2} if i % 4 else None,
            "details": {"rates": [0.5, 1], "x": None},
        }
        assert text == _reference(expected)
        assert text.isascii()


def test_row_texts_of_a_window_are_result_rows() -> None:
    """The batch serialiser ``record_window`` uses writes the same bytes as ``result_row``,
    also when values that compare equal serialise differently (True == 1, 1.0 == 1)."""
    start = datetime(2026, 7, 6, tzinfo=timezone.utc)
    end = start + timedelta(days=7)
    shapes = [
        {"x": 1},
        {"x": True},
        {"x": 1.0},
        {"x": 0.5, "y": "a"},
        {"y": "a", "x": 0.5},
        {"x": [1.0, 2]},
        {"x": {"y": 2.0}},
        {"x": math.nan},
        {"x": math.inf},
        {"x": (1, 2.5)},
        {"x": (True, 2.5)},
        {1: "a"},
        {True: "a"},
        {},
        None,
    ]
    rows = [
        {
            "run_id": 7,
            "audit_id": "ad-délivery" if i % 5 == 0 else "a",
            "window_start": start,
            "window_end": end,
            "check": "fairness",
            "metric": f"m{i % 3}",
            "slice": shapes[i % len(shapes)],
            "slice_key": "k",
            "value": [0.25, None, math.nan, -0.0, 3][i % 5],
            "ci_low": None if i % 3 else 0.1,
            "ci_high": 0.2,
            "n": i if i % 4 else None,
            "threshold": shapes[(i + 3) % len(shapes)],
            "severity": "warn",
            "reason": None if i % 2 else "why",
            "details": shapes[(i * 7) % len(shapes)],
        }
        for i in range(200)
    ]
    texts = canonical.row_texts(rows, canonical.timestamp(start), canonical.timestamp(end))
    assert texts == [canonical.result_row(**row) for row in rows]


def test_floats_are_shortest_round_trip_and_timestamps_fixed() -> None:
    assert canonical.number_text(0.1) == "0.1"
    assert canonical.number_text(1) == "1.0"
    assert canonical.number_text(1e-05) == "1e-05"
    assert canonical.number_text(math.nan) == "null"
    assert canonical.number_text(-math.inf) == '"-Infinity"'
    assert (
        canonical.timestamp(datetime(2026, 7, 6, 2, tzinfo=timezone(timedelta(hours=2))))
        == "2026-07-06T00:00:00.000000Z"
    )
    assert canonical.dumps({"b": [1.5, math.nan], "a": "é"}) == '{"a":"\\u00e9","b":[1.5,null]}'


def test_entry_hash_is_sha256_over_previous_hash_bytes_and_payload() -> None:
    import hashlib

    payload = canonical.dumps({"kind": "window", "seq": 0})
    assert canonical.entry_hash(canonical.GENESIS, payload) == hashlib.sha256(b"\0" * 32 + payload.encode()).hexdigest()
    assert canonical.results_document(["b", "a"]) == "[a,b]"
