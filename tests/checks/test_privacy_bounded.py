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


def test_reidentification_comes_back_as_one_row_however_many_classes(tmp_path, monkeypatch):
    """Unique quasi-identifiers (a class per entity): one row from the engine, the in-memory results."""
    import numpy as np

    from ethics_audit.checks.privacy import reidentification
    from ethics_audit.checks.privacy.aggregates import reidentification as reid_engine

    returned: list[int] = []
    execute = Rows.execute

    def counted(self, expr):
        out = execute(self, expr)
        returned.append(len(out) if hasattr(out, "__len__") else 1)
        return out

    monkeypatch.setattr(Rows, "execute", counted)
    spec = make_spec(
        {
            "columns": {
                "entity_id": "user_id", "prediction_id": "prediction_id", "timestamp": "ts",
                "quasi_identifiers": ["gender", "age_band", "zip"], "sensitive": ["diagnosis"], "label": "label",
            },
            "checks": {"privacy": {"reidentification": {"k": 5}}},
        }
    )  # fmt: skip
    classes = []
    for rows in (400, 4000):
        frame = pii_frame(rows, 7)
        rng = np.random.default_rng(rows)
        frame["zip"] = np.where(rng.random(rows) < 0.5, frame["zip"], [f"z{i}" for i in range(rows)])
        memory = reidentification.run(spec.checks.privacy, make_data(spec, frame))
        returned.clear()
        engine = reid_engine.run(spec.checks.privacy, on_engine(spec, frame, tmp_path))
        assert comparable(engine) == comparable(memory)
        classes.append(next(r for r in engine if r.metric == "k_anonymity").details["classes"])
        assert returned == [1]
    assert classes[1] > 5 * classes[0]  # 10x the rows, about 10x the classes: still one row back


def test_membership_histogram_past_its_bound_stays_on_the_engine(tmp_path, monkeypatch):
    """More distinct scores than HISTOGRAM_IN_MEMORY: at most MAX_BINS pools come back (the same
    for 10x the rows), never the histogram, and the results are the in-memory path's."""
    import numpy as np
    import pytest

    from ethics_audit.checks.privacy import membership
    from ethics_audit.checks.privacy.aggregates import membership as membership_engine

    monkeypatch.setattr(membership_engine, "HISTOGRAM_IN_MEMORY", 1000)
    returned: list[int] = []
    execute = Rows.execute

    def counted(self, expr):
        out = execute(self, expr)
        returned.append(len(out) if hasattr(out, "__len__") else 1)
        return out

    monkeypatch.setattr(Rows, "execute", counted)
    spec = make_spec(
        {
            "columns": {"entity_id": "user_id", "label": "label", "prediction": "prediction", "score": "score"},
            "checks": {"privacy": {"membership": {"column": "member", "bootstrap": {"resamples": 200}}}},
        }
    )
    largest = []
    for rows in (3000, 30000):
        frame = pii_frame(rows, 2)
        rng = np.random.default_rng(rows)
        frame["score"] = np.round(np.clip(rng.normal(0.5, 0.2, rows) + 0.05 * frame["member"], 0, 1), 6)
        memory = membership.run(spec.checks.privacy, make_data(spec, frame))
        data = on_engine(spec, frame, tmp_path)

        def no_pull(*args, **kwargs):
            raise AssertionError("the histogram was pulled into Python")

        monkeypatch.setattr(data.tables["current"].backend, "to_pyarrow", no_pull)
        returned.clear()
        engine = membership_engine.run(spec.checks.privacy, data)
        for g, w in zip(comparable(engine), comparable(memory), strict=True):
            if g["metric"] == "attack_auc" and w["value"] is not None:
                assert g.pop("value") == pytest.approx(w.pop("value"), rel=1e-12, abs=1e-12)
            assert g == w
        assert any(r.metric == "attack_auc" and r.value is not None for r in engine)
        largest.append(max(returned))
    assert max(largest) <= membership.MAX_BINS, largest
