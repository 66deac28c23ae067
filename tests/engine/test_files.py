"""A window of files on DuckDB gives the rows, counts and fingerprint the in-memory loader gives."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ethics_audit.engine import window
from ethics_audit.engine.fingerprint import of_rows, of_tables
from ethics_audit.errors import DataError, SourceError
from ethics_audit.ledger.fingerprint import of_window
from ethics_audit.sources import load_window
from helpers import WINDOW_END, WINDOW_START, make_spec


def predictions(days: int = 21) -> pd.DataFrame:
    """One row every 6 hours from a week before the window: 28 rows per week, with gaps."""
    n = days * 4
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "prediction_id": [f"p{i}" for i in range(n)],
            "user_id": [f"u{i % 10}" for i in range(n)],
            "ts": pd.date_range(WINDOW_START - timedelta(days=7), periods=n, freq="6h", tz="UTC"),
            "score": np.where(rng.random(n) < 0.2, np.nan, rng.random(n)),
            "clicks": pd.array([None if i % 7 == 0 else i for i in range(n)], dtype="Int64"),
            "visits": np.arange(n),
            "bio": ["" if i % 4 == 0 else (None if i % 9 == 0 else f"bio {i}") for i in range(n)],
            "flag": [None if i % 11 == 0 else bool(i % 2) for i in range(n)],
        }
    )


def both(spec, *, csv: bool = False):
    """The window loaded in memory, and on DuckDB then loaded back (``materialise``). From CSV,
    DuckDB parses decimals correctly rounded where pandas' parser may miss by one unit in the
    last place, so the fingerprints of number columns may differ there (and only there)."""
    memory = load_window(spec, WINDOW_START, WINDOW_END)
    engine = window.load_window(spec, WINDOW_START, WINDOW_END)
    assert engine.current is None and "current" in engine.tables
    assert engine.rows == memory.rows and engine.reference_rows == memory.reference_rows
    assert engine.has_reference == (memory.reference is not None)
    # before anything is loaded: on DuckDB its own hash, in one scan; streamed through pandas, of_frame's
    on_duckdb = of_tables(engine)
    assert on_duckdb["current"]["method"] == "duckdb-hash" and on_duckdb["current"]["rows"] == memory.rows
    assert set(on_duckdb["current"]["columns"]) == set(map(str, memory.current.columns))
    fingerprint = {
        name: of_rows(engine.tables[name]) if name in engine.tables else None for name in ("current", "reference")
    }
    expected = of_window(memory.current, memory.reference)
    if csv:
        for side in ("current", "reference"):
            for name in ("score",):
                for f in (fingerprint, expected):
                    if f[side] is not None:
                        f[side]["columns"].pop(name, None)
    assert fingerprint == expected
    window.materialise(engine, "the test")
    return memory, engine


def same(left: pd.DataFrame, right: pd.DataFrame, key: str = "prediction_id", *, csv: bool = False) -> None:
    left, right = (f.sort_values(key).reset_index(drop=True) for f in (left, right))
    pd.testing.assert_frame_equal(left, right, check_exact=not csv, rtol=1e-15)


@pytest.mark.parametrize("engine_kind", ["duckdb"])
def test_a_parquet_window_with_nulls_equals_the_memory_path(tmp_path: Path, engine_kind: str) -> None:
    frame = predictions()
    (tmp_path / "data").mkdir()
    frame.iloc[:40].to_parquet(tmp_path / "data" / "a.parquet")
    frame.iloc[40:].to_parquet(tmp_path / "data" / "b.parquet")
    spec = make_spec({"engine": {"kind": engine_kind}}, path=tmp_path / "spec.yaml")
    memory, engine = both(spec)
    assert memory.rows == 28
    same(memory.current, engine.current)
    assert str(engine.current["ts"].dt.tz) == "UTC"
    assert engine.current["ts"].min() == pd.Timestamp(WINDOW_START)
    assert engine.current["ts"].max() < pd.Timestamp(WINDOW_END)


@pytest.mark.parametrize("unit", ["ns", "us"])
def test_naive_timestamps_are_utc_and_the_bounds_are_half_open(tmp_path: Path, unit: str) -> None:
    frame = predictions()
    frame["ts"] = frame["ts"].dt.tz_localize(None).astype(f"datetime64[{unit}]")
    frame.to_parquet(tmp_path / "p.parquet")
    spec = make_spec({"source": {"path": "p.parquet"}, "engine": {"kind": "duckdb"}}, path=tmp_path / "spec.yaml")
    memory, engine = both(spec)
    same(memory.current, engine.current)
    # the row at the window start is in, the one at its end is out
    stamps = set(engine.current["ts"])
    assert pd.Timestamp(WINDOW_START) in stamps and pd.Timestamp(WINDOW_END) not in stamps
    assert engine.rows == 28


@pytest.mark.parametrize("zone", ["UTC", None])
def test_the_scan_keeps_the_window_to_the_microsecond(tmp_path: Path, zone: str | None) -> None:
    # pandas' nanosecond timestamps, with and without a zone: the window is kept by DuckDB's
    # parquet scan itself (compared as stored), half open, nothing a microsecond outside it in
    # (the bounds are microseconds: both loaders round a stamp within 1 ns of one to it)
    one = pd.Timedelta(1, "us")
    stamps = [WINDOW_START - one, WINDOW_START, WINDOW_END - one, WINDOW_END]
    frame = pd.DataFrame({"prediction_id": list("abcd"), "user_id": list("wxyz"), "score": [0.1, 0.2, 0.3, 0.4]})
    frame["ts"] = pd.DatetimeIndex(stamps).tz_convert(zone) if zone else pd.DatetimeIndex(stamps).tz_localize(None)
    frame.to_parquet(tmp_path / "p.parquet")
    spec = make_spec({"source": {"path": "p.parquet"}, "engine": {"kind": "duckdb"}}, path=tmp_path / "spec.yaml")
    from ethics_audit.engine import duckdb_backend
    from ethics_audit.engine.files import scan

    _, kept = scan(spec.source, spec, "source", duckdb_backend(), ("ts", WINDOW_START, WINDOW_END))
    assert kept
    memory, engine = both(spec)
    same(memory.current, engine.current)
    assert sorted(engine.current["prediction_id"]) == ["b", "c"]


def test_other_zones_are_converted_to_utc(tmp_path: Path) -> None:
    frame = predictions()
    frame["ts"] = frame["ts"].dt.tz_convert("America/New_York")
    frame.to_parquet(tmp_path / "p.parquet")
    spec = make_spec({"source": {"path": "p.parquet"}, "engine": {"kind": "duckdb"}}, path=tmp_path / "spec.yaml")
    memory, engine = both(spec)
    same(memory.current, engine.current)
    assert str(engine.current["ts"].dt.tz) == "UTC"


def test_csv_keeps_empty_text_and_reads_gaps_in_numbers_as_missing(tmp_path: Path) -> None:
    frame = predictions()
    frame.to_csv(tmp_path / "p.csv", index=False)
    spec = make_spec({"source": {"path": "p.csv"}, "engine": {"kind": "duckdb"}}, path=tmp_path / "spec.yaml")
    memory, engine = both(spec, csv=True)
    same(memory.current, engine.current, csv=True)
    assert (engine.current["bio"] == "").sum() == (memory.current["bio"] == "").sum() > 0
    assert engine.current["score"].isna().sum() == memory.current["score"].isna().sum() > 0


def test_csv_na_values_and_encoding(tmp_path: Path) -> None:
    frame = predictions()
    frame["bio"] = [("NA" if i % 3 == 0 else f"café {i}") for i in range(len(frame))]
    frame.to_csv(tmp_path / "p.csv", index=False, encoding="latin-1")
    source = {"path": "p.csv", "na_values": ["NA"], "encoding": "latin-1"}
    spec = make_spec({"source": source, "engine": {"kind": "duckdb"}}, path=tmp_path / "spec.yaml")
    memory, engine = both(spec, csv=True)
    same(memory.current, engine.current, csv=True)
    assert engine.current["bio"].isna().sum() > 0
    assert engine.current["bio"].dropna().str.startswith("café").all()


def test_a_bad_timestamp_is_counted_never_quoted(tmp_path: Path) -> None:
    frame = predictions()
    frame["ts"] = frame["ts"].astype(str)
    frame.loc[3, "ts"] = "secret-value"
    frame.to_csv(tmp_path / "p.csv", index=False)
    spec = make_spec({"source": {"path": "p.csv"}, "engine": {"kind": "duckdb"}}, path=tmp_path / "spec.yaml")
    with pytest.raises(DataError, match="1 of 84 values") as error:
        window.load_window(spec, WINDOW_START, WINDOW_END)
    assert "secret-value" not in str(error.value)


def test_files_outside_the_roots_are_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    predictions().to_parquet(outside / "p.parquet")
    source = {"path": str(outside / "p.parquet")}
    spec = make_spec({"source": source, "engine": {"kind": "duckdb"}}, path=tmp_path / "audits" / "spec.yaml")
    with pytest.raises(SourceError, match=r"source\.path: .* is outside the folders an audit may read"):
        window.load_window(spec, WINDOW_START, WINDOW_END)


def test_a_missing_timestamp_column_names_the_field(tmp_path: Path) -> None:
    predictions().drop(columns="ts").to_parquet(tmp_path / "p.parquet")
    spec = make_spec({"source": {"path": "p.parquet"}, "engine": {"kind": "duckdb"}}, path=tmp_path / "spec.yaml")
    with pytest.raises(DataError, match=r"columns\.timestamp"):
        window.load_window(spec, WINDOW_START, WINDOW_END)


def test_late_labels_and_the_previous_windows_are_joined_on_the_engine(tmp_path: Path) -> None:
    frame = predictions()
    frame.to_parquet(tmp_path / "p.parquet")
    labels = pd.DataFrame({"prediction_id": frame["prediction_id"][::2], "clicked": np.arange(len(frame))[::2] % 2})
    labels.to_parquet(tmp_path / "labels.parquet")
    spec = make_spec(
        {
            "source": {"path": "p.parquet"},
            "columns": {"prediction_id": "prediction_id", "label": "clicked"},
            "labels": {"source": {"path": "labels.parquet"}, "column": "clicked", "join_on": ["prediction_id"]},
            "reference": {"previous_windows": 1},
            "engine": {"kind": "duckdb"},
        },
        path=tmp_path / "spec.yaml",
    )
    memory, engine = both(spec)
    same(memory.current, engine.current)
    same(memory.reference, engine.reference)
    assert engine.current["clicked"].notna().sum() == 14


def test_repeated_label_keys_are_refused(tmp_path: Path) -> None:
    frame = predictions()
    frame.to_parquet(tmp_path / "p.parquet")
    labels = pd.DataFrame({"prediction_id": ["p1", "p1", "p2"], "clicked": [1, 0, 1]})
    labels.to_parquet(tmp_path / "labels.parquet")
    spec = make_spec(
        {
            "source": {"path": "p.parquet"},
            "columns": {"prediction_id": "prediction_id"},
            "labels": {"source": {"path": "labels.parquet"}, "column": "clicked", "join_on": ["prediction_id"]},
            "engine": {"kind": "duckdb"},
        },
        path=tmp_path / "spec.yaml",
    )
    with pytest.raises(DataError, match="1 label rows repeat a key"):
        window.load_window(spec, WINDOW_START, WINDOW_END)


def test_a_baseline_reference_stays_on_the_engine(tmp_path: Path) -> None:
    frame = predictions()
    frame.to_parquet(tmp_path / "p.parquet")
    frame.iloc[:30].to_csv(tmp_path / "ref.csv", index=False)
    spec = make_spec(
        {"source": {"path": "p.parquet"}, "reference": {"baseline": {"path": "ref.csv"}}, "engine": {"kind": "duckdb"}},
        path=tmp_path / "spec.yaml",
    )
    memory, engine = both(spec, csv=True)
    assert engine.reference_rows == 30
    same(memory.reference, engine.reference, csv=True)


def test_the_duckdb_fingerprint_sees_every_value_and_not_the_order(tmp_path: Path) -> None:
    frame = predictions()
    spec = make_spec({"source": {"path": "p.parquet"}, "engine": {"kind": "duckdb"}}, path=tmp_path / "spec.yaml")

    def fingerprint(f: pd.DataFrame) -> dict:
        f.to_parquet(tmp_path / "p.parquet")
        return of_tables(window.load_window(spec, WINDOW_START, WINDOW_END))["current"]["columns"]

    first = fingerprint(frame)
    assert fingerprint(frame.iloc[::-1].reset_index(drop=True)) == first  # order-free
    changed = frame.copy()
    changed.loc[40, "score"] = 0.123  # a row inside the window
    after = fingerprint(changed)
    assert after["score"] != first["score"]
    assert {k: v for k, v in after.items() if k != "score"} == {k: v for k, v in first.items() if k != "score"}
    nulled = frame.copy()
    nulled.loc[41, "bio"] = None
    assert fingerprint(nulled)["bio"] != first["bio"]


def test_a_csv_column_empty_throughout_is_missing_numbers_as_in_memory(tmp_path: Path) -> None:
    n = 20
    frame = pd.DataFrame(
        {
            "prediction_id": [f"p{i}" for i in range(n)],
            "user_id": [f"u{i}" for i in range(n)],
            "ts": pd.date_range(WINDOW_START, periods=n, freq="6h", tz="UTC"),
            "profile_bio": ["" if i % 4 == 0 else f"bio {i}" for i in range(n)],
            "sessions_7d": [np.nan if i % 5 == 0 else float(i) for i in range(n)],
            "clicked": [None] * n,  # labels not in yet
        }
    )
    frame.to_csv(tmp_path / "w.csv", index=False)
    spec = make_spec({"source": {"path": "w.csv"}, "engine": {"kind": "duckdb"}}, path=tmp_path / "spec.yaml")
    memory, engine = both(spec, csv=True)
    same(memory.current, engine.current, csv=True)
    assert engine.current["clicked"].isna().all() and engine.current["clicked"].dtype == "float64"
    assert (engine.current["profile_bio"] == "").sum() == 5


def test_the_fingerprint_taken_on_a_second_connection_equals_the_audits_own(tmp_path: Path) -> None:
    """``fingerprint.started`` scans on a cursor while the families run: the same digests as on
    the audit's connection, and None where that connection cannot see a table (a CSV reference
    is a view of the audit's connection only), so the audit takes it itself."""
    from ethics_audit.engine.fingerprint import started

    frame = predictions()
    frame.to_parquet(tmp_path / "p.parquet")
    frame.iloc[:30].to_parquet(tmp_path / "ref.parquet")
    frame.iloc[:30].to_csv(tmp_path / "ref.csv", index=False)
    for reference in ("ref.parquet", "ref.csv"):
        spec = make_spec(
            {
                "source": {"path": "p.parquet"},
                "reference": {"baseline": {"path": reference}},
                "engine": {"kind": "duckdb"},
            },
            path=tmp_path / "spec.yaml",
        )
        data = window.load_window(spec, WINDOW_START, WINDOW_END)
        taken = started(data)()
        if reference == "ref.csv":
            assert taken is None
            continue
        assert taken == of_tables(data) and taken["current"]["rows"] == 28 and taken["reference"]["rows"] == 30


