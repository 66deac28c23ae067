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
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ethics_audit.ledger import canonical, entries, merkle
from ethics_audit.ledger.checkpoint import Checkpoint, signature_problem

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from ethics_audit.store import Store


@dataclass(frozen=True)
class Problem:
    table: str
    row: str
    field: str
    window: str
    message: str

    def text(self) -> str:
        where = f"{self.table} {self.row}".strip()
        if self.field:
            where += f", field {self.field}"
        if self.window:
            where += f" (window {self.window})"
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class Verification:
    entries: int = 0
    root_hash: str = ""
    checked: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, table: str, row: str, fld: str, window: str, message: str) -> None:
        self.problems.append(Problem(table, row, fld, window, message))

    def to_dict(self) -> dict[str, Any]:
        return {
            "verified": self.ok,
            "entries": self.entries,
            "root_hash": self.root_hash,
            "checked": dict(self.checked),
            "problems": [p.to_dict() for p in self.problems],
            "notes": self.notes,
        }


def window_label(audit_id: Any, start: Any, end: Any) -> str:
    def day(text: Any) -> str:
        text = canonical.timestamp(text) if not isinstance(text, str) and text is not None else text
        if not text:
            return "?"
        return text[:10] if text[10:] == "T00:00:00.000000Z" else text

    return f"{audit_id} {day(start)}..{day(end)}"


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


def _compare(
    out: Verification, table: str, row: str, window: str, stored: dict[str, Any], payload: dict[str, Any], kind: str
) -> None:
    """One problem per field the ledger recomputes for ``kind`` whose stored value differs."""
    for name in entries.RECOMPUTED[kind]:
        if stored[name] != payload.get(name):
            out.add(table, row, name, window, f"ledger: {_show(payload.get(name))}, store: {_show(stored[name])}")


def verify_store(
    store: Store,
    *,
    audit_id: str | None = None,
    external: list[tuple[str, Checkpoint]] | None = None,
    public_key: Ed25519PublicKey | None = None,
) -> Verification:
    """Verify the store's ledger (the chain is always checked whole; ``audit_id`` narrows the rest)."""
    from ethics_audit.store import ledger as sql

    out = Verification()
    with store.session() as s:
        rows = sql.entry_rows(s)
        payloads = _chain(rows, out)
        _windows(s, rows, payloads, audit_id, out)
        _events_and_spends(s, rows, payloads, audit_id, out)
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
                    f"ledger payload: {_show(payload[name])}, column: {_show(value)}",
                )
        payloads[r.seq] = payload
        out.checked["entries"] += 1
    return payloads


