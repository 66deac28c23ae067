"""The ``ethics-audit`` command: the same library the DAGs use, without Airflow.

``app`` (the Typer app, shared options, output and error handling) and ``main`` (the console
entry point) live in ``cli.app``; each command group is a module of its own that registers on
import. The imports below are in the order ``--help`` lists the commands.
"""

from __future__ import annotations

from ethics_audit.cli.app import EXIT_EMPTY, EXIT_FAILED, EXIT_INTERNAL, EXIT_INVALID, app, main

# isort: off
# each import registers its commands; the order of registration is the order of `--help`
from ethics_audit.cli import run, history, demo, serve, report, incidents, notify, ledger  # noqa: F401
# isort: on

__all__ = ["EXIT_EMPTY", "EXIT_FAILED", "EXIT_INTERNAL", "EXIT_INVALID", "app", "main"]
