"""CSV sources read like parquet: empty strings stay strings, and read errors name the file and a fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ethics_audit.errors import SourceError
from ethics_audit.sources import load_window
from helpers import WINDOW_END, WINDOW_START, make_spec


def week() -> pd.DataFrame:
    n = 20
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(n)],
            "ts": pd.date_range(WINDOW_START, periods=n, freq="6h", tz="UTC"),
            "profile_bio": ["" if i % 4 == 0 else f"bio {i}" for i in range(n)],  # 5 empty bios: not nulls
            "sessions_7d": [np.nan if i % 5 == 0 else float(i) for i in range(n)],  # 4 real gaps
            "clicked": [None] * n,  # labels not in yet
        }
    )


def both(tmp_path: Path, frame: pd.DataFrame, **source: object) -> tuple[pd.DataFrame, pd.DataFrame]:
    (tmp_path / "pq").mkdir()
    (tmp_path / "csv").mkdir()
    frame.to_parquet(tmp_path / "pq" / "w.parquet")
    frame.to_csv(tmp_path / "csv" / "w.csv", index=False)
    out = []
    for folder in ("pq", "csv"):
        spec = make_spec({"source": {"path": f"{folder}/*", **source}}, path=tmp_path / "spec.yaml")
        out.append(load_window(spec, WINDOW_START, WINDOW_END).current)
    return out[0], out[1]


def test_a_clean_week_from_csv_has_the_same_null_shares_as_from_parquet(tmp_path: Path) -> None:
    parquet, csv = both(tmp_path, week())
    assert csv["profile_bio"].isna().sum() == 0 and (csv["profile_bio"] == "").sum() == 5
    assert csv["sessions_7d"].isna().sum() == 4 and csv["sessions_7d"].dtype == float
    assert csv["clicked"].isna().all()
    assert csv.isna().mean().to_dict() == parquet.isna().mean().to_dict()


def test_na_values_name_what_means_missing(tmp_path: Path) -> None:
    frame = week()
    frame["profile_bio"] = ["null" if i % 10 == 0 else "x" for i in range(len(frame))]
    _, csv = both(tmp_path, frame, na_values=["null"])
    assert csv["profile_bio"].isna().sum() == 2


def test_a_file_in_another_encoding_is_named_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("user_id,ts\nu1,2026-07-06T00:00:00Z\n")
    (tmp_path / "data" / "b.csv").write_bytes("user_id,ts\nJosé,2026-07-06T00:00:00Z\n".encode("latin-1"))
    spec = make_spec({"source": {"path": "data/*.csv"}}, path=tmp_path / "spec.yaml")
    with pytest.raises(SourceError) as err:
        load_window(spec, WINDOW_START, WINDOW_END)
    message = str(err.value)
    assert str(tmp_path / "data" / "b.csv") in message and "is not utf-8 text" in message
    assert "encoding:" in message and "Jos" not in message
    latin = make_spec({"source": {"path": "data/*.csv", "encoding": "latin-1"}}, path=tmp_path / "spec.yaml")
    assert sorted(load_window(latin, WINDOW_START, WINDOW_END).current["user_id"]) == ["José", "u1"]


def test_a_broken_row_is_named_by_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("user_id,ts\nu1,2026-07-06T00:00:00Z\nu2,SECRET-CELL,extra\n")
    spec = make_spec({"source": {"path": "data/*.csv"}}, path=tmp_path / "spec.yaml")
    with pytest.raises(SourceError) as err:
        load_window(spec, WINDOW_START, WINDOW_END)
    message = str(err.value)
    assert f"{tmp_path / 'data' / 'a.csv'} is not valid CSV at line 3" in message
    assert "quote fields" in message and "SECRET" not in message


def test_an_empty_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("")
    spec = make_spec({"source": {"path": "data/*.csv"}}, path=tmp_path / "spec.yaml")
    with pytest.raises(SourceError, match=r"a\.csv is empty \(not even a header line\)"):
        load_window(spec, WINDOW_START, WINDOW_END)
