"""``verify`` and ``checkpoint``: the tamper-evident ledger's commands, defined in ``ethics_audit.ledger.commands``."""

from __future__ import annotations

from ethics_audit.cli.app import app, console, escape, open_store, print_json
from ethics_audit.ledger import commands

commands.register(app, console=console, escape=escape, print_json=print_json, store=open_store)
