"""The one registry of check families: every list of family names elsewhere agrees with it."""

from __future__ import annotations

import os
import subprocess
import sys
import typing
from pathlib import Path

from ethics_audit import checks
from ethics_audit.spec import ChecksConfig, Route

REPO = Path(__file__).resolve().parents[2]


def _run(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO / "plugins")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout


def test_the_spec_offers_exactly_the_registered_families_in_their_order() -> None:
    assert list(ChecksConfig.model_fields) == list(checks.FAMILIES)
    (literal,) = typing.get_args(typing.get_args(Route.model_fields["checks"].annotation)[0])
    assert typing.get_args(literal) == tuple(checks.FAMILIES)


def test_reports_and_remedies_name_only_registered_families() -> None:
    from ethics_audit import remedies
    from ethics_audit.reports import present

    assert sorted(present.FAMILY_ORDER) == sorted(checks.FAMILIES)
    assert set(checks.FAMILIES) <= set(present.FAMILIES)
    assert set(remedies.FAMILIES) <= set(checks.FAMILIES)


def test_every_family_module_exists_and_has_run() -> None:
    import importlib

    for module in checks.FAMILIES.values():
        assert callable(importlib.import_module(module).run)


def test_importing_the_registry_imports_nothing_else() -> None:
    code = "import sys, ethics_audit.checks; print(sorted(m for m in sys.modules if m.startswith('ethics_audit')))"
    assert _run(code).strip() == "['ethics_audit', 'ethics_audit.checks']"


def test_importing_every_family_imports_no_heavy_library() -> None:
    code = (
        "import importlib, sys, ethics_audit.checks as c\n"
        "for m in c.FAMILIES.values(): importlib.import_module(m)\n"
        "heavy = ('pandas', 'numpy', 'pyarrow', 'great_expectations', 'evidently', 'fairlearn', 'sklearn', 'scipy')\n"
        "print([m for m in heavy if m in sys.modules])"
    )
    assert _run(code).strip() == "[]"
