"""`ethics-audit --help` stays fast: the cli package imports its command modules, and they import
the library only inside the commands (test_cli.py checks the heavy third-party libraries)."""

from __future__ import annotations

import json

from helpers import fresh_python

LATER = ("store", "recording", "lifecycle", "runner", "spec", "notify", "reports", "demo", "jobs", "checks")


def test_the_command_modules_import_the_library_only_when_a_command_runs() -> None:
    probe = (
        "import json, sys\nimport ethics_audit.cli\n"
        "print(json.dumps(sorted({m.split('.')[1] for m in sys.modules if m.startswith('ethics_audit.')})))\n"
        "print(json.dumps(sorted({m for m in ('sqlalchemy', 'pydantic', 'yaml') if m in sys.modules})))\n"
    )
    out = fresh_python(probe).splitlines()
    loaded = set(json.loads(out[0]))
    assert "cli" in loaded and not loaded & set(LATER), loaded
    assert out[1] == "[]"
