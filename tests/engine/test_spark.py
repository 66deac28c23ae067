"""Spark as the engine: files read as DuckDB and the memory path read them, and every family
equal to the memory path. One local[2] session for the whole module (a JVM starts once).

Outside CI the tests skip, saying why, when Java or PySpark is missing; with ``CI=true`` they fail.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from bench.synthetic import frame, spec_dict, window

from ethics_audit.checks.dispatch import run_check
from ethics_audit.engine import spark as engine_spark
from ethics_audit.engine import window as engine_window
from ethics_audit.errors import DataError, SourceError
from ethics_audit.sources import load_window
from ethics_audit.spec import load_spec
from helpers import WINDOW_END, WINDOW_START, make_spec

SPARK = {"kind": "spark", "master": "local[2]"}
TEST_CONF = {"spark.sql.shuffle.partitions": "2", "spark.ui.enabled": "false", "spark.default.parallelism": "2"}


def _missing() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return f"PySpark is not installed ({engine_spark.PYSPARK_HINT})"
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        return f"Java is not installed ({engine_spark.JAVA_HINT})"
    return None


@pytest.fixture(scope="session")
def spark_session():
    reason = _missing()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Spark is required in CI: {reason}")
        pytest.skip(reason)
    from pyspark.sql import SparkSession

    engine_spark.quiet_py4j()
    builder = SparkSession.builder.master("local[2]").appName("ethics-audit tests")
    session = builder.config(map={**TEST_CONF, **engine_spark.SESSION_CONF}).getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def on_spark(spec, start=WINDOW_START, end=WINDOW_END):
    backend = engine_spark.backend(spec.engine)
    return engine_window.load_window(spec, start, end, backend=backend)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("synthetic")
    current = frame(3000, seed=1)
    current.loc[current.index % 17 == 0, "num_03"] = float("nan")  # gaps, so null counts are exercised
    current.to_parquet(folder / "current.parquet")
    frame(3000, seed=2, shift=0.4).to_parquet(folder / "reference.parquet")
    (folder / "spec.yaml").write_text(yaml.safe_dump(dict(spec_dict(), engine=SPARK)))
    return folder


@pytest.fixture(scope="module")
def windows(spark_session, synthetic: Path):
    spec = load_spec(synthetic / "spec.yaml")
    start, end = window()
    return load_window(spec, start, end), on_spark(spec, start, end)


@pytest.mark.parametrize("family", ["quality", "drift", "fairness", "privacy"])
def test_the_family_on_spark_equals_the_memory_path(windows, family: str) -> None:
    from test_families_on_engine import close

    memory, engine = windows
    assert engine.tables["current"].engine == "spark"
    expected = run_check(family, memory)
    engine_window.frames_for(family, engine)
    got = run_check(family, engine)
    assert engine.current is None, f"{family} loaded the window into memory"
    assert [(r.metric, r.slice, r.status, r.n) for r in got] == [(r.metric, r.slice, r.status, r.n) for r in expected]
    for a, b in zip(got, expected, strict=True):
        assert close(a.value, b.value), (a.metric, a.slice, a.value, b.value)


def both(spec, *, csv: bool = False):
    """The window in memory, and on Spark then loaded back (``materialise``): the same rows,
    counts and fingerprint (``of_rows`` on Spark streams the rows as on PostgreSQL)."""
    from ethics_audit.engine.fingerprint import of_rows
    from ethics_audit.ledger.fingerprint import of_window

    memory = load_window(spec, WINDOW_START, WINDOW_END)
    engine = on_spark(spec)
    assert engine.current is None and engine.tables["current"].engine == "spark"
    assert engine.rows == memory.rows and engine.reference_rows == memory.reference_rows
    if not csv:  # from CSV the last digit of a decimal may differ (test_files.both says why)
        fingerprint = {
            name: of_rows(engine.tables[name]) if name in engine.tables else None for name in ("current", "reference")
        }
        assert fingerprint == of_window(memory.current, memory.reference)
    engine_window.materialise(engine, "the test")
    return memory, engine


def test_a_pandas_parquet_window_with_nanosecond_timestamps_equals_the_memory_path(spark_session, tmp_path: Path):
    from test_files import predictions, same

    frame = predictions()
    assert str(frame["ts"].dtype) == "datetime64[ns, UTC]"  # pandas writes TIMESTAMP(NANOS): Spark refuses it unasked
    (tmp_path / "data").mkdir()
    frame.iloc[:40].to_parquet(tmp_path / "data" / "a.parquet")
    frame.iloc[40:].to_parquet(tmp_path / "data" / "b.parquet")
    memory, engine = both(make_spec({"engine": SPARK}, path=tmp_path / "spec.yaml"))
    assert memory.rows == 28
    same(memory.current, engine.current)
    assert str(engine.current["ts"].dt.tz) == "UTC"
    assert engine.current["ts"].min() == pd.Timestamp(WINDOW_START)
    assert engine.current["ts"].max() < pd.Timestamp(WINDOW_END)


@pytest.mark.parametrize("unit", ["ns", "us"])
def test_naive_timestamps_are_utc_and_the_bounds_are_half_open(spark_session, tmp_path: Path, unit: str) -> None:
    from test_files import predictions, same

    frame = predictions()
    frame["ts"] = frame["ts"].dt.tz_localize(None).astype(f"datetime64[{unit}]")
    frame.to_parquet(tmp_path / "p.parquet")
    spec = make_spec({"source": {"path": "p.parquet"}, "engine": SPARK}, path=tmp_path / "spec.yaml")
    memory, engine = both(spec)
    same(memory.current, engine.current)
    stamps = set(engine.current["ts"])
    assert pd.Timestamp(WINDOW_START) in stamps and pd.Timestamp(WINDOW_END) not in stamps
    assert engine.rows == 28


def test_csv_keeps_empty_text_reads_gaps_as_missing_and_honours_na_values_and_encoding(spark_session, tmp_path):
    from test_files import predictions, same

    frame = predictions()
    frame.to_csv(tmp_path / "p.csv", index=False)
    spec = make_spec({"source": {"path": "p.csv"}, "engine": SPARK}, path=tmp_path / "spec.yaml")
    memory, engine = both(spec, csv=True)
    same(memory.current, engine.current, csv=True)
    assert (engine.current["bio"] == "").sum() == (memory.current["bio"] == "").sum() > 0
    assert engine.current["score"].isna().sum() == memory.current["score"].isna().sum() > 0

    frame["bio"] = [("NA" if i % 3 == 0 else f"café {i}") for i in range(len(frame))]
    frame["empty"] = None  # a column empty throughout: missing numbers, as in memory
    frame.to_csv(tmp_path / "q.csv", index=False, encoding="latin-1")
    source = {"path": "q.csv", "na_values": ["NA"], "encoding": "latin-1"}
    spec = make_spec({"source": source, "engine": SPARK}, path=tmp_path / "spec2.yaml")
    memory, engine = both(spec, csv=True)
    same(memory.current, engine.current, csv=True)
    assert engine.current["bio"].isna().sum() > 0
    assert engine.current["bio"].dropna().str.startswith("café").all()
    assert engine.current["empty"].isna().all() and engine.current["empty"].dtype == "float64"


def test_a_bad_timestamp_is_counted_never_quoted_and_the_roots_hold(spark_session, tmp_path: Path) -> None:
    from test_files import predictions

    frame = predictions()
    frame["ts"] = frame["ts"].astype(str)
    frame.loc[3, "ts"] = "secret-value"
    frame.to_csv(tmp_path / "p.csv", index=False)
    spec = make_spec({"source": {"path": "p.csv"}, "engine": SPARK}, path=tmp_path / "spec.yaml")
    with pytest.raises(DataError, match="1 of 84 values") as error:
        on_spark(spec)
    assert "secret-value" not in str(error.value)

    outside = tmp_path / "outside"
    outside.mkdir()
    predictions().to_parquet(outside / "p.parquet")
    source = {"path": str(outside / "p.parquet")}
    spec = make_spec({"source": source, "engine": SPARK}, path=tmp_path / "audits" / "spec.yaml")
    with pytest.raises(SourceError, match=r"source\.path: .* is outside the folders an audit may read"):
        on_spark(spec)


def test_late_labels_previous_windows_and_a_baseline_stay_on_spark(spark_session, tmp_path: Path) -> None:
    import numpy as np
    from test_files import predictions, same

    frame = predictions()
    frame.to_parquet(tmp_path / "p.parquet")
    labels = pd.DataFrame({"prediction_id": frame["prediction_id"][::2], "clicked": np.arange(len(frame))[::2] % 2})
    labels.to_parquet(tmp_path / "labels.parquet")
    joined = {
        "source": {"path": "p.parquet"},
        "columns": {"prediction_id": "prediction_id", "label": "clicked"},
        "labels": {"source": {"path": "labels.parquet"}, "column": "clicked", "join_on": ["prediction_id"]},
        "engine": SPARK,
    }
    memory, engine = both(make_spec({**joined, "reference": {"previous_windows": 1}}, path=tmp_path / "spec.yaml"))
    same(memory.current, engine.current)
    same(memory.reference, engine.reference)
    assert engine.current["clicked"].notna().sum() == 14

    frame.iloc[:30].to_csv(tmp_path / "ref.csv", index=False)
    spec = make_spec({**joined, "reference": {"baseline": {"path": "ref.csv"}}}, path=tmp_path / "spec2.yaml")
    memory, engine = both(spec, csv=True)
    assert engine.reference_rows == 30
    same(memory.reference, engine.reference, csv=True)


def test_where_spark_runs_comes_from_the_spec_a_connection_or_the_environment(monkeypatch) -> None:
    for name in (engine_spark.MASTER_ENV, "SPARK_REMOTE"):
        monkeypatch.delenv(name, raising=False)
    spec = make_spec({"engine": {"kind": "spark"}})
    with pytest.raises(SourceError, match=r"engine: kind spark needs to know where Spark runs: set master"):
        engine_spark.address(spec.engine)
    monkeypatch.setenv(engine_spark.MASTER_ENV, "local[3]")
    assert engine_spark.address(spec.engine) == ("local[3]", None)
    assert engine_spark.address(make_spec({"engine": {"kind": "spark", "remote": "sc://h:1"}}).engine) == (
        None,
        "sc://h:1",
    )

    def via(raw: str):
        monkeypatch.setenv("AIRFLOW_CONN_SPARK_TEST", raw)
        return engine_spark.address(make_spec({"engine": {"kind": "spark", "connection": "spark_test"}}).engine)

    assert via('{"conn_type": "spark", "host": "spark://m", "port": 7077}') == ("spark://m:7077", None)
    assert via('{"conn_type": "spark", "host": "m", "port": 7077}') == ("spark://m:7077", None)
    assert via('{"conn_type": "spark", "host": "yarn"}') == ("yarn", None)
    remote = via('{"conn_type": "spark_connect", "host": "c", "extra": {"token": "s3cret", "use_ssl": true}}')
    assert remote == (None, "sc://c:15002/;token=s3cret;use_ssl=True")
    with pytest.raises(SourceError, match=r"engine\.connection: connection 'spark_test' does not name") as error:
        via('{"conn_type": "spark", "host": "http://m"}')
    assert "s3cret" not in str(error.value)
    monkeypatch.delenv("AIRFLOW_CONN_SPARK_TEST")
    with pytest.raises(SourceError, match=r"engine\.connection: no connection 'spark_test'"):
        engine_spark.address(make_spec({"engine": {"kind": "spark", "connection": "spark_test"}}).engine)


def test_missing_java_or_pyspark_say_what_to_install(monkeypatch) -> None:
    import sys

    spec = make_spec({"engine": SPARK})
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(engine_spark.shutil, "which", lambda name: None)
    with pytest.raises(
        SourceError, match=r"needs Java, which is not installed: install Java 17 .*openjdk-17-jre-headless"
    ):
        engine_spark.session(spec.engine)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)  # import pyspark.sql raises ImportError
    with pytest.raises(SourceError, match=r"needs PySpark, which is not installed: pip install 'pyspark>=3.5,<4.1'"):
        engine_spark.session(spec.engine)


def test_spark_fields_are_validated_by_name() -> None:
    from ethics_audit.errors import SpecError

    with pytest.raises(SpecError, match=r"engine\.master: master 'locale' is not a Spark master: write local\[2\]"):
        make_spec({"engine": {"kind": "spark", "master": "locale"}})
    with pytest.raises(SpecError, match=r"engine\.remote: .* write sc://host:15002"):
        make_spec({"engine": {"kind": "spark", "remote": "http://h:15002"}})
    with pytest.raises(SpecError, match=r"engine: master and remote: give one of master, remote or connection"):
        make_spec({"engine": {"kind": "spark", "master": "local[2]", "remote": "sc://h"}})
    with pytest.raises(SpecError, match=r"engine: master: only for kind spark \(this engine is duckdb\)"):
        make_spec({"engine": {"kind": "duckdb", "master": "local[2]"}})
    with pytest.raises(SpecError, match=r"engine\.conf: conf key 'executor.memory' is not a Spark setting"):
        make_spec({"engine": {"kind": "spark", "conf": {"executor.memory": "2g"}}})
    with pytest.raises(SpecError, match=r"engine: memory_limit: DuckDB's; on Spark set conf"):
        make_spec({"engine": {"kind": "spark", "memory_limit": "1GB"}})
    spec = make_spec({"engine": {"kind": "spark", "master": "spark://a:7077", "conf": {"spark.executor.memory": "2g"}}})
    assert spec.engine.conf == {"spark.executor.memory": "2g"}


def test_the_runner_leaves_a_spark_window_on_spark(spark_session, tmp_path: Path) -> None:
    from test_files import predictions

    from ethics_audit import runner
    from ethics_audit.store import Store

    predictions().to_parquet(tmp_path / "p.parquet")
    spec = make_spec({"source": {"path": "p.parquet"}, "engine": SPARK}, path=tmp_path / "spec.yaml")
    store = Store(f"sqlite:///{tmp_path / 'results.db'}")
    try:
        data = runner.load(store, spec, WINDOW_START, WINDOW_END)
    finally:
        store.dispose()
    assert data.current is None and data.tables["current"].engine == "spark" and data.rows == 28
    assert all(engine_window.reads_rows(f, "spark") for f in ("quality", "drift", "fairness", "privacy"))


def test_an_encoding_spark_cannot_read_is_refused_by_name(spark_session, tmp_path: Path) -> None:
    from test_files import predictions

    predictions().to_csv(tmp_path / "p.csv", index=False, encoding="cp1252")
    source = {"path": "p.csv", "encoding": "cp1252"}
    spec = make_spec({"source": source, "engine": SPARK}, path=tmp_path / "spec.yaml")
    with pytest.raises(SourceError, match=r"source\.encoding: Spark reads CSV in .*utf-8.*, not 'cp1252': save"):
        on_spark(spec)


def test_the_spark_fingerprint_sees_every_value_and_not_the_order(spark_session, tmp_path: Path) -> None:
    from test_files import predictions

    from ethics_audit.engine.fingerprint import of_tables

    frame = predictions()
    spec = make_spec({"source": {"path": "p.parquet"}, "engine": SPARK}, path=tmp_path / "spec.yaml")

    def fingerprint(f: pd.DataFrame) -> dict:
        f.to_parquet(tmp_path / "p.parquet")
        digest = of_tables(on_spark(spec))["current"]
        assert digest["method"] == "spark-xxhash64" and digest["rows"] == 28
        return digest["columns"]

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


def test_an_empty_window_and_an_empty_csv_column_count_zero_on_spark(spark_session, tmp_path: Path) -> None:
    from datetime import timedelta

    from test_files import predictions

    frame = predictions()
    frame["ts"] = frame["ts"] - timedelta(days=60)  # every row before the window
    frame.to_csv(tmp_path / "p.csv", index=False)
    spec = make_spec({"source": {"path": "p.csv"}, "engine": SPARK}, path=tmp_path / "spec.yaml")
    assert on_spark(spec).rows == load_window(spec, WINDOW_START, WINDOW_END).rows == 0


def test_parquet_text_stays_text_and_the_bounds_reach_the_parquet_scan(spark_session, tmp_path: Path) -> None:
    from test_files import predictions

    frame = predictions()
    frame["code"] = ["" if i % 3 else str(i) for i in range(len(frame))]  # numbers with gaps, as text in parquet
    frame.to_parquet(tmp_path / "p.parquet")
    spec = make_spec({"source": {"path": "p.parquet"}, "engine": SPARK}, path=tmp_path / "spec.yaml")
    memory = load_window(spec, WINDOW_START, WINDOW_END)
    engine = on_spark(spec)
    rows = engine.tables["current"]
    # the bounds reach the parquet scan as the stored nanoseconds (row groups outside are skipped)
    rows.backend._run_pre_execute_hooks(rows.table)
    plan = rows.backend._session.sql(rows.backend.compile(rows.table))._jdf.queryExecution().executedPlan()
    assert "PushedFilters: [IsNotNull(ts), GreaterThanOrEqual(ts," in plan.toString()
    assert "LessThan(ts," in plan.toString()
    assert engine.rows == memory.rows == 28
    # parquet's text stays text, as pandas reads it (only CSV reads gaps in numbers)
    assert rows.table["code"].type().is_string()
    engine_window.materialise(engine, "the test")
    assert list(engine.current["code"]) == list(memory.current["code"])


@pytest.fixture(scope="module")
def connect_url(spark_session):
    """A Spark Connect server on the tests' own session (no second JVM), on a free local port."""
    jvm = spark_session.sparkContext._jvm
    jvm.org.apache.spark.SparkEnv.get().conf().set("spark.connect.grpc.binding.port", "0")
    jvm.org.apache.spark.SparkEnv.get().conf().set("spark.connect.grpc.binding.address", "127.0.0.1")
    service = getattr(getattr(jvm.org.apache.spark.sql.connect.service, "SparkConnectService$"), "MODULE$")
    service.start(spark_session.sparkContext._jsc.sc())
    yield f"sc://127.0.0.1:{service.localPort()}"
    service.stop(getattr(service, "stop$default$1")(), getattr(service, "stop$default$2")())


