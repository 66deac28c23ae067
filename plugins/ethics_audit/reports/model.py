"""The plain data a quarterly report is built from: one audit window and what it found.

``WindowView`` is one window on an audit's grid (audited or missed) with its findings;
``Aggregate`` is one measure's breaches over the quarter; ``GroupCount`` is one group's rows and
positive decisions in one window, exactly as the fairness check counted them. The quarterly
sections, the estimate backtest (``estimates``) and the differentially private release (``dp``)
all read these, so they live here and not in any one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ethics_audit.reports.views import META_KEYS, overall

if TYPE_CHECKING:
    from ethics_audit.results import Finding
    from ethics_audit.store import RunRecord

# a group's slice as a sorted, hashable key: (("age_band", "25-34"), ("gender", "f"))
GroupKey = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class GroupCount:
    """One group's rows and positive decisions in one window (``positives`` None: not known)."""

    slice: GroupKey
    rows: int
    positives: int | None


@dataclass
class WindowView:
    start: datetime
    end: datetime
    run: RunRecord | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def audited(self) -> bool:
        return self.run is not None

    def family_worst(self, family: str) -> str:
        if self.run is None:
            return "none"
        own = [f for f in self.findings if f.result.check == family]
        status = self.run.summary.get("checks", {}).get(family, {}).get("status")
        if not own:
            return "error" if status == "error" else "none"
        return overall(own)

    def group_counts(self) -> list[GroupCount]:
        """Each group's rows and positive decisions, from the window's stored fairness results.

        Rows come from the group's ``count`` result (or the ``n`` of its selection rate), positive
        decisions from the ``selected`` count the check records with the selection rate. A group
        whose selection rate was not computed (too few rows) has ``positives`` None. Results
        stored before the check recorded ``selected`` give ``round(rate x rows)``, the best they
        hold. Slices about gaps, columns or extra score cut-offs are not groups and are skipped.
        """
        if self.run is None:
            return []
        rows: dict[GroupKey, int] = {}
        rates: dict[GroupKey, tuple[float | None, int | None, Any]] = {}
        for f in self.findings:
            r = f.result
            if r.check != "fairness" or not r.slice or any(k in r.slice for k in META_KEYS):
                continue
            key = tuple(sorted((str(k), str(v)) for k, v in r.slice.items()))
            if r.metric == "count" and r.value is not None:
                rows[key] = int(r.value)
            elif r.metric == "selection_rate":
                rates[key] = (r.value, r.n, r.details.get("selected"))
        out = []
        for key in sorted(rows.keys() | rates.keys()):
            rate, rate_n, selected = rates.get(key, (None, None, None))
            count = rows.get(key, rate_n)
            if count is None:
                continue
            if rate is None:
                positives = None
            elif selected is not None:
                positives = int(selected)
            else:
                positives = round(rate * count)
            out.append(GroupCount(key, count, positives))
        return out


@dataclass
class Aggregate:
    """One (check, metric, slice) over the quarter: how often and how badly it breached."""

    check: str
    metric: str
    slice: dict[str, Any]
    worst: str = "ok"
    windows: list[datetime] = field(default_factory=list)
    worst_value: float | None = None
    threshold: dict[str, Any] | None = None
    reason: str = ""
    worst_ref: tuple[int, str, str, str] | None = None  # (run, check, metric, slice key): the ledger's row
