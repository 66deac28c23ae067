"""The check families and their one explicit registry.

A family is a module exposing ``run(config, data) -> list[MetricResult]``: pure, no I/O. The
registry maps a family name to its module path; modules are imported only when a family runs,
because their libraries (Great Expectations, Evidently) are slow to import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ethics_audit.errors import AuditError

if TYPE_CHECKING:
    from ethics_audit.data import AuditData
    from ethics_audit.results import MetricResult

# family name -> module; the order is the order families run in (quality gates the rest)
CHECKS: dict[str, str] = {
    "quality": "ethics_audit.checks.quality",
    "drift": "ethics_audit.checks.drift",
    "fairness": "ethics_audit.checks.fairness",
    "privacy": "ethics_audit.checks.privacy",
    "transparency": "ethics_audit.checks.transparency",
}


def available() -> list[str]:
    return list(CHECKS)


def run_check(family: str, data: AuditData) -> list[MetricResult]:
    """Run one family with its config from the spec."""
    if family not in CHECKS:
        raise AuditError(f"check family {family!r} is not available in this version of ethics-audit")
    config = getattr(data.spec.checks, family)
    module = importlib.import_module(CHECKS[family])
    return module.run(config, data)
