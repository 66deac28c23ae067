"""The check families and their one explicit registry.

A family is a module exposing ``run(config, data) -> list[MetricResult]``: pure, no I/O.
``FAMILIES`` maps each family name to its module path; the spec (``checks.<family>`` keys and
route filters), the reports and the demo read the names from here, and ``dispatch`` runs a
family by them. This module imports nothing: the families' libraries (Great Expectations,
Evidently) are slow to import, and the spec reads this registry when it is imported.
"""

from __future__ import annotations

# family name -> module; the order is the order families run in (quality gates the rest)
FAMILIES: dict[str, str] = {
    "quality": "ethics_audit.checks.quality",
    "drift": "ethics_audit.checks.drift",
    "fairness": "ethics_audit.checks.fairness",
    "privacy": "ethics_audit.checks.privacy",
    "transparency": "ethics_audit.checks.transparency",
}
# the modules ``dispatch.run_check`` runs: the registry itself, named apart so that tests can
# swap in fake families here without changing the family names a spec may use
CHECKS: dict[str, str] = FAMILIES


def available() -> list[str]:
    return list(CHECKS)
