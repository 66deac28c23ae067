"""The families after quality run side by side on DuckDB (``engine.parallel``), each on its own
connection, and give exactly what they give one after another: results, artifacts, remedies."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import yaml
from bench.synthetic import frame, spec_dict, window

from ethics_audit.engine import parallel
from ethics_audit.runner import load, run_families
from ethics_audit.spec import load_spec
from ethics_audit.store import Store
from helpers import close


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("parallel")
    frame(4000, seed=1, shift=0.5).to_parquet(folder / "current.parquet")  # num_00 drifts: a remedy section
    frame(4000, seed=2).to_parquet(folder / "reference.parquet")
    return folder


def spec_at(folder: Path, kind: str = "duckdb", **checks: object) -> object:
    spec = dict(spec_dict(), engine={"kind": kind})
    spec["checks"] = {**spec["checks"], **checks}
    (folder / f"spec-{kind}.yaml").write_text(yaml.safe_dump(spec))
    return load_spec(folder / f"spec-{kind}.yaml")


@pytest.fixture
def threads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, object]]:
    """(thread name, the view's connection) of each family that ran on a view of its own."""
    seen: list[tuple[str, object]] = []
    original = parallel.for_thread

    def for_thread(data):
        view, close = original(data)
        seen.append((threading.current_thread().name, view.tables["current"].backend.con))
        return view, close

    monkeypatch.setattr(parallel, "for_thread", for_thread)
    return seen


def outcome(outputs: list) -> list:
    """Everything a family hands back, in a form two runs can be compared by."""
    return [
        (
            o.family,
            o.status,
            o.reason,
            [(r.check, r.metric, r.slice, r.status, r.n, r.value, r.details) for r in o.results],
            # Evidently's HTML names its elements with fresh random ids: the same length, other text
            [(a.kind, a.name, len(a.content) if a.name.endswith(".html") else a.content) for a in o.artifacts],
            o.remedy,
        )
        for o in outputs
    ]


def without_seconds(remedy: object) -> object:
    if isinstance(remedy, dict):
        return {k: without_seconds(v) for k, v in remedy.items() if k != "seconds"}
    if isinstance(remedy, list):
        return [without_seconds(v) for v in remedy]
    return remedy


def test_side_by_side_equals_one_after_another(
    folder: Path, store: Store, threads: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = spec_at(folder, drift={"html_report": {"enabled": True}})  # Evidently's report, in a thread
    start, end = window()
    data = load(store, spec, start, end)
    together = run_families(data)
    names = [name for name, _ in threads]
    assert [o.family for o in together] == ["quality", "drift", "fairness", "privacy"]
    assert len(threads) == 3 and all(n.startswith("ethics-audit-family") for n in names)
    main = data.tables["current"].backend.con
    assert all(con is not main for _, con in threads)  # never the audit's own connection
    assert data.current is None  # no family loaded the window
    assert data.artifacts == together[0].artifacts  # quality's, run first; the others' are their outputs'

    monkeypatch.setenv(parallel.PARALLEL_ENV, "off")
    threads.clear()
    alone = run_families(load(store, spec, start, end))
    assert threads == []
    a, b = outcome(together), outcome(alone)
    for x, y in zip(a, b, strict=True):
        assert x[:3] == y[:3] and x[4] == y[4], x[0]
        assert [r[:5] + r[6:] for r in x[3]] == [r[:5] + r[6:] for r in y[3]], x[0]
        # a mean score is DuckDB's double sum, which threads may add in another order: the last bits
        assert all(close(r[5], s[5]) for r, s in zip(x[3], y[3], strict=True)), x[0]
        assert without_seconds(x[5]) == without_seconds(y[5]), x[0]
    assert sum(len(o.artifacts) for o in together) >= 2  # quality's and drift's reports
    assert together[1].remedy is not None  # drift breached: its remedy section ran in its thread


def test_the_memory_path_and_a_blocked_window_run_in_turn(folder: Path, store: Store, threads: list) -> None:
    start, end = window()
    run_families(load(store, spec_at(folder, "memory"), start, end))
    assert threads == []
    blocked = spec_at(folder, quality={"required_columns": ["no_such_column"]})
    outputs = run_families(load(store, blocked, start, end))
    assert threads == []
    assert [o.status for o in outputs] == ["ran", "skipped", "skipped", "skipped"]
    assert "no_such_column" in outputs[1].reason


def test_a_family_out_of_duckdbs_memory_beside_the_others_runs_again_alone(
    folder: Path, store: Store, threads: list, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import duckdb

    from ethics_audit import runner

    spec = spec_at(folder)
    start, end = window()
    monkeypatch.setenv(parallel.PARALLEL_ENV, "off")
    alone = {o.family: o for o in run_families(load(store, spec, start, end))}
    monkeypatch.delenv(parallel.PARALLEL_ENV)
    threads.clear()
    failed: list[str] = []
    original = runner.run_check

    def run_check(family: str, data: object) -> list:
        # what DuckDB raises when queries side by side together need more than its memory limit
        if family == "fairness" and threading.current_thread().name.startswith("ethics-audit-family"):
            failed.append(family)
            raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block of size 256.0 KiB")
        return original(family, data)

    monkeypatch.setattr(runner, "run_check", run_check)
    outputs = run_families(load(store, spec, start, end))
    assert failed == ["fairness"]
    assert [o.status for o in outputs] == ["ran"] * 4
    assert len(threads) == 3  # the second try, alone, on the audit's own connection
    fairness = outputs[2]
    want = alone["fairness"]
    assert [(r.metric, r.slice, r.status, r.n) for r in fairness.results] == [
        (r.metric, r.slice, r.status, r.n) for r in want.results
    ]
    assert all(close(a.value, b.value) for a, b in zip(fairness.results, want.results, strict=True))
    assert "the fairness family runs again alone, after the others (DuckDB's memory limit)" in caplog.text


def test_a_memory_limit_too_small_is_named_with_its_fix(folder: Path, store: Store, monkeypatch) -> None:
    """A real failure: at 2MB DuckDB cannot hold drift's aggregates, alone or side by side (nor,
    at times, open a connection for a family: that family runs on the audit's own). Never a crash."""
    start, end = window()
    data = load(store, spec_at(folder), start, end)
    data.tables["current"].backend.con.execute("SET memory_limit = '2MB'")  # the window's views are made
    outputs = {o.family: o for o in run_families(data)}
    failed = [f for f, o in outputs.items() if o.status == "error"]
    assert "drift" in failed
    for family in failed:
        reason = outputs[family].reason
        assert reason.startswith(f"DuckDB ran out of its memory limit in the {family} check: raise engine.memory_limit")
        assert "ETHICS_AUDIT_MEMORY_LIMIT" in reason and "internal error" not in reason
        assert outputs[family].results[0].details["error"] == reason


def test_a_part_out_of_duckdbs_memory_marks_its_family_for_the_second_try() -> None:
    import duckdb

    from ethics_audit.checks.parts import run_parts
    from ethics_audit.runner import FamilyOutput

    def short(config: object, data: object) -> list:
        raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block of size 256.0 KiB")

    def broken(config: object, data: object) -> list:
        raise KeyError("a bug")

    results = run_parts("privacy", [("reidentification", short)], None, None)
    assert (
        results[0]
        .details["error"]
        .startswith(
            "DuckDB ran out of its memory limit in the privacy check (reidentification): raise engine.memory_limit"
        )
    )
    assert parallel.ran_out_of_memory(FamilyOutput("privacy", results, 0.0, "ran", ""))
    other = run_parts("privacy", [("reidentification", broken)], None, None)
    assert "internal error" in other[0].details["error"]
    assert not parallel.ran_out_of_memory(FamilyOutput("privacy", other, 0.0, "ran", ""))


def test_a_family_that_cannot_open_its_own_connection_runs_on_the_audits(
    folder: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duckdb

    original = parallel.for_thread

    def for_thread(data):
        if threading.current_thread().name.startswith("ethics-audit-family") and not opened:
            opened.append(True)
            raise duckdb.OutOfMemoryException("Out of Memory Error: failed to allocate data of size 2.0 KiB")
        return original(data)

    opened: list[bool] = []
    monkeypatch.setattr(parallel, "for_thread", for_thread)
    start, end = window()
    outputs = run_families(load(store, spec_at(folder), start, end))
    assert opened == [True]
    assert [o.status for o in outputs] == ["ran"] * 4
    assert all(o.results for o in outputs)


def test_every_connection_reads_parquet_without_prefetching(folder: Path, store: Store) -> None:
    """DuckDB's parquet prefetch reads a whole row group's columns into fresh buffers: a 1M-row
    file of one row group cost every query about 100 MB of new pages (the reference's drift
    profile: 31,000 page faults and 0.39 s a run with it, 2,000 and 0.32 s without). It is off on
    the audit's connection and on the connections the families and the fingerprint open."""
    data = load(store, spec_at(folder), *window())
    view, close_view = parallel.for_thread(data)
    try:
        own = data.tables["current"].backend.con
        for con in (own, view.tables["current"].backend.con, own.cursor()):
            assert con.execute("SELECT current_setting('disable_parquet_prefetching')").fetchall() == [(True,)]
    finally:
        close_view()
