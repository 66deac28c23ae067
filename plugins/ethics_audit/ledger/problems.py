"""What ``verify`` finds: a ``Problem`` names the table, the row, the field and the window.

Shared by the verifier of the store (``verify``, ``verify_rows``) and of a report
(``report``): a ``Verification`` collects what was checked and every problem; none means
verified.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from ethics_audit.ledger import canonical, entries


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


def show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


def compare(
    out: Verification, table: str, row: str, window: str, stored: dict[str, Any], payload: dict[str, Any], kind: str
) -> None:
    """One problem per field the ledger recomputes for ``kind`` whose stored value differs."""
    for name in entries.RECOMPUTED[kind]:
        if stored[name] != payload.get(name):
            out.add(table, row, name, window, f"ledger: {show(payload.get(name))}, store: {show(stored[name])}")
