"""The ledger in the quarterly report: seal it on publication, and prove it later (``verify --report``).

Publishing appends a ``report`` entry holding the SHA-256 of the report's HTML (with its
ledger section left empty), makes a checkpoint over the ledger, and fills the section: the
checkpoint printed for people (tree size, root hash, key id, signature) and, for machines, a
hidden ``<pre id="ethics-audit-ledger">`` of HTML-escaped JSON with the checkpoint, the
report entry and every window entry the report counted, each with its RFC 6962 inclusion
proof, and every number the report prints from a metric result (``data-ledger`` cells). A
verifier recomputes the HTML digest, checks the proofs and signature, compares each printed
number with the embedded data and with what the ledger holds, and names every mismatch.
"""

from __future__ import annotations

import html as htmllib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from ethics_audit.errors import AuditError
from ethics_audit.ledger import canonical, entries, merkle
from ethics_audit.ledger.checkpoint import Checkpoint

if TYPE_CHECKING:
    from ethics_audit.ledger.problems import Verification
    from ethics_audit.store import Store

BEGIN, END = "<!--ethics-audit-ledger:begin-->", "<!--ethics-audit-ledger:end-->"
PLACEHOLDER = BEGIN + END
FORMAT = "ethics-audit-report-ledger/1"
_SECTION = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
# an inert element, HTML-escaped: the report runs no script and its data cannot break out of it
_DATA = re.compile(r'<pre id="ethics-audit-ledger" hidden>(.*?)</pre>', re.S)
_CELL = re.compile(r'<td[^>]*\sdata-ledger="(\d+)"[^>]*>(.*?)</td>', re.S)
_TAGS = re.compile(r"<[^>]+>")


class Numbers:
    """Collects the metric results a report prints; the template calls it in each such cell."""

    def __init__(self) -> None:
        self.refs: list[dict[str, Any]] = []

    def __call__(self, ref: tuple[int, str, str, str] | None, value: Any, metric: str) -> Markup:
        if ref is None:
            return Markup("")
        run_id, check, metric_name, slice_key = ref
        self.refs.append(
            {
                "n": len(self.refs),
                "run_id": run_id,
                "check": check,
                "metric": metric_name,
                "slice_key": slice_key,
                "field": "value",
                "value": None if value is None else float(value),
                "format": metric,
            }
        )
        return Markup(f' data-ledger="{len(self.refs) - 1}"')


def digest_of(html: str) -> str:
    """SHA-256 of the report with its ledger section emptied (what the report entry records)."""
    return canonical.sha256(_SECTION.sub(PLACEHOLDER, html, count=1))


def seal(
    store: Store,
    html: str,
    numbers: Numbers,
    *,
    quarter: str,
    public: bool,
    audit_ids: list[str],
    run_ids: list[int],
    now: datetime,
    key: Any = None,
) -> tuple[str, Checkpoint]:
    """Record the report in the ledger, checkpoint it (signed with ``key``, default the configured
    one), and fill the report's ledger section."""
    from ethics_audit.ledger.checkpoint import make_checkpoint, signing_key
    from ethics_audit.store import ledger_read as sql
    from ethics_audit.store.ledger import append

    if PLACEHOLDER not in html:
        raise AuditError("the quarterly report template has no ledger section (reports/templates/quarterly.html.j2)")
    key = key or signing_key()
    with store.session() as s:
        windows = sql.window_entries_of_runs(s, run_ids)
        payload = entries.report_payload(
            quarter=quarter,
            public=public,
            audit_ids=audit_ids,
            html_sha256=digest_of(html),
            windows=sorted(e.seq for e in windows.values()),
            generated_at=now,
        )
        report_seq, _ = append(s, payload)
    cp = make_checkpoint(store, key=key, note=f"quarterly report {quarter}", now=now)
    with store.session() as s:
        hashes = sql.entry_hashes(s)[: cp.tree_size]
        kept = {r.seq: r for r in sql.entry_rows_by_seq(s, [report_seq, *(e.seq for e in windows.values())])}
    tree = merkle.Tree([bytes.fromhex(h) for h in hashes])

    def proved(seq: int) -> dict[str, Any]:
        row = kept[seq]
        proof = [p.hex() for p in tree.inclusion_proof(seq)]
        return {
            "seq": seq,
            "prev_hash": row.prev_hash,
            "payload": row.payload,
            "entry_hash": row.entry_hash,
            "proof": proof,
        }

    data = {
        "format": FORMAT,
        "quarter": quarter,
        "checkpoint": cp.to_dict(),
        "report_entry": proved(report_seq),
        "windows": [proved(e.seq) for e in sorted(windows.values(), key=lambda e: e.seq)],
        "numbers": [{**n, "seq": windows[n["run_id"]].seq} if n["run_id"] in windows else n for n in numbers.refs],
    }
    return html.replace(PLACEHOLDER, BEGIN + _section(cp, data) + END, 1), cp


