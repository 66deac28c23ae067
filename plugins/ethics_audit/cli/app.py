"""The ``ethics-audit`` Typer app and what every command group shares: options, output, errors.

Every command prints a short human summary, or one JSON document with ``--json``. Errors a
user can fix are printed as one clear message (exit 1; exit 2 for invalid specs and usage);
an unexpected error says it is a bug and how to see the traceback, never dumps it by default
(``main``). The commands live in the sibling modules, one per group; ``ethics_audit.cli``
imports them so they register on ``app``. Heavy imports wait for a command to run, so that
``--help`` stays fast.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ethics_audit import exits, settings
from ethics_audit.errors import AuditError, SpecError

if TYPE_CHECKING:
    from rich.console import Console

    from ethics_audit.spec import AuditSpec
    from ethics_audit.store import Store

app = typer.Typer(
    name="ethics-audit",
    help="Audit production ML models for data quality, drift, bias, privacy and transparency; keep the history.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_FAILED, EXIT_INVALID, EXIT_INTERNAL = exits.FAILED, exits.INVALID, exits.INTERNAL
EXIT_EMPTY = exits.EMPTY  # the window had no rows: its data is missing, not clean

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
ReplaceEmptyOpt = Annotated[
    bool,
    typer.Option(
        "--replace-empty", help="Let a window without rows replace the window's earlier results (default: keep them)."
    ),
]
SEVERITY_STYLE = {
    "ok": "green",
    "warn": "yellow",
    "critical": "bold red",
    "insufficient_data": "dim",
    "error": "magenta",
}


# --------------------------------------------------------------------------- shared helpers


def escape(text: str) -> str:
    """User text (messages, category values) must never be read as rich markup."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def parse_when(text: str, option: str) -> datetime:
    from ethics_audit.windows import parse_instant

    try:
        return parse_instant(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def load(spec_path: Path) -> AuditSpec:
    from ethics_audit.spec import load_spec

    return load_spec(spec_path)


def open_store() -> Store:
    from ethics_audit.store import open_store as open_results_store

    return open_results_store()


def usage_error(message: str) -> None:
    # typer's BadParameter is not a click exception in this typer version, so main() would call it a bug
    console(stderr=True).print(f"[red]usage:[/red] {escape(message)}")
    raise typer.Exit(EXIT_INVALID)


def print_runs_table(rows: list[dict[str, Any]]) -> None:
    """One line per audited window (``backfill`` and ``history``)."""
    from rich.table import Table

    table = Table(header_style="bold")
    for column in ("window", "run", "status", "rows", "critical", "warn", "worst"):
        table.add_column(column)
    for row in rows:
        counts = row.get("counts", {})
        style = SEVERITY_STYLE.get(row["worst_severity"], "")
        table.add_row(
            row["window_start"][:10],
            str(row["run_id"]),
            row["status"],
            str(row["rows"]),
            str(counts.get("critical", 0)),
            str(counts.get("warn", 0)),
            f"[{style}]{row['worst_severity']}[/{style}]",
        )
    console().print(table)


def print_delivery(delivery: dict[str, Any]) -> None:
    """What an outbox flush did, per audit (``notify flush`` and the incident actions)."""
    out = console()
    for audit_id, d in delivery.items():
        out.print(f"  {escape(audit_id)}: {d['sent']} sent, {d['retrying']} to retry, {d['failed']} failed")
        for error in d["errors"]:
            out.print(f"  [red]#{error['id']} {error['channel']}: {escape(error['error'])}[/red]")


# --------------------------------------------------------------------------- entry point


def main() -> None:
    level = logging.DEBUG if settings.debug() else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    try:
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except SpecError as exc:
        console(stderr=True).print(escape(str(exc)), style="red")
        sys.exit(EXIT_INVALID)
    except AuditError as exc:
        console(stderr=True).print(f"[red]error:[/red] {escape(str(exc))}")
        sys.exit(EXIT_FAILED)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        console(stderr=True).print("aborted")
        sys.exit(EXIT_FAILED)
    except Exception as exc:
        # typer vendors its own click: its usage errors are TyperExceptions with .show()
        if isinstance(exc, typer.TyperException) and hasattr(exc, "show"):
            exc.show()
            sys.exit(EXIT_INVALID)
        if settings.debug():
            raise
        from ethics_audit.runner import internal_error

        console(stderr=True).print(
            f"[red]{escape(internal_error('ethics-audit', exc))}[/red]\n"
            "This is a bug in ethics-audit. Rerun with ETHICS_AUDIT_DEBUG=1 to see the traceback and report it."
        )
        sys.exit(EXIT_INTERNAL)
