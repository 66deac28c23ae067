"""The privacy family on an engine hands back bounded results however many rows the window has:
the same results as in memory, and what comes back from the engine is held to a fixed size."""

from __future__ import annotations

from privacy_engine_helpers import comparable, on_engine, pii_frame

from ethics_audit.engine import Rows
from helpers import make_data, make_spec


def test_pii_candidates_stream_in_batches_of_a_fixed_size(tmp_path, monkeypatch):
    """Every value of the text column a candidate: they come back BATCH at a time, same counts."""
    import pyarrow as pa

    from ethics_audit.checks.privacy import aggregates, pii
    from ethics_audit.checks.privacy.aggregates import pii as pii_engine

    monkeypatch.setattr(aggregates, "BATCH", 50)
    held: list[int] = []
    reader = Rows.batches

    def counted(self, expr=None, *, rows=500_000):
        for batch in reader(self, expr, rows=rows):
            yield batch
            held.append(len(batch))

    monkeypatch.setattr(Rows, "batches", counted)
    spec = make_spec({"columns": {"entity_id": "user_id", "text": ["note"]}, "checks": {"privacy": {"pii": {}}}})
    frame = pii_frame(3000, 4)
    frame["note"] = [f"mail u{i}@example.com" for i in range(len(frame))]  # every row a distinct candidate
    data = on_engine(spec, frame, tmp_path)
    monkeypatch.setattr(data.tables["current"].backend, "to_pyarrow", lambda *a, **k: pa.table({}))
    engine, memory = pii_engine.run(spec.checks.privacy, data), pii.run(spec.checks.privacy, make_data(spec, frame))
    for r in (got := comparable(engine)) + (want := comparable(memory)):
        r["details"].pop("examples", None)
    assert got == want
    assert next(r for r in engine if r.metric == "email_share" and r.slice == {"column": "note"}).value == 1.0
    assert sum(held) >= 3000 and max(held) <= 50
