"""settings: the home, the results database's default URL and the knobs several modules read."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from ethics_audit import settings


def test_the_home_and_the_default_results_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, _isolated_home: Path
) -> None:
    assert settings.home() == _isolated_home.resolve()
    assert settings.default_url() == f"sqlite:///{_isolated_home.resolve() / 'results.db'}"
    assert _isolated_home.is_dir()  # created for SQLite
    monkeypatch.setenv("ETHICS_AUDIT_DB_URL", "postgresql+psycopg://ea@db/audit")
    assert settings.default_url() == "postgresql+psycopg://ea@db/audit"
    monkeypatch.delenv("ETHICS_AUDIT_HOME")
    monkeypatch.chdir(tmp_path)
    assert settings.home() == (tmp_path / ".ethics_audit").resolve()


def test_the_knobs_are_read_when_asked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ETHICS_AUDIT_DATA_ROOTS", os.pathsep.join([str(tmp_path / "a"), " ", str(tmp_path / "b")]))
    assert settings.extra_data_roots() == [tmp_path / "a", tmp_path / "b"]
    monkeypatch.delenv("ETHICS_AUDIT_DEBUG", raising=False)
    assert settings.debug() is False
    monkeypatch.setenv("ETHICS_AUDIT_DEBUG", "1")
    assert settings.debug() is True
    monkeypatch.delenv("ETHICS_AUDIT_REPORT_BASE_URL", raising=False)
    assert settings.report_base_url() is None
    monkeypatch.delenv("ETHICS_AUDIT_STAGING_RETENTION", raising=False)
    assert settings.staging_retention() == timedelta(days=7)
    monkeypatch.setenv("ETHICS_AUDIT_STAGING_RETENTION", "36h")
    assert settings.staging_retention() == timedelta(hours=36)


def test_settings_import_nothing_of_the_package_but_windows() -> None:
    import ast

    tree = ast.parse(Path(settings.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module} | {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    assert {m for m in imported if m.startswith("ethics_audit")} <= {"ethics_audit.windows"}
