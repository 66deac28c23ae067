"""``python -m ethics_audit``: the ``ethics-audit`` command."""

from __future__ import annotations

from ethics_audit.cli import main

main()
