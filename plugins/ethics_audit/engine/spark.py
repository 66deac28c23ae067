"""Spark as the engine of a window: ``engine: {kind: spark, ...}``.

The families' Ibis expressions run unchanged through Ibis' PySpark backend on a SparkSession:
a local JVM (``master: local[2]``), a cluster (``master: spark://host:7077``, ``yarn``,
``k8s://...``), a Spark Connect server (``remote: sc://host:15002``), or whichever of those an
Airflow connection names (``connection: spark_default``). Without any, ``ETHICS_AUDIT_SPARK_MASTER``
then ``SPARK_REMOTE`` say where; otherwise the spec is refused by name. ``conf`` goes to the
session builder as it is.

The files of a window are found and checked by ``engine.files`` (the same roots, formats and
window filter as on DuckDB); this module only reads them with Spark (``read``): parquet with
pandas' nanosecond timestamps (read as integers, ``spark.sql.legacy.parquet.nanosAsLong``, then
made microsecond timestamps: Spark's unit; the window's bounds compared with the stored integers,
so the filter reaches the parquet scan), CSV as text typed as ``csv_files`` types it. The
session's time zone is UTC; a local session Spark left at 200 shuffle partitions gets two per
core. Through Spark Connect the same runs over gRPC (``pyspark[connect]``). The rows are not
cached (``persist``): at 1M rows building Spark's disk cache cost more CPU than the scans it
saved (the aggregates, not the parquet reads, are Spark's cost), and kept in memory a 1M-row
window ran a 1 GB driver out of heap. PySpark is imported inside the functions.
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING, Any

from ethics_audit.errors import SourceError
from ethics_audit.windows import as_utc

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from ethics_audit.engine.files import Bounds
    from ethics_audit.spec import SourceSpec
    from ethics_audit.spec.engine import EngineSpec

MASTER_ENV = "ETHICS_AUDIT_SPARK_MASTER"
# every session: timestamps in UTC, pandas' nanosecond parquet readable, results through Arrow
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
SHUFFLE = "spark.sql.shuffle.partitions"
JAVA_HINT = "install Java 17 (apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
PYSPARK_HINT = "pip install 'pyspark>=3.5,<4.1' (Ibis 12 supports PySpark 3.5 to 4.0)"
CONNECT_HINT = "pip install 'pyspark[connect]>=3.5,<4.1' (grpcio, grpcio-status, googleapis-common-protos)"
_TRUE, _FALSE = ("true", "True", "TRUE"), ("false", "False", "FALSE")  # pandas' booleans
# Python's names of the encodings Spark 4 reads CSV in -> Spark's
_CHARSETS = {
    "iso8859-1": "iso-8859-1",
    "ascii": "us-ascii",
    "utf-8": "utf-8",
    "utf-16": "utf-16",
    "utf-16-be": "utf-16be",
    "utf-16-le": "utf-16le",
    "utf-32": "utf-32",
}


def address(engine: EngineSpec, where: str = "engine") -> tuple[str | None, str | None]:
    """``(master, remote)``: where the session runs, from the spec, its connection or the
    environment; one of the two is None."""
    if engine.master or engine.remote:
        return engine.master, engine.remote
    if engine.connection:
        return _from_connection(engine.connection, f"{where}.connection")
    if os.environ.get(MASTER_ENV):
        return os.environ[MASTER_ENV], None
    if os.environ.get("SPARK_REMOTE"):
        return None, os.environ["SPARK_REMOTE"]
    raise SourceError(
        f"{where}: kind spark needs to know where Spark runs: set master (local[2], spark://host:7077, yarn), "
        f"remote (Spark Connect, sc://host:15002) or connection (an Airflow connection id), or {MASTER_ENV}"
    )


def _from_connection(conn_id: str, where: str) -> tuple[str | None, str | None]:
    """An Airflow ``spark`` connection's host (``spark://master``, ``yarn``, ``local[*]``) and
    port, or a ``spark_connect`` one's (``sc://`` host, port 15002 unless given)."""
    from ethics_audit.connections import get_connection
    from ethics_audit.spec.engine import _MASTER, _REMOTE

    fields = get_connection(conn_id)
    if fields is None:
        raise SourceError(
            f"{where}: no connection {conn_id!r} (define it in Airflow or as AIRFLOW_CONN_{conn_id.upper()})"
        )
    host = (fields.host or "").strip()
    if fields.conn_type == "spark_connect" or host.startswith("sc://"):
        host = host.removeprefix("sc://").rstrip("/")
        remote = f"sc://{host}:{fields.port or 15002}" if ":" not in host else f"sc://{host}"
        extra = fields.extra or {}
        # Spark Connect's parameters, as Airflow's SparkConnectHook passes them (the token is never shown)
        params = [f"{key}={extra[key]}" for key in ("user_id", "token", "use_ssl") if extra.get(key) not in (None, "")]
        if _REMOTE.fullmatch(remote):
            return None, remote + ("/;" + ";".join(params) if params else "")
    elif host:
        if "://" not in host and not host.startswith(("local", "yarn")):
            host = f"spark://{host}"  # Airflow's spark connection: a bare host is a standalone master
        master = (
            f"{host}:{fields.port}" if fields.port and host.startswith(("spark://", "k8s://", "mesos://")) else host
        )
        if _MASTER.fullmatch(master):
            return master, None
    raise SourceError(
        f"{where}: connection {conn_id!r} does not name a Spark master or Spark Connect server: give it a host "
        "such as spark://host (port 7077), yarn, local[2], or conn type spark_connect with the server's host"
    )


