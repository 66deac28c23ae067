"""Where a window's statistics are computed: the spec's ``engine:`` section.

``kind: memory`` (the default) loads the window into one pandas frame, as every release before
did. ``kind: duckdb`` leaves parquet/CSV windows on an embedded DuckDB that spills to disk past
``memory_limit`` (default: ``ETHICS_AUDIT_MEMORY_LIMIT``, else 1GB), so the window's size is a
matter of time rather than memory; ``kind: postgres`` runs them inside a PostgreSQL source
(``engine.sql``). Families without statistics on the engine yet get the frame loaded for them.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from ethics_audit.spec.base import Strict

ENGINE_KINDS = ("memory", "duckdb", "postgres")
_SIZE = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


class EngineSpec(Strict):
    """Which engine runs the statistics of a window, and how much memory it may use."""

    kind: Literal[ENGINE_KINDS] = Field(  # type: ignore[valid-type]
        "memory",
        description="memory: one pandas frame per window; duckdb: the rows stay on embedded DuckDB (file "
        "sources); postgres: the statistics run inside the SQL source's PostgreSQL",
    )
    memory_limit: str | None = Field(
        None, description="duckdb only: e.g. 1GB, 512MB (default: ETHICS_AUDIT_MEMORY_LIMIT, else 1GB)"
    )

    @field_validator("memory_limit")
    @classmethod
    def _size(cls, value: str | None) -> str | None:
        if value is not None and not _SIZE.fullmatch(value.strip()):
            raise ValueError(f"memory_limit {value!r} is not a size: write e.g. 1GB, 512MB or 2GiB")
        return value.strip() if value is not None else None
