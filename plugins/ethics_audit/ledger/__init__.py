"""The results ledger: hash-chained entries, signed RFC 6962 checkpoints, and their verifier.

Every committed window, manual incident transition, privacy-budget spend and report
publication appends one entry in the transaction that commits it (``store.ledger``); entries
are canonical JSON (``canonical``) chained by SHA-256; checkpoints are Merkle tree heads over
the entries signed with Ed25519 (``checkpoint``, ``merkle``); ``verify`` recomputes everything
from the stored rows. The format is documented in docs/ledger.md for independent verifiers.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ethics_audit.ledger.checkpoint import Checkpoint
    from ethics_audit.store import Store


def make_checkpoint(
    store: Store, *, key: Ed25519PrivateKey | None, note: str = "", now: datetime | None = None
) -> Checkpoint:
    """Sign the tree head over every entry so far and keep it (unsigned when ``key`` is None)."""
    from ethics_audit.ledger import merkle
    from ethics_audit.ledger.checkpoint import sign
    from ethics_audit.store import ledger as sql

    with store.session() as s:
        hashes = sql.entry_hashes(s)
        root = merkle.root([bytes.fromhex(h) for h in hashes]).hex()
        cp = sign(len(hashes), root, now or datetime.now(timezone.utc), key, note)
        sql.add_checkpoint(s, cp)
    return cp