def _section(cp: Checkpoint, data: dict[str, Any]) -> str:
    e = htmllib.escape
    signature = (
        e(cp.signature)
        if cp.signature
        else "<strong>not signed</strong>: no signing key was configured (ETHICS_AUDIT_LEDGER_KEY)"
    )
    body = e(json.dumps(data, sort_keys=True, separators=(",", ":")))
    return (
        '<h2 id="ledger">Evidence: ledger checkpoint</h2>\n<div class="card small">'
        "<p>Every number in this report comes from the results ledger, a hash-chained, append-only record of every "
        "audited window. This checkpoint signs the ledger as it stood when the report was made; "
        "<code>ethics-audit verify --report</code> on this file proves each number against it.</p>\n<table><tbody>"
        f"<tr><th>Tree size</th><td>{cp.tree_size} entries</td></tr>"
        f"<tr><th>Root hash (SHA-256)</th><td><code>{e(cp.root_hash)}</code></td></tr>"
        f"<tr><th>Signed at</th><td>{e(cp.signed_at)}</td></tr>"
        f"<tr><th>Key id (Ed25519)</th><td><code>{e(cp.key_id or '-')}</code></td></tr>"
        f"<tr><th>Public key</th><td><code>{e(cp.public_key or '-')}</code></td></tr>"
        f'<tr><th>Signature</th><td><code style="word-break:break-all">{signature}</code></td></tr>'
        "</tbody></table></div>\n"
        f'<pre id="ethics-audit-ledger" hidden>{body}</pre>'
    )


@dataclass
class SealedReport:
    path: Path
    html: str
    data: dict[str, Any]
    checkpoint: Checkpoint


