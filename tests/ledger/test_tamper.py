"""Every way a careless or dishonest admin could change the results is caught by ``verify``.

Each test records the same small history on SQLite and PostgreSQL, changes it the way an
admin with write access could (the append-only triggers dropped first where the ledger itself
is edited), and checks that ``verify`` names the table, row, field and window.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ledger_history import build, sql, unlock_ledger

from ethics_audit.ledger.checkpoint import load_file, make_checkpoint
from ethics_audit.ledger.verify import verify_store


@pytest.fixture
def recorded(store):
    info = build(store)
    info["key"] = Ed25519PrivateKey.generate()
    info["checkpoint"] = make_checkpoint(store, key=info["key"], note="test")
    return info


def problems(store, info, **kwargs) -> list[str]:
    result = verify_store(store, public_key=info["key"].public_key(), **kwargs)
    return [p.text() for p in result.problems]


def test_an_untouched_store_verifies(store, recorded) -> None:
    result = verify_store(store, public_key=recorded["key"].public_key())
    assert result.ok, [p.text() for p in result.problems]
    # 5 window entries (one superseded), 1 acknowledgement, 1 DP spend
    assert result.entries == 7
    assert result.checked["windows"] == 5 and result.checked["results"] == 4 * 6
    assert result.checked["incident_events"] == 1 and result.checked["dp_spends"] == 1
    assert result.checked["checkpoints"] == 1 and result.root_hash == recorded["checkpoint"].root_hash
    kinds = [json.loads(r.payload)["kind"] for r in _entries(store)]
    assert kinds == ["window"] * 5 + ["incident_event", "dp_spend"]
    rerun = json.loads(_entries(store)[4].payload)
    assert rerun["supersedes"] == 2 and rerun["run_id"] == recorded["rerun"]
    assert rerun["input_fingerprint"]["current"]["rows"] == 5


def _entries(store):
    from ethics_audit.store.ledger_read import entry_rows

    with store.session() as s:
        return entry_rows(s)


def test_changed_metric_value_is_named(store, recorded) -> None:
    run = recorded["runs"][0]
    sql(
        store,
        f"UPDATE metric_results SET value = 0.05 WHERE run_id = {run} AND metric = 'demographic_parity_difference' AND slice_key LIKE '%g0%'",
    )
    found = problems(store, recorded)
    assert len(found) == 1, found
    assert found[0].startswith("metric_results id ") and "fairness/demographic_parity_difference" in found[0]
    assert "field value (window test-model 2026-07-06..2026-07-13): ledger: 0.01, store: 0.05" in found[0]


def test_changed_severity_is_named(store, recorded) -> None:
    run = recorded["runs"][3]
    sql(store, f"UPDATE metric_results SET severity = 'ok' WHERE run_id = {run} AND severity = 'critical'")
    found = problems(store, recorded)
    assert any(
        'field severity (window test-model 2026-07-27..2026-08-03): ledger: "critical", store: "ok"' in p for p in found
    ), found
    assert all(p.startswith("metric_results id ") for p in found)


def test_a_softened_window_verdict_is_named(store, recorded) -> None:
    sql(store, "UPDATE audit_windows SET worst_severity = 'ok' WHERE worst_severity = 'critical'")
    found = problems(store, recorded)
    assert len(found) == 1 and "audit_windows id" in found[0] and "field worst_severity" in found[0], found


def test_deleted_run_is_named(store, recorded) -> None:
    run = recorded["runs"][1]
    sql(
        store,
        f"DELETE FROM metric_results WHERE run_id = {run}",
        f"DELETE FROM audit_windows WHERE current_run_id = {run}",
        f"DELETE FROM artifacts WHERE run_id = {run}",
        f"DELETE FROM audit_runs WHERE id = {run}",
    )
    found = problems(store, recorded)
    assert (
        f"audit_runs id {run} (window test-model 2026-07-13..2026-07-20): the run ledger entry 1 records is missing: it was deleted"
        in found
    )
    assert any(p.startswith("audit_windows (window test-model 2026-07-13..2026-07-20)") for p in found), found


def test_deleted_latest_entry_is_named(store, recorded) -> None:
    unlock_ledger(store)
    sql(store, "DELETE FROM ledger_entries WHERE seq = 6")
    found = problems(store, recorded)
    assert any("checkpoint 1 covers 7 entries but the ledger now has 6: entries were deleted" in p for p in found), (
        found
    )
    assert any(p.startswith("privacy_budget_ledger") is False and "seq 6..6" in p for p in found), found


def test_deleted_latest_window_with_all_its_rows_is_caught_by_the_checkpoint(store, recorded, tmp_path: Path) -> None:
    """The thorough admin removes the week everywhere; the checkpoint handed out earlier still knows."""
    out = tmp_path / "cp.json"
    out.write_text(json.dumps(recorded["checkpoint"].to_dict()))
    unlock_ledger(store)
    run = recorded["rerun"]
    sql(
        store,
        "DELETE FROM ledger_checkpoints",
        "DELETE FROM ledger_entries WHERE seq >= 4",
        f"DELETE FROM metric_results WHERE run_id = {run}",
        f"DELETE FROM audit_windows WHERE current_run_id = {run}",
    )
    external = [("checkpoint file cp.json", load_file(out))]
    found = problems(store, recorded, external=external)
    assert any("checkpoint file cp.json covers 7 entries but the ledger now has 4" in p for p in found), found


def test_reordered_entries_are_named(store, recorded) -> None:
    unlock_ledger(store)
    sql(
        store,
        "UPDATE ledger_entries SET seq = 100 WHERE seq = 1",
        "UPDATE ledger_entries SET seq = 1 WHERE seq = 2",
        "UPDATE ledger_entries SET seq = 2 WHERE seq = 100",
    )
    found = problems(store, recorded)
    assert any(
        p.startswith(
            "ledger_entries seq 1, field seq (window test-model 2026-07-20..2026-07-27): the entry was written as entry 2"
        )
        for p in found
    ), found
    assert any("ledger_entries seq 2, field prev_hash" in p for p in found), found
    assert any("checkpoint 1" in p and "not a prefix of today's ledger" in p for p in found), found


def test_swapped_windows_in_the_runs_are_named(store, recorded) -> None:
    a, b = recorded["runs"][0], recorded["runs"][1]
    sql(
        store,
        f"UPDATE audit_runs SET rows = 1001 WHERE id = {a}",
        f"UPDATE audit_runs SET rows = 1000 WHERE id = {b}",
    )
    found = problems(store, recorded)
    assert (
        f"audit_runs id {a}, field rows (window test-model 2026-07-06..2026-07-13): ledger: 1000, store: 1001" in found
    )
    assert (
        f"audit_runs id {b}, field rows (window test-model 2026-07-13..2026-07-20): ledger: 1001, store: 1000" in found
    )


def test_swapped_spec_snapshot_is_named(store, recorded) -> None:
    from helpers import make_spec

    softer = make_spec({"checks": {}, "model": {"name": "test-model", "version": "2"}}).model_dump(mode="json")
    spec_hash = recorded["spec"].spec_hash()
    with store.engine.begin() as conn:
        from sqlalchemy import update

        from ethics_audit.store.models import SpecSnapshot

        conn.execute(update(SpecSnapshot).where(SpecSnapshot.spec_hash == spec_hash).values(spec=softer))
    found = problems(store, recorded)
    assert len(found) == 5, found  # every window of that spec says so
    assert found[0] == (
        f"spec_snapshots spec_hash {spec_hash}, field spec (window test-model 2026-07-06..2026-07-13): "
        "the stored spec is not the one in force when the window was recorded: it was swapped or edited"
    )


def test_edited_acknowledgement_and_deleted_budget_spend_are_named(store, recorded) -> None:
    sql(store, "UPDATE incident_events SET actor = 'someone-else' WHERE transition = 'acknowledged'")
    sql(store, "DELETE FROM privacy_budget_ledger")
    found = problems(store, recorded)
    assert any(
        p.startswith("incident_events id") and 'field actor: ledger: "ethics-officer", store: "someone-else"' in p
        for p in found
    ), found
    assert any(
        p.startswith("privacy_budget_ledger id 1: the spend ledger entry 6 records is missing") for p in found
    ), found


def test_edited_payload_and_evidence_are_named(store, recorded) -> None:
    unlock_ledger(store)
    from sqlalchemy import update

    from ethics_audit.ledger import entries
    from ethics_audit.store.models import LedgerEntry

    with store.engine.begin() as conn:
        conn.execute(update(LedgerEntry).where(LedgerEntry.seq == 2).values(evidence=entries.compress("[]")))
    found = problems(store, recorded)
    assert found == [
        "ledger_entries seq 2, field evidence (window test-model 2026-07-20..2026-07-27): "
        "the kept results do not match the entry's digest: they were edited"
    ]


def test_resigned_ledger_is_caught_by_the_pinned_key_and_the_old_checkpoint(store, recorded) -> None:
    """The admin changes a value, rebuilds the whole ledger from the store and signs it with a key of their own."""
    from ethics_audit.store import ledger as sql_ledger

    run = recorded["runs"][3]
    sql(
        store, f"UPDATE metric_results SET severity = 'ok', value = 0.05 WHERE run_id = {run} AND severity = 'critical'"
    )
    unlock_ledger(store)
    sql(store, "DELETE FROM ledger_checkpoints", "DELETE FROM ledger_entries")
    with store.session() as s:
        sql_ledger._adopt_existing(s, exclude_run=None)
    make_checkpoint(store, key=Ed25519PrivateKey.generate(), note="forged")
    found = problems(store, recorded, external=[("the 2026Q3 report's checkpoint", recorded["checkpoint"])])
    assert any(
        p.startswith("ledger_checkpoints checkpoint ")
        and "field signature: signed by key id" in p
        and "not by the pinned key" in p
        for p in found
    ), found
    # the rebuilt ledger holds only the current windows: shorter than the report's tree
    assert any("the 2026Q3 report's checkpoint covers 7 entries but the ledger now has 4" in p for p in found), found


def test_the_ledger_tables_refuse_update_and_delete(store, recorded) -> None:
    from sqlalchemy.exc import DBAPIError

    for statement in (
        "UPDATE ledger_entries SET payload = '{}' WHERE seq = 0",
        "DELETE FROM ledger_entries WHERE seq = 6",
        "UPDATE ledger_checkpoints SET tree_size = 1",
        "DELETE FROM ledger_checkpoints",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            sql(store, statement)
    assert verify_store(store).ok
