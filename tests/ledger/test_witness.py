"""Checkpoints handed to a witness over real HTTP: the copy outside the database verifies the ledger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ledger_history import build, sql

from fakes.services import FakeWebhook
from test_cli import cli

SECRET = "whsec-ledger-test"


@pytest.fixture
def witness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from ethics_audit.store import Store

    url = f"sqlite:///{tmp_path / 'results.db'}"
    monkeypatch.setenv("ETHICS_AUDIT_DB_URL", url)
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    monkeypatch.setenv("ETHICS_AUDIT_LEDGER_KEY", raw.hex())
    server = FakeWebhook(SECRET)
    monkeypatch.setenv("ETHICS_AUDIT_WEBHOOK_URL", server.url + "/hooks/ledger")
    monkeypatch.setenv("ETHICS_AUDIT_WEBHOOK_SECRET", SECRET)
    store = Store(url)
    build(store)
    yield store, server
    store.dispose()
    server.stop()


def test_the_witness_copy_verifies_and_catches_a_later_rewrite(capsys, witness, tmp_path: Path) -> None:
    store, server = witness
    code, out, _ = cli(capsys, "checkpoint", "--witness", "webhook", "--json")
    assert code == 0, out
    assert json.loads(out)["witnesses"] == ["webhook"]
    (received,) = server.received.values()
    copy = received["payload"]["checkpoint"]
    assert copy["tree_size"] == 7 and copy["root_hash"] in received["text"]
    (tmp_path / "witness.json").write_text(json.dumps(copy))
    code, out, _ = cli(capsys, "verify", "--checkpoint", str(tmp_path / "witness.json"))
    assert code == 0, out
    # the admin drops the triggers and removes the last entry, and the stored checkpoints with it
    from ledger_history import unlock_ledger

    unlock_ledger(store)
    sql(store, "DELETE FROM ledger_checkpoints", "DELETE FROM ledger_entries WHERE seq = 6")
    code, out, _ = cli(capsys, "verify", "--checkpoint", str(tmp_path / "witness.json"))
    assert code == 1 and "covers 7 entries but the ledger now has 6" in out


def test_a_witness_that_is_down_keeps_the_checkpoint_in_the_outbox(capsys, witness) -> None:
    store, server = witness
    server.fail("POST", "/hooks/ledger", status=503, times=10)
    code, out, _ = cli(capsys, "checkpoint", "--witness", "webhook")
    assert code == 0, out
    assert server.received == {}
    pending = [n for n in store.notifications(audit_id="_ledger", limit=10)]
    assert len(pending) == 1 and pending[0].status == "pending" and pending[0].attempts == 1


def test_unknown_witness_and_missing_key_are_usage_errors(capsys, witness, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = cli(capsys, "checkpoint", "--witness", "pagerduty")
    assert code == 2 and "not a witness channel" in err
    monkeypatch.delenv("ETHICS_AUDIT_LEDGER_KEY")
    code, _, err = cli(capsys, "checkpoint")
    assert code == 2 and "no signing key" in err
