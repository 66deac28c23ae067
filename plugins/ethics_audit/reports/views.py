"""Shapes of findings that both reports draw: pivot tables by slice, headline lists, spec facts.

Everything here is generic over check, metric and slice, so a new metric or family shows up
without code changes: findings with the same slice keys (``{"gender": ...}``, ``{"column":
...}``, ``{"attribute": ...}``) become one table whose rows are slices and whose columns are
metrics. Only the column order of group tables (``present.GROUP_METRICS``) knows metric names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ethics_audit.reports.present import FAMILY_ORDER, GROUP_METRICS, severity, slice_text

if TYPE_CHECKING:
    from ethics_audit.results import Finding

# column order in group tables; metrics not listed follow alphabetically
METRIC_ORDER = tuple(GROUP_METRICS)
# slice keys that say what a number is about, rather than naming a group
META_KEYS = ("attribute", "column", "reference", "decision_threshold")
DETAIL_LIMIT = 6  # items of a list shown from ``details``
DETAIL_TEXT = 80  # characters of one detail value shown


@dataclass
class Cell:
    value: float | None
    low: float | None
    high: float | None
    n: int | None
    severity: str
    reason: str
    metric: str


@dataclass
class Row:
    label: str
    slice: dict[str, Any]
    cells: dict[str, Cell] = field(default_factory=dict)

    @property
    def withheld(self) -> bool:
        return any(c.severity == "insufficient_data" for c in self.cells.values())

    @property
    def worst(self) -> str:
        return max((c.severity for c in self.cells.values()), key=lambda s: severity(s).rank, default="ok")


@dataclass
class Pivot:
    """Findings of one family that share slice keys: rows are slices, columns are metrics."""

    title: str
    keys: tuple[str, ...]
    metrics: list[str]
    rows: list[Row]

    @property
    def worst(self) -> str:
        return max((r.worst for r in self.rows), key=lambda s: severity(s).rank, default="ok")

    @property
    def withheld_rows(self) -> int:
        return sum(r.withheld for r in self.rows)


def _order(metric: str) -> tuple[int, str]:
    return (METRIC_ORDER.index(metric) if metric in METRIC_ORDER else len(METRIC_ORDER), metric)


def pivot_title(keys: tuple[str, ...]) -> str:
    group_keys = [k for k in keys if k not in META_KEYS]
    suffix = " (extra score cut-offs)" if "decision_threshold" in keys else ""
    if not keys:
        return "Whole window"
    if "attribute" in keys:
        return "Gaps between groups" + suffix
    if "column" in keys:
        return "Per column" + suffix
    if "reference" in keys:
        return f"Each group against the reference group, by {' × '.join(group_keys)}" + suffix
    return f"Groups by {' × '.join(group_keys)}" + suffix


def row_label(slice_: dict[str, Any], keys: tuple[str, ...]) -> str:
    if "attribute" in slice_ and len(slice_) == 1:
        return str(slice_["attribute"]).replace("+", " × ")
    if "column" in slice_ and len(slice_) == 1:
        return str(slice_["column"])
    # sorted: PostgreSQL's JSONB does not keep the order a slice was written in
    groups = [f"{k} = {slice_[k]}" for k in sorted(slice_) if k not in META_KEYS]
    if not groups:
        return slice_text(slice_)
    text = ", ".join(groups)
    if "reference" in slice_:
        text += f" vs {slice_['reference']}"
    if "decision_threshold" in slice_:
        text += f" @ {slice_['decision_threshold']}"
    return text


def pivots(findings: list[Finding]) -> list[Pivot]:
    """One pivot per slice shape, in a stable order: whole window, gaps, groups, columns."""
    by_shape: dict[tuple[str, ...], dict[str, Row]] = {}
    for f in findings:
        r = f.result
        keys = tuple(sorted(r.slice))
        rows = by_shape.setdefault(keys, {})
        row = rows.get(r.slice_key)
        if row is None:
            row = rows[r.slice_key] = Row(row_label(r.slice, keys), r.slice)
        row.cells[r.metric] = Cell(r.value, r.ci_low, r.ci_high, r.n, f.severity.value, f.reason, r.metric)
    out = []
    for keys, rows in by_shape.items():
        metrics = sorted({m for row in rows.values() for m in row.cells}, key=_order)
        ordered = sorted(rows.values(), key=lambda row: [str(row.slice.get(k, "")) for k in keys])
        out.append(Pivot(pivot_title(keys), keys, metrics, ordered))
    rank = {"": 0, "attribute": 1, "reference": 3, "column": 4}

    def shape_rank(p: Pivot) -> tuple[int, int, tuple[str, ...]]:
        kind = next((k for k in ("attribute", "reference", "column") if k in p.keys), "" if not p.keys else "group")
        return (rank.get(kind, 2), len(p.keys), p.keys)

    return sorted(out, key=shape_rank)


def family_order(families: list[str]) -> list[str]:
    known = [f for f in FAMILY_ORDER if f in families]
    return known + sorted(f for f in families if f not in FAMILY_ORDER and f != "window")


def detail_items(details: dict[str, Any]) -> list[tuple[str, str]]:
    """Small, printable pieces of a finding's ``details`` (which never hold raw PII by contract)."""
    items = []
    for key, value in details.items():
        if value is None or key in ("error", "reason"):
            continue
        if isinstance(value, dict):
            text = ", ".join(f"{k}: {_short(v)}" for k, v in list(value.items())[:DETAIL_LIMIT])
            if len(value) > DETAIL_LIMIT:
                text += f", … ({len(value) - DETAIL_LIMIT} more)"
        elif isinstance(value, list | tuple):
            text = ", ".join(_short(v) for v in value[:DETAIL_LIMIT])
            if len(value) > DETAIL_LIMIT:
                text += f", … ({len(value) - DETAIL_LIMIT} more)"
        else:
            text = _short(value)
        items.append((key.replace("_", " "), text))
    return items


