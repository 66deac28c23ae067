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
    frame.loc[frame.index[7::60], "ts"] = None  # a missing timestamp ranks lowest on both paths
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


def _approx_equal(got, want) -> None:
    """Equal results; the AUC (an exact ratio of integers on the engine) to 1e-12 of the float sum."""
    assert len(got) == len(want)
    for g, w in zip(comparable(got), comparable(want), strict=True):
        if g["metric"] == "attack_auc" and w["value"] is not None:
            assert g.pop("value") == pytest.approx(w.pop("value"), rel=1e-12, abs=1e-12)
        assert g == w


@pytest.mark.parametrize("histogram_in_memory", [True, False])
@pytest.mark.parametrize(("rows", "decimals", "manifest"), [(3000, 3, False), (6000, 6, False), (3000, 3, True)])
def test_membership_on_duckdb_equals_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: int, decimals: int, manifest: bool, histogram_in_memory: bool
) -> None:
    import numpy as np

    from ethics_audit.checks.privacy import membership
    from ethics_audit.checks.privacy.aggregates import membership as membership_engine

    if not histogram_in_memory:  # the statistics by window functions on the engine
        monkeypatch.setattr(membership_engine, "HISTOGRAM_IN_MEMORY", 0)
    frame = pii_frame(rows, 2)
    rng = np.random.default_rng(rows)
    frame["score"] = np.round(np.clip(rng.normal(0.5, 0.2, rows) + 0.05 * frame["member"], 0, 1), decimals)
    frame.loc[frame.index[::30], "score"] = None
    frame["label"] = frame["label"].astype(float).where(rng.random(rows) > 0.1)
    member = {"source": {"path": "m.csv"}, "manifest_entity_column": "uid"} if manifest else {"column": "member"}
    spec = make_spec({**SPEC, "checks": {"privacy": {"membership": {**member, "bootstrap": {"resamples": 200}}}}})
    kwargs = {}
    if manifest:
        import pandas as pd

        kwargs["training_members"] = pd.DataFrame({"uid": np.unique(frame["user_id"])[::3].astype(str)})
    memory = membership.run(spec.checks.privacy, make_data(spec, frame, **kwargs))
    engine = membership_engine.run(spec.checks.privacy, on_engine(spec, frame, tmp_path, **kwargs))
    _approx_equal(engine, memory)
    assert [r.status.value for r in memory].count("computed") == 7


def test_the_whole_family_on_duckdb_equals_in_memory(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    from privacy_engine_helpers import consent_ledger

    from ethics_audit.checks import privacy

    overrides = {**SPEC, **CONSENT}
    overrides["checks"] = {"privacy": {**CONSENT["checks"]["privacy"], "membership": {"column": "member"}}}
    spec = make_spec(overrides)
    frame = pii_frame(5000, 4)
    now = datetime(2026, 7, 15, tzinfo=timezone.utc)
    kwargs = {"consent": consent_ledger(frame, 4), "now": now}
    memory = privacy.run(spec.checks.privacy, make_data(spec, frame, **kwargs))
    engine = privacy.run(spec.checks.privacy, on_engine(spec, frame, tmp_path, **kwargs))
    assert not [r for r in memory + engine if r.metric == "check_error"]
    _approx_equal(_strip_examples(engine), _strip_examples(memory))


def _strip_examples(results):
    from dataclasses import replace

    return [replace(r, details={k: v for k, v in r.details.items() if k != "examples"}) for r in results]


def test_pii_counts_of_two_chunks_merge_into_the_whole(tmp_path: Path) -> None:
    from ethics_audit import engine
    from ethics_audit.checks.privacy.entities import ENTITIES

    frame = pii_frame(4000, 5)
    entities = list(ENTITIES.values())
    backend = engine.duckdb_backend()

    def counts(part, name):
        path = tmp_path / f"{name}.parquet"
        part.to_parquet(path)
        rows = engine.Rows(backend.read_parquet(str(path)), backend)
        return pii_engine.column_counts(rows, "note", entities, dob_values=False, examples=3)

    whole = counts(frame, "whole")
    merged = counts(frame.iloc[:1500], "a").merge(counts(frame.iloc[1500:], "b"))
    assert merged.by_entity == whole.by_entity and merged.by_metric == whole.by_metric
    assert merged.any_pii == whole.any_pii > 0
    assert set(merged.examples) == set(whole.examples)
    assert whole.by_entity["card"] > 0 and whole.by_entity["iban"] > 0 and whole.by_entity["email"] > 0
