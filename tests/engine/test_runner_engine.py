"""The runner on ``engine: {kind: duckdb}``: rows stay on DuckDB, families without statistics
on the engine get the frame loaded (and the log says which), memory limits are applied."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest

from ethics_audit import checks, engine
from ethics_audit.engine import window
from ethics_audit.runner import audit_window, load, run_families
from ethics_audit.store import Store
from fakes import family as fake
from fakes import rows_family
from helpers import WINDOW_END, WINDOW_START, make_spec


def write_window(folder: Path, scores: list[float]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    n = len(scores)
    pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(n)],
            "ts": pd.date_range(WINDOW_START, periods=n, freq="1h", tz="UTC"),
            "score": scores,
        }
    ).to_parquet(folder / "w.parquet")


def spec_in(tmp_path: Path, kind: str = "duckdb", **engine_options: str) -> object:
    return make_spec(
        {
            "columns": {"score": "score"},
            "checks": {"quality": {}, "privacy": {}},
            "source": {"path": "data/*.parquet"},
            "engine": {"kind": kind, **engine_options},
        },
        path=tmp_path / "spec.yaml",
    )


@pytest.fixture
def families(monkeypatch: pytest.MonkeyPatch) -> None:
    """quality reads rows on the engine; privacy is an old-style family that needs the frame."""
    monkeypatch.setattr(checks, "CHECKS", {"quality": "fakes.rows_family", "privacy": "fakes.family"})
    monkeypatch.setattr(fake, "BEHAVIOUR", {"privacy": fake.mean_score("privacy")})
    monkeypatch.setattr(rows_family, "SEEN", [])


def test_the_engine_path_keeps_rows_on_duckdb_for_families_that_read_rows(
    tmp_path: Path, store: Store, families: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checks, "CHECKS", {"quality": "fakes.rows_family"})
    write_window(tmp_path / "data", [0.1, 0.2, 0.3])  # below warn: no remedy section
    spec = spec_in(tmp_path)
    data = load(store, spec, WINDOW_START, WINDOW_END)
    assert data.current is None and data.rows == 3 and not data.has_reference
    outputs = run_families(data)
    assert rows_family.SEEN == [None] and data.current is None  # nothing was loaded into memory
    assert outputs[0].results[0].value == pytest.approx(0.2)


def test_a_breach_loads_the_frame_for_its_remedy_section(
    tmp_path: Path, store: Store, families: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checks, "CHECKS", {"quality": "fakes.rows_family"})
    write_window(tmp_path / "data", [0.9, 0.6, 0.6])  # a warn breach: the remedies need rows
    data = load(store, spec_in(tmp_path), WINDOW_START, WINDOW_END)
    run_families(data)
    assert rows_family.SEEN == [None]
    assert data.derived["engine.loaded_for"] == ["the quality remedy section"]


def test_a_family_without_rows_support_gets_the_frame_and_the_log_names_it(
    tmp_path: Path, store: Store, families: None, caplog: pytest.LogCaptureFixture
) -> None:
    write_window(tmp_path / "data", [0.1, 0.2, 0.3])
    spec = spec_in(tmp_path)
    data = load(store, spec, WINDOW_START, WINDOW_END)
    with caplog.at_level(logging.WARNING, logger="ethics_audit.engine.window"):
        outputs = run_families(data)
    assert rows_family.SEEN == [None]  # quality ran first, on the engine
    assert data.current is not None and len(data.current) == 3  # loaded for privacy
    assert data.derived["engine.loaded_for"] == ["the privacy check"]
    assert "the privacy check has no statistics on the engine yet" in caplog.text
    assert [o.results[0].value for o in outputs] == [pytest.approx(0.2)] * 2, [o.reason for o in outputs]


def test_the_engine_path_records_what_the_memory_path_records(tmp_path: Path, store: Store, families: None) -> None:
    write_window(tmp_path / "data", [0.9, 0.6, 0.6, 0.1])
    outcomes = [
        audit_window(spec_in(tmp_path, kind), WINDOW_START, WINDOW_END, store=store, trigger="test")
        for kind in ("memory", "duckdb")
    ]
    memory, duck = outcomes
    assert duck.rows == memory.rows == 4 and duck.reference_rows is memory.reference_rows is None
    assert [(f.result.metric, f.result.value, f.severity) for f in duck.findings] == [
        (f.result.metric, f.result.value, f.severity) for f in memory.findings
    ]
    assert duck.status == memory.status == "succeeded"


def test_the_default_engine_is_memory(tmp_path: Path, store: Store) -> None:
    write_window(tmp_path / "data", [0.5])
    spec = make_spec({"source": {"path": "data/*.parquet"}}, path=tmp_path / "spec.yaml")
    assert spec.engine.kind == "memory" and "engine" not in spec.model_dump(mode="json")
    data = load(store, spec, WINDOW_START, WINDOW_END)
    assert data.current is not None and data.tables == {}


def test_a_sql_source_is_read_into_memory_even_on_duckdb() -> None:
    spec = make_spec(
        {
            "source": {
                "path": None,
                "query": "SELECT * FROM p WHERE ts >= :window_start AND ts < :window_end",
                "url": "sqlite://",
            },
            "engine": {"kind": "duckdb"},
        }
    )
    assert not window.uses_engine(spec)


def setting(backend: object, name: str) -> str:
    return backend.raw_sql(f"SELECT current_setting('{name}')").fetchone()[0]


def test_the_memory_limit_comes_from_the_spec_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_window(tmp_path / "data", [0.5])
    monkeypatch.delenv("ETHICS_AUDIT_MEMORY_LIMIT", raising=False)
    data = window.load_window(spec_in(tmp_path), WINDOW_START, WINDOW_END)
    assert setting(data.tables["current"].backend, "memory_limit") == "953.6 MiB"  # 1GB, DuckDB's spelling
    monkeypatch.setenv("ETHICS_AUDIT_MEMORY_LIMIT", "300MB")
    data = window.load_window(spec_in(tmp_path), WINDOW_START, WINDOW_END)
    assert setting(data.tables["current"].backend, "memory_limit") == "286.1 MiB"
    data = window.load_window(spec_in(tmp_path, memory_limit="200MB"), WINDOW_START, WINDOW_END)
    backend = data.tables["current"].backend
    assert setting(backend, "memory_limit") == "190.7 MiB"
    assert setting(backend, "temp_directory") == engine.spill_directory()
    assert setting(backend, "TimeZone") == "UTC"


def test_engine_fields_are_validated_by_name() -> None:
    from ethics_audit.errors import SpecError

    with pytest.raises(SpecError, match=r"engine\.kind: .*'memory', 'duckdb', 'postgres' or 'spark'"):
        make_spec({"engine": {"kind": "hadoop"}})
    with pytest.raises(SpecError, match=r"engine\.memory_limit: .*'lots' is not a size"):
        make_spec({"engine": {"kind": "duckdb", "memory_limit": "lots"}})


def test_a_window_on_the_engine_is_staged_by_duckdb_and_reads_back_the_same(tmp_path: Path) -> None:
    from ethics_audit.staging import load_audit_data, save_audit_data

    write_window(tmp_path / "data", [0.1, 0.2, 0.3])
    spec = spec_in(tmp_path)
    data = window.load_window(spec, WINDOW_START, WINDOW_END)
    save_audit_data(data, tmp_path / "staged")
    assert data.current is None  # staged without loading the rows into pandas
    staged = load_audit_data(spec, tmp_path / "staged")
    memory = window.frame_of(data.tables["current"])
    pd.testing.assert_frame_equal(staged.current, memory)
    assert staged.rows == 3 and staged.reference is None


def test_postgres_needs_a_sql_source() -> None:
    from ethics_audit.errors import SpecError

    with pytest.raises(SpecError, match=r"engine\.kind: postgres runs the statistics inside a SQL source"):
        make_spec({"engine": {"kind": "postgres"}})


def test_a_window_joined_with_labels_from_memory_streams_in_batches(tmp_path: Path) -> None:
    import ibis

    write_window(tmp_path / "data", [0.1, 0.2, 0.3])
    data = window.load_window(spec_in(tmp_path), WINDOW_START, WINDOW_END)
    rows = data.tables["current"]
    labels = ibis.memtable(pd.DataFrame({"user_id": ["u0", "u2"], "clicked": [1, 0]}))
    joined = rows.table.left_join(labels, "user_id").select(*rows.table.columns, "clicked")
    batches = list(rows.batches(joined, rows=2))
    assert sum(b.num_rows for b in batches) == 3 and max(b.num_rows for b in batches) <= 2


def test_a_large_window_gives_its_remedy_section_a_sample_and_stays_on_the_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml
    from bench.synthetic import frame, spec_dict
    from bench.synthetic import window as bench_window

    from ethics_audit.runner import run_family
    from ethics_audit.sources import load_window
    from ethics_audit.spec import load_spec

    frame(3000, seed=1, shift=1.0).to_parquet(tmp_path / "current.parquet")
    frame(3000, seed=2).to_parquet(tmp_path / "reference.parquet")
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(dict(spec_dict(), engine={"kind": "duckdb"})))
    spec = load_spec(tmp_path / "spec.yaml")
    start, end = bench_window()
    whole = run_family("drift", load_window(spec, start, end))  # in memory, every row
    assert whole.remedy is not None and not any("sample" in n for n in whole.remedy["notes"])

    monkeypatch.setattr(window, "REMEDY_ROWS", 1000)
    data = window.load_window(spec, start, end)
    output = run_family("drift", data)
    assert output.remedy is not None
    assert any(n.startswith("computed on a seeded sample of") and "of 3,000" in n for n in output.remedy["notes"])
    # the families still to run find the window on the engine, not the sample
    assert data.current is None and data.rows == 3000
    assert data.derived["engine.loaded_for"] == ["the drift remedy section"]
    # the section still names the column that moved, from about a third of the rows
    assert list(output.remedy["facts"]["columns"]) == list(whole.remedy["facts"]["columns"]) == ["num_00"]
    assert output.remedy["headline"] == whole.remedy["headline"]
