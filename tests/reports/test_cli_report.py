"""`ethics-audit report` end to end, as a user runs it (a subprocess on the default SQLite store)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from history import build_history

from ethics_audit.store import Store

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ETHICS_AUDIT_HOME": str(home), "PYTHONPATH": str(REPO / "plugins")}
    env["ETHICS_AUDIT_CHROMIUM"] = str(home / "no-browser")  # the PDF path is covered by test_chromium
    return subprocess.run(
        [sys.executable, "-m", "ethics_audit.cli", "report", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.mark.slow
def test_report_commands(tmp_path: Path, _isolated_home: Path) -> None:
    _isolated_home.mkdir(parents=True, exist_ok=True)
    store = Store(f"sqlite:///{_isolated_home / 'results.db'}")
    built = build_history(store, weeks=5)
    store.dispose()

    done = _cli("--quarter", "2026Q3", "--out", str(tmp_path / "q"), "--json", home=_isolated_home)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["summary"]["windows_audited"] == 5 and Path(result["html"]).exists()
    assert result["pdf"] is None and "install Chromium" in result["pdf_error"]

    done = _cli("--quarter", "2026Q3", "--out", str(tmp_path / "q"), home=_isolated_home)
    assert done.returncode == 0 and "5 of " in done.stdout and "pdf: not written" in done.stdout

    done = _cli("--run", str(built.run_ids[3]), home=_isolated_home)
    assert done.returncode == 0 and done.stdout.strip().endswith("report.html")

    done = _cli("--quarter", "2026Q3", "--public", "--epsilon", "0.8", "--no-pdf", home=_isolated_home)
    assert done.returncode == 0 and "privacy budget ad-delivery 2026: spent 0.8 now" in done.stdout
    done = _cli("--quarter", "2026Q3", "--public", "--epsilon", "0.8", "--no-pdf", home=_isolated_home)
    assert done.returncode == 1 and "only 0.2 of 1 is left" in done.stderr and "Traceback" not in done.stderr

    done = _cli("--run", "1", "--quarter", "2026Q3", home=_isolated_home)
    assert done.returncode == 2 and "either --quarter" in done.stderr
