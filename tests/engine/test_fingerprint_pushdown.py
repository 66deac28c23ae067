"""The ledger's input fingerprint of a window pushed down into PostgreSQL is the one the
in-memory loader gives for the same rows (timestamps included, whatever their unit there)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from bench.synthetic import frame, spec_dict, window

from ethics_audit.engine import sql as pushdown
from ethics_audit.engine.fingerprint import of_tables
from ethics_audit.ledger.fingerprint import of_window
from ethics_audit.sources import load_window
from ethics_audit.spec import AuditSpec

pytestmark = pytest.mark.postgres


def test_the_fingerprint_on_postgres_equals_the_memory_path(pg_url: str) -> None:
    start, end = window()
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        frame(500, seed=1).to_sql("predictions", conn, index=False)
        frame(500, seed=2, start=start - (end - start)).to_sql("predictions", conn, index=False, if_exists="append")
    engine.dispose()
    spec = spec_dict()
    spec["source"] = {
        "query": "SELECT * FROM predictions WHERE ts >= :window_start AND ts < :window_end",
        "url": pg_url,
    }
    spec["reference"] = {"previous_windows": 1}
    memory = load_window(AuditSpec.model_validate(spec), start, end)
    spec["engine"] = {"kind": "postgres"}
    data = pushdown.load_window(AuditSpec.model_validate(spec), start, end)
    assert data.current is None and data.rows == memory.rows == 500
    assert of_tables(data) == of_window(memory.current, memory.reference)