def test_a_window_audited_through_spark_connect_equals_the_memory_path(connect_url, windows, synthetic) -> None:
    from test_families_on_engine import close

    from ethics_audit.engine.fingerprint import of_tables

    memory, classic = windows
    folder = synthetic
    remote = dict(spec_dict(), engine={"kind": "spark", "remote": connect_url})
    (folder / "connect.yaml").write_text(yaml.safe_dump(remote))
    spec = load_spec(folder / "connect.yaml")
    start, end = window()
    engine = engine_window.load_window(spec, start, end)
    session = engine.tables["current"].backend._session
    assert type(session).__module__ == "pyspark.sql.connect.session"  # through gRPC, not the classic session
    assert engine.rows == memory.rows == 3000 and engine.reference_rows == memory.reference_rows == 3000
    for family in ("quality", "drift", "fairness", "privacy"):
        expected, got = run_check(family, memory), run_check(family, engine)
        assert engine.current is None, f"{family} loaded the window into memory"
        assert [(r.metric, r.slice, r.status, r.n) for r in got] == [
            (r.metric, r.slice, r.status, r.n) for r in expected
        ], family
        for a, b in zip(got, expected, strict=True):
            assert close(a.value, b.value), (family, a.metric, a.slice, a.value, b.value)
    assert of_tables(engine) == of_tables(classic)  # the same digest as on the classic session
    session.stop()


def test_a_baselines_spark_fingerprint_is_kept_for_the_next_windows(spark_session, tmp_path: Path, monkeypatch):
    from test_files import predictions

    from ethics_audit import settings
    from ethics_audit.engine.fingerprint import of_tables

    frame = predictions()
    frame.to_parquet(tmp_path / "p.parquet")
    frame.iloc[:50].to_parquet(tmp_path / "r.parquet")
    baseline = {"source": {"path": "p.parquet"}, "reference": {"baseline": {"path": "r.parquet"}}, "engine": SPARK}
    spec = make_spec(baseline, path=tmp_path / "spec.yaml")
    first = of_tables(on_spark(spec))
    assert first["reference"]["rows"] == 50 and first["current"]["rows"] == 28
    kept = list((settings.home() / "cache" / "reference").rglob("*.pickle"))
    assert len(kept) == 1  # the baseline's digest; the window's own rows are never kept
    reference = on_spark(spec).tables["reference"]
    monkeypatch.setattr(reference.backend, "compile", lambda *a, **k: pytest.fail("the baseline was scanned again"))
    assert engine_spark.fingerprint(reference) == first["reference"]