@pytest.mark.parametrize("zone", ["UTC", None])
def test_the_utc_timestamps_are_a_view_of_their_own_with_the_projections_values(
    tmp_path: Path, zone: str | None
) -> None:
    """The window's timestamps made UTC live in a DuckDB view of their own (every query names it
    instead of repeating a projection of every column): the same type and the same values as the
    projection Ibis would inline, and a second connection sees it."""
    import ibis.expr.datatypes as dt
    import ibis.expr.operations as ops

    from ethics_audit.engine import duckdb_backend
    from ethics_audit.engine.files import in_utc, scan

    frame = predictions()
    frame["ts"] = frame["ts"] if zone else frame["ts"].dt.tz_localize(None)
    frame.to_parquet(tmp_path / "p.parquet")
    spec = make_spec({"source": {"path": "p.parquet"}, "engine": {"kind": "duckdb"}}, path=tmp_path / "spec.yaml")
    backend = duckdb_backend()
    raw, _ = scan(spec.source, spec, "source", backend)
    table = in_utc(raw, "ts", "source", backend)
    assert isinstance(table.op(), ops.DatabaseTable) and table.op().name.endswith("_utc")
    inline = raw.mutate(ts=raw.ts.cast(dt.Timestamp(timezone="UTC", scale=raw.ts.type().scale)))
    assert table.schema() == inline.schema() and table.ts.type().timezone == "UTC"
    assert backend.to_pyarrow(table.order_by("prediction_id")).equals(
        backend.to_pyarrow(inline.order_by("prediction_id"))
    )
    cursor = backend.con.cursor()
    assert cursor.execute(f'SELECT count(*) FROM "{table.op().name}"').fetchall() == [(len(frame),)]
