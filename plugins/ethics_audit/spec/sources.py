"""Where rows come from: a SQL query or a parquet/CSV path, the reference and the late labels.

A source is either a SQL ``query`` (through ``url`` or an Airflow ``connection_id``) or a file
``path``. The SQL text rules (window values bound, never formatted in; no literal password in
a URL) are in ``query_rules``; the models here apply them to each field.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from ethics_audit.spec import query_rules
from ethics_audit.spec.base import ColumnName, Strict


class SourceSpec(Strict):
    """Where rows come from. Either a SQL ``query`` through ``url`` or an Airflow
    ``connection_id``, with ``:window_start`` and ``:window_end`` bound as parameters; or a
    parquet/CSV ``path`` (a glob is fine) filtered to the window by the timestamp column.
    ``${VAR}`` and ``${VAR:-default}`` in ``url`` and ``path`` are read from the environment."""

    query: str | None = None
    url: str | None = Field(None, description="SQLAlchemy URL; put passwords in ${ENV_VARS}")
    connection_id: str | None = Field(None, description="Airflow connection id (used under Airflow)")
    path: str | None = Field(None, description="parquet or CSV file, directory or glob")
    format: Literal["parquet", "csv"] | None = Field(None, description="default: from the file extension")
    na_values: list[str] = Field(
        default_factory=list,
        description="CSV only: cell texts that mean a missing value (e.g. [NA, null]); an empty cell is an "
        "empty string in a text column and missing in a numeric or timestamp column",
    )
    encoding: str = Field("utf-8", description="CSV only: the files' text encoding")

    @model_validator(mode="after")
    def _one_kind(self) -> SourceSpec:
        if self.path and (self.query or self.url or self.connection_id):
            raise ValueError("give either path (a file source) or query with url/connection_id (SQL), not both")
        if not self.path and not self.query:
            raise ValueError("give a path (parquet/CSV) or a SQL query with url or connection_id")
        if self.query and not (self.url or self.connection_id):
            raise ValueError("a SQL query needs url (SQLAlchemy URL) or connection_id (Airflow connection)")
        if self.query and self.url and self.connection_id:
            raise ValueError("give url or connection_id, not both")
        if self.format and not self.path:
            raise ValueError("format applies to path sources only")
        if (self.na_values or self.encoding != "utf-8") and not self.path:
            raise ValueError("na_values and encoding apply to CSV path sources only")
        return self

    @field_validator("query")
    @classmethod
    def _bound_not_formatted(cls, query: str | None) -> str | None:
        if query is not None and (problem := query_rules.formatted_value_problem(query)):
            raise ValueError(problem)
        return query

    @field_validator("url")
    @classmethod
    def _no_literal_password(cls, url: str | None) -> str | None:
        if url and (problem := query_rules.literal_password_problem(url)):
            raise ValueError(problem)
        return url

    @property
    def kind(self) -> str:
        return "sql" if self.query else "file"

    def describe(self) -> str:
        """A log-safe one-liner (no URL: it may carry credentials after expansion)."""
        if self.query:
            return f"SQL via {'connection ' + self.connection_id if self.connection_id else 'url'}"
        return f"{self.format or 'file'} {self.path}"


class WindowedSourceSpec(SourceSpec):
    """The predictions source: a SQL query must bind both ``:window_start`` and ``:window_end``."""

    @model_validator(mode="after")
    def _binds_window(self) -> WindowedSourceSpec:
        if self.query and (problem := query_rules.window_bind_problem(self.query)):
            raise ValueError(problem)
        return self


class ReferenceSpec(Strict):
    """The data the window is compared with: a fixed ``baseline`` or the ``previous_windows``."""

    baseline: SourceSpec | None = None
    previous_windows: int | None = Field(None, ge=1, le=52)

    @model_validator(mode="after")
    def _exactly_one(self) -> ReferenceSpec:
        if (self.baseline is None) == (self.previous_windows is None):
            raise ValueError("give exactly one of baseline (a source) or previous_windows (a count)")
        return self


class LabelSource(Strict):
    """Labels that arrive after the prediction, joined to it by ``join_on``."""

    source: SourceSpec
    column: ColumnName = Field(description="label column in the label source")
    join_on: list[ColumnName] = Field(
        default_factory=lambda: ["entity_id"],
        description="roles to join on: entity_id, prediction_id and/or timestamp",
    )

    @field_validator("join_on")
    @classmethod
    def _roles(cls, join_on: list[str]) -> list[str]:
        bad = [j for j in join_on if j not in ("entity_id", "prediction_id", "timestamp")]
        if bad or not join_on:
            raise ValueError("join_on lists roles from entity_id, prediction_id, timestamp")
        return join_on
