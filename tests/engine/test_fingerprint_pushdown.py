"""The ledger's input fingerprint of a window pushed down into PostgreSQL: PostgreSQL's own hash
summed in one scan (``method: postgres-hash``), not the in-memory loader's pandas hash (as on
DuckDB, by design): the same for the same rows in any order, changed by any one value, and
``of_rows`` (which streams the rows to pandas) still equals the memory path's."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa
from bench.synthetic import frame, spec_dict, window

from ethics_audit.engine import sql as pushdown
from ethics_audit.engine.fingerprint import of_rows, of_tables
from ethics_audit.ledger.fingerprint import of_frame, of_window
from ethics_audit.sources import load_window
from ethics_audit.spec import AuditSpec

pytestmark = pytest.mark.postgres

QUERY = "SELECT * FROM {table} WHERE ts >= :window_start AND ts < :window_end"


def _spec(pg_url: str, table: str = "predictions") -> dict:
    spec = spec_dict()
    spec["source"] = {"query": QUERY.format(table=table), "url": pg_url}
    spec["reference"] = {"previous_windows": 1}
    spec["engine"] = {"kind": "postgres"}
    return spec


def _load(pg_url: str, table: str, rows: object) -> None:
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        rows.to_sql(table, conn, index=False)
    engine.dispose()


def _fingerprint(pg_url: str, table: str) -> dict:
    start, end = window()
    data = pushdown.load_window(AuditSpec.model_validate(_spec(pg_url, table)), start, end)
    try:
        return of_tables(data)
    finally:
        data.tables["current"].backend.disconnect()


def test_the_fingerprint_is_postgres_hash_of_the_rows_in_any_order_and_of_every_value(pg_url: str) -> None:
    start, end = window()
    current = frame(500, seed=1)
    previous = frame(500, seed=2, start=start - (end - start))
    both = pd.concat([current, previous], ignore_index=True)
    _load(pg_url, "predictions", both)
    _load(pg_url, "shuffled", both.sample(frac=1.0, random_state=7).reset_index(drop=True))
    changed = both.copy()
    changed.loc[3, "num_00"] = changed.loc[3, "num_00"] + 1e-9  # one value of one column of the window
    changed.loc[5, "cat_00"] = "a value nobody had"
    _load(pg_url, "changed", changed)

    digest = _fingerprint(pg_url, "predictions")
    current_digest = digest["current"]
    assert current_digest["method"] == "postgres-hash" and int(current_digest["postgres"]) >= 100000
    assert current_digest["rows"] == 500 and digest["reference"]["rows"] == 500
    assert sorted(current_digest["columns"]) == sorted(current.columns)
    # by design not pandas' numbers (as on DuckDB): the memory path's fingerprint differs
    memory = of_window(current, previous)
    assert current_digest["columns"]["num_00"] != memory["current"]["columns"]["num_00"]

    # the same rows in another order: the same fingerprint
    assert _fingerprint(pg_url, "shuffled") == digest
    # one value changed: exactly that column's digest changes, on that side only
    other = _fingerprint(pg_url, "changed")
    moved = {c for c in current_digest["columns"] if other["current"]["columns"][c] != current_digest["columns"][c]}
    assert moved == {"num_00", "cat_00"}
    assert other["reference"] == digest["reference"]


def test_a_null_and_a_timestamp_zone_change_the_digest_as_their_values_do(pg_url: str) -> None:
    start, _ = window()
    rows = frame(50, seed=3)
    rows["ts"] = pd.Timestamp(start) + pd.to_timedelta(range(50), unit="s")
    _load(pg_url, "predictions", rows)
    nulled = rows.copy()
    nulled.loc[0, "score"] = None
    _load(pg_url, "nulled", nulled)
    digest, other = _fingerprint(pg_url, "predictions")["current"], _fingerprint(pg_url, "nulled")["current"]
    assert digest["rows"] == other["rows"] == 50
    assert {c for c in digest["columns"] if digest["columns"][c] != other["columns"][c]} == {"score"}
    # the session's time zone does not move a timestamp's hash (it is hashed as UTC wall time)
    spec = AuditSpec.model_validate(_spec(pg_url))
    data = pushdown.load_window(spec, *window())
    try:
        backend = data.tables["current"].backend
        backend.raw_sql("SET TIME ZONE 'America/New_York'").close()
        assert of_tables(data)["current"] == digest
    finally:
        data.tables["current"].backend.disconnect()


def test_of_rows_on_postgres_still_equals_the_memory_path(pg_url: str) -> None:
    """Streaming the rows to pandas (kept for engines without a hash of their own) gives the
    in-memory loader's fingerprint, timestamps included whatever their unit there."""
    start, end = window()
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        frame(500, seed=1).to_sql("predictions", conn, index=False)
        frame(500, seed=2, start=start - (end - start)).to_sql("predictions", conn, index=False, if_exists="append")
    engine.dispose()
    spec = _spec(pg_url)
    data = pushdown.load_window(AuditSpec.model_validate(spec), start, end)
    spec.pop("engine")
    memory = load_window(AuditSpec.model_validate(spec), start, end)
    assert data.current is None and data.rows == memory.rows == 500
    assert of_rows(data.tables["current"]) == of_frame(memory.current)
    assert of_rows(data.tables["reference"]) == of_frame(memory.reference)
