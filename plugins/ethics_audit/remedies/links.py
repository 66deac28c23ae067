"""What a remedy section learns from the other families and from earlier windows (pure).

A fairness gap is set against the features that drifted in the window it began in; each
drifted column gets the first window of its unbroken run of drifted windows; a quality section
names the families its blocking failure skipped. The history is what ``Store.breaches_before``
returns: for earlier windows, newest first, the (check, metric, slice key) each breached.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ethics_audit.results import slice_key

if TYPE_CHECKING:
    from ethics_audit.results import Finding

History = list[tuple[datetime, set[tuple[str, str, str]]]]


class Section(Protocol):
    """What this module reads and extends of a ``remedies.Section`` (the package imports this
    module, so it does not import the package back)."""

    family: str
    drivers: list[str]
    tables: list[Any]
    facts: dict[str, Any]


def add(
    section: Section, findings: list[Finding], families: dict[str, dict[str, Any]], history: History, window: datetime
) -> None:
    if section.family == "fairness":
        _fairness(section, findings, history, window)
    elif section.family == "drift":
        _drift(section, history, window)
    elif section.family == "quality":
        _quality(section, families)


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def drifted_features(findings: list[Finding]) -> list[str]:
    return [
        f.result.slice["column"]
        for f in findings
        if f.result.check == "drift"
        and f.result.metric == "column_drift"
        and f.severity.is_breach
        and f.result.details.get("role") == "feature"
    ]


def _fairness(section: Section, findings: list[Finding], history: History, window: datetime) -> None:
    target = section.facts.get("explained", {}).get("attribute")
    metric = section.facts.get("metric")
    if not target or not metric:
        return
    key = ("fairness", metric, slice_key({"attribute": target}))
    began = streak_start(key, history, window)
    if began == window:
        drifted = drifted_features(findings)
    else:
        keys = next((k for start, k in history if start == began), set())
        # the history keeps no roles: the columns that drifted then, outputs included
        drifted = sorted(k[2] for k in keys if k[0] == "drift" and k[1] == "column_drift")
        drifted = [_column(k) for k in drifted]
    section.facts["began"] = began.isoformat()
    section.facts["drifted_at_start"] = drifted
    when = f"The gap began in the window of {_day(began)}"
    if drifted:
        section.drivers.append(f"{when}, together with drift in {', '.join(drifted)}: check those features first.")
    else:
        section.drivers.append(f"{when}; no audited feature drifted then, so it did not start with a drifted feature.")


def _column(key: str) -> str:
    import json

    return str(json.loads(key).get("column", key))


def _drift(section: Section, history: History, window: datetime) -> None:
    starts = {}
    for column in section.facts.get("columns", {}):
        began = streak_start(("drift", "column_drift", slice_key({"column": column})), history, window)
        starts[column] = began.isoformat()
    section.facts["began"] = starts
    if not starts:
        return
    first = min(starts.values())
    since = sorted(c for c, s in starts.items() if s == first)
    new = all(s == window.isoformat() for s in starts.values())
    if new:
        section.drivers.append(f"The change first appeared in this window ({_day(window)}).")
    else:
        section.drivers.append(
            f"The change first appeared in the window of {first[:10]} ({', '.join(since)}) and has lasted since."
        )
    for table in section.tables:
        if table.columns and table.columns[0] == "column" and "since" in table.columns:
            at = table.columns.index("since")
            for row in table.rows:
                row[at] = starts.get(row[0], window.isoformat())[:10]


def _quality(section: Section, families: dict[str, dict[str, Any]]) -> None:
    blocked = sorted(f for f, info in families.items() if info.get("status") == "skipped")
    section.facts["blocked"] = blocked
    if blocked:
        reason = families[blocked[0]].get("reason", "")
        section.drivers.append(f"Blocked: {', '.join(blocked)} did not run ({reason}).")
    else:
        section.drivers.append("No other family was blocked: the failures are not blocking.")


def streak_start(key: tuple[str, str, str], history: History, window_start: datetime) -> datetime:
    """The first window of the unbroken run of breaching windows that ends with this one."""
    first = window_start
    for start, keys in history:
        if key not in keys:
            break
        first = start
    return first
