"""``ethics-audit verify``: recompute every ledger entry from the stored rows and check it all.

Checks, in order: the chain (each entry's hash over its predecessor's, its position), the
stored rows each entry describes (runs, windows, spec snapshots, metric results, incident
events, privacy-budget spends), the evidence kept for every window entry, and every
checkpoint (stored ones and ones handed in from outside): an RFC 6962 consistency proof from
the checkpoint's tree to today's, and its Ed25519 signature. Every mismatch becomes a
``Problem`` naming the table, the row, the field and the window; none means verified.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ethics_audit.ledger import canonical, merkle
from ethics_audit.ledger.checkpoint import Checkpoint, signature_problem
from ethics_audit.ledger.problems import Problem, Verification, show, window_label
from ethics_audit.ledger.verify_rows import check_events_and_spends, check_windows

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from ethics_audit.store import Store


def verify_store(
    store: Store,
    *,
    audit_id: str | None = None,
    external: list[tuple[str, Checkpoint]] | None = None,
    public_key: Ed25519PublicKey | None = None,
    workers: int | None = None,
) -> Verification:
    """Verify the store's ledger (the chain is always checked whole; ``audit_id`` narrows the rest).

    ``workers``: processes that recompute the results digests (None: one per core, at most 8,
    or ``$ETHICS_AUDIT_VERIFY_WORKERS``; small stores are always scanned in this process).
    """
    from ethics_audit.store import ledger_read as sql

    out = Verification()
    with store.session() as s:
        rows = sql.entry_rows(s)
        payloads = _chain(rows, out)
        check_windows(s, rows, payloads, audit_id, out, workers=workers)
        check_events_and_spends(s, rows, payloads, audit_id, out)
        leaves = [bytes.fromhex(r.entry_hash) for r in rows]
        stored = [
            (
                f"checkpoint {c.id}",
                Checkpoint(
                    c.tree_size,
                    c.root_hash,
                    canonical.timestamp(c.signed_at) or "",
                    c.key_id,
                    c.public_key,
                    c.signature,
                    c.note,
                ),
            )
            for c in sql.checkpoints(s)
        ]
    tree = merkle.Tree(leaves)
    root = tree.root()
    out.entries, out.root_hash = len(rows), root.hex()
    for label, cp in stored + list(external or []):
        check_checkpoint(label, cp, tree, root, public_key, out, stored=label.startswith("checkpoint "))
    if public_key is None and (stored or external):
        out.notes.append(
            "signatures were checked against the public key each checkpoint carries; pin the publisher's key "
            "with --public-key (or $ETHICS_AUDIT_LEDGER_PUBLIC_KEY) to rule out a re-signed ledger"
        )
    return out


def _chain(rows: list[Any], out: Verification) -> dict[int, dict[str, Any]]:
    payloads: dict[int, dict[str, Any]] = {}
    prev = canonical.GENESIS
    for position, r in enumerate(rows):
        row = f"seq {r.seq}"
        window = window_label(r.audit_id, r.window_start, r.window_end) if r.window_start else ""
        if r.seq != position:
            out.add(
                "ledger_entries",
                row,
                "seq",
                window,
                f"expected entry {position} here: entries were deleted or renumbered",
            )
        if r.prev_hash != prev:
            out.add(
                "ledger_entries",
                row,
                "prev_hash",
                window,
                "does not link to the entry before it: entries were deleted, inserted or reordered",
            )
        if canonical.entry_hash(r.prev_hash, r.payload) != r.entry_hash:
            out.add("ledger_entries", row, "payload", window, "the payload does not hash to entry_hash: it was edited")
        prev = r.entry_hash
        try:
            payload = json.loads(r.payload)
        except ValueError:
            out.add("ledger_entries", row, "payload", window, "the payload is not JSON")
            continue
        if payload.get("seq") != r.seq:
            out.add(
                "ledger_entries",
                row,
                "seq",
                window,
                f"the entry was written as entry {payload.get('seq')}: entries were reordered or renumbered",
            )
        columns = {
            "kind": r.kind,
            "audit_id": r.audit_id,
            "run_id": r.run_id,
        }
        if r.kind == "window":
            columns["window_start"] = canonical.timestamp(r.window_start)
            columns["window_end"] = canonical.timestamp(r.window_end)
        for name, value in columns.items():
            if name in payload and payload[name] != value:
                out.add(
                    "ledger_entries",
                    row,
                    name,
                    window,
                    f"ledger payload: {show(payload[name])}, column: {show(value)}",
                )
        payloads[r.seq] = payload
        out.checked["entries"] += 1
    return payloads


def check_checkpoint(
    label: str,
    cp: Checkpoint,
    tree: merkle.Tree,
    root: bytes,
    public_key: Ed25519PublicKey | None,
    out: Verification,
    *,
    stored: bool = False,
) -> None:
    """Is today's ledger an extension of ``cp``'s tree (RFC 6962 consistency proof), and is ``cp`` signed?"""
    table = "ledger_checkpoints" if stored else "checkpoint"
    n = tree.size
    if cp.tree_size > n:
        out.add(
            "ledger_entries",
            f"seq {n}..{cp.tree_size - 1}",
            "",
            "",
            f"{label} covers {cp.tree_size} entries but the ledger now has {n}: entries were deleted",
        )
    elif cp.tree_size > 0:
        proof = tree.consistency_proof(cp.tree_size)
        try:
            old_root = bytes.fromhex(cp.root_hash)
        except ValueError:
            old_root = b""
        if not merkle.verify_consistency(cp.tree_size, n, old_root, root, proof):
            out.add(
                "ledger_entries",
                f"seq 0..{cp.tree_size - 1}",
                "",
                "",
                f"{label} (tree size {cp.tree_size}, root {cp.root_hash[:16]}...) is not a prefix of today's ledger: "
                "entries it covers were changed, removed or reordered",
            )
    problem = signature_problem(cp, public_key)
    if problem is not None:
        if cp.signature is None and public_key is None:
            out.notes.append(f"{label}: {problem}")
        else:
            out.add(table, label, "signature", "", problem)
    out.checked["checkpoints"] += 1


__all__ = ["Problem", "Verification", "check_checkpoint", "verify_store", "window_label"]