def _windows(
    s: Any, rows: list[Any], payloads: dict[int, dict[str, Any]], audit_id: str | None, out: Verification
) -> None:
    from ethics_audit.store import ledger as sql
    from ethics_audit.store.models import AuditRun, SpecSnapshot

    mine = [
        (r.seq, payloads[r.seq])
        for r in rows
        if r.seq in payloads
        and payloads[r.seq].get("kind") == "window"
        and (audit_id is None or payloads[r.seq].get("audit_id") == audit_id)
    ]
    latest: dict[tuple, int] = {}
    for seq, p in mine:
        latest[(p.get("audit_id"), p.get("window_start"), p.get("window_end"))] = seq
    runs = sql.rows_by_id(s, AuditRun, [p.get("run_id") for _, p in mine])
    snapshots = sql.rows_by_id(s, SpecSnapshot, [p.get("spec_hash") for _, p in mine], key="spec_hash")
    for seq, p in mine:
        label = window_label(p.get("audit_id"), p.get("window_start"), p.get("window_end"))
        run = runs.get(p.get("run_id"))
        if run is None:
            out.add(
                "audit_runs",
                f"id {p.get('run_id')}",
                "",
                label,
                f"the run ledger entry {seq} records is missing: it was deleted",
            )
        else:
            _compare(out, "audit_runs", f"id {run.id}", label, entries.run_fields(run), p, "window")
        snapshot = snapshots.get(p.get("spec_hash"))
        if snapshot is None:
            out.add(
                "spec_snapshots",
                f"spec_hash {p.get('spec_hash')}",
                "",
                label,
                "the spec in force for this window is missing",
            )
        elif entries.spec_digest(snapshot.spec) != p.get("spec_sha256"):
            out.add(
                "spec_snapshots",
                f"spec_hash {p.get('spec_hash')}",
                "spec",
                label,
                "the stored spec is not the one in force when the window was recorded: it was swapped or edited",
            )
        out.checked["windows"] += 1
    current = {key: seq for key, seq in latest.items()}
    for window in sql.windows(s, audit_id):
        key = (window.audit_id, canonical.timestamp(window.window_start), canonical.timestamp(window.window_end))
        label = window_label(*key)
        seq = current.pop(key, None)
        if seq is None:
            out.add(
                "audit_windows",
                f"id {window.id}",
                "",
                label,
                "no ledger entry records this window: its entry was deleted, or it was written around the store",
            )
            continue
        p = payloads[seq]
        if window.current_run_id != p.get("run_id"):
            out.add(
                "audit_windows",
                f"id {window.id}",
                "current_run_id",
                label,
                f"ledger: run {p.get('run_id')} (entry {seq}), store: run {window.current_run_id}",
            )
        if window.worst_severity != p.get("worst_severity"):
            out.add(
                "audit_windows",
                f"id {window.id}",
                "worst_severity",
                label,
                f"ledger: {_show(p.get('worst_severity'))}, store: {_show(window.worst_severity)}",
            )
    for key, seq in current.items():
        out.add(
            "audit_windows",
            "",
            "",
            window_label(*key),
            f"the window ledger entry {seq} records is missing: it was deleted",
        )
    _results(s, latest, payloads, mine, audit_id, out)


def _results(
    s: Any,
    latest: dict[tuple, int],
    payloads: dict[int, dict[str, Any]],
    mine: list[tuple[int, dict[str, Any]]],
    audit_id: str | None,
    out: Verification,
) -> None:
    from ethics_audit.store import ledger as sql

    want = {payloads[seq]["run_id"]: seq for seq in latest.values()}
    store_rows: dict[int, list[tuple[int, str]]] = {}  # only of runs whose digest differs
    seen: set[int] = set()

    def close(run_id: int, group: list[tuple[int, str]]) -> None:
        seq = want.get(run_id)
        if seq is None:
            label = window_label(*_run_window(group))
            out.add(
                "metric_results",
                f"run {run_id}",
                "",
                label,
                f"{len(group)} rows belong to no current ledger entry: they were added around the store",
            )
            return
        seen.add(run_id)
        document = canonical.results_document([text for _, text in group])
        out.checked["results"] += len(group)
        if canonical.sha256(document) != payloads[seq]["results"]["sha256"]:
            store_rows[run_id] = group

    run_ids = list(want) if audit_id is not None else None
    group: list[tuple[int, str]] = []
    current_run = None
    for run_id, row_id, text in sql.iter_result_rows(s, run_ids):
        if run_id != current_run:
            if current_run is not None:
                close(current_run, group)
            current_run, group = run_id, []
        group.append((row_id, text))
    if current_run is not None:
        close(current_run, group)
    for run_id, seq in want.items():
        if run_id not in seen and payloads[seq]["results"]["count"]:
            store_rows[run_id] = []
    # the evidence of every window entry, superseded ones included, must still match its digest
    evidence_doc: dict[int, str] = {}
    diff_seqs = {want[r] for r in store_rows}
    for seq, blob in sql.evidence_of(s, [seq for seq, _ in mine]):
        p = payloads[seq]
        label = window_label(p.get("audit_id"), p.get("window_start"), p.get("window_end"))
        try:
            document = entries.decompress(blob)
        except Exception:  # noqa: BLE001 - zlib raises several kinds; any of them means damaged
            document = None
        if document is None or canonical.sha256(document) != p["results"]["sha256"]:
            out.add(
                "ledger_entries",
                f"seq {seq}",
                "evidence",
                label,
                "the kept results do not match the entry's digest: they were edited",
            )
            continue
        if seq in diff_seqs:
            evidence_doc[seq] = document
    for run_id, group in store_rows.items():
        seq = want[run_id]
        p = payloads[seq]
        label = window_label(p.get("audit_id"), p.get("window_start"), p.get("window_end"))
        if seq not in evidence_doc:
            out.add(
                "metric_results", f"run {run_id}", "", label, "the window's results differ from the ledger's digest"
            )
            continue
        _diff(json.loads(evidence_doc[seq]), [(i, json.loads(t)) for i, t in group], label, out)