def quiet_py4j() -> None:
    """py4j logs INFO of each connection it closes, at exit too, after logging's streams closed."""
    import logging

    logging.getLogger("py4j").setLevel(logging.WARNING)


def session(engine: EngineSpec, *, app: str = "ethics-audit", where: str = "engine") -> Any:
    """The SparkSession ``engine`` asks for (an active one of this process is reused)."""
    quiet_py4j()
    master, remote = address(engine, where)
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SourceError(f"{where}: kind spark needs PySpark, which is not installed: {PYSPARK_HINT}") from None
    conf = {**SESSION_CONF, **{k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in engine.conf.items()}}
    if remote:
        try:
            # Connect's own builder: a process may also hold a classic session (PySpark's refuses then)
            from pyspark.sql.connect.session import SparkSession as ConnectSession
        except ImportError as exc:  # Spark Connect's client libraries (grpcio, grpcio-status ...)
            raise SourceError(
                f"{where}: Spark Connect needs its client libraries ({_missing(exc)} is missing): {CONNECT_HINT}"
            ) from None
        builder = ConnectSession.builder.remote(remote)
    else:
        if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
            raise SourceError(
                f"{where}: kind spark with master {master} needs Java, which is not installed: {JAVA_HINT}"
            )
        builder = SparkSession.builder.master(master).appName(app)
    try:
        made = builder.config(map=conf).getOrCreate()
    except ImportError as exc:  # Spark Connect's client libraries (grpcio ...)
        raise SourceError(
            f"{where}: Spark Connect needs its client libraries ({_missing(exc)} is missing): {CONNECT_HINT}"
        ) from None
    except Exception as exc:  # noqa: BLE001 - Py4J/gRPC raise many types; their text may hold URLs and tokens
        hint = JAVA_HINT if "JAVA_GATEWAY" in str(exc) else "check that the address is right and the cluster is up"
        raise SourceError(
            f"{where}: cannot start a Spark session on {'remote ' + remote.split('/;')[0] if remote else master} "
            f"({type(exc).__name__}): {hint}"
        ) from None
    if master and master.startswith("local") and SHUFFLE not in conf:
        _local_shuffle(made, master)
    return made


def _missing(exc: ImportError) -> str:
    """The package an ImportError names (PySpark's own checks name it in their parameters)."""
    parameters = getattr(exc, "getMessageParameters", lambda: None)() or {}
    return str(exc.name or parameters.get("package_name") or "grpcio")


def _local_shuffle(spark: Any, master: str) -> None:
    """A local session left at Spark's 200 shuffle partitions gets two per core: the window's
    aggregates are small, and 200 tasks a group-by on two cores cost more than the work."""
    import re

    if str(spark.conf.get(SHUFFLE, "200")) != "200":
        return  # set by whoever made the session
    cores = re.fullmatch(r"local\[(\d+)(?:,\d+)?\]", master)
    n = int(cores.group(1)) if cores else (1 if master == "local" else os.cpu_count() or 2)
    spark.conf.set(SHUFFLE, str(2 * n))


def backend(engine: EngineSpec, *, app: str = "ethics-audit", where: str = "engine") -> Any:
    """Ibis' PySpark backend on ``session(engine)``, with the session's settings applied."""
    import ibis

    spark = session(engine, app=app, where=where)
    return ibis.pyspark.connect(spark, **SESSION_CONF)


