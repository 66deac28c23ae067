"""The layering rules hold for the package, and the checker finds each kind of break."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests import architecture

REPO = Path(__file__).resolve().parents[1]


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body), encoding="utf-8")
    return root


def test_the_package_keeps_its_layering():
    assert architecture.problems() == []


def test_the_script_runs_as_a_module():
    done = subprocess.run([sys.executable, "-m", "tests.architecture"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_cycle_through_a_function_level_import_is_found(tmp_path):
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from pkg.b import thing\n",
            "b.py": "def thing():\n    from pkg import a\n    return a\n",
            "c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n",
        },
    )
    assert architecture.cycles(architecture.load(root)) == [["pkg.a", "pkg.b"]]


def test_importing_a_submodule_runs_its_package(tmp_path):
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "store/__init__.py": "from pkg.domain import rules\n",
            "store/rows.py": "",
            "domain.py": "from pkg.store.rows import *\nrules = 1\n",
        },
    )
    assert architecture.cycles(architecture.load(root)) == [["pkg.domain", "pkg.store"]]


def test_adapters_and_size_are_checked(tmp_path):
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "airflow/__init__.py": "import airflow.sdk\n",
            "store/__init__.py": "import sqlalchemy\n",
            "report.py": "from airflow.sdk import BaseHook\n" + "x = 1\n" * 400,
            "urls.py": "from sqlalchemy.engine import URL\n",
            "incidents.py": "def f():\n    from sqlalchemy import select\n",
        },
    )
    found = architecture.problems(root)
    assert "pkg.report: 401 lines (limit 400)" in found
    assert "pkg.report imports airflow.sdk.BaseHook" in found
    assert "pkg.incidents imports sqlalchemy.select" in found
    assert not any(line.startswith("pkg.urls") for line in found)
    assert not any(line.startswith(("pkg.airflow", "pkg.store")) for line in found)
