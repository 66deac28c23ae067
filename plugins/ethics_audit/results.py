"""The typed values that flow from checks to the store: thresholds, metric results, findings.

A check returns ``MetricResult`` objects: a number (or none) with its slice, interval and
sample size, and the ``Threshold`` that judges it, if any. ``evaluate.judge`` turns each into a
``Finding`` with a severity. Both are plain frozen dataclasses that round-trip through JSON, so
they can cross process boundaries (Airflow tasks) unchanged.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    OK = "ok"
    WARN = "warn"
    CRITICAL = "critical"
    INSUFFICIENT_DATA = "insufficient_data"
    ERROR = "error"

    @property
    def is_breach(self) -> bool:
        return self in (Severity.WARN, Severity.CRITICAL)

    @property
    def rank(self) -> int:
        """Order for "worst first": critical > error > warn > insufficient_data > ok."""
        return {"ok": 0, "insufficient_data": 1, "warn": 2, "error": 3, "critical": 4}[self.value]


class Status(StrEnum):
    """How a metric came out of its check, before any threshold is applied."""

    COMPUTED = "computed"
    INSUFFICIENT_DATA = "insufficient_data"
    ERROR = "error"


Bound = float | tuple[float, float] | None


@dataclass(frozen=True)
class Threshold:
    """When a value is a breach.

    ``direction``: ``above`` (breach when value > bound), ``below`` (value < bound) or
    ``outside`` (bound is an ``(low, high)`` band; breach when value leaves it). With
    ``require_significance`` a breach counts only when the whole confidence interval lies
    beyond the bound.
    """

    warn: Bound = None
    critical: Bound = None
    direction: str = "above"
    require_significance: bool = False

    def __post_init__(self) -> None:
        if self.direction not in ("above", "below", "outside"):
            raise ValueError(f"threshold direction must be above, below or outside, not {self.direction!r}")
        for bound in (self.warn, self.critical):
            banded = isinstance(bound, tuple | list)
            if bound is not None and banded != (self.direction == "outside"):
                raise ValueError("a band (low, high) goes with direction 'outside', a number with above/below")
        if isinstance(self.warn, list):
            object.__setattr__(self, "warn", tuple(self.warn))
        if isinstance(self.critical, list):
            object.__setattr__(self, "critical", tuple(self.critical))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"direction": self.direction}
        for name in ("warn", "critical"):
            bound = getattr(self, name)
            out[name] = list(bound) if isinstance(bound, tuple) else bound
        if self.require_significance:
            out["require_significance"] = True
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Threshold | None:
        if not data:
            return None
        return cls(
            warn=_bound(data.get("warn")),
            critical=_bound(data.get("critical")),
            direction=data.get("direction", "above"),
            require_significance=bool(data.get("require_significance", False)),
        )


def _bound(value: Any) -> Bound:
    if isinstance(value, list | tuple):
        return (float(value[0]), float(value[1]))
    return None if value is None else float(value)


def _clean_number(value: Any) -> float | None:
    """NaN and None both mean "no value"; numpy scalars become Python floats."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


@dataclass(frozen=True)
class MetricResult:
    """One measured number.

    ``slice`` says what the number is about: ``{}`` for the whole window, ``{"gender": "f"}``
    for a group, ``{"column": "age"}`` for a column. ``details`` carries small JSON-safe
    context (method names, observed vs expected, entity types, masked examples): never raw PII.
    """

    check: str
    metric: str
    value: float | None
    slice: dict[str, Any] = field(default_factory=dict)
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    threshold: Threshold | None = None
    status: Status = Status.COMPUTED
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _clean_number(self.value))
        object.__setattr__(self, "ci_low", _clean_number(self.ci_low))
        object.__setattr__(self, "ci_high", _clean_number(self.ci_high))
        if self.n is not None:
            object.__setattr__(self, "n", int(self.n))
        object.__setattr__(self, "status", Status(self.status))

    @property
    def slice_key(self) -> str:
        return slice_key(self.slice)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["threshold"] = self.threshold.to_dict() if self.threshold else None
        data["status"] = self.status.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricResult:
        data = dict(data)
        data["threshold"] = Threshold.from_dict(data.get("threshold"))
        return cls(**data)


def slice_key(slice_: dict[str, Any]) -> str:
    """Canonical text of a slice (sorted keys, no spaces): equal slices give equal keys."""
    return json.dumps(slice_, sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class Finding:
    """A metric result judged against its threshold."""

    result: MetricResult
    severity: Severity
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The public shape used by ``run --json``, reports and notifications."""
        r = self.result
        return {
            "check": r.check,
            "metric": r.metric,
            "slice": r.slice,
            "value": r.value,
            "ci_low": r.ci_low,
            "ci_high": r.ci_high,
            "n": r.n,
            "threshold": r.threshold.to_dict() if r.threshold else None,
            "severity": self.severity.value,
            "reason": self.reason,
            "details": r.details,
        }

    def with_severity(self, severity: Severity, reason: str) -> Finding:
        return replace(self, severity=severity, reason=reason)
