"""What each ledger entry says: the payloads of windows, incident events, DP spends, reports.

Pure functions from what was committed to the dict that ``canonical.dumps`` serialises. The
verifier rebuilds the same dicts from the stored rows and compares them field by field, so
the fields here are the ones a verifier can recompute; the rest (code version, input
fingerprint, recording time, what an entry supersedes) are protected by the chain alone.
"""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Any

from ethics_audit.ledger import canonical

# fields a verifier recomputes from the stored rows, per kind (and the table they come from)
RECOMPUTED = {
    "window": ("audit_id", "window_start", "window_end", "run_id", "status", "rows", "reference_rows", "spec_hash"),
    "incident_event": (
        "event_id",
        "incident_id",
        "audit_id",
        "transition",
        "actor",
        "at",
        "note",
        "severity",
        "value",
        "window_start",
        "run_id",
    ),
    "dp_spend": ("budget_entry_id", "audit_id", "year", "epsilon", "purpose", "spent_at", "details"),
}


def run_fields(run: Any) -> dict[str, Any]:
    """The window entry's fields that live on the ``audit_runs`` row."""
    return {
        "audit_id": run.audit_id,
        "window_start": canonical.timestamp(run.window_start),
        "window_end": canonical.timestamp(run.window_end),
        "run_id": run.id,
        "status": run.status,
        "rows": run.rows,
        "reference_rows": run.reference_rows,
        "spec_hash": run.spec_hash,
    }


def spec_digest(spec: dict[str, Any] | None) -> str | None:
    return None if spec is None else canonical.sha256(canonical.dumps(canonical.json_field(spec)))


def window_payload(
    run: Any,
    results: str,
    *,
    count: int,
    spec: dict[str, Any] | None,
    worst_severity: str,
    fingerprint: dict[str, Any] | None,
    supersedes: int | None,
    code_version: str | None,
    recorded_at: datetime,
    adopted: bool = False,
) -> dict[str, Any]:
    payload = {
        "v": canonical.FORMAT_VERSION,
        "kind": "window",
        **run_fields(run),
        "spec_sha256": spec_digest(spec),
        "worst_severity": worst_severity,
        "results": {"count": count, "sha256": canonical.sha256(results)},
        "input_fingerprint": fingerprint,
        "supersedes": supersedes,
        "code_version": code_version,
        "recorded_at": canonical.timestamp(recorded_at),
    }
    if adopted:
        payload["adopted"] = True  # recorded before the ledger existed: entered when it started
    return payload


def compress(results: str) -> bytes:
    return zlib.compress(results.encode(), 1)  # fast: it is written with every window


def decompress(evidence: bytes | None) -> str | None:
    return None if evidence is None else zlib.decompress(evidence).decode()


def event_fields(event: Any, audit_id: str) -> dict[str, Any]:
    return {
        "event_id": event.id,
        "incident_id": event.incident_id,
        "audit_id": audit_id,
        "transition": event.transition,
        "actor": event.actor,
        "at": canonical.timestamp(event.at),
        "note": event.note or "",
        "severity": event.severity,
        "value": None if event.value is None else float(event.value),
        "window_start": canonical.timestamp(event.window_start),
        "run_id": event.run_id,
    }


def event_payload(event: Any, audit_id: str) -> dict[str, Any]:
    return {"v": canonical.FORMAT_VERSION, "kind": "incident_event", **event_fields(event, audit_id)}


def spend_fields(entry: Any) -> dict[str, Any]:
    return {
        "budget_entry_id": entry.id,
        "audit_id": entry.audit_id,
        "year": entry.year,
        "epsilon": float(entry.epsilon),
        "purpose": entry.purpose,
        "spent_at": canonical.timestamp(entry.spent_at),
        "details": canonical.json_field(entry.details or {}),
    }


def spend_payload(entry: Any) -> dict[str, Any]:
    return {"v": canonical.FORMAT_VERSION, "kind": "dp_spend", **spend_fields(entry)}


def report_payload(
    *,
    quarter: str,
    public: bool,
    audit_ids: list[str],
    html_sha256: str,
    windows: list[int],
    generated_at: datetime,
) -> dict[str, Any]:
    return {
        "v": canonical.FORMAT_VERSION,
        "kind": "report",
        "quarter": quarter,
        "public": public,
        "audit_ids": sorted(audit_ids),
        "html_sha256": html_sha256,
        "windows": windows,
        "generated_at": canonical.timestamp(generated_at),
    }
