"""Hand checkpoints to witnesses: a copy in Slack or behind a webhook lives outside the database.

The checkpoint goes through the outbox like any message (idempotent by tree size, root and
channel), so a channel that is down gets it on a later delivery. Its text carries everything a
verifier needs (``ethics-audit verify --checkpoint``); the JSON form rides in the payload.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ethics_audit.errors import AuditError

if TYPE_CHECKING:
    from ethics_audit.ledger.checkpoint import Checkpoint
    from ethics_audit.store import Store

WITNESS_AUDIT_ID = "_ledger"  # the outbox rows' audit id: witnesses belong to no audit
WITNESS_CHANNELS = ("slack", "slack_webhook", "webhook", "console")


def send_to_witnesses(store: Store, cp: Checkpoint, channels: list[str]) -> list[str]:
    """Queue ``cp`` for each channel and try to deliver it now; return the channels queued."""
    unknown = [c for c in channels if c not in WITNESS_CHANNELS]
    if unknown:
        raise AuditError(f"--witness {unknown[0]!r} is not a witness channel; use one of {', '.join(WITNESS_CHANNELS)}")
    if not channels:
        return []
    payload: dict[str, Any] = {
        "kind": "message",
        "audit_id": WITNESS_AUDIT_ID,
        "severity": "info",
        "title": f"ethics-audit ledger checkpoint: {cp.tree_size} entries",
        "text": (
            f"tree size {cp.tree_size}, root hash {cp.root_hash}, signed {cp.signed_at}, key id {cp.key_id}.\n"
            f"Keep this message: `ethics-audit verify --checkpoint FILE` proves the ledger still extends it.\n"
            f"{json.dumps(cp.to_dict(), sort_keys=True)}"
        ),
        "links": [],
        "checkpoint": cp.to_dict(),
    }
    queued = [
        c
        for c in channels
        if store.enqueue_notification(
            WITNESS_AUDIT_ID, c, f"ledger-checkpoint:{cp.tree_size}:{cp.root_hash[:16]}:{c}", payload
        )
    ]
    from ethics_audit.runner import deliver

    deliver(store, WITNESS_AUDIT_ID)
    return queued