def read(
    backend: Any, paths: list[str], fmt: str, source: SourceSpec, name: str, bounds: Bounds | None = None
) -> tuple[ir.Table, bool]:
    """Files on Spark as the view ``name``: parquet with nanosecond timestamps as microsecond
    timestamps; CSV typed as ``csv_files`` types it (``files.scan`` then reads gaps in numbers).

    ``bounds`` (timestamp column, start, end) keeps only the window's rows when the parquet
    column is pandas' nanoseconds: compared as stored (integers), so Spark pushes the filter into
    its parquet scan and skips the row groups outside the window. The second value says whether
    it did (otherwise ``files.window`` filters)."""
    import ibis.expr.datatypes as dt

    spark = backend._session
    nanos: list[str] = []
    kept = False
    if fmt == "parquet":
        frame = spark.read.option("mergeSchema", "true").parquet(*paths)
        frame, kept = _in_window(frame, paths, bounds)
        frame, nanos = _nanos_as_timestamps(frame, paths)
    else:
        frame = _csv(spark, paths, source)
    frame.createOrReplaceTempView(name)
    table = backend.table(name)
    if nanos:  # typed as nanoseconds, so their frames and fingerprints are pandas' (datetime64[ns])
        table = table.mutate(**{c: table[c].cast(dt.Timestamp(scale=9)) for c in nanos})
    return (_typed(table, backend) if fmt == "csv" else table), kept


