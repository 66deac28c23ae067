"""``verify``'s check of the stored rows against the entries that describe them.

Windows (their run, spec snapshot and current run), every metric result of every current
window (digest first; only a window whose digest differs is diffed row by row against the
evidence its entry keeps, to name the row and field), incident events and privacy-budget
spends. Each mismatch is a ``Problem`` in the ``Verification``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from ethics_audit.ledger import canonical, entries
from ethics_audit.ledger.problems import Verification, compare, show, window_label


def check_windows(
    s: Any,
    rows: list[Any],
    payloads: dict[int, dict[str, Any]],
    audit_id: str | None,
    out: Verification,
    *,
    workers: int | None = None,
) -> None:
    """``workers``: processes that scan the metric results (None: ``store.ledger_scan``'s default)."""
    from ethics_audit.store import ledger_read as sql

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
    runs = sql.runs_by_id(s, [p.get("run_id") for _, p in mine])
    snapshots = sql.snapshots_by_hash(s, [p.get("spec_hash") for _, p in mine])
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
            compare(out, "audit_runs", f"id {run.id}", label, entries.run_fields(run), p, "window")
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
                f"ledger: {show(p.get('worst_severity'))}, store: {show(window.worst_severity)}",
            )
    for key, seq in current.items():
        out.add(
            "audit_windows",
            "",
            "",
            window_label(*key),
            f"the window ledger entry {seq} records is missing: it was deleted",
        )
    _results(s, latest, payloads, mine, audit_id, out, workers)


def _results(
    s: Any,
    latest: dict[tuple, int],
    payloads: dict[int, dict[str, Any]],
    mine: list[tuple[int, dict[str, Any]]],
    audit_id: str | None,
    out: Verification,
    workers: int | None,
) -> None:
    from ethics_audit.store import ledger_read as sql
    from ethics_audit.store.ledger_scan import scan

    want = {payloads[seq]["run_id"]: seq for seq in latest.values()}
    store_rows: dict[int, list[tuple[int, str]]] = {}  # only of runs whose digest differs
    seen: set[int] = set()
    expected = {run_id: payloads[seq]["results"]["sha256"] for run_id, seq in want.items()}
    run_ids = list(want) if audit_id is not None else None
    rows_hint = sum(payloads[seq]["results"].get("count") or 0 for seq in want.values())
    damaged: list[int] = []
    with scan(s, run_ids, expected, rows_hint=rows_hint, workers=workers) as runs:
        # while worker processes (if any) scan the results: the evidence of every window entry,
        # superseded ones included, must still match its digest (problems named after the scan's)
        for seq, blob in sql.evidence_of(s, [seq for seq, _ in mine]):
            try:
                document = entries.decompress(blob)
            except Exception:  # noqa: BLE001 - zlib raises several kinds; any of them means damaged
                document = None
            if document is None or canonical.sha256(document) != payloads[seq]["results"]["sha256"]:
                damaged.append(seq)
        for run in runs:
            if run.run_id not in want:
                first = json.loads(run.first or "{}")
                out.add(
                    "metric_results",
                    f"run {run.run_id}",
                    "",
                    window_label(first.get("audit_id"), first.get("window_start"), first.get("window_end")),
                    f"{run.count} rows belong to no current ledger entry: they were added around the store",
                )
                continue
            seen.add(run.run_id)
            out.checked["results"] += run.count
            if not run.matches:
                store_rows[run.run_id] = run.rows or []
    for run_id, seq in want.items():
        if run_id not in seen and payloads[seq]["results"]["count"]:
            store_rows[run_id] = []
    for seq in damaged:
        p = payloads[seq]
        out.add(
            "ledger_entries",
            f"seq {seq}",
            "evidence",
            window_label(p.get("audit_id"), p.get("window_start"), p.get("window_end")),
            "the kept results do not match the entry's digest: they were edited",
        )
    # the evidence to diff against, read again: only windows whose results differ need it
    diff_seqs = sorted({want[r] for r in store_rows} - set(damaged))
    evidence_doc = {seq: entries.decompress(blob) or "" for seq, blob in sql.evidence_of(s, diff_seqs)}
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
                            f"ledger: {show(a[i].get(fld))}, store: {show(b[i][1].get(fld))}",
                        )
    if len(out.problems) == before:
        out.add("metric_results", "", "", label, "the window's results differ from the ledger's digest")


def check_events_and_spends(
    s: Any, rows: list[Any], payloads: dict[int, dict[str, Any]], audit_id: str | None, out: Verification
) -> None:
    from ethics_audit.store import ledger_read as sql

    def scoped(kind: str) -> list[tuple[int, dict[str, Any]]]:
        return [
            (seq, p)
            for seq, p in payloads.items()
            if p.get("kind") == kind and (audit_id is None or p.get("audit_id") == audit_id)
        ]

    events = scoped("incident_event")
    stored_events = sql.events_by_id(s, [p["event_id"] for _, p in events])
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
        compare(out, "incident_events", f"id {event.id} ({label})", "", stored, p, "incident_event")
        out.checked["incident_events"] += 1
    spends = scoped("dp_spend")
    stored_spends = sql.spends_by_id(s, [p["budget_entry_id"] for _, p in spends])
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
        compare(out, "privacy_budget_ledger", f"id {entry.id}", "", entries.spend_fields(entry), p, "dp_spend")
        out.checked["dp_spends"] += 1
