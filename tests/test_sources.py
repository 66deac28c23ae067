"""Reading windows: files (parquet, CSV, globs), SQL with bound parameters, labels, references."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from ethics_audit.errors import DataError, SourceError
from ethics_audit.sources import load_window, read_source, withhold_values
from helpers import WINDOW_END, WINDOW_START, make_spec

QUERY = "SELECT * FROM predictions WHERE ts >= :window_start AND ts < :window_end"


def predictions(days: int = 21, start=WINDOW_START - timedelta(days=7)) -> pd.DataFrame:
    """One row every 6 hours for ``days`` days: 28 rows per 7-day window."""
    n = days * 4
    return pd.DataFrame(
        {
            "prediction_id": [f"p{i}" for i in range(n)],
            "user_id": [f"u{i % 10}" for i in range(n)],
            "ts": pd.date_range(start, periods=n, freq="6h", tz="UTC"),
            "score": np.linspace(0, 1, n),
        }
    )


def test_parquet_glob_is_filtered_to_the_half_open_window(tmp_path: Path) -> None:
    frame = predictions()
    (tmp_path / "data").mkdir()
    frame.iloc[:40].to_parquet(tmp_path / "data" / "a.parquet")
    frame.iloc[40:].to_parquet(tmp_path / "data" / "b.parquet")
    spec = make_spec(path=tmp_path / "spec.yaml")  # source: data/*.parquet, relative to the spec
    data = load_window(spec, WINDOW_START, WINDOW_END)
    assert len(data.current) == 28
    assert data.current["ts"].min() == pd.Timestamp(WINDOW_START)
    assert data.current["ts"].max() < pd.Timestamp(WINDOW_END)
    assert str(data.current["ts"].dt.tz) == "UTC"


def test_naive_timestamps_and_csv_are_read_as_utc(tmp_path: Path) -> None:
    frame = predictions()
    frame["ts"] = frame["ts"].dt.tz_localize(None)
    frame.to_csv(tmp_path / "p.csv", index=False)
    frame.to_parquet(tmp_path / "p.parquet")
    for name in ("p.csv", "p.parquet"):
        spec = make_spec({"source": {"path": name}}, path=tmp_path / "spec.yaml")
        assert len(load_window(spec, WINDOW_START, WINDOW_END).current) == 28, name


def test_environment_variables_expand_and_missing_ones_are_named(tmp_path: Path, monkeypatch) -> None:
    predictions().to_parquet(tmp_path / "p.parquet")
    monkeypatch.setenv("PRED_DIR", str(tmp_path))
    monkeypatch.setenv("ETHICS_AUDIT_DATA_ROOTS", str(tmp_path))  # a spec that is no file reads from the roots
    spec = make_spec({"source": {"path": "${PRED_DIR}/p.parquet"}})
    assert len(load_window(spec, WINDOW_START, WINDOW_END).current) == 28
    monkeypatch.delenv("PRED_DIR")
    with pytest.raises(SourceError, match="environment variable PRED_DIR is not set"):
        load_window(spec, WINDOW_START, WINDOW_END)


def test_missing_files_and_columns_are_clear_errors(tmp_path: Path) -> None:
    spec = make_spec(path=tmp_path / "spec.yaml")
    with pytest.raises(SourceError) as err:
        load_window(spec, WINDOW_START, WINDOW_END)
    assert f"{tmp_path / 'spec.yaml'}: source.path: no files match" in str(err.value)
    (tmp_path / "data").mkdir()
    predictions().rename(columns={"ts": "created"}).to_parquet(tmp_path / "data" / "p.parquet")
    with pytest.raises(DataError, match=r"timestamp column 'ts' \(columns.timestamp\) is not in the data"):
        load_window(spec, WINDOW_START, WINDOW_END)


def test_unparseable_timestamps_name_the_column(tmp_path: Path) -> None:
    frame = predictions().astype({"ts": str})
    frame.loc[3, "ts"] = "last tuesday"
    frame.to_csv(tmp_path / "p.csv", index=False)
    spec = make_spec({"source": {"path": "p.csv"}}, path=tmp_path / "spec.yaml")
    with pytest.raises(DataError, match="column 'ts' has 1 of 84 values that are not timestamps"):
        load_window(spec, WINDOW_START, WINDOW_END)


@pytest.fixture
def sql_source(db_url: str) -> str:
    """A predictions table in a real database (SQLite file or a fresh PostgreSQL database)."""
    engine = sa.create_engine(db_url)
    predictions().to_sql("predictions", engine, index=False)
    engine.dispose()
    return db_url


def test_sql_source_binds_the_window(sql_source: str) -> None:
    spec = make_spec({"source": {"path": None, "query": QUERY, "url": sql_source}})
    data = load_window(spec, WINDOW_START, WINDOW_END)
    assert len(data.current) == 28
    assert data.current["ts"].min() == pd.Timestamp(WINDOW_START)


def test_sql_source_through_an_airflow_connection_id(sql_source: str, monkeypatch) -> None:
    url = sa.engine.make_url(sql_source)
    if url.get_backend_name() == "sqlite":
        monkeypatch.setenv("AIRFLOW_CONN_PREDICTIONS_DB", f'{{"conn_type": "sqlite", "host": "{url.database}"}}')
    else:  # the URI form Airflow writes: postgres://, which SQLAlchemy 2 alone would reject
        monkeypatch.setenv("AIRFLOW_CONN_PREDICTIONS_DB", f"postgres://postgres@127.0.0.1:5432/{url.database}")
    spec = make_spec({"source": {"path": None, "query": QUERY, "connection_id": "predictions_db"}})
    assert len(load_window(spec, WINDOW_START, WINDOW_END).current) == 28


def test_sql_errors_are_reported_without_the_url(sql_source: str) -> None:
    bad = "SELECT * FROM no_such_table WHERE ts >= :window_start AND ts < :window_end"
    spec = make_spec({"source": {"path": None, "query": bad, "url": sql_source}})
    with pytest.raises(SourceError, match="source: the query failed") as err:
        load_window(spec, WINDOW_START, WINDOW_END)
    assert "no_such_table" in str(err.value)


def test_a_failed_query_never_quotes_a_rows_value(sql_source: str) -> None:
    canary = "canary.person@example.org"
    engine = sa.create_engine(sql_source)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE people (ts TIMESTAMP, email TEXT)"))
        conn.execute(sa.text("INSERT INTO people VALUES (:ts, :email)"), {"ts": WINDOW_START, "email": canary})
    engine.dispose()
    # PostgreSQL names the value it could not cast; SQLite has its own message for a bad function
    query = (
        "SELECT CAST(email AS INTEGER) AS n FROM people WHERE ts >= :window_start AND ts < :window_end"
        if sql_source.startswith("postgresql")
        else "SELECT no_such_function(email) FROM people WHERE ts >= :window_start AND ts < :window_end"
    )
    spec = make_spec({"source": {"path": None, "query": query, "url": sql_source}})
    with pytest.raises(SourceError, match="source: the query failed") as err:
        load_window(spec, WINDOW_START, WINDOW_END)
    assert canary not in str(err.value)
    assert "canary" not in str(err.value)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            'invalid input syntax for type integer: "jane@example.com"',
            'invalid input syntax for type integer: "<value withheld>"',
        ),
        ("syntax error at or near 'x''y' here", "syntax error at or near '<value withheld>' here"),
        ('relation "no_such_table" does not exist', 'relation "no_such_table" does not exist'),
        ("no such table: predictions", "no such table: predictions"),
    ],
)
def test_withheld_values_keep_the_names(message: str, expected: str) -> None:
    assert withhold_values(message) == expected


def test_unknown_connection_id_says_how_to_define_it(monkeypatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_NOPE", raising=False)
    spec = make_spec({"source": {"path": None, "query": QUERY, "connection_id": "nope"}})
    with pytest.raises(SourceError, match="AIRFLOW_CONN_NOPE="):
        load_window(spec, WINDOW_START, WINDOW_END)


def test_late_labels_are_joined_by_prediction_id(tmp_path: Path) -> None:
    frame = predictions()
    (tmp_path / "data").mkdir()
    frame.to_parquet(tmp_path / "data" / "p.parquet")
    in_window = frame[(frame["ts"] >= WINDOW_START) & (frame["ts"] < WINDOW_END)]
    labels = pd.DataFrame({"prediction_id": in_window["prediction_id"].iloc[:10], "clicked": [1, 0] * 5})
    labels.to_parquet(tmp_path / "labels.parquet")
    spec = make_spec(
        {
            "columns": {"prediction_id": "prediction_id", "label": "clicked"},
            "labels": {"source": {"path": "labels.parquet"}, "column": "clicked", "join_on": ["prediction_id"]},
        },
        path=tmp_path / "spec.yaml",
    )
    current = load_window(spec, WINDOW_START, WINDOW_END).current
    assert len(current) == 28
    assert current["clicked"].notna().sum() == 10  # the rest have not arrived yet
    assert current["clicked"].iloc[:10].tolist() == [1, 0] * 5

    pd.concat([labels, labels.iloc[:2]]).to_parquet(tmp_path / "labels.parquet")
    with pytest.raises(DataError, match="2 label rows repeat a key"):
        load_window(spec, WINDOW_START, WINDOW_END)


def test_previous_windows_reference(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    predictions().to_parquet(tmp_path / "data" / "p.parquet")
    spec = make_spec({"reference": {"previous_windows": 1}}, path=tmp_path / "spec.yaml")
    data = load_window(spec, WINDOW_START, WINDOW_END)
    assert len(data.reference) == 28
    assert data.reference["ts"].max() < pd.Timestamp(WINDOW_START)


def test_read_source_without_a_window_reads_everything(tmp_path: Path) -> None:
    predictions().to_parquet(tmp_path / "baseline.parquet")
    spec = make_spec(
        {"reference": {"baseline": {"path": "baseline.parquet"}}},
        path=tmp_path / "spec.yaml",
    )
    assert len(read_source(spec.reference.baseline, spec, "reference.baseline")) == 84
