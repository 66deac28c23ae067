"""File sources stay inside the folders an audit may read, and no error quotes what a file holds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ethics_audit.errors import DataError, SourceError
from ethics_audit.sources import load_window
from helpers import WINDOW_END, WINDOW_START, make_spec

CANARY = "CANARY-OUTSIDE-FILE-LINE"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A readable file next to, not inside, the audit's folder."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text(f"{CANARY},b\n1,2\n")
    (folder / "secret.csv").write_text(f"{CANARY},b\n1,2\n")
    return folder


@pytest.mark.parametrize(
    "path",
    ["../outside/secret.txt", "../outside/secret.csv", "../outside/*.csv", "ABS/secret.csv", "ABS", "../outside/**/*"],
)
def test_a_source_outside_the_roots_is_refused_naming_the_field(tmp_path: Path, outside: Path, path: str) -> None:
    path = path.replace("ABS", str(outside))
    spec = make_spec({"source": {"path": path, "format": "csv"}}, path=tmp_path / "audit" / "spec.yaml")
    with pytest.raises(SourceError) as err:
        load_window(spec, WINDOW_START, WINDOW_END)
    message = str(err.value)
    assert "source.path" in message and "outside the folders an audit may read" in message
    assert "ETHICS_AUDIT_DATA_ROOTS" in message and CANARY not in message


def test_a_symlink_out_of_the_spec_folder_is_refused(tmp_path: Path, outside: Path) -> None:
    (tmp_path / "audit").mkdir()
    (tmp_path / "audit" / "data.csv").symlink_to(outside / "secret.csv")
    spec = make_spec({"source": {"path": "data.csv"}}, path=tmp_path / "audit" / "spec.yaml")
    with pytest.raises(SourceError, match="outside the folders"):
        load_window(spec, WINDOW_START, WINDOW_END)


def test_the_roots_are_the_spec_folder_the_home_and_the_data_roots(
    tmp_path: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = pd.DataFrame({"user_id": ["a"], "ts": pd.to_datetime([WINDOW_START]), "score": [0.5]})
    shared = tmp_path / "shared"
    shared.mkdir()
    frame.to_parquet(shared / "p.parquet")
    spec = make_spec({"source": {"path": str(shared / "p.parquet")}}, path=tmp_path / "audit" / "spec.yaml")
    with pytest.raises(SourceError, match="outside"):
        load_window(spec, WINDOW_START, WINDOW_END)
    monkeypatch.setenv("ETHICS_AUDIT_DATA_ROOTS", f"{outside}:{shared}")
    assert len(load_window(spec, WINDOW_START, WINDOW_END).current) == 1
    home = tmp_path / "home"
    (home / "demo").mkdir(parents=True)
    frame.to_parquet(home / "demo" / "p.parquet")
    monkeypatch.delenv("ETHICS_AUDIT_DATA_ROOTS")
    in_home = make_spec({"source": {"path": "${ETHICS_AUDIT_HOME}/demo/*.parquet"}}, path=tmp_path / "a" / "s.yaml")
    assert len(load_window(in_home, WINDOW_START, WINDOW_END).current) == 1


def test_a_missing_column_error_does_not_quote_the_files_header(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "p.csv").write_text(f"{CANARY},ts\nx,2026-07-06T00:00:00Z\n")
    spec = make_spec({"source": {"path": "data/*.csv"}}, path=tmp_path / "spec.yaml")
    with pytest.raises(DataError) as err:
        load_window(spec, WINDOW_START, WINDOW_END)
    assert "columns.entity_id" in str(err.value) and "'user_id'" in str(err.value)
    assert CANARY not in str(err.value) and "2 columns" in str(err.value)


def test_a_bad_timestamp_error_does_not_quote_the_value(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "p.csv").write_text(f"user_id,ts\na,{CANARY}\nb,2026-07-06T00:00:00Z\n")
    spec = make_spec({"source": {"path": "data/*.csv"}}, path=tmp_path / "spec.yaml")
    with pytest.raises(DataError) as err:
        load_window(spec, WINDOW_START, WINDOW_END)
    assert "'ts'" in str(err.value) and "1 of 2" in str(err.value) and CANARY not in str(err.value)
