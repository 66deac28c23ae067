"""A baseline reference's aggregates are kept for the next windows: the same results, without
scanning the reference again; a changed file is a new reference; the window is never kept."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from bench.synthetic import frame, spec_dict, window

from ethics_audit.checks.dispatch import run_check
from ethics_audit.engine import Rows, cache
from ethics_audit.engine import window as engine_window
from ethics_audit.engine.fingerprint import of_tables
from ethics_audit.spec import load_spec
from helpers import close

FAMILIES = ["quality", "drift", "fairness", "privacy"]


@pytest.fixture
def spec(tmp_path: Path):
    frame(3000, seed=1).to_parquet(tmp_path / "current.parquet")
    frame(3000, seed=2, shift=0.4).to_parquet(tmp_path / "reference.parquet")
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(dict(spec_dict(), engine={"kind": "duckdb"})))
    return load_spec(tmp_path / "spec.yaml")


class Scans:
    """Counts the reference's queries the engine really runs, and the window's queries."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reference = 0
        self.current = 0
        fetch, execute = cache.Kept.fetch_key, Rows.execute

        def counted_fetch(kept: cache.Kept, key: str | None, compute):
            def computed():
                self.reference += 1
                return compute()

            return fetch(kept, key, computed)

        def counted_execute(rows: Rows, expr):
            if rows.kept is None:
                self.current += 1
            return execute(rows, expr)

        monkeypatch.setattr(cache.Kept, "fetch_key", counted_fetch)
        monkeypatch.setattr(Rows, "execute", counted_execute)


def results(spec, families: list[str] = FAMILIES) -> tuple[dict, dict]:
    start, end = window()
    data = engine_window.load_window(spec, start, end)
    out = {f: [(r.metric, r.slice, r.status, r.n, r.value) for r in run_check(f, data)] for f in families}
    return out, of_tables(data)


def same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for family in a:
        assert len(a[family]) == len(b[family]), family
        for x, y in zip(a[family], b[family], strict=True):
            assert x[:4] == y[:4], (family, x, y)
            # the window's own float sums are DuckDB's, in parallel: equal to the last bits or so
            assert close(x[4], y[4]), (family, x, y)


def test_the_second_window_reads_the_reference_from_the_cache(spec, monkeypatch) -> None:
    scans = Scans(monkeypatch)
    first, fingerprint = results(spec)
    computed_first = scans.reference
    assert computed_first > 5 and list(cache.folder().glob("*/*.pickle"))
    scans.reference = 0
    second, fingerprint_again = results(spec)
    assert scans.reference == 0, "every reference aggregate of the second run was kept"
    assert scans.current > 0  # the window itself is computed again
    same(first, second)
    assert fingerprint == fingerprint_again and fingerprint["reference"]["method"] == "duckdb-hash"


def test_a_changed_reference_file_is_a_new_reference(spec, monkeypatch, tmp_path: Path) -> None:
    first, fingerprint = results(spec, ["drift"])
    frame(3000, seed=5, shift=1.5).to_parquet(tmp_path / "reference.parquet")
    os.utime(tmp_path / "reference.parquet", ns=(1, 1))  # even with an old modification time
    second, fingerprint_again = results(spec, ["drift"])
    assert fingerprint_again["reference"] != fingerprint["reference"]
    drift = {r[1]["column"]: r[4] for r in second["drift"] if r[0] == "column_drift"}
    before = {r[1]["column"]: r[4] for r in first["drift"] if r[0] == "column_drift"}
    assert drift["num_00"] != before["num_00"]
    monkeypatch.setenv(cache.CACHE_ENV, "off")
    uncached, fingerprint_uncached = results(spec, ["drift"])
    same(second, uncached)
    assert fingerprint_uncached == fingerprint_again


def test_turned_off_nothing_is_kept(spec, monkeypatch) -> None:
    monkeypatch.setenv(cache.CACHE_ENV, "off")
    results(spec, ["drift"])
    assert not cache.folder().exists()


def test_a_query_that_reads_more_than_the_reference_is_never_kept() -> None:
    kept = cache.Kept("identity", "ethics_audit_reference_baseline_3")
    alone = 'SELECT COUNT(*) FROM "ethics_audit_reference_baseline_3" AS "t0"'
    assert kept.key(alone) is not None
    assert kept.key(alone + ' JOIN "ethics_audit_source_0" AS "t1" ON TRUE') is None
    assert kept.key(alone + ' JOIN "ibis_pandas_memtable_abc" AS "t1" ON TRUE') is None
    assert kept.key('SELECT COUNT(*) FROM "ethics_audit_source_0"') is None
    # the same query of another reference (another identity) is another result
    assert cache.Kept("other", "ethics_audit_reference_baseline_3").key(alone) != kept.key(alone)
    assert cache.Kept("identity", "ethics_audit_reference_baseline_9").key(alone.replace("_3", "_9")) == kept.key(alone)


def test_an_expression_is_kept_by_what_it_computes_on_the_reference_alone(tmp_path: Path) -> None:
    """The key of an Ibis expression: the same for the same query built again (and for the
    reference's view under another number), another for another value, column, operation or
    engine; None for a query that also reads the window or a table sent from memory."""
    import ibis
    import pandas as pd

    pd.DataFrame({"x": [1.0, 2.0, None], "g": ["a", "b", "a"]}).to_parquet(tmp_path / "r.parquet")
    con = ibis.duckdb.connect()
    for name in ("ethics_audit_reference_baseline_3", "ethics_audit_reference_baseline_9", "ethics_audit_source_0"):
        con.read_parquet(tmp_path / "r.parquet", table_name=name)
    kept = cache.Kept("identity", "ethics_audit_reference_baseline_3")

    def query(name: str = "ethics_audit_reference_baseline_3", cut: float = 0.5, column: str = "x"):
        t = con.table(name)
        t = t.filter(t[column] > cut)
        return t.group_by("g").agg(n=t.count(), top=t.x.max())

    key = kept.expression_key(query(), "duckdb")
    assert key is not None and key == kept.expression_key(query(), "duckdb")
    other_view = cache.Kept("identity", "ethics_audit_reference_baseline_9")
    assert other_view.expression_key(query("ethics_audit_reference_baseline_9"), "duckdb") == key
    different = [
        kept.expression_key(query(cut=0.25), "duckdb"),
        kept.expression_key(query(cut=0.5000000000000001), "duckdb"),
        kept.expression_key(query(column="g", cut="a"), "duckdb"),
        kept.expression_key(query().order_by("g"), "duckdb"),
        kept.expression_key(query(), "pyspark"),
        cache.Kept("other", "ethics_audit_reference_baseline_3").expression_key(query(), "duckdb"),
    ]
    assert None not in different and len({key, *different}) == len(different) + 1
    window = con.table("ethics_audit_source_0")
    assert (
        kept.expression_key(query().union(window.group_by("g").agg(n=window.count(), top=window.x.max())), "duckdb")
        is None
    )
    assert kept.expression_key(query("ethics_audit_source_0"), "duckdb") is None
    sent = ibis.memtable({"g": ["a"]})
    assert kept.expression_key(query().join(sent, "g"), "duckdb") is None