def _run_window(group: list[tuple[int, str]]) -> tuple[Any, Any, Any]:
    first = json.loads(group[0][1])
    return first["audit_id"], first["window_start"], first["window_end"]


def _key(row: dict[str, Any]) -> tuple[str, str, str]:
    return row["check"], row["metric"], row["slice_key"]


def _diff(
    ledger_rows: list[dict[str, Any]], stored: list[tuple[int, dict[str, Any]]], label: str, out: Verification
) -> None:
    """Name each metric_results row and field that differs from what the ledger holds."""
    held: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in ledger_rows:
        held[_key(row)].append(row)
    have: dict[tuple, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for row_id, row in stored:
        have[_key(row)].append((row_id, row))
    before = len(out.problems)
    for key in sorted(set(held) | set(have)):
        name = f"{key[0]}/{key[1]}" + (f" [{key[2]}]" if key[2] else "")
        a, b = held.get(key, []), sorted(have.get(key, []))
        for i in range(max(len(a), len(b))):
            if i >= len(b):
                out.add(
                    "metric_results",
                    f"({name})",
                    "",
                    label,
                    "the row is missing: the ledger holds it, the store does not (deleted)",
                )
            elif i >= len(a):
                out.add(
                    "metric_results", f"id {b[i][0]} ({name})", "", label, "the row is not in the ledger: it was added"
                )
            else:
                for fld in canonical.RESULT_FIELDS:
                    if a[i].get(fld) != b[i][1].get(fld):
                        out.add(
                            "metric_results",
                            f"id {b[i][0]} ({name})",
                            fld,
                            label,
                            f"ledger: {_show(a[i].get(fld))}, store: {_show(b[i][1].get(fld))}",
                        )
    if len(out.problems) == before:
        out.add("metric_results", "", "", label, "the window's results differ from the ledger's digest")


def _events_and_spends(
    s: Any, rows: list[Any], payloads: dict[int, dict[str, Any]], audit_id: str | None, out: Verification
) -> None:
    from ethics_audit.store import ledger as sql
    from ethics_audit.store.models import IncidentEvent, PrivacyBudgetEntry

    def scoped(kind: str) -> list[tuple[int, dict[str, Any]]]:
        return [
            (seq, p)
            for seq, p in payloads.items()
            if p.get("kind") == kind and (audit_id is None or p.get("audit_id") == audit_id)
        ]

    events = scoped("incident_event")
    stored_events = sql.rows_by_id(s, IncidentEvent, [p["event_id"] for _, p in events])
    audits = sql.audit_of_incidents(s, sorted({e.incident_id for e in stored_events.values()}))
    for seq, p in events:
        event = stored_events.get(p["event_id"])
        label = f"incident {p.get('incident_id')}"
        if event is None:
            out.add(
                "incident_events",
                f"id {p['event_id']}",
                "",
                "",
                f"the {p.get('transition')} of {label} (entry {seq}) is missing: it was deleted",
            )
            continue
        stored = entries.event_fields(event, audits.get(event.incident_id, ""))
        _compare(out, "incident_events", f"id {event.id} ({label})", "", stored, p, "incident_event")
        out.checked["incident_events"] += 1
    spends = scoped("dp_spend")
    stored_spends = sql.rows_by_id(s, PrivacyBudgetEntry, [p["budget_entry_id"] for _, p in spends])
    for seq, p in spends:
        entry = stored_spends.get(p["budget_entry_id"])
        if entry is None:
            out.add(
                "privacy_budget_ledger",
                f"id {p['budget_entry_id']}",
                "",
                "",
                f"the spend ledger entry {seq} records is missing: it was deleted",
            )
            continue
        _compare(out, "privacy_budget_ledger", f"id {entry.id}", "", entries.spend_fields(entry), p, "dp_spend")
        out.checked["dp_spends"] += 1


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
