"""``python -m ethics_audit.cli``: the ``ethics-audit`` command."""

from __future__ import annotations

from ethics_audit.cli import main

main()