def _nanos_of(paths: list[str]) -> set[str]:
    """The columns pandas wrote as TIMESTAMP(NANOS), which Spark reads as integers."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    nanos = set()
    for path in paths:
        for item in pq.read_schema(path):
            if pa.types.is_timestamp(item.type) and item.type.unit == "ns":
                nanos.add(item.name)
    return nanos


def _in_window(frame: Any, paths: list[str], bounds: Bounds | None) -> tuple[Any, bool]:
    """The rows of ``[start, end)`` when the timestamp column holds nanoseconds since the epoch
    in UTC (pandas' own, zoned or naive: naive means UTC), compared as those integers."""
    from datetime import datetime, timedelta, timezone

    F = functions(frame)
    if bounds is None or bounds[0] not in frame.columns or bounds[0] not in _nanos_of(paths):
        return frame, False
    column, start, end = bounds
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    stored = F.col(_quoted(column))
    keep = None
    for bound, compare in ((start, stored.__ge__), (end, stored.__lt__)):
        if bound is not None:
            condition = compare(F.lit((as_utc(bound) - epoch) // timedelta(microseconds=1) * 1000))
            keep = condition if keep is None else keep & condition
    return (frame, False) if keep is None else (frame.filter(keep), True)


def _nanos_as_timestamps(frame: Any, paths: list[str]) -> tuple[Any, list[str]]:
    """The columns pandas wrote as TIMESTAMP(NANOS) (integers here) as timestamps, to the
    microsecond (Spark's unit), and their names."""
    F = functions(frame)
    nanos = _nanos_of(paths)
    columns = [column for column in frame.columns if column in nanos]
    if not columns:
        return frame, []
    fixed = {column: F.expr(f"timestamp_micros({_quoted(column)} div 1000)") for column in columns}
    return frame.withColumns(fixed), columns


def functions(frame: Any) -> Any:
    """``pyspark.sql.functions`` for ``frame``: Spark Connect's own when ``frame`` is a Connect
    DataFrame (a process that also holds a classic session would otherwise build classic columns)."""
    if type(frame).__module__.startswith("pyspark.sql.connect"):
        from pyspark.sql.connect import functions as connect_functions

        return connect_functions
    from pyspark.sql import functions as classic_functions

    return classic_functions


def _count(value: Any) -> int:
    """A summed count as an int: Spark's sum of no rows is NULL, NaN in pandas."""
    return 0 if value is None or value != value else int(value)


def _quoted(column: str) -> str:
    return "`" + column.replace("`", "``") + "`"


def _csv(spark: Any, paths: list[str], source: SourceSpec) -> Any:
    """Every cell as written (text; an empty cell stays empty); the spec's ``na_values`` missing.

    Spark's reader makes every empty cell null (whatever ``nullValue`` says), and a CSV cell is
    never missing but by ``na_values``: so null here is the empty text, and ``na_values`` are
    made missing after."""
    frame = spark.read.csv(
        paths,
        header=True,
        inferSchema=False,
        encoding=_charset(spark, source.encoding),
        emptyValue="",
        quote='"',
        escape='"',
        multiLine=True,
        mode="FAILFAST",
    )
    F = functions(frame)
    missing = list(source.na_values)
    cells = {}
    for column in frame.columns:
        cell = F.coalesce(F.col(_quoted(column)), F.lit(""))
        cells[column] = F.when(cell.isin(missing), F.lit(None)).otherwise(cell) if missing else cell
    return frame.withColumns(cells)


def _charset(spark: Any, encoding: str) -> str:
    """Spark's name of ``encoding``; one Spark 4 does not read is refused by name."""
    import codecs

    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise SourceError(f"encoding: {encoding!r} is not a text encoding Python knows; use e.g. utf-8") from None
    if name in _CHARSETS:
        return _CHARSETS[name]
    if str(spark.conf.get("spark.sql.legacy.javaCharsets", "false")).lower() == "true":
        return name
    raise SourceError(
        f"encoding: Spark reads CSV in {', '.join(sorted(set(_CHARSETS.values())))}, not {encoding!r}: save the "
        "files as UTF-8, or let Spark use Java's encodings (conf: {spark.sql.legacy.javaCharsets: true})"
    )


def _typed(table: ir.Table, backend: Any) -> ir.Table:
    """Text columns whose cells (missing aside) are all integers, numbers or pandas' booleans
    become those, as pandas reads them; one scan for all. Gaps are ``files.scan``'s."""
    import ibis.expr.datatypes as dt

    columns = list(table.columns)
    if not columns:
        return table
    stats = {}
    for i, column in enumerate(columns):
        value = table[column]
        stats[f"n{i}"] = value.notnull().sum()
        stats[f"i{i}"] = (value.re_search(r"^\s*[+-]?[0-9]+\s*$") & value.try_cast(dt.int64).notnull()).sum()
        stats[f"f{i}"] = value.try_cast(dt.float64).notnull().sum()
        stats[f"b{i}"] = value.isin(_TRUE + _FALSE).sum()
    row = backend.execute(table.aggregate(**stats)).iloc[0]
    changes = {}
    for i, column in enumerate(columns):
        present = _count(row[f"n{i}"])
        if not present:
            continue
        value = table[column]
        if _count(row[f"i{i}"]) == present:
            changes[column] = value.strip().cast(dt.int64)
        elif _count(row[f"f{i}"]) == present:
            changes[column] = value.cast(dt.float64)
        elif _count(row[f"b{i}"]) == present:
            changes[column] = value.isin(_TRUE)
    return table.mutate(**changes) if changes else table


def fingerprint(rows: Any) -> dict[str, Any]:
    """The ledger's digest of each column computed by Spark in one scan, as ``of_duckdb`` is on
    DuckDB: ``name|type|rows|nulls|sum`` with the sum of Spark's ``xxhash64`` of every value
    modulo 2**64 (order-free and value-free; not pandas' numbers, so ``method: spark-xxhash64``
    and the Spark version that computed it). A baseline's is kept for the next windows, as its
    other results are (``engine.cache``)."""
    import ibis
    import pyspark

    from ethics_audit.ledger import canonical

    table, backend = rows.table, rows.backend
    names = list(table.columns)

    def scan() -> list[int]:
        backend._run_pre_execute_hooks(table)  # registers the in-memory tables ``table`` reads
        frame = backend._session.sql(backend.compile(table))
        F = functions(frame)
        parts = [F.count(F.lit(1))]
        for name in names:
            column = F.col(_quoted(name))
            parts += [F.count(column), F.coalesce(F.sum(F.xxhash64(column).cast("decimal(38,0)")), F.lit(0))]
        return [int(value) for value in frame.agg(*parts).collect()[0]]

    if rows.kept is not None:
        key = f"-- spark-xxhash64 {pyspark.__version__}\n{ibis.to_sql(table, dialect='duckdb')}"
        row = rows.kept.fetch(key, scan)
    else:
        row = scan()
    n = int(row[0])
    schema = table.schema()
    columns = {}
    for i, name in enumerate(names):
        nulls, total = n - int(row[1 + 2 * i]), int(row[2 + 2 * i]) % 2**64
        columns[str(name)] = canonical.sha256(f"{name}|{schema[name]}|{n}|{nulls}|{total}")
    return {
        "rows": n,
        "columns": dict(sorted(columns.items())),
        "method": "spark-xxhash64",
        "spark": pyspark.__version__,
    }
