"""The privacy family on DuckDB over a parquet file gives the in-memory path's results, and its aggregates merge."""

from __future__ import annotations

from pathlib import Path

import pytest
from privacy_engine_helpers import comparable, on_engine, pii_frame

from ethics_audit.checks.privacy import aggregates, pii
from ethics_audit.checks.privacy.aggregates import pii as pii_engine
from helpers import make_data, make_spec

SPEC = {
    "columns": {
        "entity_id": "user_id",
        "prediction_id": "prediction_id",
        "timestamp": "ts",
        "text": ["note"],
        "quasi_identifiers": ["gender", "age_band", "zip"],
        "sensitive": ["diagnosis"],
        "label": "label",
        "prediction": "prediction",
        "score": "score",
    },
    "checks": {"privacy": {"pii": {"name_columns": ["gender"]}}},
}


def _without_examples(results):
    out = comparable(results)
    for r in out:
        r["details"].pop("examples", None)
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_pii_on_duckdb_equals_in_memory(tmp_path: Path, seed: int) -> None:
    spec = make_spec(SPEC)
    frame = pii_frame(4000, seed)
    memory = pii.run(spec.checks.privacy, make_data(spec, frame))
    data = on_engine(spec, frame, tmp_path)
    assert aggregates.on_engine(data)
    engine = pii_engine.run(spec.checks.privacy, data)
    assert _without_examples(engine) == _without_examples(memory)
    # low-cardinality columns are scanned per sorted distinct value on both paths: same examples
    note = [r for r in comparable(engine) if r["slice"] == {"column": "note"}]
    assert note == [r for r in comparable(memory) if r["slice"] == {"column": "note"}]
    card = next(r for r in engine if r.metric == "card_count" and r.slice == {"column": "note"})
    assert card.value > 0
    for r in engine:  # examples are masked, never raw
        for example in r.details.get("examples", []):
            assert "@example.com" not in example and "4242 4242 4242" not in example


@pytest.mark.parametrize("seed", [0, 3])
def test_reidentification_on_duckdb_equals_in_memory(tmp_path: Path, seed: int) -> None:
    from ethics_audit.checks.privacy import reidentification
    from ethics_audit.checks.privacy.aggregates import reidentification as reid_engine

    spec = make_spec(SPEC)
    frame = pii_frame(3000, seed)
    frame.loc[frame.index[::50], "ts"] = frame["ts"].iloc[0]  # timestamp ties within entities
    memory = reidentification.run(spec.checks.privacy, make_data(spec, frame))
    engine = reid_engine.run(spec.checks.privacy, on_engine(spec, frame, tmp_path))
    assert comparable(engine) == comparable(memory)
    assert {r.metric for r in engine} >= {"k_anonymity", "share_below_k", "sample_uniqueness", "l_diversity"}


CONSENT = {
    "model": {"purpose": "ads"},
    "checks": {
        "privacy": {
            "consent": {"source": {"path": "consent.parquet"}, "grace_period": "1h", "erasure_deadline": "20d"},
            "retention": "7d",
        }
    },
}


@pytest.mark.parametrize(("seed", "as_text"), [(0, False), (1, True)])
def test_consent_and_retention_on_duckdb_equal_in_memory(tmp_path: Path, seed: int, as_text: bool) -> None:
    from datetime import datetime, timezone

    from privacy_engine_helpers import consent_ledger

    from ethics_audit.checks.privacy import consent
    from ethics_audit.checks.privacy.aggregates import consent as consent_engine

    spec = make_spec({**SPEC, **CONSENT})
    frame = pii_frame(3000, seed)
    frame.loc[frame.index[::40], "ts"] = None
    ledger = consent_ledger(frame, seed, as_text=as_text)
    now = datetime(2026, 7, 15, tzinfo=timezone.utc)
    config = spec.checks.privacy
    memory = make_data(spec, frame, consent=ledger, now=now)
    engine = on_engine(spec, frame, tmp_path, consent=ledger, now=now)
    got = consent_engine.run(config, engine) + consent_engine.run_retention(config, engine)
    want = consent.run(config, memory) + consent.run_retention(config, memory)
    assert comparable(got) == comparable(want)
    assert want[0].value > 0 and want[2].value > 0 and want[3].value > 0  # every count is exercised