def _short(value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, dict | list | tuple):
        text = str(value)
    else:
        text = str(value)
    return text if len(text) <= DETAIL_TEXT else text[: DETAIL_TEXT - 1] + "…"


def overall(findings: list[Finding]) -> str:
    """The worst judged severity; "too little data" only when nothing could be judged at all.

    A small group that could not be judged does not make a family look worse than OK.
    """
    judged = [f.severity.value for f in findings if f.severity.value != "insufficient_data"]
    if judged:
        return max(judged, key=lambda s: severity(s).rank)
    return "insufficient_data" if findings else "none"


def attention(findings: list[Finding], *, limit: int | None = None) -> list[Finding]:
    """Breaches and failed checks, worst first (then by how far past the threshold)."""
    picked = [f for f in findings if f.severity.value in ("critical", "warn", "error")]
    picked.sort(key=lambda f: (-f.severity.rank, f.result.check, f.result.metric, f.result.slice_key))
    return picked[:limit] if limit else picked


def spec_facts(spec: dict[str, Any] | None) -> dict[str, Any]:
    """Model name, version, owners and purpose from a stored spec (tolerating older shapes)."""
    spec = spec or {}
    model = spec.get("model") or {}
    owners = spec.get("owners") or {}
    return {
        "model_name": model.get("name") or spec.get("id") or "unknown model",
        "model_version": model.get("version") or "",
        "description": model.get("description") or "",
        "purpose": model.get("purpose") or "",
        "owners": list(owners.get("people") or []),
        "slack_channel": owners.get("slack_channel") or "",
        "schedule": spec.get("schedule") or "",
        "window_size": (spec.get("window") or {}).get("size"),
    }


def thresholds_of(spec: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every threshold a stored spec sets: ``{"family", "part", "metric", "threshold"}``, families in order."""
    checks = (spec or {}).get("checks") or {}
    out: list[dict[str, Any]] = []

    def walk(family: str, part: str, node: Any) -> None:
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            if key == "thresholds" and isinstance(value, dict):
                for metric, bounds in value.items():
                    if isinstance(bounds, dict) and (
                        bounds.get("warn") is not None or bounds.get("critical") is not None
                    ):
                        out.append({"family": family, "part": part, "metric": metric, "threshold": bounds})
            elif key == "null_share_per_column" and isinstance(value, dict):
                for column, bounds in value.items():
                    out.append(
                        {"family": family, "part": f"column {column}", "metric": "null_share", "threshold": bounds}
                    )
            elif isinstance(value, dict):
                walk(family, f"{part}.{key}" if part else key, value)

    for family in family_order(list(checks)):
        config = checks.get(family)
        if isinstance(config, dict) and config.get("enabled", True):
            walk(family, "", config)
    return out


def methods() -> dict[str, dict[str, str]]:
    """Each registered check family's ``METHODS`` (metric -> how it is computed); a family not installed is skipped."""
    import importlib

    from ethics_audit.checks import FAMILIES

    out: dict[str, dict[str, str]] = {}
    for family in (f for f in FAMILY_ORDER if f in FAMILIES):
        try:
            module = importlib.import_module(FAMILIES[family])
        except ImportError:
            continue
        table = getattr(module, "METHODS", None)
        if isinstance(table, dict) and table:
            out[family] = {str(k): str(v) for k, v in table.items()}
    return out
