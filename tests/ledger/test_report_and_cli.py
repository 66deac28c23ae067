"""``ethics-audit verify`` on a sealed quarterly report, and its exit codes (0 verified, 1 tampered, 2 usage)."""

from __future__ import annotations

import html as htmllib
import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ledger_history import build, sql

from test_cli import cli


@pytest.fixture
def sealed(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from ethics_audit.reports import build_quarterly_report
    from ethics_audit.store import Store

    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    monkeypatch.setenv("ETHICS_AUDIT_LEDGER_KEY", raw.hex())
    monkeypatch.setenv("ETHICS_AUDIT_DB_URL", db_url)
    store = Store(db_url)
    build(store)
    result = build_quarterly_report(store, "2026Q3", out_dir=tmp_path / "out", pdf=False)
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
    yield {"store": store, "html": Path(result["html"]), "public": public, "result": result}
    store.dispose()


def test_the_report_prints_its_checkpoint_and_verifies(capsys, sealed) -> None:
    html = sealed["html"].read_text()
    cp = sealed["result"]["checkpoint"]
    # 7 entries of the history, then the report's own entry
    assert cp["tree_size"] == 8 and cp["public_key"] == sealed["public"]
    for text in (f"{cp['tree_size']} entries", cp["root_hash"], cp["key_id"], cp["signature"]):
        assert text in html
    data = json.loads(
        htmllib.unescape(re.search(r'<pre id="ethics-audit-ledger" hidden>(.*?)</pre>', html, re.S).group(1))
    )
    assert "<script" not in html  # the data is inert: the report still runs no script
    assert [w["seq"] for w in data["windows"]] == [0, 1, 3, 4]  # the current windows (entry 2 was superseded)
    assert data["numbers"] and all(n["seq"] == 3 for n in data["numbers"])  # week 4's breach, the worst
    code, out, _ = cli(capsys, "verify", "--report", str(sealed["html"]), "--public-key", sealed["public"])
    assert code == 0, out
    assert "verified" in out and "8 entries" in out and "report numbers" in out
    code, out, _ = cli(capsys, "verify", "--since-report", str(sealed["html"]), "--json")
    assert code == 0 and json.loads(out)["verified"] is True


def test_an_edited_number_in_the_report_is_named(capsys, sealed) -> None:
    html = sealed["html"].read_text()
    edited, count = re.subn(r'(<td class="num" data-ledger="0">)25(\.0)?%?', r"\g<1>9", html, count=1)
    if not count:
        edited, count = re.subn(r'(<td class="num" data-ledger="0">)[^<]+', r"\g<1>0.09", html, count=1)
    assert count == 1
    sealed["html"].write_text(edited)
    code, out, _ = cli(capsys, "verify", "--report", str(sealed["html"]), "--public-key", sealed["public"], "--json")
    assert code == 1
    problems = [p for p in json.loads(out)["problems"]]
    fields = {(p["table"], p["field"]) for p in problems}
    assert ("report", "html") in fields and ("report", "value") in fields, problems
    number = next(p for p in problems if p["field"] == "value")
    assert "fairness/demographic_parity_difference" in number["row"]
    assert number["window"] == "test-model 2026-07-27..2026-08-03"


def test_a_changed_store_value_is_named_against_the_report(capsys, sealed) -> None:
    sql(sealed["store"], "UPDATE metric_results SET value = 0.11 WHERE value = 0.25")
    code, out, _ = cli(capsys, "verify", "--report", str(sealed["html"]))
    assert code == 1
    assert "metric_results id" in out and "field value" in out and "ledger: 0.25, store: 0.11" in out


def test_a_report_signed_by_another_key_is_refused(capsys, sealed) -> None:
    other = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    code, out, _ = cli(capsys, "verify", "--report", str(sealed["html"]), "--public-key", other.hex())
    assert code == 1 and "not by the pinned key" in out


def test_usage_errors_exit_2(capsys, sealed, tmp_path: Path) -> None:
    code, _, err = cli(capsys, "verify", "--report", str(tmp_path / "nope.html"))
    assert code == 2 and "does not exist" in err
    (tmp_path / "plain.html").write_text("<html></html>")
    code, _, err = cli(capsys, "verify", "--since-report", str(tmp_path / "plain.html"))
    assert code == 2 and "no ledger section" in err
    code, _, err = cli(capsys, "verify", "--public-key", "not-a-key")
    assert code == 2 and "not an Ed25519 key" in err
    (tmp_path / "cp.json").write_text("{}")
    code, _, err = cli(capsys, "verify", "--checkpoint", str(tmp_path / "cp.json"))
    assert code == 2 and "not an ethics-audit checkpoint" in err


def test_checkpoint_command_writes_a_file_verify_accepts(capsys, sealed, tmp_path: Path) -> None:
    code, out, _ = cli(capsys, "checkpoint", "--out", str(tmp_path / "cp.json"), "--note", "monthly", "--json")
    assert code == 0, out
    cp = json.loads(out)
    assert cp["tree_size"] == 8 and cp["note"] == "monthly"
    code, out, _ = cli(capsys, "verify", "--checkpoint", str(tmp_path / "cp.json"), "--public-key", sealed["public"])
    assert code == 0, out
    sql(sealed["store"], "UPDATE audit_runs SET status = 'failed' WHERE id = 1")
    code, out, _ = cli(capsys, "verify", "--checkpoint", str(tmp_path / "cp.json"), "--audit", "test-model")
    assert code == 1 and "audit_runs id 1, field status" in out
