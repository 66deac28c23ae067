"""Where a window's statistics are computed: the spec's ``engine:`` section.

``kind: memory`` (the default) loads the window into one pandas frame, as every release before
did. ``kind: duckdb`` leaves parquet/CSV windows on an embedded DuckDB that spills to disk past
``memory_limit`` (default: ``ETHICS_AUDIT_MEMORY_LIMIT``, else 1GB), so the window's size is a
matter of time rather than memory; ``kind: postgres`` runs them inside a PostgreSQL source
(``engine.sql``); ``kind: spark`` runs them on Spark (``engine.spark``): a local JVM
(``master: local[2]``), a cluster (``master: spark://host:7077``, ``yarn``, ``k8s://...``),
Spark Connect (``remote: sc://host:15002``) or an Airflow connection naming one of those.
Families without statistics on the engine yet get the frame loaded for them.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ethics_audit.spec.base import Strict

ENGINE_KINDS = ("memory", "duckdb", "postgres", "spark")
_SIZE = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)
# what SparkSession.builder.master accepts: local[N|*][,F], a standalone cluster, YARN, Kubernetes
_MASTER = re.compile(r"local(\[(\d+|\*)(,\d+)?\])?|(spark|k8s|mesos)://\S+|yarn")
_REMOTE = re.compile(r"sc://[^\s/]+(/\S*)?")
_SPARK_ONLY = ("master", "remote", "connection", "conf")


class EngineSpec(Strict):
    """Which engine runs the statistics of a window, and how much memory it may use."""

    kind: Literal[ENGINE_KINDS] = Field(  # type: ignore[valid-type]
        "memory",
        description="memory: one pandas frame per window; duckdb: the rows stay on embedded DuckDB (file "
        "sources); postgres: the statistics run inside the SQL source's PostgreSQL; spark: they run on Spark "
        "(file sources)",
    )
    memory_limit: str | None = Field(
        None, description="duckdb only: e.g. 1GB, 512MB (default: ETHICS_AUDIT_MEMORY_LIMIT, else 1GB)"
    )
    master: str | None = Field(
        None,
        description="spark only: the Spark master, e.g. local[2], spark://host:7077, yarn, k8s://https://host "
        "(default: ETHICS_AUDIT_SPARK_MASTER)",
    )
    remote: str | None = Field(
        None, description="spark only: a Spark Connect server, e.g. sc://host:15002 (default: SPARK_REMOTE)"
    )
    connection: str | None = Field(
        None,
        description="spark only: an Airflow connection id whose host names the master (spark://, yarn, k8s://, "
        "local) or a Spark Connect server (sc://)",
    )
    conf: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="spark only: Spark settings for the session, e.g. {spark.executor.memory: 4g}",
    )

    @field_validator("memory_limit")
    @classmethod
    def _size(cls, value: str | None) -> str | None:
        if value is not None and not _SIZE.fullmatch(value.strip()):
            raise ValueError(f"memory_limit {value!r} is not a size: write e.g. 1GB, 512MB or 2GiB")
        return value.strip() if value is not None else None

    @field_validator("master")
    @classmethod
    def _master(cls, value: str | None) -> str | None:
        if value is not None and not _MASTER.fullmatch(value.strip()):
            raise ValueError(
                f"master {value!r} is not a Spark master: write local[2], local[*], spark://host:7077, yarn "
                "or k8s://https://host:443 (for Spark Connect use remote: sc://host:15002)"
            )
        return value.strip() if value is not None else None

    @field_validator("remote")
    @classmethod
    def _remote(cls, value: str | None) -> str | None:
        if value is not None and not _REMOTE.fullmatch(value.strip()):
            raise ValueError(f"remote {value!r} is not a Spark Connect address: write sc://host:15002")
        return value.strip() if value is not None else None

    @field_validator("conf")
    @classmethod
    def _conf(cls, value: dict[str, str | int | float | bool]) -> dict[str, str | int | float | bool]:
        for key in value:
            if not key.startswith("spark."):
                raise ValueError(f"conf key {key!r} is not a Spark setting: Spark settings start with 'spark.'")
        return value

    @model_validator(mode="after")
    def _fields_of_the_kind(self) -> EngineSpec:
        given = [name for name in _SPARK_ONLY if getattr(self, name)]
        if self.kind != "spark" and given:
            raise ValueError(f"{', '.join(given)}: only for kind spark (this engine is {self.kind})")
        if self.kind == "spark" and self.memory_limit is not None:
            raise ValueError("memory_limit: DuckDB's; on Spark set conf, e.g. spark.driver.memory: 2g")
        where = [name for name in ("master", "remote", "connection") if getattr(self, name)]
        if len(where) > 1:
            raise ValueError(f"{' and '.join(where)}: give one of master, remote or connection, not several")
        return self
