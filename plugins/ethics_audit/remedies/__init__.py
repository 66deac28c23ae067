"""What drives an alert and what would fix it: one section per alerting check family.

After a family's results are judged, and only when some of them breach, ``explain`` builds that
family's *remedy section* from the window: for fairness, whether the gap survives within the
spec's ``legitimate_factors`` (conditional demographic disparity), the groups that carry it and
Fairlearn ``ThresholdOptimizer`` options with their cost; for drift, the columns that moved most,
the segments they moved in, and since when; for privacy, what leaked where and the spec line of
the fix; for quality, the failing expectations and the families they blocked. Each family's
module reads small aggregates from the window (``gather``) and turns aggregates and config into a
typed ``Section`` (``build``, pure). ``complete`` adds what needs other families or earlier
windows (drifted features behind a fairness gap, the first window of a change, blocked
families). Sections travel as JSON in the run summary (``summary["remedies"]``), so the outbox
payload, tickets, Slack threads and reports all render the same section. Like the checks, a
section carries counts, rates and masked examples, never a raw value.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ethics_audit.data import AuditData
    from ethics_audit.results import Finding, MetricResult

log = logging.getLogger(__name__)

# family -> module with ``section(config, data, findings) -> Section | None``; imported only when needed
FAMILIES: dict[str, str] = {
    "fairness": "ethics_audit.remedies.fairness",
    "drift": "ethics_audit.remedies.drift",
    "privacy": "ethics_audit.remedies.privacy",
    "quality": "ethics_audit.remedies.quality",
}
# how many windows back ``complete`` looks for the start of a change
HISTORY_WINDOWS = 12


@dataclass
class Table:
    """A small table for reports and tickets: rows of already formatted cells."""

    title: str
    columns: list[str]
    rows: list[list[Any]]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Table:
        return cls(data["title"], list(data["columns"]), [list(r) for r in data["rows"]])


@dataclass
class Section:
    """One family's "What drives it / What would fix it".

    ``headline``: one sentence. ``drivers``: what drives it, most important first. ``fixes``: what
    would fix it, stated as options (nothing is ever applied). ``tables``: the numbers behind both.
    ``notes``: how it was computed (samples, bins, minimum sizes). ``facts``: machine-readable
    numbers (for ``--json``, tests and the cross-family links).
    """

    family: str
    headline: str
    drivers: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return _json_safe(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Section:
        data = dict(data)
        data["tables"] = [Table.from_dict(t) for t in data.get("tables", [])]
        return cls(**data)


def _json_safe(value: Any) -> Any:
    """NaN and infinities become None, NumPy scalars Python ones: the section goes into JSON
    columns, and PostgreSQL's JSON rejects NaN."""
    import math

    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def breaching(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity.is_breach]


def explain(family: str, data: AuditData, results: list[MetricResult]) -> dict[str, Any] | None:
    """The family's section as JSON when its results breach, else None. A failure here is a note in
    the section, never a failure of the family: the results matter more than their explanation."""
    import time
    from pathlib import Path

    from ethics_audit.evaluate import judge_all

    if family not in FAMILIES:
        return None
    findings = judge_all(results)
    if not breaching(findings):
        return None
    started = time.perf_counter()
    config = getattr(data.spec.checks, family)
    try:
        section = importlib.import_module(FAMILIES[family]).section(config, data, findings)
    except Exception as exc:  # noqa: BLE001 - an explanation that fails must not lose the results
        import traceback

        frames = traceback.extract_tb(exc.__traceback__)
        where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
        # the message is withheld: library errors may quote data values
        log.warning(
            "the %s remedy section failed: %s%s; the alert goes out without it", family, type(exc).__name__, where
        )
        return None
    if section is None:
        return None
    section.seconds = round(time.perf_counter() - started, 4)
    return section.to_dict()


def complete(
    sections: dict[str, dict[str, Any]],
    findings: list[Finding],
    families: dict[str, dict[str, Any]],
    history: list[tuple[datetime, set[tuple[str, str, str]]]],
    window_start: datetime,
) -> dict[str, dict[str, Any]]:
    """Add what one family's section needs from the others and from earlier windows.

    ``families``: the run summary's per-family status (``{"drift": {"status": "skipped", ...}}``).
    ``history``: for the windows before this one, newest first, the breaching
    ``(check, metric, slice key)`` of each. Pure.
    """
    from ethics_audit.remedies import links

    out = {}
    for family, raw in sections.items():
        section = Section.from_dict(raw)
        links.add(section, findings, families, history, window_start)
        out[family] = section.to_dict()
    return out
