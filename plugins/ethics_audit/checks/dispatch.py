"""Run one check family by its name in the registry, with its config from the spec."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ethics_audit import checks
from ethics_audit.errors import AuditError

if TYPE_CHECKING:
    from ethics_audit.data import AuditData
    from ethics_audit.results import MetricResult


def run_check(family: str, data: AuditData) -> list[MetricResult]:
    """Run one family with its config from the spec."""
    # read the registry at call time: tests swap fake families into ``checks.CHECKS``
    if family not in checks.CHECKS:
        raise AuditError(f"check family {family!r} is not available in this version of ethics-audit")
    config = getattr(data.spec.checks, family)
    module = importlib.import_module(checks.CHECKS[family])
    return module.run(config, data)