def read_report(path: Path) -> SealedReport:
    try:
        html = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AuditError(f"report {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditError(f"cannot read report {path}: {exc}") from None
    match = _DATA.search(html)
    if match is None:
        raise AuditError(
            f"{path} has no ledger section (pre#ethics-audit-ledger): give a quarterly report HTML that "
            "`ethics-audit report --quarter` wrote"
        )
    try:
        data = json.loads(htmllib.unescape(match.group(1)))
    except ValueError as exc:
        raise AuditError(f"{path}: the ledger section is not valid JSON ({exc})") from None
    if data.get("format") != FORMAT:
        raise AuditError(f"{path}: ledger section format {data.get('format')!r}, expected {FORMAT!r}")
    return SealedReport(
        path, html, data, Checkpoint.from_dict(data.get("checkpoint") or {}, where=f"{path}: checkpoint")
    )


def verify_report(
    store: Store, report: SealedReport, out: Verification, *, number: Callable[[float | None, str], str]
) -> None:
    """Add to ``out`` every way ``report`` differs from its own evidence and from the store's ledger.

    ``number`` formats a value as the report prints it (``reports.present.number``): passed in,
    because the reports import this module to seal themselves. The report's checkpoint itself
    (signature, consistency with today's ledger) is checked by ``verify_store`` when it is
    passed there as an external checkpoint.
    """
    from ethics_audit.store import ledger_read as sql

    name = report.path.name
    data, cp = report.data, report.checkpoint
    entry = data["report_entry"]
    try:
        recorded = json.loads(entry["payload"])["html_sha256"]
    except (ValueError, KeyError, TypeError):
        recorded = None
    actual = digest_of(report.html)
    if actual != recorded:
        out.add(
            "report",
            name,
            "html",
            "",
            f"the HTML was edited after publication: its SHA-256 (ledger section left out) is {actual[:16]}..., "
            f"the ledger's entry {entry.get('seq')} recorded {str(recorded)[:16]}...",
        )
    try:
        root = bytes.fromhex(cp.root_hash)
    except ValueError:
        root = b""
    proven = {}
    for item in [entry, *data.get("windows", [])]:
        seq = item["seq"]
        label = _label_of(item)
        if canonical.entry_hash(item["prev_hash"], item["payload"]) != item["entry_hash"]:
            out.add("report", f"{name} entry {seq}", "payload", label, "the copy of the ledger entry was edited")
        proof = [bytes.fromhex(p) for p in item["proof"]]
        if not merkle.verify_inclusion(bytes.fromhex(item["entry_hash"]), seq, cp.tree_size, proof, root):
            out.add(
                "report",
                f"{name} entry {seq}",
                "proof",
                label,
                f"the inclusion proof does not lead to the checkpoint's root {cp.root_hash[:16]}...",
            )
        proven[seq] = item
        out.checked["report_entries"] += 1
    with store.session() as s:
        stored = {r.seq: r for r in sql.entry_rows_by_seq(s, list(proven))}
        evidence = dict(sql.evidence_of(s, [i["seq"] for i in data.get("windows", []) if i["seq"] in stored]))
    for seq, item in proven.items():
        row = stored.get(seq)
        if row is None or row.entry_hash != item["entry_hash"]:
            out.add(
                "ledger_entries",
                f"seq {seq}",
                "entry_hash",
                _label_of(item),
                "the store's entry is not the one the report was built from: the ledger was rewritten",
            )
    held: dict[int, dict[tuple, list[Any]]] = {}
    for seq, blob in evidence.items():
        rows: dict[tuple, list[Any]] = {}
        try:
            for r in json.loads(entries.decompress(blob) or "[]"):
                rows.setdefault((r["check"], r["metric"], r["slice_key"]), []).append(r["value"])
        except ValueError:
            continue
        held[seq] = rows
    printed = {int(n): _TAGS.sub("", text).strip() for n, text in _CELL.findall(report.html)}
    for ref in data.get("numbers", []):
        key = (ref["check"], ref["metric"], ref["slice_key"])
        what = f"{ref['check']}/{ref['metric']}" + (f" [{ref['slice_key']}]" if ref["slice_key"] else "")
        window = _label_of(proven.get(ref.get("seq"), {}))
        shown = number(ref["value"], ref.get("format", ""))
        text = printed.get(ref["n"])
        if text is not None and htmllib.unescape(text) != shown:
            out.add(
                "report",
                f"{name} number {ref['n']} ({what})",
                "value",
                window,
                f"printed {htmllib.unescape(text)!r}, its data says {shown!r}",
            )
        values = held.get(ref.get("seq"), {}).get(key)
        if values is None:
            out.add(
                "metric_results", f"({what})", "value", window, "the report prints a result the ledger does not hold"
            )
        elif ref["value"] not in values:
            out.add(
                "metric_results",
                f"({what})",
                "value",
                window,
                f"the report says {ref['value']!r}, the ledger holds {values[0]!r}",
            )
        out.checked["report_numbers"] += 1


def _label_of(item: dict[str, Any]) -> str:
    from ethics_audit.ledger.problems import window_label

    try:
        p = json.loads(item["payload"])
    except (KeyError, ValueError, TypeError):
        return ""
    if p.get("kind") != "window":
        return ""
    return window_label(p.get("audit_id"), p.get("window_start"), p.get("window_end"))
